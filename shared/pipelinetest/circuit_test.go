package pipelinetest

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/circuit"
	"github.com/dealerai/integrations/shared/delivery"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/subscriptions"
)

// clock is a settable clock shared by the handlers of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// switchable is a receiver that hangs until its request's context ends while down, and
// answers 200 while up.
type switchable struct {
	*receiver
	up atomic.Bool
	// gate, when set, holds the answers of an up receiver until it is closed.
	gate atomic.Pointer[chan struct{}]
}

func newSwitchable(t *testing.T) *switchable {
	sw := &switchable{}
	sw.receiver = newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if sw.up.Load() {
			if g := sw.gate.Load(); g != nil {
				<-*g
			}
			return
		}
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	})
	return sw
}

// circuitEnv are the settings of the circuit tests: a 1 s attempt timeout, retries after 1 s.
func circuitEnv(threshold int) map[string]string {
	return map[string]string{"DELIVERY_TIMEOUT": "1s", "CIRCUIT_THRESHOLD": strconv.Itoa(threshold)}
}

func (s *stack) circuit(sub *subscriptions.Subscription) circuit.State {
	s.t.Helper()
	st, err := (&circuit.Store{DB: s.env.DynamoDB, Table: s.cfg.ConfigTable}).Get(context.Background(), sub.DealerID, subTarget(sub))
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

// deliveries queues one delivery of a new lead.created event to each subscription, in order.
func (s *stack) deliveries(subs ...*subscriptions.Subscription) []deliveryq.Message {
	s.t.Helper()
	var msgs []deliveryq.Message
	for _, sub := range subs {
		_, ev := example(s.t, "lead.created", map[string]any{"eventId": "evt_" + strconv.FormatInt(time.Now().UnixNano(), 36)})
		msgs = append(msgs, message(sub, ev.Body, ev.ID, ev.Type, ev.Timestamp))
	}
	s.sendDeliveries(msgs...)
	return msgs
}

// handleBatch receives exactly want messages of the deliveries queue as one batch, hands it to
// h as the event source mapping would, and deletes the whole batch (these tests read the
// delivery log; the redrive has a test of its own).
func (s *stack) handleBatch(h *delivery.Handler, want int) events.SQSEventResponse {
	s.t.Helper()
	var msgs []sqstypes.Message
	localtest.Eventually(s.t, 10*time.Second, strconv.Itoa(want)+" delivery messages", func() bool {
		out, err := s.env.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.env.QueueURL(resources.DeliveriesQueue)), MaxNumberOfMessages: int32(want - len(msgs)),
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			VisibilityTimeout:           60,
		})
		if err != nil {
			s.t.Fatal(err)
		}
		msgs = append(msgs, out.Messages...)
		return len(msgs) == want
	})
	event := events.SQSEvent{}
	for _, m := range msgs {
		event.Records = append(event.Records, events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs",
		})
	}
	resp, err := h.Handle(context.Background(), event)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, m := range msgs {
		if _, err := s.env.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{
			QueueUrl: aws.String(s.env.QueueURL(resources.DeliveriesQueue)), ReceiptHandle: m.ReceiptHandle,
		}); err != nil {
			s.t.Fatal(err)
		}
	}
	return resp
}

// lastAttempt is the last attempt of a delivery (strongly consistent read).
func (s *stack) lastAttempt(sub *subscriptions.Subscription, m deliveryq.Message) deliverylog.Attempt {
	s.t.Helper()
	rec := s.record(sub, m.DeliveryID)
	if len(rec.Attempts) == 0 {
		s.t.Fatalf("delivery %s has no attempt", m.DeliveryID)
	}
	return rec.Attempts[len(rec.Attempts)-1]
}

func failedFast(a deliverylog.Attempt) bool {
	return a.ErrorClass == deliverylog.ClassCircuitOpen && a.DurationMs == 0 && a.StatusCode == 0 &&
		strings.Contains(a.Error, "circuit open")
}

