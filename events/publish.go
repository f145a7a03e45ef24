package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSSender is the part of the SQS client the Publisher uses.
type SQSSender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Publisher sends events to the events queue. DealerAI services use it to
// publish; it validates every event as the router will, so an invalid event
// fails here rather than in the events DLQ.
type Publisher struct {
	SQS      SQSSender
	QueueURL string
}

// PublishResult is the outcome of one event of a PublishBatch.
type PublishResult struct {
	EventID string // set once the event is valid, even if sending failed
	Err     error
}

// SQS limits of one SendMessageBatch call.
const (
	maxBatchEntries = 10
	maxBatchBytes   = 1024 * 1024 // sum of the bodies and attributes of the entries
)

// Publish validates e and sends it. It stamps a new id ("evt_" + ULID)
// unless e carries one; to retry a failed publish with the same id, set it
// in e (Base.EventID). A *ValidationError means nothing was sent.
func (p *Publisher) Publish(ctx context.Context, e Payload) (eventID string, err error) {
	ev, err := prepare(e)
	if err != nil {
		return "", err
	}
	_, err = p.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(p.QueueURL),
		MessageBody:       aws.String(string(ev.Body)),
		MessageAttributes: messageAttributes(ev),
		MessageGroupId:    aws.String(MessageGroupID(ev.DealerID)),
	})
	if err != nil {
		return ev.ID, fmt.Errorf("events: send %s %s: %w", ev.Type, ev.ID, err)
	}
	return ev.ID, nil
}

// PublishBatch publishes es with as few SendMessageBatch calls as SQS
// limits allow (10 entries, 1 MiB). It returns one result per event, in
// order: invalid events are not sent, and an event SQS refused or whose call
// failed carries the error.
func (p *Publisher) PublishBatch(ctx context.Context, es []Payload) []PublishResult {
	results := make([]PublishResult, len(es))
	var (
		entries []sqstypes.SendMessageBatchRequestEntry
		size    int
	)
	flush := func() {
		if len(entries) > 0 {
			p.sendBatch(ctx, entries, results)
		}
		entries, size = nil, 0
	}
	for i, e := range es {
		ev, err := prepare(e)
		if err != nil {
			results[i].Err = err
			continue
		}
		results[i].EventID = ev.ID
		attrs := messageAttributes(ev)
		n := messageSize(ev.Body, attrs)
		if len(entries) == maxBatchEntries || size+n > maxBatchBytes {
			flush()
		}
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{
			Id:                aws.String(strconv.Itoa(i)), // the input index: unique in the call
			MessageBody:       aws.String(string(ev.Body)),
			MessageAttributes: attrs,
			MessageGroupId:    aws.String(MessageGroupID(ev.DealerID)),
		})
		size += n
	}
	flush()
	return results
}

func (p *Publisher) sendBatch(ctx context.Context, entries []sqstypes.SendMessageBatchRequestEntry, results []PublishResult) {
	index := func(id *string) (int, bool) {
		i, err := strconv.Atoi(aws.ToString(id))
		return i, err == nil && i >= 0 && i < len(results)
	}
	out, err := p.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{
		QueueUrl: aws.String(p.QueueURL),
		Entries:  entries,
	})
	if err != nil {
		for _, e := range entries {
			i, _ := index(e.Id)
			results[i].Err = fmt.Errorf("events: send %s: %w", results[i].EventID, err)
		}
		return
	}
	done := make(map[int]bool, len(entries))
	for _, s := range out.Successful {
		if i, ok := index(s.Id); ok {
			done[i] = true
		}
	}
	for _, f := range out.Failed {
		if i, ok := index(f.Id); ok {
			done[i] = true
			results[i].Err = fmt.Errorf("events: send %s: SQS refused it: %s: %s (sender fault: %t)",
				results[i].EventID, aws.ToString(f.Code), aws.ToString(f.Message), f.SenderFault)
		}
	}
	for _, e := range entries {
		if i, _ := index(e.Id); !done[i] {
			results[i].Err = fmt.Errorf("events: send %s: SQS reported no result", results[i].EventID)
		}
	}
}

// prepare encodes and validates a payload, stamping a new id if it has
// none. The body to send is the returned event's Body.
func prepare(e Payload) (*Event, error) {
	if e == nil {
		return nil, errors.New("events: nil payload")
	}
	typ, err := encode(e.EventType())
	if err != nil {
		return nil, err
	}
	fields, err := encode(e)
	if err != nil {
		return nil, fmt.Errorf("events: encode %s: %w", e.EventType(), err)
	}
	if len(fields) < 2 || fields[0] != '{' {
		return nil, fmt.Errorf("events: %s does not encode as a JSON object", e.EventType())
	}
	raw := make([]byte, 0, len(`{"eventType":,`)+len(typ)+len(fields))
	raw = append(raw, `{"eventType":`...)
	raw = append(raw, typ...)
	if len(fields) > 2 { // not {}
		raw = append(raw, ',')
	}
	raw = append(raw, fields[1:]...)
	ev, err := parse(outbound, raw, func([]byte) string { return NewEventID() })
	if err != nil {
		return nil, fmt.Errorf("events: invalid %s: %w", e.EventType(), err)
	}
	return ev, nil
}

// encode is json.Marshal without HTML escaping: bodies are JSON, not HTML.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// messageAttributes are the attributes of every message on the events
// queue, so consumers can route or filter without reading the body.
func messageAttributes(ev *Event) map[string]sqstypes.MessageAttributeValue {
	attr := func(v string) sqstypes.MessageAttributeValue {
		return sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return map[string]sqstypes.MessageAttributeValue{
		"eventType": attr(ev.Type),
		"dealerId":  attr(ev.DealerID),
		"eventId":   attr(ev.ID),
	}
}

// messageSize is a message's size as SQS counts it: the body plus each
// attribute's name, data type and value.
func messageSize(body []byte, attrs map[string]sqstypes.MessageAttributeValue) int {
	n := len(body)
	for k, v := range attrs {
		n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
	}
	return n
}
