// Package resources defines DealerAI Integrations' DynamoDB tables and SQS queues once, for
// both the CDK stack (infra) and the local stack (infra/local), so the two cannot drift.
//
// The data model — keys, items and access patterns of the two tables, and what each queue
// holds — is described in docs/design.md#data-model.
package resources

import (
	"fmt"
	"time"
)

// Keys of the config table's items (docs/design.md#data-model): every item of a dealer is under
// pk DealerKeyPrefix+dealerId; the sort keys of what the router reads per dealer — delivery
// targets and the dealer's plan — start with TargetKeyPrefix.
const (
	DealerKeyPrefix       = "DEALER#"
	TargetKeyPrefix       = "T#"
	SubscriptionKeyPrefix = TargetKeyPrefix + "SUB#"
	AgentKeyPrefix        = TargetKeyPrefix + "AGENT#"
	// PlanKey is the sort key of the dealer's plan (package plans). It is not a target, but it
	// sorts under TargetKeyPrefix so that the one query of a dealer's targets returns it too:
	// no request more per event batch to know which agents the plan still includes.
	PlanKey                = TargetKeyPrefix + "PLAN"
	SubscriptionCounterKey = "COUNT#subscriptions"
	CorrelationKeyPrefix   = "CORR#"
)

// DealerKey is the config-table partition key of a dealer's items.
func DealerKey(dealerID string) string { return DealerKeyPrefix + dealerID }

// Delivery-log partition keys: "<dealerId>" + one of these + the target's id.
const (
	DeliveryLogSubscriptionInfix = "#SUB#"
	DeliveryLogAgentInfix        = "#AGENT#"
)

// KeyAttr is one attribute of a key schema.
type KeyAttr struct {
	Name string
	Type string // "S", "N" or "B"
}

// Table is a DynamoDB table definition.
type Table struct {
	// ID names the table in the CDK stack and is the suffix of the local table name.
	ID           string
	PartitionKey KeyAttr
	SortKey      KeyAttr
	// TTLAttribute is the attribute DynamoDB expires items by; empty for none.
	TTLAttribute string
	// EnvVar is the environment variable the functions read the table name from.
	EnvVar string
}

// Queue is an SQS queue definition. A queue with a DeadLetter has a redrive policy into it.
type Queue struct {
	ID                string
	VisibilityTimeout time.Duration
	RetentionPeriod   time.Duration
	MaxMessageBytes   int
	// ReceiveWaitTime makes long polling the default for consumers.
	ReceiveWaitTime time.Duration
	DeadLetter      *Queue
	MaxReceiveCount int
	EnvVar          string
}

// Function timeouts the queues' visibility timeouts are derived from (≥ 6× the consuming
// function's timeout, as AWS recommends for event source mappings).
const (
	RouterTimeout   = 30 * time.Second
	DeliveryTimeout = 60 * time.Second
	APITimeout      = 10 * time.Second
)

// PipelineGOMAXPROCS is the GOMAXPROCS environment variable of the router and the delivery
// function (infra/stack sets it; make bench runs the handlers with it). At 256 and 512 MB a
// Lambda gets a fraction of one vCPU, and the handlers wait on I/O: a second P only adds
// scheduler spinning and cross-thread wake-ups. Measured back to back with make bench on a
// 2-core machine, it cut the handlers' CPU per delivery by 20–30 % (the bare-POST floor by as
// much) and did not raise latency.
const PipelineGOMAXPROCS = "1"

const (
	// EventsMaxReceiveCount lets transient router failures retry; poison never retries.
	EventsMaxReceiveCount = 5
	// DeliveriesMaxReceiveCount is the first attempt plus three retries.
	DeliveriesMaxReceiveCount = 4
	// MaxMessageBytes fits a 256 KiB event and its envelope.
	MaxMessageBytes = 1024 * 1024
	// DeliveryLogRetention is how long delivery records are kept (TTL).
	DeliveryLogRetention = 30 * 24 * time.Hour

	dlqRetention   = 14 * 24 * time.Hour
	queueRetention = 4 * 24 * time.Hour
)

