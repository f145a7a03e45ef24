// Package routing is the router: it turns each event of the events queue into one delivery
// message per matching target on the deliveries queue.
//
// For a batch of SQS records it
//   - validates every record with events.Parse; poison (not JSON, too large, unknown type,
//     missing or invalid field) goes to the events DLQ with errorCode and errorMessage
//     attributes and counts as handled, so it is never retried;
//   - reads each dealer's targets once per batch, not per event, through the TargetSource
//     (the functions use a targets.Cache of a few seconds: at most one Query per dealer per
//     TTL);
//   - enqueues one deliveryq.Message per (event, enabled matching target; never to an agent
//     whose platform the dealer's plan does not include, which the same Query tells) with
//     SendMessageBatch (10 entries and 1 MiB per call), the delivery id deterministic from
//     (eventId, target) so a re-run enqueues the same deliveries again, which the delivery
//     handler's idempotency makes harmless;
//   - reports as batch item failures only the records that truly failed (their dealer's
//     targets could not be read, one of their messages could not be enqueued, or poison
//     could not be parked in the DLQ), so SQS retries exactly those.
package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	catalog "github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/targets"
)

// Sender is the part of the SQS client the router uses.
type Sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// TargetSource reads a dealer's targets (*targets.Loader, or a *targets.Cache of it).
type TargetSource interface {
	Load(ctx context.Context, dealerID string) ([]targets.Target, error)
}

// Router routes batches of the events queue.
type Router struct {
	Targets            TargetSource
	SQS                Sender
	DeliveriesQueueURL string
	EventsDLQURL       string
	Log                *slog.Logger     // slog.Default() when nil
	Now                func() time.Time // time.Now when nil
}

// SQS limits of one SendMessageBatch call.
const (
	maxBatchEntries = 10
	maxBatchBytes   = 1024 * 1024
)

// record is one SQS record of the batch on its way through the router.
type record struct {
	msg    events.SQSMessage
	event  *catalog.Event
	failed bool
	n      int // delivery messages enqueued
}

// Handle routes one batch. It never returns an error: failures are per record.
func (r *Router) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	recs := make([]*record, len(batch.Records))
	byDealer := map[string][]*record{}
	var dealers []string
	poison, poisonFailed := 0, 0
	for i, m := range batch.Records {
		rec := &record{msg: m}
		recs[i] = rec
		ev, err := catalog.Parse([]byte(m.Body))
		if err != nil {
			poison++
			if err := r.park(ctx, m, err); err != nil {
				poisonFailed++
				rec.failed = true
				log.Error("poison event could not be moved to the events DLQ; it will be retried",
					"messageId", m.MessageId, "error", err.Error())
			}
			continue
		}
		rec.event = ev
		if _, ok := byDealer[ev.DealerID]; !ok {
			dealers = append(dealers, ev.DealerID)
		}
		byDealer[ev.DealerID] = append(byDealer[ev.DealerID], rec)
	}

	// One Query per dealer, concurrently (a batch of one dealer's events, as most are when
	// events trickle in, without a goroutine).
	dealerTargets := make([][]targets.Target, len(dealers))
	dealerErrs := make([]error, len(dealers))
	if len(dealers) == 1 {
		dealerTargets[0], dealerErrs[0] = r.Targets.Load(ctx, dealers[0])
	} else {
		var wg sync.WaitGroup
		for i, d := range dealers {
			wg.Go(func() { dealerTargets[i], dealerErrs[i] = r.Targets.Load(ctx, d) })
		}
		wg.Wait()
	}

	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	var out []outgoing
	for i, d := range dealers {
		if dealerErrs[i] != nil {
			log.Error("targets could not be read; the dealer's events will be retried",
				"dealerId", d, "events", len(byDealer[d]), "error", dealerErrs[i].Error())
			for _, rec := range byDealer[d] {
				rec.failed = true
			}
			continue
		}
		for _, rec := range byDealer[d] {
			for _, t := range dealerTargets[i] {
				if !t.Matches(rec.event.Type) {
					continue
				}
				out = append(out, outgoing{rec: rec, msg: deliveryq.Message{
					DeliveryID: deliveryq.DeliveryID(rec.event.ID, rec.event.Timestamp, t.Target),
					EventID:    rec.event.ID,
					EventType:  rec.event.Type,
					DealerID:   rec.event.DealerID,
					Target:     t.Target,
					CreatedAt:  now,
					Payload:    rec.event.Body,
				}})
			}
		}
	}
	sendErrs := r.enqueue(ctx, out)

	var resp events.SQSEventResponse
	routed, deliveries := 0, 0
	for _, rec := range recs {
		if rec.failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.msg.MessageId})
			if rec.event != nil {
				log.Warn("event failed and will be retried", "eventId", rec.event.ID, "eventType", rec.event.Type,
					"dealerId", rec.event.DealerID, "messageId", rec.msg.MessageId, "enqueued", rec.n)
			}
			continue
		}
		if rec.event != nil {
			routed++
			deliveries += rec.n
		}
	}
	for _, err := range sendErrs {
		log.Error("delivery messages could not be enqueued", "error", err.Error())
	}
	// The batch's one line (CloudWatch Logs bills every byte): the counts that are not zero.
	attrs := []any{"records", len(recs), "deliveries", deliveries}
	for _, c := range []struct {
		name string
		n    int
	}{{"routed", routed}, {"poison", poison}, {"failed", len(resp.BatchItemFailures)}, {"poisonNotParked", poisonFailed}} {
		if c.n != 0 && (c.name != "routed" || c.n != len(recs)) {
			attrs = append(attrs, c.name, c.n)
		}
	}
	log.Info("router batch", attrs...)
	return resp, nil
}

