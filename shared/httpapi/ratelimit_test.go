package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/httpapi"
	"github.com/dealerai/integrations/shared/ratelimit"
	"github.com/dealerai/integrations/shared/resources"
)

// limitedAPITest is the API with small rate limits counted in the config table, on a clock
// 45 s into a minute.
func limitedAPITest(t *testing.T, limits map[string]ratelimit.Limit) *apiTest {
	t.Helper()
	now := time.Date(2026, 12, 7, 9, 30, 45, 0, time.UTC)
	var at *apiTest
	at = newAPITest(t, func(o *httpapi.Options) {
		o.RateLimits = &limiterOn{at: &at, limits: limits, now: now}
	})
	return at
}

// limiterOn is a ratelimit.Limiter on the apiTest's config table (built once the test's
// tables exist).
type limiterOn struct {
	at     **apiTest
	limits map[string]ratelimit.Limit
	now    time.Time
}

func (l *limiterOn) Allow(ctx context.Context, dealerID, action string) error {
	at := *l.at
	lim := &ratelimit.Limiter{DB: at.env.DynamoDB, Table: at.env.Table(resources.ConfigTable), Limits: l.limits, Now: func() time.Time { return l.now }}
	return lim.Allow(ctx, dealerID, action)
}

// tooMany checks a 429: problem+json, Retry-After in whole seconds, the limit named.
func tooMany(t *testing.T, r *response, wantAfter int, wantDetail string) {
	t.Helper()
	p := r.problem(t, http.StatusTooManyRequests)
	if got := r.header.Get("Retry-After"); got != strconv.Itoa(wantAfter) {
		t.Errorf("Retry-After %q, want %d", got, wantAfter)
	}
	if !strings.Contains(p.Detail, wantDetail) {
		t.Errorf("detail %q, want it to say %q", p.Detail, wantDetail)
	}
}

func TestTestSendsAndRetriesAreRateLimitedPerDealer(t *testing.T) {
	at := limitedAPITest(t, map[string]ratelimit.Limit{
		ratelimit.TestSend: {Max: 3, Window: time.Minute},
		ratelimit.Retry:    {Max: 2, Window: time.Minute},
	})
	tok := at.token("dlr_1")
	id := at.create("dlr_1", nil)["id"].(string)
	test := "/v1/subscriptions/" + id + "/test"
	for i := range 3 {
		if r := at.do("POST", test, tok, `{"eventType":"lead.created"}`); r.status != http.StatusAccepted {
			t.Fatalf("test send %d: %d %s", i+1, r.status, r.body)
		}
	}
	tooMany(t, at.do("POST", test, tok, `{"eventType":"lead.created"}`), 15, "3 test sends per minute")
	at.receive(3) // nothing queued for the refused one

	// a request refused before the limit (invalid, unknown subscription) is not counted
	// and does not hide its own error
	at.do("POST", test, tok, `{"eventType":"lead.nope"}`).problem(t, http.StatusUnprocessableEntity)

	// another dealer has its own count
	tok2 := at.token("dlr_2")
	id2 := at.create("dlr_2", nil)["id"].(string)
	if r := at.do("POST", "/v1/subscriptions/"+id2+"/test", tok2, `{"eventType":"lead.created"}`); r.status != http.StatusAccepted {
		t.Fatalf("another dealer's test send: %d %s", r.status, r.body)
	}
	at.receive(1)

	// retries: of subscriptions and agents together
	base := "/v1/subscriptions/" + id + "/deliveries/"
	for i := range 2 {
		if r := at.do("POST", base+at.seedDelivery("dlr_1", id, "failed")+"/retry", tok, nil); r.status != http.StatusAccepted {
			t.Fatalf("retry %d: %d %s", i+1, r.status, r.body)
		}
	}
	limited := at.seedDelivery("dlr_1", id, "failed")
	tooMany(t, at.do("POST", base+limited+"/retry", tok, nil), 15, "2 delivery retries per minute")
	if r := at.do("PUT", "/v1/agents/xtime", tok, validAgentPut("xtime")); r.status != http.StatusOK {
		t.Fatalf("agent: %d %s", r.status, r.body)
	}
	agentDlv := at.seedTargetDelivery("dlr_1", deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}, "failed", "auth")
	tooMany(t, at.do("POST", "/v1/agents/xtime/deliveries/"+agentDlv+"/retry", tok, nil), 15, "delivery retries")
	at.receive(2)

	// a limited retry did not use up the delivery's one retry
	var d deliveryJSON
	at.do("GET", base+limited, tok, nil).json(t, &d)
	if d.RetriedBy != nil {
		t.Fatalf("a refused retry marked the delivery retried: %+v", d)
	}
}
