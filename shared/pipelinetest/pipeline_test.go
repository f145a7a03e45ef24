package pipelinetest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/safeurl"
	"github.com/dealerai/integrations/shared/signing"
	"github.com/dealerai/integrations/shared/subscriptions"
)

const dealer = "dlr_42"

func deliveryID(sub *subscriptions.Subscription, ev *events.Event) string {
	return deliveryq.DeliveryID(ev.ID, ev.Timestamp, subTarget(sub))
}

// verify checks one received request against docs/webhooks.md with the official Standard
// Webhooks library.
func verify(t testing.TB, sub *subscriptions.Subscription, ev *events.Event, r received, attempt int) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(sub.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.Body, r.Header); err != nil {
		t.Errorf("%s to %s: signature: %v", ev.Type, sub.ID, err)
	}
	if !bytes.Equal(r.Body, ev.Body) {
		t.Errorf("%s: body\n%s\nwant the normalized event\n%s", ev.Type, r.Body, ev.Body)
	}
	want := map[string]string{
		"Content-Type":         "application/json",
		"User-Agent":           "DealerAI-Webhooks/1.0",
		"Webhook-Id":           ev.ID,
		"Dealerai-Event-Type":  ev.Type,
		"Dealerai-Delivery-Id": deliveryID(sub, ev),
		"Dealerai-Attempt":     strconv.Itoa(attempt),
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s to %s: header %s = %q, want %q", ev.Type, sub.ID, k, got, v)
		}
	}
	ts, err := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	if d := r.At.Sub(time.Unix(ts, 0)); err != nil || d < -time.Second || d > 2*time.Second {
		t.Errorf("webhook-timestamp = %q, want the attempt's unix time", r.Header.Get("webhook-timestamp"))
	}
}

func TestEveryExampleReachesEveryMatchingEndpointOnce(t *testing.T) {
	s := newStack(t, options{})
	type endpoint struct {
		rc      *receiver
		sub     *subscriptions.Subscription
		filters []string
		silent  bool // receives nothing
	}
	mk := func(d string, filters ...string) *endpoint {
		rc := newReceiver(t, nil)
		return &endpoint{rc: rc, sub: s.subscribe(d, rc.URL, filters...), filters: filters}
	}
	eps := []*endpoint{
		mk(dealer, "*"),
		mk(dealer, "lead.*"),
		mk(dealer, "appointment.created", "conversation.flagged"),
		mk(dealer, "sequence.step.*"),
		mk(dealer, "contact.*", "lead.created"),
	}
	off := mk(dealer, "*")
	s.disable(off.sub)
	off.silent = true
	other := mk("dlr_other", "*") // another dealer's
	other.silent = true
	eps = append(eps, off, other)

	var bodies [][]byte
	evs := map[string]*events.Event{}
	for _, d := range events.Catalog() {
		body, ev := example(t, d.Type, nil)
		bodies = append(bodies, body)
		evs[ev.ID] = ev
	}
	if len(bodies) != 23 || len(evs) != 23 {
		t.Fatalf("%d examples with %d distinct ids, want 23", len(bodies), len(evs))
	}
	s.publish(bodies...)

	want := func(ep *endpoint) int {
		if ep.silent {
			return 0
		}
		n := 0
		for _, ev := range evs {
			if events.MatchAny(ep.filters, ev.Type) {
				n++
			}
		}
		return n
	}
	localtest.Eventually(t, 60*time.Second, "every delivery", func() bool {
		for _, ep := range eps {
			if ep.rc.count() < want(ep) {
				return false
			}
		}
		return s.depth(resources.EventsQueue) == 0 && s.depth(resources.DeliveriesQueue) == 0
	})
	time.Sleep(time.Second) // anything more would be a duplicate
	for i, ep := range eps {
		reqs := ep.rc.requests()
		if len(reqs) != want(ep) {
			t.Errorf("endpoint %d %v: %d requests, want %d", i, ep.filters, len(reqs), want(ep))
		}
		seen := map[string]bool{}
		for _, r := range reqs {
			id := r.Header.Get("webhook-id")
			ev := evs[id]
			if ev == nil || seen[id] || !events.MatchAny(ep.filters, ev.Type) {
				t.Errorf("endpoint %d %v: unexpected or duplicate %s (%v)", i, ep.filters, id, ev)
				continue
			}
			seen[id] = true
			verify(t, ep.sub, ev, r, 1)
		}
	}
	for _, ev := range evs {
		rec := s.record(eps[0].sub, deliveryID(eps[0].sub, ev))
		if rec.Status != deliverylog.StatusSucceeded || rec.AttemptCount != 1 || rec.Payload != nil || rec.Attempts[0].StatusCode != 200 {
			t.Errorf("log of %s: %+v", ev.Type, rec)
		}
	}
	if n := s.depth(resources.DeliveriesDLQ) + s.depth(resources.EventsDLQ); n != 0 {
		t.Errorf("%d messages in the DLQs", n)
	}
}