// outgoing is one delivery message and the record it comes from.
type outgoing struct {
	rec *record
	msg deliveryq.Message
}

// enqueue sends the messages in as few SendMessageBatch calls as the limits allow (the calls
// concurrently), marking the records of the messages that could not be sent as failed.
func (r *Router) enqueue(ctx context.Context, out []outgoing) []error {
	type call struct {
		entries []sqstypes.SendMessageBatchRequestEntry
		from    []*outgoing
	}
	var calls []*call
	var cur *call
	size := 0
	for i := range out {
		o := &out[i]
		entry, err := encodeEntry(&o.msg, strconv.Itoa(i))
		if err != nil { // cannot happen: the message is plain data
			o.rec.failed = true
			continue
		}
		n := entrySize(entry)
		if cur == nil || len(cur.entries) == maxBatchEntries || size+n > maxBatchBytes {
			cur = &call{}
			calls = append(calls, cur)
			size = 0
		}
		cur.entries = append(cur.entries, entry)
		cur.from = append(cur.from, o)
		size += n
	}

	errs := make([]error, len(calls))
	var mu sync.Mutex // guards the records' fields
	var wg sync.WaitGroup
	for ci, c := range calls {
		send := func() {
			res, err := r.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{
				QueueUrl: aws.String(r.DeliveriesQueueURL),
				Entries:  c.entries,
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[ci] = fmt.Errorf("SendMessageBatch of %d messages: %w", len(c.entries), err)
				for _, o := range c.from {
					o.rec.failed = true
				}
				return
			}
			ok := make(map[string]bool, len(res.Successful))
			for _, s := range res.Successful {
				ok[aws.ToString(s.Id)] = true
			}
			var failed []error
			for _, f := range res.Failed {
				failed = append(failed, fmt.Errorf("entry %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
			}
			if len(failed) > 0 {
				errs[ci] = fmt.Errorf("SendMessageBatch refused %d of %d messages: %w", len(failed), len(c.entries), errors.Join(failed...))
			}
			for i, o := range c.from {
				if ok[aws.ToString(c.entries[i].Id)] {
					o.rec.n++
				} else {
					o.rec.failed = true
				}
			}
		}
		if len(calls) == 1 { // one call (a batch of up to 10 messages): no goroutine
			send()
			break
		}
		wg.Go(send)
	}
	wg.Wait()
	var nonNil []error
	for _, err := range errs {
		if err != nil {
			nonNil = append(nonNil, err)
		}
	}
	return nonNil
}

// encodeEntry is m.Encode(id) without re-encoding the payload for every target: the
// payload, the event's validated body (compact JSON, the very bytes endpoints receive), is
// appended after the message's other fields as it is, where json.Marshal would re-scan it and
// escape its <, > and & once per target.
func encodeEntry(m *deliveryq.Message, id string) (sqstypes.SendMessageBatchRequestEntry, error) {
	const tail = `"payload":null}`
	payload := m.Payload
	if len(payload) == 0 || payload[0] != '{' {
		return m.Encode(id)
	}
	m.Payload = nil
	head, err := json.Marshal(m)
	m.Payload = payload
	if err != nil || !bytes.HasSuffix(head, []byte(tail)) {
		return m.Encode(id)
	}
	head = head[:len(head)-len(tail)]
	body := make([]byte, 0, len(head)+len(tail)+len(payload))
	body = append(append(append(append(body, head...), `"payload":`...), payload...), '}')
	return sqstypes.SendMessageBatchRequestEntry{
		Id:                aws.String(id),
		MessageBody:       aws.String(string(body)),
		MessageAttributes: m.Attributes(),
		MessageGroupId:    aws.String(m.GroupID()),
	}, nil
}

// entrySize is a message's size as SQS counts it against the 1 MiB of a batch call: the body
// plus each attribute's name, data type and value.
func entrySize(e sqstypes.SendMessageBatchRequestEntry) int {
	n := len(aws.ToString(e.MessageBody))
	for k, v := range e.MessageAttributes {
		n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}

// park sends a poison record to the events DLQ with the reason it was refused.
func (r *Router) park(ctx context.Context, m events.SQSMessage, parseErr error) error {
	code, msg := "invalid", parseErr.Error()
	var ve *catalog.ValidationError
	if errors.As(parseErr, &ve) {
		code = ve.Code
	}
	attrs := map[string]sqstypes.MessageAttributeValue{
		"errorCode":    attr(code),
		"errorMessage": attr(msg),
	}
	// What can still be read of a poison body helps whoever inspects the DLQ.
	var known struct {
		EventType any `json:"eventType"`
		DealerID  any `json:"dealerId"`
		EventID   any `json:"eventId"`
	}
	if len(m.Body) <= catalog.MaxBodyBytes && json.Unmarshal([]byte(m.Body), &known) == nil {
		for name, v := range map[string]any{"eventType": known.EventType, "dealerId": known.DealerID, "eventId": known.EventID} {
			if s, ok := v.(string); ok && s != "" {
				attrs[name] = attr(s)
			}
		}
	}
	_, err := r.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(r.EventsDLQURL),
		MessageBody:       aws.String(m.Body),
		MessageAttributes: attrs,
	})
	if err != nil {
		return fmt.Errorf("send to the events DLQ: %w", err)
	}
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	log.Warn("poison event moved to the events DLQ", "messageId", m.MessageId, "errorCode", code,
		"errorMessage", msg, "eventType", attrValue(attrs, "eventType"), "dealerId", attrValue(attrs, "dealerId"))
	return nil
}

// maxAttrLen bounds an attribute value taken from an event: enough to read, small enough for
// the DLQ message to stay under the queue's size limit.
const maxAttrLen = 256

func attr(v string) sqstypes.MessageAttributeValue {
	return sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(clean(v))}
}

func attrValue(attrs map[string]sqstypes.MessageAttributeValue, name string) string {
	if v, ok := attrs[name]; ok {
		return aws.ToString(v.StringValue)
	}
	return ""
}

// clean makes v a valid SQS attribute value: at most maxAttrLen bytes of the characters SQS
// allows (#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF).
func clean(v string) string {
	out := make([]rune, 0, min(len(v), maxAttrLen))
	n := 0
	for _, c := range v {
		if !(c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) || c >= 0x10000) || c == utf8.RuneError {
			c = '?'
		}
		n += utf8.RuneLen(c)
		if n > maxAttrLen {
			break
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return "-"
	}
	return string(out)
}
