package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/shared/delivery"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/subscriptions"
	"github.com/dealerai/integrations/shared/targets"
)

func TestRetryDelay(t *testing.T) {
	backoff := []time.Duration{30 * time.Second, 5 * time.Minute, 30 * time.Minute}
	for _, tc := range []struct {
		name       string
		attempt    int
		retryAfter time.Duration
		u          float64
		want       time.Duration
	}{
		{"attempt 1, no jitter", 1, 0, 0.5, 30 * time.Second},
		{"attempt 1, -20%", 1, 0, 0, 24 * time.Second},
		{"attempt 1, +20%", 1, 0, 1, 36 * time.Second},
		{"attempt 2", 2, 0, 0.5, 5 * time.Minute},
		{"attempt 3", 3, 0, 0.5, 30 * time.Minute},
		{"past the end uses the last", 7, 0, 0.5, 30 * time.Minute},
		{"retry-after longer wins", 1, 2 * time.Minute, 0.5, 2 * time.Minute},
		{"retry-after shorter ignored", 2, time.Minute, 0.5, 5 * time.Minute},
		{"retry-after capped at 1h", 3, 5 * time.Hour, 0.5, time.Hour},
	} {
		if got := delivery.RetryDelay(backoff, tc.attempt, tc.retryAfter, tc.u); got != tc.want {
			t.Errorf("%s: RetryDelay = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"120":                           2 * time.Minute,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		"99999":                         time.Hour,
		"Fri, 27 Nov 2026 12:10:00 GMT": 10 * time.Minute,
		"Fri, 27 Nov 2026 11:00:00 GMT": 0,
		"Sat, 28 Nov 2026 12:00:00 GMT": time.Hour,
	} {
		if got := delivery.ParseRetryAfter(v, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// ---- the handler with fakes of its interfaces ----

type fakeTargets struct{ t *targets.Target }

func (f fakeTargets) Find(context.Context, string, deliveryq.Target) (*targets.Target, error) {
	return f.t, nil
}
func (fakeTargets) Invalidate(string) {}

type fakeLog struct {
	mu       sync.Mutex
	getErr   error
	got      *deliverylog.Record
	failures []deliverylog.Attempt
	final    bool
	success  int
	skipped  []string // reasons
}

func (f *fakeLog) Get(context.Context, string, deliveryq.Target, string, bool) (*deliverylog.Record, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	if f.got != nil {
		return f.got, nil
	}
	return nil, deliverylog.ErrNotFound
}
func (f *fakeLog) RecordSuccess(context.Context, *deliverylog.Record, deliverylog.Attempt) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.success++
	return nil
}
func (f *fakeLog) RecordFailure(_ context.Context, _ *deliverylog.Record, a deliverylog.Attempt, final bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures, f.final = append(f.failures, a), final
	return f.getErr
}
func (f *fakeLog) GetMany(ctx context.Context, keys []deliverylog.Key) ([]*deliverylog.Record, error) {
	recs := make([]*deliverylog.Record, len(keys))
	for i, k := range keys {
		rec, err := f.Get(ctx, k.DealerID, k.Target, k.DeliveryID, false)
		if err != nil && !errors.Is(err, deliverylog.ErrNotFound) {
			return nil, err
		}
		recs[i] = rec
	}
	return recs, nil
}
func (f *fakeLog) RecordSuccesses(ctx context.Context, recs []*deliverylog.Record, attempts []deliverylog.Attempt) []error {
	errs := make([]error, len(recs))
	for i, rec := range recs {
		errs[i] = f.RecordSuccess(ctx, rec, attempts[i])
	}
	return errs
}
func (f *fakeLog) RecordSkipped(_ context.Context, _ *deliverylog.Record, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.skipped = append(f.skipped, reason)
	return nil
}

type fakeQueue struct {
	mu         sync.Mutex
	visibility []int32
}

func (f *fakeQueue) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.visibility = append(f.visibility, in.VisibilityTimeout)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func setup(t *testing.T, target deliveryq.Target, handler http.HandlerFunc) (*delivery.Handler, *fakeLog, *fakeQueue) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	lg, q := &fakeLog{}, &fakeQueue{}
	tg := &targets.Target{Target: target, Enabled: true, Events: []string{"*"},
		Subscription: &subscriptions.Subscription{ID: target.ID, URL: srv.URL, Secret: secret, Enabled: true}}
	h := &delivery.Handler{
		Targets: fakeTargets{tg}, Log: lg, Queue: q, QueueURL: "q", HTTP: srv.Client(),
		Timeout: time.Second, Backoff: []time.Duration{30 * time.Second, 5 * time.Minute, 30 * time.Minute},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Rand: func() float64 { return 0.5 },
	}
	return h, lg, q
}

func message(t *testing.T, target deliveryq.Target, attempt string) events.SQSEvent {
	t.Helper()
	m := deliveryq.Message{DeliveryID: "dlv_1", EventID: "evt_1", EventType: "lead.created", DealerID: "dlr_1",
		Target: target, CreatedAt: time.Now(), Payload: json.RawMessage(`{"eventType":"lead.created","eventId":"evt_1"}`)}
	b, _ := json.Marshal(m)
	return events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", ReceiptHandle: "rh", Body: string(b),
		Attributes: map[string]string{"ApproximateReceiveCount": attempt}}}}
}

var subTarget = deliveryq.Target{Kind: deliveryq.KindSubscription, ID: "sub_1"}

func TestVisibilityAfterFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		attempt string
		status  int
		header  string
		want    int32
	}{
		{"500 after attempt 1", "1", 500, "", 30},
		{"500 after attempt 2", "2", 500, "", 300},
		{"429 asks for longer", "1", 429, "120", 120},
		{"503 asks for shorter: the backoff wins", "2", 503, "10", 300},
		{"429 beyond an hour is capped", "1", 429, "86400", 3600},
		{"retry-after ignored on a 500", "1", 500, "120", 30},
		{"last attempt: visible at once for the redrive", "4", 500, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, lg, q := setup(t, subTarget, func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, strings.Repeat("e", 5000))
			})
			resp, _ := h.Handle(context.Background(), message(t, subTarget, tc.attempt))
			if len(resp.BatchItemFailures) != 1 {
				t.Fatalf("failures = %v", resp.BatchItemFailures)
			}
			if len(q.visibility) != 1 || q.visibility[0] != tc.want {
				t.Fatalf("visibility = %v, want %d", q.visibility, tc.want)
			}
			a := lg.failures[0]
			if a.StatusCode != tc.status || a.ErrorClass != deliverylog.ClassHTTPStatus || len(a.ResponseSnippet) != 1024 || lg.final != (tc.attempt == "4") {
				t.Fatalf("attempt = %+v final=%v", a, lg.final)
			}
		})
	}
}

func TestNoAgentConnectorIsRecordedFailed(t *testing.T) {
	agent := deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}
	h, lg, q := setup(t, agent, nil)
	resp, _ := h.Handle(context.Background(), message(t, agent, "1"))
	if len(resp.BatchItemFailures) != 0 || len(q.visibility) != 0 {
		t.Fatalf("resp = %v, visibility %v", resp, q.visibility)
	}
	if !lg.final || len(lg.failures) != 1 || lg.failures[0].ErrorClass != deliverylog.ClassInternal || lg.failures[0].Error != "agent connectors not configured" {
		t.Fatalf("log = %+v", lg)
	}
}

func TestLogStoreDownCountsAsAnInternalAttempt(t *testing.T) {
	posts := 0
	h, lg, q := setup(t, subTarget, func(w http.ResponseWriter, r *http.Request) { posts++ })
	lg.getErr = errors.New("DynamoDB unavailable")
	resp, _ := h.Handle(context.Background(), message(t, subTarget, "2"))
	if len(resp.BatchItemFailures) != 1 || posts != 0 || len(q.visibility) != 1 || q.visibility[0] != 300 {
		t.Fatalf("resp = %v, posts = %d, visibility = %v", resp, posts, q.visibility)
	}
	if a := lg.failures[0]; a.ErrorClass != deliverylog.ClassInternal || !strings.HasPrefix(a.Error, "internal error (ref ") || strings.Contains(a.Error, "DynamoDB") {
		t.Fatalf("attempt = %+v, want internal error with a reference, not the store's error", a)
	}
}

func TestDuplicateOfASucceededDelivery(t *testing.T) {
	posts := 0
	h, lg, _ := setup(t, subTarget, func(w http.ResponseWriter, r *http.Request) { posts++ })
	lg.got = &deliverylog.Record{Status: deliverylog.StatusSucceeded}
	resp, _ := h.Handle(context.Background(), message(t, subTarget, "1"))
	if len(resp.BatchItemFailures) != 0 || posts != 0 || lg.success != 0 {
		t.Fatalf("resp = %v, posts = %d", resp, posts)
	}
}

// countingAgents counts the attempts made to agents.
type countingAgents struct{ calls atomic.Int32 }

func (c *countingAgents) Deliver(context.Context, *deliveryq.Message, *targets.Target, int, *deliverylog.Record) (delivery.Outcome, error) {
	c.calls.Add(1)
	return delivery.Outcome{Result: delivery.Succeeded}, nil
}

// TestAgentOutOfThePlanIsSkipped: a delivery queued for an agent whose platform has left the
// dealer's plan makes no attempt and ends skipped with that reason, enabled or not.
func TestAgentOutOfThePlanIsSkipped(t *testing.T) {
	agent := deliveryq.Target{Kind: deliveryq.KindAgent, ID: "vinsolutions"}
	for _, enabled := range []bool{true, false} {
		h, lg, q := setup(t, agent, nil)
		connector := &countingAgents{}
		h.Agents = connector
		h.Targets = fakeTargets{&targets.Target{Target: agent, Enabled: enabled, Events: []string{"*"}, Unavailable: plans.SkipReason}}
		resp, _ := h.Handle(context.Background(), message(t, agent, "1"))
		if len(resp.BatchItemFailures) != 0 || len(q.visibility) != 0 || connector.calls.Load() != 0 || lg.success != 0 || len(lg.failures) != 0 {
			t.Fatalf("enabled %v: resp %v, visibility %v, attempts %d, log %+v", enabled, resp, q.visibility, connector.calls.Load(), lg)
		}
		if len(lg.skipped) != 1 || lg.skipped[0] != plans.SkipReason {
			t.Errorf("enabled %v: skipped %q, want %q", enabled, lg.skipped, plans.SkipReason)
		}
	}
	// the same agent in the plan is delivered to
	h, lg, _ := setup(t, agent, nil)
	connector := &countingAgents{}
	h.Agents = connector
	h.Targets = fakeTargets{&targets.Target{Target: agent, Enabled: true, Events: []string{"*"}}}
	h.Handle(context.Background(), message(t, agent, "1"))
	if connector.calls.Load() != 1 || lg.success != 1 {
		t.Errorf("in the plan: %d attempts, %d successes", connector.calls.Load(), lg.success)
	}
}