var (
	ConfigTable = Table{
		ID:           "Config",
		PartitionKey: KeyAttr{Name: "pk", Type: "S"},
		SortKey:      KeyAttr{Name: "sk", Type: "S"},
		EnvVar:       "CONFIG_TABLE",
	}
	DeliveryLogTable = Table{
		ID:           "DeliveryLog",
		PartitionKey: KeyAttr{Name: "pk", Type: "S"},
		SortKey:      KeyAttr{Name: "sk", Type: "S"},
		TTLAttribute: "expiresAt",
		EnvVar:       "DELIVERY_LOG_TABLE",
	}

	EventsDLQ = Queue{
		ID:              "EventsDLQ",
		RetentionPeriod: dlqRetention,
		MaxMessageBytes: MaxMessageBytes,
		// a DLQ is inspected and redriven, not consumed; its visibility timeout only matters
		// to someone polling it in the console
		VisibilityTimeout: 30 * time.Second,
		EnvVar:            "EVENTS_DLQ_URL",
	}
	EventsQueue = Queue{
		ID:                "Events",
		VisibilityTimeout: 6 * RouterTimeout,
		RetentionPeriod:   queueRetention,
		MaxMessageBytes:   MaxMessageBytes,
		ReceiveWaitTime:   20 * time.Second,
		DeadLetter:        &EventsDLQ,
		MaxReceiveCount:   EventsMaxReceiveCount,
		EnvVar:            "EVENTS_QUEUE_URL",
	}
	DeliveriesDLQ = Queue{
		ID:                "DeliveriesDLQ",
		RetentionPeriod:   dlqRetention,
		MaxMessageBytes:   MaxMessageBytes,
		VisibilityTimeout: 30 * time.Second,
		EnvVar:            "DELIVERIES_DLQ_URL",
	}
	DeliveriesQueue = Queue{
		ID:                "Deliveries",
		VisibilityTimeout: 6 * DeliveryTimeout,
		RetentionPeriod:   queueRetention,
		MaxMessageBytes:   MaxMessageBytes,
		ReceiveWaitTime:   20 * time.Second,
		DeadLetter:        &DeliveriesDLQ,
		MaxReceiveCount:   DeliveriesMaxReceiveCount,
		EnvVar:            "DELIVERIES_QUEUE_URL",
	}
)

// Tables lists every table.
func Tables() []Table { return []Table{ConfigTable, DeliveryLogTable} }

// Queues lists every queue, dead-letter queues before the queues that redrive into them.
func Queues() []Queue { return []Queue{EventsDLQ, EventsQueue, DeliveriesDLQ, DeliveriesQueue} }

// Name is the physical name of a table or queue given a stack prefix, e.g.
// Name("dealerai-local", "Config") = "dealerai-local-Config".
func Name(prefix, id string) string { return fmt.Sprintf("%s-%s", prefix, id) }

// Attributes renders the queue as SQS CreateQueue attributes; deadLetterARN is the ARN of
// q.DeadLetter (ignored when q has none).
func (q Queue) Attributes(deadLetterARN string) map[string]string {
	attrs := map[string]string{
		"VisibilityTimeout":             fmt.Sprint(int(q.VisibilityTimeout.Seconds())),
		"MessageRetentionPeriod":        fmt.Sprint(int(q.RetentionPeriod.Seconds())),
		"MaximumMessageSize":            fmt.Sprint(q.MaxMessageBytes),
		"ReceiveMessageWaitTimeSeconds": fmt.Sprint(int(q.ReceiveWaitTime.Seconds())),
	}
	if q.DeadLetter != nil {
		attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, deadLetterARN, q.MaxReceiveCount)
	}
	return attrs
}