func TestFailingEndpointGetsFourAttemptsThenTheDLQ(t *testing.T) {
	s := newStack(t, options{})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, `{"error":"boom"}`)
	})
	sub := s.subscribe(dealer, rc.URL, "lead.*")
	body, ev := example(t, "lead.created", nil)
	s.publish(body)

	id := deliveryID(sub, ev)
	rec := s.waitRecord(sub, id, 40*time.Second, func(r *deliverylog.Record) bool { return r.Status == deliverylog.StatusFailed })
	dlq := s.drain(resources.DeliveriesDLQ, 1)
	if len(dlq) != 1 || aws.ToString(dlq[0].MessageAttributes["deliveryId"].StringValue) != id {
		t.Fatalf("deliveries DLQ = %+v", dlq)
	}
	if m, err := deliveryq.Decode(aws.ToString(dlq[0].Body)); err != nil || !bytes.Equal(m.Payload, ev.Body) {
		t.Fatalf("DLQ message: %v", err)
	}
	reqs := rc.requests()
	if len(reqs) != 4 {
		t.Fatalf("%d attempts, want 4", len(reqs))
	}
	for i, r := range reqs {
		verify(t, sub, ev, r, i+1)
	}
	rec = s.record(sub, id)
	if rec.AttemptCount != 4 || len(rec.Attempts) != 4 || rec.LastStatusCode != 500 || !bytes.Equal(rec.Payload, ev.Body) {
		t.Fatalf("record = %+v", rec)
	}
	for i, a := range rec.Attempts {
		if a.Attempt != i+1 || a.StatusCode != 500 || a.ErrorClass != deliverylog.ClassHTTPStatus || a.ResponseSnippet != `{"error":"boom"}` {
			t.Fatalf("attempt %d = %+v", i+1, a)
		}
	}
	if n := s.depth(resources.DeliveriesQueue); n != 0 {
		t.Fatalf("%d messages left on the deliveries queue", n)
	}
}

func TestFailTwiceThenSucceed(t *testing.T) {
	s := newStack(t, options{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			w.WriteHeader(503)
		}
	})
	sub := s.subscribe(dealer, rc.URL, "*")
	body, ev := example(t, "appointment.created", nil)
	s.publish(body)
	rec := s.waitRecord(sub, deliveryID(sub, ev), 30*time.Second, func(r *deliverylog.Record) bool { return r.Status == deliverylog.StatusSucceeded })
	if rec.AttemptCount != 3 || rec.Attempts[0].StatusCode != 503 || rec.Attempts[2].StatusCode != 200 || rec.LastError != "" {
		t.Fatalf("record = %+v", rec)
	}
	for i, r := range rc.requests() {
		verify(t, sub, ev, r, i+1)
	}
	localtest.Eventually(t, 10*time.Second, "an empty deliveries queue", func() bool { return s.depth(resources.DeliveriesQueue) == 0 })
	if rc.count() != 3 || s.depth(resources.DeliveriesDLQ) != 0 {
		t.Fatalf("%d requests, DLQ depth %d", rc.count(), s.depth(resources.DeliveriesDLQ))
	}
}

