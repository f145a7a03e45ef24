// Package resources defines DealerAI Integrations' DynamoDB tables and SQS queues once, for
// both the CDK stack (infra) and the local stack (infra/local), so the two cannot drift.
//
// The data model — keys, items and access patterns of the two tables, and what each queue
// holds — is described in docs/design.md#data-model.
package resources

import (
	"fmt"
	"hash/fnv"
	"strconv"
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
	PlanKey = TargetKeyPrefix + "PLAN"
	// CircuitKeyPrefix + "SUB#<subscriptionId>" or "AGENT#<platform>": a target's circuit
	// breaker (package circuit). Under TargetKeyPrefix too, so the delivery handler learns the
	// circuits with the targets.
	CircuitKeyPrefix       = TargetKeyPrefix + "CIRCUIT#"
	SubscriptionCounterKey = "COUNT#subscriptions"
	CorrelationKeyPrefix   = "CORR#"
	// ReverseKeyPrefix + "<platform>#<platform id name>#<value>": which DealerAI record a
	// platform id belongs to (written when a correlation gains an id).
	ReverseKeyPrefix = "REV#"
	// SyncKeyPrefix + "<platform>": an agent's two-way sync state (cursor, lease, last run).
	SyncKeyPrefix = "SYNC#"
	// SeenKeyPrefix + "<platform>#<record kind>#<record id>": what the two-way sync
	// remembered of a platform record whose current state a change feed reads again each
	// run (changefeed.Change.Remember).
	SeenKeyPrefix = "SEEN#"
	// RateKeyPrefix + "<action>#<window start, Unix s>": a dealer's count of a rate-limited
	// action in one window (package ratelimit), expired by the table's TTL.
	RateKeyPrefix = "RATE#"
)

// The sparse index of enabled agents by next sync time (docs/design.md#data-model). An
// enabled agent's config item carries SyncShardAttr and SyncDueAttr; a disabled one neither,
// so the index holds only what may be synced, and the schedule finds the due agents with one
// Query per platform and shard (SyncShardAttr = SyncShardKey(platform, n) AND SyncDueAttr <=
// now) instead of a scan of every dealer.
const (
	SyncDueIndexName = "SyncDue"
	SyncShardAttr    = "syncShard"
	SyncDueAttr      = "syncDueAt" // Unix milliseconds
	// SyncDueShards spreads each platform's agents over this many index partitions, so the
	// index's writes (one per agent per sync) have no hot key however many dealers there are.
	SyncDueShards = 4
)

// SyncShardKey is the index partition key of shard n of a platform's agents.
func SyncShardKey(platform string, n int) string { return platform + "#" + strconv.Itoa(n) }

// SyncShardOf is the shard of a dealer's agents: a hash of the dealer, so one dealer's agents
// stay in one shard per platform.
func SyncShardOf(dealerID string) int {
	h := fnv.New32a()
	h.Write([]byte(dealerID))
	return int(h.Sum32() % SyncDueShards)
}

// ParseBatchingWindow reads a batching window of the events' and deliveries' mappings (the
// CDK context batchingWindow, the local stack's BATCHING_WINDOW): whole seconds from 0 to
// MaxBatchingWindow; "" is 0.
func ParseBatchingWindow(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > MaxBatchingWindow || d%time.Second != 0 {
		return 0, fmt.Errorf("%q must be whole seconds between 0s and %s", v, MaxBatchingWindow)
	}
	return d, nil
}

// The inventory table's keys and indexes (docs/design.md#data-model).
const (
	InventoryVehicleKeyPrefix = "VIN#"
	InventoryByPriceIndex     = "ByPrice"
	InventoryByYearIndex      = "ByYear"
	// InventoryPriceKeyAttr is "<price in cents, 12 digits>#<VIN>" (a vehicle without a price
	// sorts last); InventoryYearKeyAttr "<year, 4 digits>#<price key>".
	InventoryPriceKeyAttr = "priceKey"
	InventoryYearKeyAttr  = "yearKey"
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
	// Indexes are the table's global secondary indexes.
	Indexes []Index
	// EnvVar is the environment variable the functions read the table name from.
	EnvVar string
}

