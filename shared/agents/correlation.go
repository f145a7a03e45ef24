package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/dealerai/integrations/shared/internal/attr"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/resources"
)

// ErrStaleEvent: a newer event already saved ids for this lead or appointment.
var ErrStaleEvent = errors.New("a newer event already updated this record")

// ErrLeaseHeld: another delivery holds the lease of this DealerAI lead.
var ErrLeaseHeld = errors.New("another delivery holds the lead's lease")

// Correlation is what a platform returned for one DealerAI lead or appointment, and which
// event last changed it.
type Correlation struct {
	IDs       map[string]string
	EventTime time.Time
	EventID   string
	// Pushed is the state the last delivery that reported one left the record in
	// (connector.Result.Pushed): what the two-way sync compares a platform's change with.
	Pushed map[string]string
}

// CorrelationStore keeps correlations in the config table: pk resources.DealerKey(dealerId),
// sk resources.CorrelationKeyPrefix + "<platform>#<key>", attributes ids (map of strings),
// pushed (map of strings), eventTime, eventId, updatedAt; and, while a delivery of the lead
// runs, its lease: leaseOwner and leaseUntil (Unix milliseconds). An item holding only a
// lease is no correlation yet. The reverse pointers (platform id → DealerAI record) are
// ReversePointer items beside them.
type CorrelationStore struct {
	DB    DynamoDBAPI
	Table string
	// Now is the clock of leases; time.Now when nil.
	Now func() time.Time
}

// NewCorrelationStore returns a store of the config table named table.
func NewCorrelationStore(db DynamoDBAPI, table string) *CorrelationStore {
	return &CorrelationStore{DB: db, Table: table}
}

// eventTimeLayout is fixed-width UTC, so that DynamoDB's string comparison orders times.
const eventTimeLayout = "2006-01-02T15:04:05.000000000Z"

// Keys of correlations (docs/design.md#data-model): a lead by "lead#<leadId>", else
// "contact#<contactId>"; an appointment by "appt#<appointmentId>", else
// "appt#<contactId>#<appointmentType>"; the last update of one kind to a lead by
// "update#<eventType>#<the lead's key>".

// LeadKeys are the keys a lead's ids are saved under, the primary first: its leadId's and its
// contactId's, so an appointment that carries only the contact finds the lead.
func LeadKeys(leadID, contactID string) []string {
	var keys []string
	if leadID != "" {
		keys = append(keys, "lead#"+leadID)
	}
	if contactID != "" {
		keys = append(keys, "contact#"+contactID)
	}
	return keys
}

// AppointmentKey is the key of an appointment's ids; "" when the event identifies none.
func AppointmentKey(appointmentID, contactID, appointmentType string) string {
	switch {
	case appointmentID != "":
		return "appt#" + appointmentID
	case contactID != "":
		return "appt#" + contactID + "#" + appointmentType
	}
	return ""
}

func correlationKey(dealerID, platform, key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": attr.S(resources.DealerKey(dealerID)),
		"sk": attr.S(resources.CorrelationKeyPrefix + platform + "#" + key),
	}
}

// UpdateKey is the key of the last update of one kind (an event type) to a lead, whose
// primary key is leadKey.
func UpdateKey(eventType, leadKey string) string { return "update#" + eventType + "#" + leadKey }

func (s *CorrelationStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Get reads a correlation: ErrNotFound when none is saved.
func (s *CorrelationStore) Get(ctx context.Context, dealerID, platform, key string) (*Correlation, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Table),
		Key:            correlationKey(dealerID, platform, key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get correlation: %w", err)
	}
	if attr.GetS(out.Item, "eventTime") == "" { // none, or only a lease
		return nil, ErrNotFound
	}
	return correlationOf(out.Item)
}

func correlationOf(it map[string]types.AttributeValue) (*Correlation, error) {
	c := &Correlation{IDs: attr.GetMap(it, "ids"), EventID: attr.GetS(it, "eventId")}
	if _, ok := it["pushed"]; ok {
		c.Pushed = attr.GetMap(it, "pushed")
	}
	var err error
	if c.EventTime, err = time.Parse(eventTimeLayout, attr.GetS(it, "eventTime")); err != nil {
		return nil, fmt.Errorf("correlation: eventTime: %w", err)
	}
	return c, nil
}