func TestFailureClasses(t *testing.T) {
	s := newStack(t, options{env: map[string]string{"DELIVERY_TIMEOUT": "500ms"}})
	hang := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	target := newReceiver(t, nil)
	redirect := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + ln.Addr().String() + "/hook"
	ln.Close()

	subHang := s.subscribe(dealer, hang.URL, "*")
	subRefused := s.subscribe(dealer, refusedURL, "*")
	subRedirect := s.subscribe(dealer, redirect.URL, "*")
	body, ev := example(t, "lead.received", nil)
	s.publish(body)

	first := func(sub *subscriptions.Subscription) deliverylog.Attempt {
		rec := s.waitRecord(sub, deliveryID(sub, ev), 20*time.Second, func(r *deliverylog.Record) bool { return r.AttemptCount >= 1 })
		if rec.Status != deliverylog.StatusPending {
			t.Errorf("status = %s, want pending (retried)", rec.Status)
		}
		return rec.Attempts[0]
	}
	if a := first(subHang); a.ErrorClass != deliverylog.ClassTimeout || a.DurationMs < 450 || a.DurationMs > 3000 || a.StatusCode != 0 {
		t.Errorf("hanging endpoint: %+v", a)
	}
	if a := first(subRefused); a.ErrorClass != deliverylog.ClassConnection || !strings.Contains(a.Error, "refused") || strings.Contains(a.Error, "/hook") {
		t.Errorf("refused connection: %+v", a)
	}
	if a := first(subRedirect); a.ErrorClass != deliverylog.ClassHTTPStatus || a.StatusCode != 302 {
		t.Errorf("redirect: %+v", a)
	}
	if target.count() != 0 {
		t.Errorf("the redirect was followed")
	}
}

func TestGoneDisablesTheSubscription(t *testing.T) {
	s := newStack(t, options{})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) })
	sub := s.subscribe(dealer, rc.URL, "*")
	body, ev := example(t, "conversation.started", nil)
	s.publish(body)

	rec := s.waitRecord(sub, deliveryID(sub, ev), 20*time.Second, func(r *deliverylog.Record) bool { return r.Status == deliverylog.StatusFailed })
	if rec.AttemptCount != 1 || rec.LastStatusCode != 410 {
		t.Fatalf("record = %+v", rec)
	}
	got, err := s.subs.Get(context.Background(), dealer, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || got.Status != subscriptions.StatusDisabled || !strings.Contains(got.DisabledReason, "410 Gone") {
		t.Fatalf("subscription = enabled %v status %q reason %q", got.Enabled, got.Status, got.DisabledReason)
	}
	localtest.Eventually(t, 10*time.Second, "the message deleted", func() bool { return s.depth(resources.DeliveriesQueue) == 0 })

	// the next event is not delivered to a disabled subscription
	body2, _ := example(t, "conversation.replied", nil)
	s.publish(body2)
	localtest.Eventually(t, 10*time.Second, "the event routed", func() bool { return s.depth(resources.EventsQueue) == 0 })
	time.Sleep(2 * time.Second)
	if rc.count() != 1 || s.depth(resources.DeliveriesDLQ) != 0 {
		t.Fatalf("%d requests (want 1), DLQ %d", rc.count(), s.depth(resources.DeliveriesDLQ))
	}
}