// Index is a global secondary index. It projects the keys only (the table's and its own):
// readers get the items' keys and read what else they need; with ProjectAll, every attribute
// (readers filter and answer from the index alone).
type Index struct {
	Name         string
	PartitionKey KeyAttr
	SortKey      KeyAttr
	ProjectAll   bool
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
	// MaxBatchingWindow bounds the events' and deliveries' mappings' batching window (context
	// batchingWindow): their queues' visibility timeout is 6 × the function's timeout plus
	// it, as AWS asks.
	MaxBatchingWindow = 20 * time.Second
	RouterTimeout     = 30 * time.Second
	DeliveryTimeout   = 60 * time.Second
	APITimeout        = 10 * time.Second
	// SyncTimeout is the sync function's: one job reads a platform's changes for at most
	// SyncJobBudget, then publishes and records them.
	SyncTimeout   = 60 * time.Second
	SyncJobBudget = 20 * time.Second
)

// PipelineGOMAXPROCS is the GOMAXPROCS environment variable of the router and the delivery
// function (infra/stack sets it; make bench runs the handlers with it). At 256 and 512 MB a
// Lambda gets a fraction of one vCPU, and the handlers wait on I/O: a second P only adds
// scheduler spinning and cross-thread wake-ups. Measured back to back with make bench on a
// 2-core machine, it cut the handlers' CPU per delivery by 20–30 % (the bare-POST floor by as
// much) and did not raise latency.
const PipelineGOMAXPROCS = "1"

// PipelineGOGC is the GOGC environment variable of the router and the delivery function
// (infra/stack sets it, with GOMEMLIMIT PipelineGOMEMLIMIT; make bench runs the handlers with
// it). Their live heap is a few MB, far under the functions' memory, and with events arriving
// one at a time each delivery is its own allocations: at the default 100 the collector took
// ~12 % of the handlers' CPU in make bench's light regime (profile share), at 400 ~2 %.
const PipelineGOGC = "400"

// PipelineGOMEMLIMIT is the GOMEMLIMIT of a pipeline function of memoryMB: 70 % of its
// memory, where the collector works harder whatever GOGC says, so the larger heap GOGC allows
// never nears the function's memory.
func PipelineGOMEMLIMIT(memoryMB int) string { return strconv.Itoa(memoryMB*7/10) + "MiB" }

