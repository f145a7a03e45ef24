// Package subscriptions is the webhook subscription: its model, the validation of what a
// dealer may set, and its DynamoDB store in the config table.
//
// A subscription is one item of the config table (docs/design.md#data-model): pk
// resources.DealerKey(dealerId), sk resources.SubscriptionKeyPrefix + id; and each dealer has a
// counter item (sk resources.SubscriptionCounterKey, attribute n) that every create
// and delete updates in the same transaction, which is what keeps a dealer at MaxPerDealer
// subscriptions without a count-then-put race.
//
// Besides the API, the delivery pipeline uses this package: Get to read a subscription's URL
// and signing secrets, Disable when an endpoint answers 410 Gone, and the exported
// Subscription type (with its dynamodbav tags) to decode the items of the
// router's one-query read of a dealer's targets. These are kept stable.
package subscriptions

import (
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/dealerai/integrations/shared/resources"
)

// Ids and limits of subscriptions (their config-table keys are package resources').
const (
	// IDPrefix prefixes every subscription id: "sub_" + a ULID.
	IDPrefix = "sub_"
	// MaxPerDealer is how many subscriptions one dealer may have.
	MaxPerDealer = 50
	// SecretGracePeriod is how long a rotated-out secret still signs deliveries.
	SecretGracePeriod = 24 * time.Hour
)

// Status values; a subscription is StatusDisabled exactly when Enabled is false.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// Subscription is a webhook endpoint of one dealer and the events it receives.
//
// The item also holds pk and sk (see Key); they are not part of the struct.
type Subscription struct {
	DealerID    string   `dynamodbav:"dealerId"`
	ID          string   `dynamodbav:"id"`
	URL         string   `dynamodbav:"url"`
	Events      []string `dynamodbav:"events"` // exact types, prefix wildcards ("lead.*") or "*"
	Description string   `dynamodbav:"description"`
	Enabled     bool     `dynamodbav:"enabled"`
	// Status is StatusActive or StatusDisabled, kept equal to Enabled by every write.
	Status string `dynamodbav:"status"`
	// DisabledReason says why the pipeline disabled the subscription (e.g. a 410 Gone).
	DisabledReason string    `dynamodbav:"disabledReason,omitempty"`
	CreatedAt      time.Time `dynamodbav:"createdAt"`
	UpdatedAt      time.Time `dynamodbav:"updatedAt"`
	// Secret signs deliveries ("whsec_..."). Never returned by list/get or logged.
	Secret string `dynamodbav:"secret"`
	// PreviousSecret still signs deliveries until PreviousSecretExpiresAt (secret rotation).
	PreviousSecret          string    `dynamodbav:"previousSecret,omitempty"`
	PreviousSecretExpiresAt time.Time `dynamodbav:"previousSecretExpiresAt,omitempty"`
	// Version counts the changes of the subscription, for optimistic concurrency (ETag).
	Version int64 `dynamodbav:"version"`
}

// New builds a subscription of dealerID from validated fields: a new id, enabled unless
// f.Enabled says otherwise, version 1.
func New(dealerID string, f Fields, secret string, now time.Time) *Subscription {
	now = now.UTC().Truncate(time.Millisecond)
	s := &Subscription{
		DealerID:  dealerID,
		ID:        NewID(),
		Enabled:   true,
		CreatedAt: now,
		UpdatedAt: now,
		Secret:    secret,
		Version:   1,
	}
	if f.URL != nil {
		s.URL = *f.URL
	}
	s.Events = f.Events
	if f.Description != nil {
		s.Description = *f.Description
	}
	if f.Enabled != nil {
		s.Enabled = *f.Enabled
	}
	s.Status = StatusFor(s.Enabled)
	return s
}

// StatusFor is the status that goes with enabled.
func StatusFor(enabled bool) string {
	if enabled {
		return StatusActive
	}
	return StatusDisabled
}

// SigningSecrets are the secrets a delivery at now is signed with: the current one first,
// then the previous one while its grace period lasts.
func (s *Subscription) SigningSecrets(now time.Time) []string {
	if s.PreviousSecret != "" && now.Before(s.PreviousSecretExpiresAt) {
		return []string{s.Secret, s.PreviousSecret}
	}
	return []string{s.Secret}
}

// NewID returns a new subscription id: "sub_" + a ULID.
func NewID() string { return IDPrefix + ulid.Make().String() }

// ValidID reports whether id has the form of a subscription id, so that a malformed id from
// a URL never reaches the table.
func ValidID(id string) bool {
	rest, ok := strings.CutPrefix(id, IDPrefix)
	if !ok {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}

// SortKey is the sk of a subscription.
func SortKey(id string) string { return resources.SubscriptionKeyPrefix + id }

// Key is the primary key of a subscription item.
func Key(dealerID, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: resources.DealerKey(dealerID)},
		"sk": &types.AttributeValueMemberS{Value: SortKey(id)},
	}
}

// CounterKey is the primary key of a dealer's subscription counter item.
func CounterKey(dealerID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: resources.DealerKey(dealerID)},
		"sk": &types.AttributeValueMemberS{Value: resources.SubscriptionCounterKey},
	}
}