func TestRetryAfterDelaysTheNextAttempt(t *testing.T) {
	s := newStack(t, options{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "3") // longer than the 1 s (±20 %) backoff
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	sub := s.subscribe(dealer, rc.URL, "*")
	body, ev := example(t, "lead.created", nil)
	s.publish(body)
	s.waitRecord(sub, deliveryID(sub, ev), 20*time.Second, func(r *deliverylog.Record) bool { return r.Status == deliverylog.StatusSucceeded })
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 3*time.Second {
		t.Fatalf("second attempt %v after the 429, want ≥ 3 s", gap)
	}
}

func TestDuplicateMessageOfASucceededDelivery(t *testing.T) {
	s := newStack(t, options{})
	rc := newReceiver(t, nil)
	sub := s.subscribe(dealer, rc.URL, "*")
	_, ev := example(t, "lead.created", nil)
	msg := message(sub, ev.Body, ev.ID, ev.Type, ev.Timestamp)
	s.sendDeliveries(msg)
	s.waitRecord(sub, msg.DeliveryID, 20*time.Second, func(r *deliverylog.Record) bool { return r.Status == deliverylog.StatusSucceeded })
	s.sendDeliveries(msg) // SQS delivers it again
	localtest.Eventually(t, 10*time.Second, "the duplicate consumed", func() bool { return s.depth(resources.DeliveriesQueue) == 0 })
	if rc.count() != 1 {
		t.Fatalf("%d requests, want 1", rc.count())
	}
	if rec := s.record(sub, msg.DeliveryID); rec.AttemptCount != 1 {
		t.Fatalf("record = %+v", rec)
	}
}

func TestDeletedSubscriptionIsSkipped(t *testing.T) {
	s := newStack(t, options{})
	rc := newReceiver(t, nil)
	sub := s.subscribe(dealer, rc.URL, "*")
	if err := s.subs.Delete(context.Background(), dealer, sub.ID, 0); err != nil {
		t.Fatal(err)
	}
	_, ev := example(t, "contact.created", nil)
	msg := message(sub, ev.Body, ev.ID, ev.Type, ev.Timestamp)
	s.sendDeliveries(msg)
	rec := s.waitRecord(sub, msg.DeliveryID, 20*time.Second, func(r *deliverylog.Record) bool { return r.Status == deliverylog.StatusSkipped })
	if !bytes.Equal(rec.Payload, ev.Body) || rec.AttemptCount != 0 || rec.LastError == "" {
		t.Fatalf("record = %+v", rec)
	}
	localtest.Eventually(t, 10*time.Second, "the message deleted", func() bool { return s.depth(resources.DeliveriesQueue) == 0 })
	if rc.count() != 0 {
		t.Fatal("a deleted subscription was posted to")
	}
}

func TestRotatedSecretSignsWithBoth(t *testing.T) {
	s := newStack(t, options{})
	rc := newReceiver(t, nil)
	sub := s.subscribe(dealer, rc.URL, "*")
	oldSecret := sub.Secret
	newSecret, _ := signing.NewSecret()
	if _, err := s.subs.RotateSecret(context.Background(), dealer, sub.ID, newSecret, false); err != nil {
		t.Fatal(err)
	}
	body, _ := example(t, "lead.created", nil)
	s.publish(body)
	localtest.Eventually(t, 20*time.Second, "the delivery", func() bool { return rc.count() == 1 })
	r := rc.requests()[0]
	if sigs := strings.Fields(r.Header.Get("webhook-signature")); len(sigs) != 2 {
		t.Fatalf("webhook-signature = %q, want two signatures", r.Header.Get("webhook-signature"))
	}
	for _, secret := range []string{newSecret, oldSecret} {
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Errorf("verify: %v", err)
		}
	}
}

