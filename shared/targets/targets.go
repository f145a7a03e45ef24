// Package targets reads a dealer's delivery targets — webhook subscriptions and integration
// agents — from the config table in one Query (pk = "DEALER#<dealerId>" AND
// begins_with(sk, "T#")), which also returns the dealer's plan (package plans): an agent
// whose platform the plan does not include is marked unavailable, and matches no event. The
// router reads them once per dealer per batch through a Cache of a few seconds; the delivery
// handler through a Cache of at most 30 s, which is where it finds signing secrets (they
// never travel in a queue message).
package targets

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/circuit"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/subscriptions"
)

// Target is one subscription or agent of a dealer.
type Target struct {
	deliveryq.Target
	// Events are the target's filters (exact types, "lead.*", "*").
	Events  []string
	Enabled bool
	// Unavailable, when not empty, says why the target receives nothing whether enabled or
	// not: an agent whose platform the dealer's plan does not include (plans.SkipReason).
	Unavailable string

	// Subscription is the decoded item of a subscription (URL, secrets); nil for an agent.
	Subscription *subscriptions.Subscription

	// Item is the raw config item, for agent connectors (settings, credentials).
	Item map[string]types.AttributeValue

	// Circuit is the target's circuit breaker as stored (nil: never opened).
	Circuit *circuit.State
}

// Matches reports whether the target is enabled and available and one of its filters selects
// eventType (events.MatchAny, the matcher the API validates filters with).
func (t *Target) Matches(eventType string) bool {
	return t.Deliverable() && events.MatchAny(t.Events, eventType)
}

// Deliverable reports whether the target receives deliveries: enabled and available.
func (t *Target) Deliverable() bool { return t.Enabled && t.Unavailable == "" }

// Querier is the part of the DynamoDB client Load uses.
type Querier interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Loader reads targets from the config table.
type Loader struct {
	DB    Querier
	Table string
	// AgentEvents gives a platform's current event filters (its catalog entry's); an agent
	// target takes them rather than those stored with it, so a platform that comes to take
	// more events gets them without every dealer's agent being written again. Nil, or false
	// for a platform: the stored ones.
	AgentEvents func(platform string) ([]string, bool)
	// Plans applies the dealers' plans: the platforms of a dealer with no plan stored are
	// its Default. Nil: no plan is applied, every agent is available.
	Plans *plans.Policy
}

// Load returns all of a dealer's targets, enabled or not, its agents marked Unavailable when
// its plan does not include their platform: one Query (more only past 1 MB). A plan item that
// does not decode fails the load, so nothing is delivered on a plan that cannot be read.
func (l *Loader) Load(ctx context.Context, dealerID string) ([]Target, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(l.Table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :t)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: resources.DealerKey(dealerID)},
			":t":  &types.AttributeValueMemberS{Value: resources.TargetKeyPrefix},
		},
	}
	var out []Target
	var plan *plans.Entitlement
	circuits := map[deliveryq.Target]*circuit.State{}
	for {
		page, err := l.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("targets of %s: %w", dealerID, err)
		}
		for _, item := range page.Items {
			if plans.IsItem(item) {
				if plan, err = plans.FromItem(item); err != nil {
					return nil, fmt.Errorf("targets of %s: %w", dealerID, err)
				}
				continue
			}
			if circuit.IsItem(item) {
				if t, st, ok := circuit.FromItem(item); ok {
					circuits[t] = &st
				}
				continue
			}
			if t, ok := decode(item); ok {
				if t.Kind == deliveryq.KindAgent && l.AgentEvents != nil {
					if evs, ok := l.AgentEvents(t.ID); ok {
						t.Events = evs
					}
				}
				out = append(out, t)
			}
		}
		if page.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	for i := range out {
		out[i].Circuit = circuits[out[i].Target]
	}
	if l.Plans != nil {
		entitled, _ := l.Plans.Resolve(dealerID, plan)
		for i := range out {
			if out[i].Kind == deliveryq.KindAgent && !entitled.Includes(out[i].ID) {
				out[i].Unavailable = plans.SkipReason
			}
		}
	}
	return out, nil
}

func decode(item map[string]types.AttributeValue) (Target, bool) {
	sk := getS(item, "sk")
	var t Target
	switch {
	case strings.HasPrefix(sk, resources.SubscriptionKeyPrefix):
		t.Target = deliveryq.Target{Kind: deliveryq.KindSubscription, ID: sk[len(resources.SubscriptionKeyPrefix):]}
		var sub subscriptions.Subscription
		if err := attributevalue.UnmarshalMap(item, &sub); err != nil {
			return t, false // not a subscription this code can deliver to
		}
		sub.ID = t.ID
		t.Subscription = &sub
	case strings.HasPrefix(sk, resources.AgentKeyPrefix):
		t.Target = deliveryq.Target{Kind: deliveryq.KindAgent, ID: sk[len(resources.AgentKeyPrefix):]}
	default:
		return t, false
	}
	if t.ID == "" {
		return t, false
	}
	if b, ok := item["enabled"].(*types.AttributeValueMemberBOOL); ok {
		t.Enabled = b.Value
	}
	switch l := item["events"].(type) {
	case *types.AttributeValueMemberL:
		for _, v := range l.Value {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				t.Events = append(t.Events, s.Value)
			}
		}
	case *types.AttributeValueMemberSS:
		t.Events = l.Value
	}
	t.Item = item
	return t, true
}

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