const (
	// EventsMaxReceiveCount lets transient router failures retry; poison never retries.
	EventsMaxReceiveCount = 5
	// DeliveriesMaxReceiveCount is the first attempt plus three retries.
	DeliveriesMaxReceiveCount = 4
	// InboundMaxReceiveCount: a consumer that fails on an inbound event 5 times parks it in
	// the inbound DLQ.
	InboundMaxReceiveCount = 5
	// SyncJobsMaxReceiveCount: a sync job or tick whose invocation fails 5 times (the config
	// table or the inbound queue unreachable; a platform's own failures do not fail a job)
	// goes to the sync-jobs DLQ.
	SyncJobsMaxReceiveCount = 5
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
		// only the rate-limit counters expire
		TTLAttribute: "expiresAt",
		Indexes: []Index{{
			Name:         SyncDueIndexName,
			PartitionKey: KeyAttr{Name: SyncShardAttr, Type: "S"},
			SortKey:      KeyAttr{Name: SyncDueAttr, Type: "N"},
		}},
		EnvVar: "CONFIG_TABLE",
	}
	// InventoryTable holds the dealers' vehicle inventories, read by the two-way sync from
	// Fortellis (package inventory): pk DealerKey, sk InventoryVehicleKeyPrefix + VIN, and two
	// indexes over the same partition that order a dealer's vehicles by price and by year.
	InventoryTable = Table{
		ID:           "Inventory",
		PartitionKey: KeyAttr{Name: "pk", Type: "S"},
		SortKey:      KeyAttr{Name: "sk", Type: "S"},
		Indexes: []Index{
			{Name: InventoryByPriceIndex, PartitionKey: KeyAttr{Name: "pk", Type: "S"}, SortKey: KeyAttr{Name: InventoryPriceKeyAttr, Type: "S"}, ProjectAll: true},
			{Name: InventoryByYearIndex, PartitionKey: KeyAttr{Name: "pk", Type: "S"}, SortKey: KeyAttr{Name: InventoryYearKeyAttr, Type: "S"}, ProjectAll: true},
		},
		EnvVar: "INVENTORY_TABLE",
	}
	DeliveryLogTable = Table{
		ID:           "DeliveryLog",
		PartitionKey: KeyAttr{Name: "pk", Type: "S"},
		SortKey:      KeyAttr{Name: "sk", Type: "S"},
		TTLAttribute: "expiresAt",
		EnvVar:       "DELIVERY_LOG_TABLE",
	}

	EventsDLQ       = deadLetterQueue("EventsDLQ", "EVENTS_DLQ_URL")
	EventsQueue     = workQueue("Events", "EVENTS_QUEUE_URL", 6*RouterTimeout+MaxBatchingWindow, &EventsDLQ, EventsMaxReceiveCount)
	DeliveriesDLQ   = deadLetterQueue("DeliveriesDLQ", "DELIVERIES_DLQ_URL")
	DeliveriesQueue = workQueue("Deliveries", "DELIVERIES_QUEUE_URL", 6*DeliveryTimeout+MaxBatchingWindow,
		&DeliveriesDLQ, DeliveriesMaxReceiveCount)

	InboundDLQ = deadLetterQueue("InboundDLQ", "INBOUND_DLQ_URL")
	// InboundQueue holds the inbound events (events.InboundCatalog) the two-way sync
	// publishes, for DealerAI's services to consume; its visibility timeout is theirs.
	InboundQueue = workQueue("Inbound", "INBOUND_QUEUE_URL", 2*time.Minute, &InboundDLQ, InboundMaxReceiveCount)
	SyncJobsDLQ  = deadLetterQueue("SyncJobsDLQ", "SYNC_JOBS_DLQ_URL")
	// SyncJobsQueue holds the schedule's ticks and one job per agent to sync; the sync
	// function consumes it.
	SyncJobsQueue = workQueue("SyncJobs", "SYNC_JOBS_QUEUE_URL", 6*SyncTimeout, &SyncJobsDLQ, SyncJobsMaxReceiveCount)
)

// Tables lists every table.
func Tables() []Table { return []Table{ConfigTable, DeliveryLogTable, InventoryTable} }

// Queues lists every queue, dead-letter queues before the queues that redrive into them.
func Queues() []Queue {
	return []Queue{EventsDLQ, EventsQueue, DeliveriesDLQ, DeliveriesQueue, InboundDLQ, InboundQueue, SyncJobsDLQ, SyncJobsQueue}
}

// DeadLetterQueues lists the dead-letter queues.
func DeadLetterQueues() []Queue {
	var out []Queue
	for _, q := range Queues() {
		if q.DeadLetter == nil {
			out = append(out, q)
		}
	}
	return out
}

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

// deadLetterQueue is a DLQ: kept 14 days, inspected and redriven rather than consumed (its
// visibility timeout only matters to someone polling it in the console).
func deadLetterQueue(id, envVar string) Queue {
	return Queue{ID: id, RetentionPeriod: dlqRetention, MaxMessageBytes: MaxMessageBytes, VisibilityTimeout: 30 * time.Second, EnvVar: envVar}
}

// workQueue is a queue a function consumes (long polling), redriven to dlq after
// maxReceive receives.
func workQueue(id, envVar string, visibility time.Duration, dlq *Queue, maxReceive int) Queue {
	return Queue{ID: id, VisibilityTimeout: visibility, RetentionPeriod: queueRetention, MaxMessageBytes: MaxMessageBytes,
		ReceiveWaitTime: 20 * time.Second, DeadLetter: dlq, MaxReceiveCount: maxReceive, EnvVar: envVar}
}