// fakeResolver makes names resolve to chosen addresses and records the lookups.
type fakeResolver struct {
	mu      sync.Mutex
	addrs   map[string]netip.Addr
	lookups []string
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups = append(f.lookups, host)
	if a, ok := f.addrs[host]; ok {
		return []netip.Addr{a}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestPrivateAddressesRefusedAtConnectTime(t *testing.T) {
	res := &fakeResolver{addrs: map[string]netip.Addr{
		"hooks.dealer.test":    netip.MustParseAddr("127.0.0.1"),
		"internal.dealer.test": netip.MustParseAddr("10.0.0.5"),
		"metadata.dealer.test": netip.MustParseAddr("169.254.169.254"),
	}}
	policy := safeurl.Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AllowHTTP: true, Resolver: res}
	s := newStack(t, options{policy: &policy})
	rc := newReceiver(t, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(rc.URL, "http://"))
	ok := s.subscribe(dealer, "http://hooks.dealer.test:"+port+"/", "*")
	internal := s.subscribe(dealer, "http://internal.dealer.test:"+port+"/", "*")
	metadata := s.subscribe(dealer, "http://metadata.dealer.test:"+port+"/latest/meta-data/", "*")
	body, ev := example(t, "lead.created", nil)
	s.publish(body)

	s.waitRecord(ok, deliveryID(ok, ev), 20*time.Second, func(r *deliverylog.Record) bool { return r.Status == deliverylog.StatusSucceeded })
	for _, sub := range []*subscriptions.Subscription{internal, metadata} {
		rec := s.waitRecord(sub, deliveryID(sub, ev), 20*time.Second, func(r *deliverylog.Record) bool { return r.AttemptCount >= 1 })
		if a := rec.Attempts[0]; a.ErrorClass != deliverylog.ClassBlocked || !strings.Contains(a.Error, "private address") {
			t.Errorf("%s: attempt = %+v", sub.URL, a)
		}
	}
	if rc.count() != 1 {
		t.Fatalf("%d requests reached the receiver, want only the allowed one", rc.count())
	}
	res.mu.Lock()
	defer res.mu.Unlock()
	if !slices.Contains(res.lookups, "internal.dealer.test") || !slices.Contains(res.lookups, "metadata.dealer.test") {
		t.Fatalf("lookups = %v: the names were not resolved at connect time", res.lookups)
	}
}

func TestPoisonEventsGoToTheEventsDLQ(t *testing.T) {
	s := newStack(t, options{})
	rc := newReceiver(t, nil)
	s.subscribe(dealer, rc.URL, "*")
	poison := map[string]string{
		"not_json":      `{"eventType":`,
		"unknown_type":  `{"eventType":"lead.vanished","dealerId":"dlr_42","timestamp":"2026-11-27T15:04:05Z"}`,
		"missing_field": `{"eventType":"lead.created","dealerId":"dlr_42"}`,
		"invalid_field": `{"eventType":"sequence.step.failed","dealerId":"dlr_42","timestamp":"2026-11-27T15:04:05Z","stepOrder":"second"}`,
		"too_large":     `{"eventType":"lead.created","dealerId":"dlr_42","timestamp":"2026-11-27T15:04:05Z","comments":"` + strings.Repeat("z", 300*1024) + `"}`,
	}
	var bodies [][]byte
	for _, b := range poison {
		bodies = append(bodies, []byte(b))
	}
	good, _ := example(t, "lead.created", nil)
	s.publish(append(bodies, good)...)

	msgs := s.drain(resources.EventsDLQ, len(poison))
	if len(msgs) != len(poison) {
		t.Fatalf("%d messages in the events DLQ, want %d", len(msgs), len(poison))
	}
	for _, m := range msgs {
		code := aws.ToString(m.MessageAttributes["errorCode"].StringValue)
		if want, ok := poison[code]; !ok || aws.ToString(m.Body) != want || aws.ToString(m.MessageAttributes["errorMessage"].StringValue) == "" {
			t.Errorf("DLQ message with errorCode %q: body %.80q", code, aws.ToString(m.Body))
		}
	}
	localtest.Eventually(t, 10*time.Second, "an empty events queue", func() bool { return s.depth(resources.EventsQueue) == 0 })
	localtest.Eventually(t, 10*time.Second, "the valid event delivered", func() bool { return rc.count() == 1 })
}

func TestHangingEndpointDoesNotDelayTheBatch(t *testing.T) {
	const timeout = 3 * time.Second
	s := newStack(t, options{env: map[string]string{"DELIVERY_TIMEOUT": timeout.String()}, noDelivery: true, concurrency: 1})
	hang := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	})
	fast := newReceiver(t, nil)
	subHang := s.subscribe(dealer, hang.URL, "*")
	subFast := s.subscribe(dealer, fast.URL, "*")
	var msgs []deliveryq.Message
	for i := range 10 {
		_, ev := example(t, "lead.created", map[string]any{"eventId": "evt_hang" + strconv.Itoa(i)})
		sub := subFast
		if i == 0 {
			sub = subHang
		}
		msgs = append(msgs, message(sub, ev.Body, ev.ID, ev.Type, ev.Timestamp))
	}
	s.sendDeliveries(msgs...)
	// the property under test is concurrency within ONE batch: wait until all ten messages
	// are visible, so the first receive returns them together (SQS, like the emulator, may
	// return a partial batch of messages that only just became visible, and with one
	// invocation slot the rest would wait behind the hanging endpoint by design)
	localtest.Eventually(t, 5*time.Second, "ten visible delivery messages", func() bool {
		return s.env.Visible(t, resources.DeliveriesQueue) == len(msgs)
	})
	start := time.Now()
	s.startDelivery()
	localtest.Eventually(t, 2*timeout, "the fast deliveries", func() bool { return fast.count() == 9 })
	if d := time.Since(start); d >= timeout {
		t.Fatalf("fast endpoints served after %v, behind the hanging one's %v timeout", d, timeout)
	}
	rec := s.waitRecord(subHang, msgs[0].DeliveryID, 3*timeout, func(r *deliverylog.Record) bool { return r.AttemptCount >= 1 })
	if rec.Attempts[0].ErrorClass != deliverylog.ClassTimeout {
		t.Fatalf("hanging endpoint: %+v", rec.Attempts[0])
	}
}