// A hanging endpoint opens its circuit after the threshold; later receives of its delivery
// fail fast without a request, logged circuit_open, and the message still reaches the DLQ
// after exactly four receives; another endpoint of the same event is delivered.
func TestCircuitOpensAndTheDeliveryStillEndsInTheDLQAfterFourReceives(t *testing.T) {
	clk := newClock()
	s := newStack(t, options{env: circuitEnv(2), tune: func(h *delivery.Handler) { h.Circuit.Now = clk.Now }})
	down := newSwitchable(t)
	fast := newReceiver(t, nil)
	subDown := s.subscribe(dealer, down.URL, "lead.*")
	subFast := s.subscribe(dealer, fast.URL, "lead.*")
	body, ev := example(t, "lead.created", nil)
	s.publish(body)

	id := deliveryID(subDown, ev)
	rec := s.waitRecord(subDown, id, 40*time.Second, func(r *deliverylog.Record) bool { return r.Status == deliverylog.StatusFailed })
	if len(rec.Attempts) != 4 {
		t.Fatalf("%d attempts, want 4: %+v", len(rec.Attempts), rec.Attempts)
	}
	for i, a := range rec.Attempts {
		if a.Attempt != i+1 {
			t.Errorf("attempt %d numbered %d", i+1, a.Attempt)
		}
		if i < 2 && a.ErrorClass != deliverylog.ClassTimeout {
			t.Errorf("attempt %d = %+v, want a timeout", i+1, a)
		}
		if i >= 2 && !failedFast(a) {
			t.Errorf("attempt %d = %+v, want failed fast by the open circuit", i+1, a)
		}
	}
	if n := down.count(); n != 2 {
		t.Errorf("the hanging endpoint got %d requests, want 2 (the threshold)", n)
	}
	dlq := s.drain(resources.DeliveriesDLQ, 1)
	if len(dlq) != 1 || aws.ToString(dlq[0].MessageAttributes["deliveryId"].StringValue) != id {
		t.Fatalf("deliveries DLQ = %+v", dlq)
	}
	if got := s.record(subFast, deliveryID(subFast, ev)); got.Status != deliverylog.StatusSucceeded || fast.count() != 1 {
		t.Errorf("the healthy endpoint: %+v, %d requests", got, fast.count())
	}
	st := s.circuit(subDown)
	if st.State != circuit.Open || st.Failures != 2 || st.OpenedAt == nil || st.RetryAt == nil || !st.RetryAt.After(*st.OpenedAt) {
		t.Errorf("circuit = %+v", st)
	}
	if n := s.depth(resources.DeliveriesQueue); n != 0 {
		t.Fatalf("%d messages left on the deliveries queue", n)
	}
}

// With the circuit open, a batch of ten — one for the dead endpoint, nine for a healthy one —
// makes nine requests: the dead endpoint's attempt is failed fast and the only item failure.
func TestOpenCircuitCostsTheBatchNothing(t *testing.T) {
	clk := newClock()
	s := newStack(t, options{env: circuitEnv(1), noDelivery: true})
	h := s.newDeliveryHandler(nil)
	h.Circuit.Now = clk.Now
	down := newSwitchable(t)
	fast := newReceiver(t, nil)
	subDown := s.subscribe(dealer, down.URL, "*")
	subFast := s.subscribe(dealer, fast.URL, "*")

	trip := s.deliveries(subDown)
	s.handleBatch(h, 1)
	if a := s.lastAttempt(subDown, trip[0]); a.ErrorClass != deliverylog.ClassTimeout {
		t.Fatalf("first attempt = %+v", a)
	}
	if st := s.circuit(subDown); st.State != circuit.Open {
		t.Fatalf("circuit after the threshold = %+v", st)
	}

	subs := []*subscriptions.Subscription{subDown}
	for range 9 {
		subs = append(subs, subFast)
	}
	msgs := s.deliveries(subs...)
	resp := s.handleBatch(h, 10)
	if len(resp.BatchItemFailures) != 1 {
		t.Errorf("%d item failures, want 1 (the dead endpoint's)", len(resp.BatchItemFailures))
	}
	if a := s.lastAttempt(subDown, msgs[0]); !failedFast(a) {
		t.Errorf("dead endpoint's attempt = %+v, want failed fast", a)
	}
	if n := down.count(); n != 1 {
		t.Errorf("dead endpoint got %d requests, want 1 (the one that opened the circuit)", n)
	}
	if n := fast.count(); n != 9 {
		t.Errorf("healthy endpoint got %d requests, want 9", n)
	}
	for _, m := range msgs[1:] {
		if rec := s.record(subFast, m.DeliveryID); rec.Status != deliverylog.StatusSucceeded {
			t.Errorf("healthy delivery %s: %s", m.DeliveryID, rec.Status)
		}
	}
}

