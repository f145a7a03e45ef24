package ratelimit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/ratelimit"
	"github.com/dealerai/integrations/shared/resources"
)

// clock is a settable clock shared by limiters.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// Two limiters stand for two API containers: they count against one limit in DynamoDB Local.
func TestLimitSharedByContainersPerDealerAndWindow(t *testing.T) {
	env := localtest.New(t)
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 12, 7, 10, 0, 40, 0, time.UTC)}
	limits := map[string]ratelimit.Limit{ratelimit.TestSend: {Max: 5, Window: time.Minute}}
	newLimiter := func() *ratelimit.Limiter {
		return &ratelimit.Limiter{DB: env.DynamoDB, Table: env.Table(resources.ConfigTable), Limits: limits, Now: clk.Now}
	}
	a, b := newLimiter(), newLimiter()

	// 20 concurrent requests over the two containers: exactly 5 pass
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed, limited := 0, 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := a
			if i%2 == 1 {
				l = b
			}
			err := l.Allow(ctx, "dlr_1", ratelimit.TestSend)
			var ex *ratelimit.ExceededError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				passed++
			case errors.As(err, &ex):
				limited++
				if ex.RetryAfter != 20*time.Second || ex.RetryAfterSeconds() != 20 || ex.Action != ratelimit.TestSend {
					t.Errorf("exceeded: %+v, want 20s to the window's end", ex)
				}
			default:
				t.Errorf("Allow: %v", err)
			}
		}()
	}
	wg.Wait()
	if passed != 5 || limited != 15 {
		t.Fatalf("%d passed and %d limited, want 5 and 15", passed, limited)
	}

	// another dealer and another action have their own counts
	if err := a.Allow(ctx, "dlr_2", ratelimit.TestSend); err != nil {
		t.Fatalf("another dealer: %v", err)
	}
	if err := a.Allow(ctx, "dlr_1", ratelimit.Retry); err != nil {
		t.Fatalf("an action without a limit: %v", err)
	}

	// the item: the count and a TTL an hour after the window's end
	out, err := env.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(env.Table(resources.ConfigTable)), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "DEALER#dlr_1"},
			"sk": &types.AttributeValueMemberS{Value: "RATE#testSend#1796637600"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := out.Item["n"].(*types.AttributeValueMemberN)
	x, _ := out.Item["expiresAt"].(*types.AttributeValueMemberN)
	if n == nil || n.Value != "5" || x == nil || x.Value != "1796641260" {
		t.Fatalf("counter item %v", out.Item)
	}

	// the next window allows again
	clk.set(time.Date(2026, 12, 7, 10, 1, 0, 0, time.UTC))
	if err := b.Allow(ctx, "dlr_1", ratelimit.TestSend); err != nil {
		t.Fatalf("next window: %v", err)
	}
}

func TestAllowFailsWhenTheCountCannotBeKept(t *testing.T) {
	env := localtest.New(t)
	l := &ratelimit.Limiter{DB: env.DynamoDB, Table: "no-such-table", Limits: ratelimit.DefaultLimits}
	err := l.Allow(context.Background(), "dlr_1", ratelimit.Retry)
	var ex *ratelimit.ExceededError
	if err == nil || errors.As(err, &ex) {
		t.Fatalf("Allow on a missing table: %v, want an error that is not a limit", err)
	}
}

func TestParseLimits(t *testing.T) {
	got, err := ratelimit.ParseLimits("")
	if err != nil || len(got) != 3 || got[ratelimit.TestSend] != ratelimit.DefaultLimits[ratelimit.TestSend] {
		t.Fatalf("defaults: %v %v", got, err)
	}
	got, err = ratelimit.ParseLimits(" retry=5/1h, recover=off ")
	if err != nil {
		t.Fatal(err)
	}
	if got[ratelimit.Retry] != (ratelimit.Limit{Max: 5, Window: time.Hour}) || got[ratelimit.TestSend] != ratelimit.DefaultLimits[ratelimit.TestSend] {
		t.Fatalf("override: %v", got)
	}
	if _, ok := got[ratelimit.Recover]; ok {
		t.Fatalf("recover=off still limits: %v", got)
	}
	if s := got[ratelimit.Retry].String(); s != "5/1h" {
		t.Fatalf("String = %q", s)
	}
	for _, bad := range []string{"retry", "nope=1/1m", "retry=0/1m", "retry=5", "retry=5/0s", "retry=5/48h", "retry=x/1m"} {
		if _, err := ratelimit.ParseLimits(bad); err == nil || !strings.Contains(err.Error(), "RATE_LIMITS") {
			t.Errorf("ParseLimits(%q) = %v, want an error naming RATE_LIMITS", bad, err)
		}
	}
}