func TestAgentTargetsAreRoutedAndNeverDroppedSilently(t *testing.T) {
	s := newStack(t, options{})
	// an agent item as the agents engineer will store it: sk "T#AGENT#<platform>", events, enabled
	_, err := s.env.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(s.cfg.ConfigTable),
		Item: map[string]ddbtypes.AttributeValue{
			"pk":      &ddbtypes.AttributeValueMemberS{Value: "DEALER#" + dealer},
			"sk":      &ddbtypes.AttributeValueMemberS{Value: "T#AGENT#xtime"},
			"events":  &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{&ddbtypes.AttributeValueMemberS{Value: "appointment.*"}}},
			"enabled": &ddbtypes.AttributeValueMemberBOOL{Value: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	body, ev := example(t, "appointment.created", nil)
	other, _ := example(t, "lead.created", nil)
	s.publish(body, other)
	target := deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}
	id := deliveryq.DeliveryID(ev.ID, ev.Timestamp, target)
	var rec *deliverylog.Record
	localtest.Eventually(t, 20*time.Second, "the agent delivery recorded", func() bool {
		r, err := s.log.Get(context.Background(), dealer, target, id, true)
		rec = r
		return err == nil && r.Status == deliverylog.StatusSkipped
	})
	// a sales appointment does not concern XTime: skipped, no request, the payload kept
	if !strings.Contains(rec.LastError, "service appointments only") || !bytes.Equal(rec.Payload, ev.Body) {
		t.Fatalf("record = %+v", rec)
	}
	items, _, err := s.log.List(context.Background(), dealer, target, "", 10, "")
	if err != nil || len(items) != 1 {
		t.Fatalf("agent deliveries = %v, %v: want only the matching event", items, err)
	}
}

// example is the catalog example of eventType sent by dealer, with fields overridden.
func example(t testing.TB, eventType string, fields map[string]any) ([]byte, *events.Event) {
	t.Helper()
	return localtest.Example(t, eventType, dealer, fields)
}