// Two handler instances (two containers: their own caches and breakers) share the circuit
// through the config table: one opens it and the other fails fast without ever calling; after
// the cool-down exactly one of them probes; the probe's success closes it for both.
func TestCircuitIsSharedByTwoHandlersAndClosedByOneProbe(t *testing.T) {
	clk := newClock()
	s := newStack(t, options{env: circuitEnv(2), noDelivery: true})
	a, b := s.newDeliveryHandler(nil), s.newDeliveryHandler(nil)
	a.Circuit.Now, b.Circuit.Now = clk.Now, clk.Now
	down := newSwitchable(t)
	sub := s.subscribe(dealer, down.URL, "*")

	s.deliveries(sub, sub)
	s.handleBatch(a, 2)
	st := s.circuit(sub)
	if st.State != circuit.Open || st.Failures != 2 {
		t.Fatalf("circuit after A's two timeouts = %+v", st)
	}

	m := s.deliveries(sub)
	s.handleBatch(b, 1)
	if at := s.lastAttempt(sub, m[0]); !failedFast(at) {
		t.Fatalf("B's attempt = %+v, want failed fast", at)
	}
	if n := down.count(); n != 2 {
		t.Fatalf("endpoint got %d requests, want 2", n)
	}

	// Back up; within the cool-down still nothing goes.
	down.up.Store(true)
	m = s.deliveries(sub)
	s.handleBatch(a, 1)
	if at := s.lastAttempt(sub, m[0]); !failedFast(at) || down.count() != 2 {
		t.Fatalf("attempt within the cool-down = %+v (%d requests)", at, down.count())
	}

	// After it, A probes; while its probe is in flight B fails fast.
	clk.Advance(circuit.DefaultCooldown + time.Second)
	release := make(chan struct{})
	down.gate.Store(&release)
	s.deliveries(sub)
	done := make(chan struct{})
	go func() { defer close(done); s.handleBatch(a, 1) }()
	localtest.Eventually(t, 10*time.Second, "A's probe", func() bool { return down.count() == 3 })
	if st := s.circuit(sub); st.State != circuit.HalfOpen {
		t.Errorf("circuit during the probe = %+v", st)
	}
	m = s.deliveries(sub)
	s.handleBatch(b, 1)
	if at := s.lastAttempt(sub, m[0]); !failedFast(at) {
		t.Errorf("B's attempt during A's probe = %+v, want failed fast", at)
	}
	close(release)
	<-done
	if n := down.count(); n != 3 {
		t.Fatalf("endpoint got %d requests after the cool-down, want 3 (one probe)", n)
	}
	if st := s.circuit(sub); st.State != circuit.Closed || st.ClosedAt == nil {
		t.Fatalf("circuit after the probe = %+v", st)
	}

	// Both deliver again once what they know of the circuit is older than the cache's TTL.
	clk.Advance(circuit.DefaultCacheTTL + time.Second)
	m = s.deliveries(sub, sub)
	s.handleBatch(a, 1)
	s.handleBatch(b, 1)
	for _, x := range m {
		if rec := s.record(sub, x.DeliveryID); rec.Status != deliverylog.StatusSucceeded {
			t.Errorf("delivery after the circuit closed: %+v", rec)
		}
	}
	if n := down.count(); n != 5 {
		t.Errorf("endpoint got %d requests, want 5", n)
	}
}

