package agentsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealerai/integrations/events"
)

// Message is a message of the sync-jobs queue: the schedule's tick, or one job of one agent.
// It carries no setting or credential: the job reads the agent from the config table.
type Message struct {
	Kind     string `json:"kind"` // KindTick or KindJob
	DealerID string `json:"dealerId,omitempty"`
	Platform string `json:"platform,omitempty"`
	// Reason says why the job was queued: ReasonSchedule, ReasonManual, ReasonContinue.
	Reason string `json:"reason,omitempty"`
}

// Kinds and reasons of a Message.
const (
	KindTick = "tick"
	KindJob  = "job"

	ReasonSchedule = "schedule" // the agent was due
	ReasonManual   = "manual"   // POST /v1/agents/{platform}/sync
	ReasonContinue = "continue" // the previous job stopped at its bound with more to read
)

// TickBody is the body of the schedule's tick (the EventBridge rule's input).
const TickBody = `{"kind":"tick"}`

// DecodeMessage parses a sync-jobs message.
func DecodeMessage(body string) (*Message, error) {
	var m Message
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return nil, fmt.Errorf("decode sync message: %w", err)
	}
	switch {
	case m.Kind == KindTick:
	case m.Kind == KindJob && m.DealerID != "" && m.Platform != "":
	default:
		return nil, fmt.Errorf("decode sync message: want kind tick, or kind job with dealerId and platform")
	}
	return &m, nil
}

func msgAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// enqueueJobs sends job messages, 10 a call.
func enqueueJobs(ctx context.Context, q Queue, url string, msgs []Message) error {
	var entries []types.SendMessageBatchRequestEntry
	for i, m := range msgs {
		body, _ := json.Marshal(m) // plain data: cannot fail
		entries = append(entries, types.SendMessageBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)),
			MessageAttributes: map[string]types.MessageAttributeValue{
				"kind": msgAttr(m.Kind), "dealerId": msgAttr(m.DealerID), "platform": msgAttr(m.Platform), "reason": msgAttr(m.Reason),
			},
		})
	}
	return sendBatches(ctx, q, url, entries, "sync jobs")
}

// publish sends inbound events to the inbound queue, 10 a call (an inbound event is far below
// the 1 MiB a call may carry), with the attributes eventType, dealerId, platform and eventId.
func publish(ctx context.Context, q Queue, url string, evs []*events.Event) error {
	var entries []types.SendMessageBatchRequestEntry
	for i, ev := range evs {
		var env struct {
			Platform string `json:"platform"`
		}
		_ = json.Unmarshal(ev.Body, &env) // a validated body
		entries = append(entries, types.SendMessageBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(ev.Body)),
			MessageAttributes: map[string]types.MessageAttributeValue{
				"eventType": msgAttr(ev.Type), "dealerId": msgAttr(ev.DealerID), "platform": msgAttr(env.Platform), "eventId": msgAttr(ev.ID),
			},
		})
	}
	return sendBatches(ctx, q, url, entries, "inbound events")
}

// sendBatches sends entries 10 a call; any entry refused fails the whole (a retry sends the
// same messages again: they carry their ids).
func sendBatches(ctx context.Context, q Queue, url string, entries []types.SendMessageBatchRequestEntry, what string) error {
	for len(entries) > 0 {
		n := min(len(entries), 10)
		out, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries[:n]})
		if err != nil {
			return fmt.Errorf("send %d %s: %w", n, what, err)
		}
		if len(out.Failed) > 0 {
			var errs []error
			for _, f := range out.Failed {
				errs = append(errs, fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message)))
			}
			return fmt.Errorf("send %s: %d of %d refused: %w", what, len(out.Failed), n, errors.Join(errs...))
		}
		entries = entries[n:]
	}
	return nil
}

// The metrics of the sync function (CloudWatch embedded metric format, namespace
// MetricsNamespace, no dimensions).
const (
	MetricsNamespace      = "DealerAI/Integrations"
	MetricRecordsRead     = "SyncRecordsRead"     // Count: platform records read
	MetricEventsPublished = "SyncEventsPublished" // Count: inbound events published
	// MetricFailures counts the jobs a platform failed or rate-limited (refused credentials
	// are the dealer's to fix, shown by the API, and not counted).
	MetricFailures = "SyncFailures"
)

// writeReport writes one job's line: with metrics, an EMF document that is also the log
// record; a metric is declared only with a value.
func writeReport(log *slog.Logger, metrics io.Writer, now time.Time, attrs map[string]any, counts map[string]int) {
	if metrics == nil {
		args := make([]any, 0, 2*len(attrs))
		for k, v := range attrs {
			args = append(args, k, v)
		}
		log.Info("sync run", args...)
		return
	}
	doc := map[string]any{"level": "INFO", "msg": "sync run"}
	for k, v := range attrs {
		doc[k] = v
	}
	var declared []map[string]string
	for _, name := range []string{MetricRecordsRead, MetricEventsPublished, MetricFailures} {
		if n := counts[name]; n > 0 {
			declared = append(declared, map[string]string{"Name": name, "Unit": "Count"})
			doc[name] = n
		}
	}
	if len(declared) > 0 {
		doc["_aws"] = map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace": MetricsNamespace, "Dimensions": [][]string{{}}, "Metrics": declared,
			}},
		}
	}
	if line, err := json.Marshal(doc); err == nil {
		_, _ = metrics.Write(append(line, '\n'))
	}
}
