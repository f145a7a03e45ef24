// Package ratelimit limits how often one dealer may do a costly action (a test send, a manual
// retry, a recovery) with a fixed-window counter in the config table, so that every API
// container counts against the same limit.
//
// Each (dealer, action, window) is one item, pk = "DEALER#<dealerId>", sk =
// "RATE#<action>#<window start, Unix s>", with n (the count) and expiresAt (the table's TTL,
// an hour after the window ends). Allow is one UpdateItem, ADD n 1 on the condition that n is
// below the limit: atomic, so concurrent requests of all containers never pass more than the
// limit in a window. A fixed window lets through at most twice the limit around a window's
// end; that is the price of one write per request.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/shared/resources"
)

// Actions limited per dealer.
const (
	TestSend = "testSend" // POST /v1/subscriptions/{id}/test
	Retry    = "retry"    // POST .../deliveries/{deliveryId}/retry
	Recover  = "recover"  // POST .../recover
)

// Limit is at most Max actions per Window.
type Limit struct {
	Max    int
	Window time.Duration
}

func (l Limit) String() string { return strconv.Itoa(l.Max) + "/" + formatWindow(l.Window) }

// DefaultLimits are the limits of a deployment that configures none (RATE_LIMITS).
var DefaultLimits = map[string]Limit{
	TestSend: {Max: 20, Window: time.Minute},
	Retry:    {Max: 60, Window: time.Minute},
	Recover:  {Max: 10, Window: time.Minute},
}

// ExceededError is Allow's answer to an action over its limit.
type ExceededError struct {
	Action string
	Limit  Limit
	// RetryAfter is the time until the window ends, when the action is allowed again.
	RetryAfter time.Duration
}

func (e *ExceededError) Error() string {
	return fmt.Sprintf("ratelimit: %s is limited to %s per dealer; try again in %s", e.Action, e.Limit, e.RetryAfter)
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1 (a Retry-After
// header's value).
func (e *ExceededError) RetryAfterSeconds() int {
	return max(1, int((e.RetryAfter+time.Second-1)/time.Second))
}

// DynamoDBAPI is the part of the DynamoDB client the limiter uses.
type DynamoDBAPI interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Limiter counts dealers' actions in the config table.
type Limiter struct {
	DB    DynamoDBAPI
	Table string
	// Limits by action; an action without one is not limited.
	Limits map[string]Limit
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Allow counts one action of the dealer: nil when it is within the action's limit, an
// *ExceededError (nothing counted) when over it, another error when the count could not be
// kept.
func (l *Limiter) Allow(ctx context.Context, dealerID, action string) error {
	lim, ok := l.Limits[action]
	if !ok || lim.Max <= 0 || lim.Window <= 0 {
		return nil
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	start := now.Truncate(lim.Window)
	end := start.Add(lim.Window)
	_, err := l.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(l.Table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: resources.DealerKey(dealerID)},
			"sk": &types.AttributeValueMemberS{Value: resources.RateKeyPrefix + action + "#" + strconv.FormatInt(start.Unix(), 10)},
		},
		UpdateExpression:         aws.String("ADD #n :one SET #x = if_not_exists(#x, :x)"),
		ConditionExpression:      aws.String("attribute_not_exists(#n) OR #n < :max"),
		ExpressionAttributeNames: map[string]string{"#n": "n", "#x": resources.ConfigTable.TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": &types.AttributeValueMemberN{Value: "1"},
			":max": &types.AttributeValueMemberN{Value: strconv.Itoa(lim.Max)},
			":x":   &types.AttributeValueMemberN{Value: strconv.FormatInt(end.Add(time.Hour).Unix(), 10)},
		},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return &ExceededError{Action: action, Limit: lim, RetryAfter: end.Sub(now)}
	}
	if err != nil {
		return fmt.Errorf("ratelimit: count %s of %s: %w", action, dealerID, err)
	}
	return nil
}

// ParseLimits reads RATE_LIMITS: comma-separated action=max/window (e.g.
// "testSend=20/1m,retry=60/1m"; a window of 1s to 24h), or action=off, each overriding
// DefaultLimits; "" is the defaults.
func ParseLimits(v string) (map[string]Limit, error) {
	out := make(map[string]Limit, len(DefaultLimits))
	for k, l := range DefaultLimits {
		out[k] = l
	}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		action, spec, ok := strings.Cut(part, "=")
		action, spec = strings.TrimSpace(action), strings.TrimSpace(spec)
		if _, known := DefaultLimits[action]; !ok || !known {
			return nil, fmt.Errorf("RATE_LIMITS: %q is not action=max/window with an action of %s", part, strings.Join(actions(), ", "))
		}
		if spec == "off" {
			delete(out, action)
			continue
		}
		n, w, ok := strings.Cut(spec, "/")
		max, err := strconv.Atoi(n)
		if !ok || err != nil || max < 1 {
			return nil, fmt.Errorf("RATE_LIMITS: %q: want a count of at least 1, a slash and a window, like %s=20/1m", part, action)
		}
		window, err := time.ParseDuration(w)
		if err != nil || window < time.Second || window > 24*time.Hour {
			return nil, fmt.Errorf("RATE_LIMITS: %q: the window must be a duration from 1s to 24h", part)
		}
		out[action] = Limit{Max: max, Window: window}
	}
	return out, nil
}

func actions() []string { return []string{TestSend, Retry, Recover} }

func formatWindow(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return d.String()
}