// A circuit open longer than CIRCUIT_DISABLE_AFTER whose probe fails again disables the
// subscription with a reason, logs `endpoint disabled` with its metric, and starts the
// circuit anew for when it is enabled again. A refused connection counts as a failure.
func TestSustainedFailureDisablesTheSubscription(t *testing.T) {
	clk := newClock()
	s := newStack(t, options{env: circuitEnv(1), noDelivery: true})
	var metrics localtest.Buffer
	h := s.newDeliveryHandler(nil)
	h.Circuit.Now, h.Metrics = clk.Now, &metrics
	h.Circuit.Settings.Cooldown, h.Circuit.Settings.MaxCooldown, h.Circuit.Settings.DisableAfter = time.Minute, 20*time.Minute, 10*time.Minute
	refused := newReceiver(t, nil)
	url := refused.URL
	refused.Close()
	sub := s.subscribe(dealer, url, "*")

	m := s.deliveries(sub)
	s.handleBatch(h, 1)
	if a := s.lastAttempt(sub, m[0]); a.ErrorClass != deliverylog.ClassConnection {
		t.Fatalf("attempt = %+v", a)
	}
	clk.Advance(2 * time.Minute) // a failed probe: open again for 2 min
	s.deliveries(sub)
	s.handleBatch(h, 1)
	if st := s.circuit(sub); st.State != circuit.Open || st.Failures != 2 || st.Cooldown != 2*time.Minute {
		t.Fatalf("circuit after a failed probe = %+v", st)
	}
	if got, _ := s.subs.Get(context.Background(), sub.DealerID, sub.ID); !got.Enabled {
		t.Fatal("disabled too early")
	}
	clk.Advance(9 * time.Minute) // open 11 min: the next failed probe disables it
	s.deliveries(sub)
	s.handleBatch(h, 1)
	got, err := s.subs.Get(context.Background(), sub.DealerID, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || got.Status != subscriptions.StatusFor(false) || !strings.Contains(got.DisabledReason, "endpoint failing since") {
		t.Fatalf("subscription = %+v", got)
	}
	out := metrics.String()
	if !strings.Contains(out, `"msg":"endpoint disabled"`) || !strings.Contains(out, `"EndpointsDisabled":1`) || !strings.Contains(out, `"CircuitsOpened":1`) {
		t.Errorf("metrics lines:\n%s", out)
	}
	if st := s.circuit(sub); st.State != circuit.Closed {
		t.Errorf("circuit after disabling = %+v", st)
	}
}

// An attempt already waiting on the endpoint when its circuit opens stops waiting: of two
// concurrent deliveries to one endpoint, one hangs and the other gets a 500, which opens the
// circuit (threshold 1) and ends the hanging attempt as circuit_open, long before its timeout.
func TestOpeningTheCircuitStopsAttemptsInFlight(t *testing.T) {
	s := newStack(t, options{env: map[string]string{"DELIVERY_TIMEOUT": "20s", "CIRCUIT_THRESHOLD": "1"}, noDelivery: true})
	h := s.newDeliveryHandler(nil)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			<-r.Context().Done() // hangs until the client gives up
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	sub := s.subscribe(dealer, rc.URL, "*")
	msgs := s.deliveries(sub, sub)
	s.handleBatch(h, 2)
	var classes []string
	for _, m := range msgs {
		a := s.lastAttempt(sub, m)
		classes = append(classes, a.ErrorClass)
		if a.ErrorClass == deliverylog.ClassCircuitOpen && a.DurationMs >= 20_000 {
			t.Errorf("the waiting attempt ran %d ms, its whole timeout", a.DurationMs)
		}
	}
	slices.Sort(classes)
	if want := []string{deliverylog.ClassCircuitOpen, deliverylog.ClassHTTPStatus}; !slices.Equal(classes, want) {
		t.Errorf("attempts %v, want %v", classes, want)
	}
	if st := s.circuit(sub); st.State != circuit.Open {
		t.Errorf("circuit %+v", st)
	}
}

// An endpoint that accepts requests and never answers opens its circuit before any attempt
// times out: when the first attempt is still unanswered after CIRCUIT_STALL_AFTER, it and the
// other attempt waiting with it count as failures, which opens the circuit (threshold 2), and
// both stop waiting as circuit_open; the opening is logged with its metric.
func TestStalledAttemptsOpenTheCircuitBeforeTheTimeout(t *testing.T) {
	s := newStack(t, options{env: map[string]string{"DELIVERY_TIMEOUT": "20s", "CIRCUIT_THRESHOLD": "2", "CIRCUIT_STALL_AFTER": "200ms"}, noDelivery: true})
	h := s.newDeliveryHandler(nil)
	metrics := &localtest.Buffer{}
	h.Metrics = metrics
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // hangs until the client gives up
	})
	sub := s.subscribe(dealer, rc.URL, "*")
	msgs := s.deliveries(sub, sub)
	s.handleBatch(h, 2)
	for _, m := range msgs {
		a := s.lastAttempt(sub, m)
		if a.ErrorClass != deliverylog.ClassCircuitOpen || a.DurationMs >= 20_000 {
			t.Errorf("attempt %s after %d ms, want circuit_open before the 20 s timeout", a.ErrorClass, a.DurationMs)
		}
	}
	if st := s.circuit(sub); st.State != circuit.Open || st.LastError != "no answer within 200ms" || st.Failures != 2 {
		t.Errorf("circuit %+v", st)
	}
	if !strings.Contains(metrics.String(), `"msg":"circuit open"`) || !strings.Contains(metrics.String(), `"CircuitsOpened":1`) {
		t.Errorf("no circuit-open line with its metric: %s", metrics.String())
	}
}
