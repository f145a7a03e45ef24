package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/resources"
)

// ErrStaleEvent: a newer event already saved ids for this lead or appointment.
var ErrStaleEvent = errors.New("a newer event already updated this record")

// Correlation is what a platform returned for one DealerAI lead or appointment, and which
// event last changed it.
type Correlation struct {
	IDs       map[string]string
	EventTime time.Time
	EventID   string
}

// CorrelationStore keeps correlations in the config table: pk resources.DealerKey(dealerId),
// sk resources.CorrelationKeyPrefix + "<platform>#<key>", attributes ids (map of strings), eventTime, eventId, updatedAt.
type CorrelationStore struct {
	DB    DynamoDBAPI
	Table string
}

// NewCorrelationStore returns a store of the config table named table.
func NewCorrelationStore(db DynamoDBAPI, table string) *CorrelationStore {
	return &CorrelationStore{DB: db, Table: table}
}

// eventTimeLayout is fixed-width UTC, so that DynamoDB's string comparison orders times.
const eventTimeLayout = "2006-01-02T15:04:05.000000000Z"

// Keys of correlations (docs/design.md#data-model): a lead by "lead#<leadId>", else
// "contact#<contactId>"; an appointment by "appt#<appointmentId>", else
// "appt#<contactId>#<appointmentType>".

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
		"pk": str(resources.DealerKey(dealerID)),
		"sk": str(resources.CorrelationKeyPrefix + platform + "#" + key),
	}
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
	if len(out.Item) == 0 {
		return nil, ErrNotFound
	}
	c := &Correlation{IDs: getMap(out.Item, "ids"), EventID: getS(out.Item, "eventId")}
	if c.EventTime, err = time.Parse(eventTimeLayout, getS(out.Item, "eventTime")); err != nil {
		return nil, fmt.Errorf("get correlation: eventTime: %w", err)
	}
	return c, nil
}

// Save stores c under key unless a newer event saved there already (ErrStaleEvent): the
// write is conditional on the stored eventTime being at most c.EventTime, so an older event
// never overwrites a newer one, and a retry of the same event can save again.
func (s *CorrelationStore) Save(ctx context.Context, dealerID, platform, key string, c Correlation) error {
	it := correlationKey(dealerID, platform, key)
	it["ids"] = strMap(c.IDs)
	it["eventTime"] = str(c.EventTime.UTC().Format(eventTimeLayout))
	it["eventId"] = str(c.EventID)
	it["updatedAt"] = str(time.Now().UTC().Format(time.RFC3339Nano))
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.Table),
		Item:                      it,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #t <= :t"),
		ExpressionAttributeNames:  map[string]string{"#t": "eventTime"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": it["eventTime"]},
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

// eventKeys are the correlation keys of an event: own, where the ids the delivery obtains
// are saved (a lead's keys, or the appointment's key), and lead, where an appointment's
// DealerAI lead is looked up.
func eventKeys(ev *events.Event) (own, lead []string, err error) {
	var ids struct {
		LeadID          string `json:"leadId"`
		ContactID       string `json:"contactId"`
		AppointmentID   string `json:"appointmentId"`
		AppointmentType string `json:"appointmentType"`
	}
	if err := json.Unmarshal(ev.Body, &ids); err != nil {
		return nil, nil, err
	}
	leadKeys := LeadKeys(ids.LeadID, ids.ContactID)
	switch ev.Type {
	case events.TypeAppointmentCreated, events.TypeAppointmentRescheduled, events.TypeAppointmentCancelled:
		if k := AppointmentKey(ids.AppointmentID, ids.ContactID, ids.AppointmentType); k != "" {
			own = []string{k}
		}
		return own, leadKeys, nil
	}
	return leadKeys, nil, nil
}
