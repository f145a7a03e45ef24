// Package deliveryq defines the delivery message: one per (event, target), written by the
// router (and by the API's retry and test sends) to the deliveries queue and consumed by the
// delivery Lambda. It carries the normalized event body and who to deliver it to, never a
// signing secret or a credential: those are read from the config table at delivery time.
package deliveryq

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/oklog/ulid/v2"

	"github.com/dealerai/integrations/events"
)

// Target kinds.
const (
	KindSubscription = "subscription"
	KindAgent        = "agent"
)

// Target is who a delivery goes to: a subscription id or an agent platform.
type Target struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// String is the target as it appears in logs and message attributes: "subscription/sub_..".
func (t Target) String() string { return t.Kind + "/" + t.ID }

// Message is the body of a message on the deliveries queue.
//
// The attempt number is not carried: it is the message's ApproximateReceiveCount, the very
// count the redrive policy uses, so the log and the DLQ always agree.
type Message struct {
	DeliveryID string    `json:"deliveryId"`
	EventID    string    `json:"eventId"`
	EventType  string    `json:"eventType"`
	DealerID   string    `json:"dealerId"`
	Target     Target    `json:"target"`
	CreatedAt  time.Time `json:"createdAt"`
	// RetryOf is the delivery a manual retry repeats.
	RetryOf string `json:"retryOf,omitempty"`
	// Test marks a test send: delivered whatever the subscription's filter.
	Test bool `json:"test,omitempty"`
	// Payload is the normalized event body, exactly what the endpoint receives.
	Payload json.RawMessage `json:"payload"`
}

// DeliveryID is deterministic from (eventId, target) and sorts by the event's time: "dlv_" +
// a ULID whose time is eventTime and whose entropy is the first 10 bytes of
// SHA-256(eventId "|" kind "/" id). A re-run of the router cannot create a second delivery.
func DeliveryID(eventID string, eventTime time.Time, target Target) string {
	sum := sha256.Sum256([]byte(eventID + "|" + target.String()))
	var id ulid.ULID
	_ = id.SetTime(ulid.Timestamp(eventTime))
	_ = id.SetEntropy(sum[:10])
	return "dlv_" + id.String()
}

// NewDeliveryID is a fresh, random, time-ordered id for a manual retry or a test send.
func NewDeliveryID(now time.Time) string {
	return "dlv_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
}

// Encode renders the message as an SQS batch entry with the attributes that make it readable
// in the SQS console. id is the batch entry id (unique within one batch).
func (m *Message) Encode(id string) (types.SendMessageBatchRequestEntry, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return types.SendMessageBatchRequestEntry{}, fmt.Errorf("encode delivery message: %w", err)
	}
	return types.SendMessageBatchRequestEntry{
		Id:                aws.String(id),
		MessageBody:       aws.String(string(body)),
		MessageAttributes: m.Attributes(),
		MessageGroupId:    aws.String(m.GroupID()),
	}, nil
}

// GroupID is the message's SQS MessageGroupId: its dealer's (events.MessageGroupID), so the
// deliveries queue shares its consumers fairly among dealers.
func (m *Message) GroupID() string { return events.MessageGroupID(m.DealerID) }

// Attributes are the message attributes set on every delivery message.
func (m *Message) Attributes() map[string]types.MessageAttributeValue {
	str := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return map[string]types.MessageAttributeValue{
		"dealerId":   str(m.DealerID),
		"eventType":  str(m.EventType),
		"eventId":    str(m.EventID),
		"deliveryId": str(m.DeliveryID),
		"target":     str(m.Target.String()),
	}
}

// Decode parses a delivery message body.
func Decode(body string) (*Message, error) {
	var m Message
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return nil, fmt.Errorf("decode delivery message: %w", err)
	}
	if m.DeliveryID == "" || m.DealerID == "" || m.Target.Kind == "" || m.Target.ID == "" || len(m.Payload) == 0 {
		return nil, fmt.Errorf("decode delivery message: missing deliveryId, dealerId, target or payload")
	}
	return &m, nil
}