// Save stores c under key unless a newer event saved there already (ErrStaleEvent): the
// write is conditional on the stored eventTime being at most c.EventTime, so an older event
// never overwrites a newer one, and a retry of the same event can save again. c.Pushed, when
// not empty, replaces the pushed state kept; an empty one keeps it. A lease on the item is
// kept.
func (s *CorrelationStore) Save(ctx context.Context, dealerID, platform, key string, c Correlation) error {
	t := attr.S(c.EventTime.UTC().Format(eventTimeLayout))
	ids := c.IDs
	if ids == nil {
		ids = map[string]string{}
	}
	update := "SET ids = :ids, #t = :t, eventId = :id, updatedAt = :now"
	values := map[string]types.AttributeValue{
		":ids": attr.StrMap(ids), ":t": t, ":id": attr.S(c.EventID),
		":now": attr.S(s.now().UTC().Format(time.RFC3339Nano)),
	}
	if len(c.Pushed) > 0 {
		update += ", pushed = :pushed"
		values[":pushed"] = attr.StrMap(c.Pushed)
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       correlationKey(dealerID, platform, key),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("attribute_not_exists(#t) OR #t <= :t"),
		ExpressionAttributeNames:  map[string]string{"#t": "eventTime"},
		ExpressionAttributeValues: values,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return ErrStaleEvent
	}
	if err != nil {
		return fmt.Errorf("save correlation: %w", err)
	}
	return nil
}

// Lease takes the lease of key for owner until the given time: ErrLeaseHeld when another
// owner holds an unexpired one. Taking it again as its owner extends it. The item is created
// when absent (a lease alone is no correlation: Get does not find it).
func (s *CorrelationStore) Lease(ctx context.Context, dealerID, platform, key, owner string, until time.Time) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.Table),
		Key:                 correlationKey(dealerID, platform, key),
		UpdateExpression:    aws.String("SET leaseOwner = :owner, leaseUntil = :until"),
		ConditionExpression: aws.String("attribute_not_exists(leaseUntil) OR leaseUntil < :now OR leaseOwner = :owner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner": attr.S(owner), ":until": attr.Millis(until), ":now": attr.Millis(s.now()),
		},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return ErrLeaseHeld
	}
	if err != nil {
		return fmt.Errorf("lease correlation: %w", err)
	}
	return nil
}

// Release gives the lease of key up, if owner still holds it (nothing otherwise).
func (s *CorrelationStore) Release(ctx context.Context, dealerID, platform, key, owner string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       correlationKey(dealerID, platform, key),
		UpdateExpression:          aws.String("REMOVE leaseOwner, leaseUntil"),
		ConditionExpression:       aws.String("leaseOwner = :owner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": attr.S(owner)},
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) {
		return fmt.Errorf("release correlation lease: %w", err)
	}
	return nil
}

// eventIDs are DealerAI's ids an event carries.
type eventIDs struct {
	LeadID          string `json:"leadId"`
	ContactID       string `json:"contactId"`
	AppointmentID   string `json:"appointmentId"`
	AppointmentType string `json:"appointmentType"`
}

// eventKeys are the correlation keys of an event: own, where the ids the delivery obtains
// are saved (a lead's keys, the appointment's key, or the update's key), and lead, the keys
// of the event's DealerAI lead (by leadId, else contactId), where its platform ids are looked
// up and whose lease serializes the lead's deliveries; and DealerAI's ids it carries.
func eventKeys(ev *events.Event) (own, lead []string, ids eventIDs, err error) {
	if err := json.Unmarshal(ev.Body, &ids); err != nil {
		return nil, nil, ids, err
	}
	lead = LeadKeys(ids.LeadID, ids.ContactID)
	switch connector.KindOf(ev.Type) {
	case connector.KindLead:
		return lead, lead, ids, nil
	case connector.KindAppointment:
		if k := AppointmentKey(ids.AppointmentID, ids.ContactID, ids.AppointmentType); k != "" {
			own = []string{k}
		}
		return own, lead, ids, nil
	case connector.KindLeadUpdate:
		if len(lead) > 0 {
			own = []string{UpdateKey(ev.Type, lead[0])}
		}
		return own, lead, ids, nil
	}
	return nil, nil, ids, nil
}
