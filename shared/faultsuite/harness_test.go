package faultsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/infra/local/faultproxy"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/resources"
)

// params are the sizes and timings of one form of the suite.
type params struct {
	form      string
	events    int           // events in a scenario's stream
	perCall   int           // events per PublishBatch call
	interval  time.Duration // between publish calls
	recovery  int           // events published after the fault, which must all arrive
	faultAt   time.Duration // when the fault starts, into the stream
	faultFor  time.Duration // how long a receiver fault lasts
	outageFor time.Duration // how long an emulator is unavailable
	// DELIVERY_BACKOFF and DELIVERY_TIMEOUT, as `DELIVERY_BACKOFF=1s,1s,1s make dev` sets them.
	backoff         string
	deliveryTimeout time.Duration
	// The function timeouts (the pollers' invocation timeouts) and the queues' visibility
	// timeouts, scaled down together from production's (30 s / 180 s for the router, 60 s /
	// 360 s for delivery) so that a failed invocation comes back within a scenario. Each
	// visibility timeout stays above its handler's worst case in the scenarios (the function
	// timeout or the targets cache's 10 s load bound, plus the delivery handler's bounded 5 s
	// writes when the log is down), so no message is redelivered while it is still being
	// handled — as in production.
	routerFn, deliveryFn                   time.Duration
	eventsVisibility, deliveriesVisibility time.Duration
	settle                                 time.Duration // bound of every wait for the pipeline to drain
	concurrency                            int           // concurrent invocations per queue
	crashes                                int           // invocations the handler-panic scenario crashes
	endpointsAtOnce                        int           // endpoint scenarios run concurrently
}

var shortForm = params{
	form: "short", events: 40, perCall: 2, interval: 200 * time.Millisecond, recovery: 6,
	faultAt: 800 * time.Millisecond, faultFor: 5 * time.Second, outageFor: 6 * time.Second,
	backoff: "1s,1s,1s", deliveryTimeout: 2 * time.Second,
	routerFn: 3 * time.Second, deliveryFn: 4 * time.Second,
	eventsVisibility: 8 * time.Second, deliveriesVisibility: 16 * time.Second,
	settle: 90 * time.Second, concurrency: 3, crashes: 2, endpointsAtOnce: 4,
}

var longForm = params{
	form: "long", events: 400, perCall: 4, interval: 250 * time.Millisecond, recovery: 30,
	faultAt: 5 * time.Second, faultFor: 15 * time.Second, outageFor: 40 * time.Second,
	backoff: "1s,1s,1s", deliveryTimeout: 2 * time.Second,
	routerFn: 5 * time.Second, deliveryFn: 6 * time.Second,
	eventsVisibility: 10 * time.Second, deliveriesVisibility: 20 * time.Second,
	settle: 10 * time.Minute, concurrency: 4, crashes: 6, endpointsAtOnce: 11,
}

func formFromEnv() params {
	if strings.EqualFold(os.Getenv("FAULTS"), "long") {
		return longForm
	}
	return shortForm
}

// cluster is a private DynamoDB Local + SQS emulator pair, with proxies in front: the
// functions reach DynamoDB through a stallProxy and a faultproxy, SQS through a faultproxy.
// The suite runs three: the DynamoDB faults take turns on one, the SQS faults on another, the
// endpoint scenarios share the third; the three groups run at the same time.
type cluster struct {
	em       *local.Emulators
	ddbProxy *faultproxy.Proxy
	ddbStall *stallProxy
	sqsProxy *faultproxy.Proxy
	// direct reaches the emulators (the test's own reads, the producers, the API); proxied
	// goes through the proxies (the router and delivery functions and their pollers).
	direct, proxied aws.Config
	ddb             *dynamodb.Client
	sqs             *sqs.Client
}

// Scenario groups: each has its own cluster.
const (
	groupDynamoDB  = "dynamodb"
	groupSQS       = "sqs"
	groupEndpoints = "endpoints"
)

// suite is what the scenarios share.
type suite struct {
	p        params
	clusters map[string]*cluster
	issuer   *local.Issuer
	secrets  *secretSet
	logDir   string

	mu      sync.Mutex
	results []result
}

func newSuite(t *testing.T, p params) *suite {
	t.Helper()
	issuer, err := local.NewEphemeralIssuer()
	if err != nil {
		t.Fatal(err)
	}
	s := &suite{p: p, issuer: issuer, secrets: newSecretSet(), logDir: t.TempDir(), clusters: map[string]*cluster{}}
	// The pairs start at the same time (a JVM takes a few seconds).
	groups := []string{groupDynamoDB, groupSQS, groupEndpoints}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, g := range groups {
		wg.Go(func() {
			c, err := startCluster(t)
			mu.Lock()
			defer mu.Unlock()
			s.clusters[g] = c
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Fatal(err)
	}
	return s
}

// startCluster starts private emulators (stopped at cleanup, left running whatever a
// scenario paused) and the proxies. It runs in a goroutine of its own: errors are returned.
func startCluster(t *testing.T) (*cluster, error) {
	ctx := context.Background()
	em, err := local.StartEmulators(ctx, local.EmulatorOptions{})
	if err != nil {
		return nil, fmt.Errorf("start private emulators: %w", err)
	}
	t.Cleanup(em.Stop)
	t.Cleanup(func() { resume(em.DynamoDBPID()); resume(em.SQSPID()) })
	c := &cluster{em: em}
	if c.ddbProxy, err = faultproxy.Start(strings.TrimPrefix(em.DynamoDBEndpoint, "http://")); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.ddbProxy.Close() })
	if c.ddbStall, err = startStallProxy(strings.TrimPrefix(c.ddbProxy.URL(), "http://")); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.ddbStall.Close() })
	if c.sqsProxy, err = faultproxy.Start(strings.TrimPrefix(em.SQSEndpoint, "http://")); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.sqsProxy.Close() })
	if c.direct, err = local.AWSConfig(ctx, em.DynamoDBEndpoint, em.SQSEndpoint); err != nil {
		return nil, err
	}
	if c.proxied, err = local.AWSConfig(ctx, c.ddbStall.URL(), c.sqsProxy.URL()); err != nil {
		return nil, err
	}
	c.ddb, c.sqs = local.Clients(c.direct)
	return c, nil
}

// pause stops an emulator's process group (StartEmulators starts each with Setpgid): its
// sockets stay open, every call to it hangs.
func pause(pid int) error { return syscall.Kill(-pid, syscall.SIGSTOP) }

func resume(pid int) { _ = syscall.Kill(-pid, syscall.SIGCONT) }

// ---- one scenario's stack ----

// env is one scenario's pipeline: fresh tables and queues on the suite's emulators, the
// router, delivery and api functions built by package app, pollers feeding the first two,
// receivers, and the ledger of everything sent.
type env struct {
	t      *testing.T
	s      *suite
	c      *cluster
	sc     *scenario
	p      params
	dealer string
	names  local.Names
	cfg    app.Config
	log    *deliverylog.Store
	api    *apiClient
	ledger *ledger
	// capture holds everything the router and delivery handlers wrote (logs and metrics).
	capture   string
	targetsMu sync.Mutex
	targets   []*target
	delivery  app.SQSHandler // the delivery function as built (before any wrapper)
	wrap      func(app.SQSHandler) app.SQSHandler
	cancel    context.CancelFunc
	pollers   sync.WaitGroup

	invMu       sync.Mutex
	invocations []invocation

	findingsMu sync.Mutex
	findings   []string // the self-check's
}

// invocation is one call of the delivery function, as the event source mapping sees it.
type invocation struct {
	start, end time.Time
	records    []invokedRecord
}

type invokedRecord struct {
	messageID, deliveryID, receiveCount string
}

// observe wraps the delivery function to record its invocations (what each handled, and
// when), so that a delivery POSTed twice can be traced to the SQS messages that caused it.
func (e *env) observe(h app.SQSHandler) app.SQSHandler {
	return func(ctx context.Context, batch lambdaevents.SQSEvent) (lambdaevents.SQSEventResponse, error) {
		inv := invocation{start: time.Now()}
		for _, r := range batch.Records {
			id := "?"
			if m, err := deliveryq.Decode(r.Body); err == nil {
				id = m.DeliveryID
			}
			inv.records = append(inv.records, invokedRecord{messageID: r.MessageId, deliveryID: id, receiveCount: r.Attributes["ApproximateReceiveCount"]})
		}
		defer func() {
			inv.end = time.Now()
			e.invMu.Lock()
			e.invocations = append(e.invocations, inv)
			e.invMu.Unlock()
		}()
		return h(ctx, batch)
	}
}

// billed is the delivery function's billed duration: its invocations' durations, each rounded
// up to the millisecond as Lambda bills them.
func (e *env) billed() time.Duration {
	e.invMu.Lock()
	defer e.invMu.Unlock()
	var d time.Duration
	for _, inv := range e.invocations {
		d += (inv.end.Sub(inv.start) + time.Millisecond - 1).Truncate(time.Millisecond)
	}
	return d
}

// concurrentCopies reports whether two different SQS messages of the delivery were being
// handled at the same time (two copies in flight: each read the log before the other
// recorded its success).
func (e *env) concurrentCopies(deliveryID string) bool {
	e.invMu.Lock()
	defer e.invMu.Unlock()
	type span struct {
		msg        string
		start, end time.Time
	}
	var spans []span
	for _, inv := range e.invocations {
		for _, r := range inv.records {
			if r.deliveryID == deliveryID {
				spans = append(spans, span{r.messageID, inv.start, inv.end})
			}
		}
	}
	for i := range spans {
		for j := range spans {
			a, b := spans[i], spans[j]
			if a.msg != b.msg && a.start.Before(b.end) && b.start.Before(a.end) {
				return true
			}
		}
	}
	return false
}

// history tells what happened to a delivery, for a report of it: whether the router
// enqueued it, the invocations that handled its messages (start, message, receive count) and
// what the handlers logged about it (lines: the captured ones).
func (e *env) history(deliveryID string, lines []logLine) string {
	var parts []string
	e.ledger.mu.Lock()
	_, routed := e.ledger.routed[deliveryID]
	e.ledger.mu.Unlock()
	parts = append(parts, fmt.Sprintf("routed=%v", routed))
	e.invMu.Lock()
	for _, inv := range e.invocations {
		for _, r := range inv.records {
			if r.deliveryID == deliveryID {
				parts = append(parts, fmt.Sprintf("invoked %s-%s message %s receive %s with %d records",
					inv.start.Format("15:04:05.000"), inv.end.Format("15:04:05.000"), r.messageID, r.receiveCount, len(inv.records)))
			}
		}
	}
	e.invMu.Unlock()
	for _, l := range lines {
		if l.str("deliveryId") == deliveryID {
			parts = append(parts, fmt.Sprintf("logged %s %q (error %q, logError %q)", l.str("time"), l.str("msg"), l.str("error"), l.str("logError")))
		}
	}
	return strings.Join(parts, "; ")
}

// target is one subscription with its receiver.
type target struct {
	name       string
	id         string
	secret     string
	credential string // the token in its URL
	filters    []string
	rc         *receiver
	// mayDisable: which deliveries it gets depends on when the router saw it — disabled by a
	// 410, or created mid-stream: those the router created for it (and those written
	// directly) are expected.
	mayDisable bool
}

func (tg *target) deliveryTarget() deliveryq.Target {
	return deliveryq.Target{Kind: deliveryq.KindSubscription, ID: tg.id}
}

// stdoutMu serializes the swaps of os.Stdout that capture the handlers' loggers.
var stdoutMu sync.Mutex

func (s *suite) newEnv(t *testing.T, sc *scenario) *env {
	t.Helper()
	c := s.clusters[sc.group()]
	ctx := context.Background()
	names, err := local.Provision(ctx, c.ddb, c.sqs, localtest.Prefix(t))
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	t.Cleanup(func() { local.Deprovision(c.ddb, c.sqs, names) })
	for q, vis := range map[string]time.Duration{resources.EventsQueue.ID: s.p.eventsVisibility, resources.DeliveriesQueue.ID: s.p.deliveriesVisibility} {
		_, err := c.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(names.QueueURLs[q]),
			Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(int(vis.Seconds()))}})
		if err != nil {
			t.Fatal(err)
		}
	}
	vars := names.Env()
	vars["ALLOW_ENDPOINT_CIDRS"] = "127.0.0.0/8,::1/128"
	vars["ALLOW_HTTP_ENDPOINTS"] = "true"
	vars["DELIVERY_BACKOFF"] = s.p.backoff
	vars["DELIVERY_TIMEOUT"] = s.p.deliveryTimeout.String()
	// CIRCUIT_THRESHOLD=1000 make test-faults compares the billed duration without the
	// circuit breaker.
	if v := os.Getenv("CIRCUIT_THRESHOLD"); v != "" {
		vars["CIRCUIT_THRESHOLD"] = v
	}
	cfg, err := app.ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		t: t, s: s, c: c, sc: sc, p: s.p, dealer: "dlr_" + sc.name, names: names, cfg: cfg,
		log:    deliverylog.NewStore(c.ddb, cfg.DeliveryLogTable),
		ledger: newLedger(),
	}

	// The functions, built as the Lambdas build them, their stdout logger captured.
	routerCfg := c.proxied.Copy()
	routerCfg.APIOptions = append(slices.Clone(routerCfg.APIOptions), e.ledger.observeRouter)
	e.capture = filepath.Join(s.logDir, sc.name+".log")
	f, err := os.Create(e.capture)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	stdoutMu.Lock()
	os.Stdout = f
	router, rerr := app.NewRouter(ctx, routerCfg, cfg)
	delivery, derr := app.NewDelivery(ctx, c.proxied, cfg)
	api, aerr := app.NewAPI(ctx, c.direct, cfg)
	os.Stdout = realStdout
	stdoutMu.Unlock()
	if rerr != nil || derr != nil || aerr != nil {
		t.Fatalf("build the functions: %v %v %v", rerr, derr, aerr)
	}
	e.delivery = delivery
	e.api = newAPIClient(t, s, api, e.dealer)

	pctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	_, proxiedSQS := local.Clients(c.proxied)
	poll := func(q resources.Queue, h app.SQSHandler, timeout time.Duration) {
		p := &local.SQSPoller{SQS: proxiedSQS, QueueURL: names.QueueURLs[q.ID], QueueARN: names.QueueARNs[q.ID],
			Handler: h, Concurrency: s.p.concurrency, Timeout: timeout}
		e.pollers.Go(func() { p.Run(pctx) })
	}
	poll(resources.EventsQueue, router, s.p.routerFn)
	deliver := e.observe(delivery)
	if sc.wrapDelivery != nil {
		deliver = sc.wrapDelivery(e, delivery)
	}
	poll(resources.DeliveriesQueue, deliver, s.p.deliveryFn)
	t.Cleanup(e.stop)
	return e
}

// stop ends the pollers (bounded: a poller blocked on a paused emulator is abandoned).
func (e *env) stop() {
	e.cancel()
	done := make(chan struct{})
	go func() { e.pollers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		e.t.Log("pollers still busy 30 s after the end of the scenario")
	}
}

// subscribe creates a subscription through the API (a real JWT through the local gateway)
// and returns it with its receiver. partial: which deliveries it gets depends on when the
// pipeline saw it (created mid-stream, or disabled by a 410).
func (e *env) subscribe(name string, filters []string, partial bool) *target {
	e.t.Helper()
	tg, err := e.trySubscribe(name, filters, partial)
	if err != nil {
		e.t.Fatal(err)
	}
	return tg
}

// trySubscribe is subscribe for goroutines other than the test's.
func (e *env) trySubscribe(name string, filters []string, partial bool) (*target, error) {
	rc := newReceiver(e.t, name)
	credential := "cred" + strings.ReplaceAll(events.NewEventID()[4:], "-", "")
	e.s.secrets.add(credential, "a credential in a webhook URL")
	status, body := e.api.do("POST", "/v1/subscriptions", map[string]any{"url": rc.URL(credential), "events": filters, "description": "fault suite " + name})
	if status != http.StatusCreated {
		return nil, fmt.Errorf("create subscription: %d %s", status, body)
	}
	var created struct{ ID, Secret string }
	if err := json.Unmarshal(body, &created); err != nil || created.ID == "" || !strings.HasPrefix(created.Secret, "whsec_") {
		return nil, fmt.Errorf("create subscription: %s (%v)", body, err)
	}
	e.s.secrets.addSecret(created.Secret)
	rc.setVerifier(created.Secret)
	tg := &target{name: name, id: created.ID, secret: created.Secret, credential: credential, filters: filters, rc: rc, mayDisable: partial}
	e.targetsMu.Lock()
	e.targets = append(e.targets, tg)
	e.targetsMu.Unlock()
	return tg, nil
}

// ---- events ----

// eventKinds are the payload types of the stream: the catalog example of each type,
// with the fields the stream changes, published with the Go producer (events.Publisher).
var eventKinds = []struct {
	typ string
	new func() events.Payload
}{
	{events.TypeLeadCreated, func() events.Payload { return &events.LeadCreated{} }},
	{events.TypeAppointmentCreated, func() events.Payload { return &events.AppointmentCreated{} }},
	{events.TypeConversationStarted, func() events.Payload { return &events.ConversationStarted{} }},
	{events.TypeContactVehicleOfInterestUpdated, func() events.Payload { return &events.ContactVehicleOfInterestUpdated{} }},
}

// pubEvent is one event of the stream: its typed payload and the normalized event the
// endpoints must receive.
type pubEvent struct {
	seq     int
	payload events.Payload
	ev      *events.Event
	phase   string // "stream", "recovery", "direct"
	sent    time.Time
}

// newEvent builds event seq of the stream for dealer.
func newEvent(t testing.TB, dealer string, seq int, phase string) *pubEvent {
	t.Helper()
	kind := eventKinds[seq%len(eventKinds)]
	raw, ok := events.Example(kind.typ)
	if !ok {
		t.Fatalf("no example of %s", kind.typ)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	m["eventId"] = events.NewEventID()
	m["dealerId"] = dealer
	m["timestamp"] = time.Now().UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
	switch kind.typ {
	case events.TypeLeadCreated:
		m["comments"] = fmt.Sprintf("fault suite event %d — «ünïcödé» 🚗", seq)
	case events.TypeConversationStarted, events.TypeAppointmentCreated, events.TypeContactVehicleOfInterestUpdated:
		m["contactId"] = fmt.Sprintf("contact-%d-ñ", seq)
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := kind.new()
	if err := json.Unmarshal(body, p); err != nil {
		t.Fatalf("%s example into %T: %v", kind.typ, p, err)
	}
	return &pubEvent{seq: seq, payload: p, ev: normalized(t, p), phase: phase}
}

// normalized is the event the Publisher sends for p, as events.Parse normalizes it: the
// body every endpoint must receive byte for byte.
func normalized(t testing.TB, p events.Payload) *events.Event {
	t.Helper()
	var fields bytes.Buffer
	enc := json.NewEncoder(&fields)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		t.Fatal(err)
	}
	typ, _ := json.Marshal(p.EventType())
	raw := append([]byte(`{"eventType":`+string(typ)+`,`), bytes.TrimSpace(fields.Bytes())[1:]...)
	ev, err := events.Parse(raw)
	if err != nil {
		t.Fatalf("normalize %s: %v", raw, err)
	}
	return ev
}

// publish sends events with events.Publisher straight to the events queue (the producers
// are not behind the proxy), retrying a failed send with the same event ids until it
// succeeds or the deadline passes, and records them in the ledger.
func (e *env) publish(evs []*pubEvent) {
	e.t.Helper()
	if err := e.tryPublish(evs); err != nil {
		e.t.Fatal(err)
	}
}

// tryPublish is publish for goroutines other than the test's: it returns the error.
func (e *env) tryPublish(evs []*pubEvent) error {
	pub := &events.Publisher{SQS: e.c.sqs, QueueURL: e.names.QueueURLs[resources.EventsQueue.ID]}
	deadline := time.Now().Add(e.p.settle)
	pending := evs
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("publish: %d events still not accepted by SQS after %v", len(pending), e.p.settle)
		}
		payloads := make([]events.Payload, len(pending))
		for i, pe := range pending {
			payloads[i] = pe.payload
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*e.p.outageFor+30*time.Second)
		results := pub.PublishBatch(ctx, payloads)
		cancel()
		var again []*pubEvent
		for i, r := range results {
			pe := pending[i]
			switch {
			case r.Err == nil:
				if r.EventID != pe.ev.ID {
					return fmt.Errorf("published %s as %s", pe.ev.ID, r.EventID)
				}
				pe.sent = time.Now()
				e.ledger.addEvent(pe)
			case isValidation(r.Err):
				return fmt.Errorf("publish: %w", r.Err)
			default:
				again = append(again, pe)
			}
		}
		if len(again) > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		pending = again
	}
	return nil
}

func isValidation(err error) bool {
	var ve *events.ValidationError
	return errors.As(err, &ve)
}

// stream publishes the scenario's events at a steady pace; fault is called once the stream
// is faultAt in, in its own goroutine; stream returns when both are done.
func (e *env) stream(fault func()) {
	e.t.Helper()
	var wg sync.WaitGroup
	if fault != nil {
		wg.Go(func() {
			time.Sleep(e.p.faultAt)
			fault()
		})
	}
	for i := 0; i < e.p.events; i += e.p.perCall {
		var batch []*pubEvent
		for j := i; j < min(i+e.p.perCall, e.p.events); j++ {
			batch = append(batch, newEvent(e.t, e.dealer, j, "stream"))
		}
		e.publish(batch)
		time.Sleep(e.p.interval)
	}
	wg.Wait()
}

// sendDeliveries puts delivery messages straight on the deliveries queue, as the API's retry
// and test sends do (and as SQS's at-least-once delivery may repeat them). It returns the
// error (it runs in the fault goroutine).
func (e *env) sendDeliveries(msgs ...deliveryq.Message) error {
	for i := 0; i < len(msgs); i += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for j := range msgs[i:min(i+10, len(msgs))] {
			entry, err := msgs[i+j].Encode(strconv.Itoa(j))
			if err != nil {
				return err
			}
			entries = append(entries, entry)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := e.c.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{
			QueueUrl: aws.String(e.names.QueueURLs[resources.DeliveriesQueue.ID]), Entries: entries})
		cancel()
		if err != nil || len(out.Failed) > 0 {
			return fmt.Errorf("send deliveries: %v %+v", err, out)
		}
	}
	return nil
}

// ---- queues ----

// depth is the number of messages in a queue: visible, in flight or delayed.
func (e *env) depth(q resources.Queue) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := e.c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(e.names.QueueURLs[q.ID]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed},
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range out.Attributes {
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n, nil
}

// waitFor polls cond until it holds, failing the test with what() after timeout.
func (e *env) waitFor(timeout time.Duration, what func() string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: timed out after %v waiting for %s", e.sc.name, timeout, what())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settle waits until the events and deliveries queues stay empty (nothing visible, in
// flight or delayed): the pipeline has nothing left to do.
func (e *env) settle() {
	e.t.Helper()
	quiet := 0
	var evDepth, dlDepth int
	e.waitFor(e.p.settle, func() string {
		return fmt.Sprintf("the queues to drain (events queue %d, deliveries queue %d messages)", evDepth, dlDepth)
	}, func() bool {
		var err1, err2 error
		evDepth, err1 = e.depth(resources.EventsQueue)
		dlDepth, err2 = e.depth(resources.DeliveriesQueue)
		if err1 == nil && err2 == nil && evDepth == 0 && dlDepth == 0 {
			quiet++
		} else {
			quiet = 0
		}
		return quiet >= 3
	})
}

// drain receives every message of a dead-letter queue (none is deleted).
func (e *env) drain(q resources.Queue) []sqstypes.Message {
	e.t.Helper()
	return localtest.ReceiveAll(e.t, e.c.sqs, e.names.QueueURLs[q.ID])
}

// ---- the API ----

// apiClient calls the api function through the local gateway with a real JWT, and keeps
// every response for the secrets scan.
type apiClient struct {
	t      *testing.T
	srv    *httptest.Server
	token  string
	mu     sync.Mutex
	bodies []apiResponse
}

type apiResponse struct {
	route string
	body  string
	// secretOK: the create, secret and rotate answers are meant to carry the secret.
	secretOK bool
	// urlOK: subscription views carry the URL the dealer configured (and its query).
	urlOK bool
}

func newAPIClient(t *testing.T, s *suite, fn app.APIHandler, dealer string) *apiClient {
	srv := httptest.NewServer(&local.Gateway{Issuer: s.issuer, API: func(ctx context.Context, r lambdaevents.APIGatewayV2HTTPRequest) (lambdaevents.APIGatewayV2HTTPResponse, error) {
		return fn(ctx, r)
	}})
	t.Cleanup(srv.Close)
	tok, err := s.issuer.Token(dealer, "")
	if err != nil {
		t.Fatal(err)
	}
	s.secrets.addToken(tok)
	return &apiClient{t: t, srv: srv, token: tok}
}

func (c *apiClient) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.srv.Client().Do(req.WithContext(ctx))
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	u, _ := url.Parse(path)
	route := method + " " + u.Path
	c.mu.Lock()
	c.bodies = append(c.bodies, apiResponse{
		route: route, body: string(out),
		secretOK: (method == "POST" && u.Path == "/v1/subscriptions") || strings.HasSuffix(u.Path, "/secret") || strings.HasSuffix(u.Path, "/rotate-secret"),
		urlOK:    !strings.Contains(u.Path, "/deliveries"),
	})
	c.mu.Unlock()
	return resp.StatusCode, out
}

func (c *apiClient) responses() []apiResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.bodies)
}

// ---- the router's ledger ----

// observeRouter is an SDK middleware on the router's SQS client that records every delivery
// message the router's SendMessageBatch calls enqueued (SQS confirmed them): which
// deliveries the router created, independently of what became of them.
func (l *ledger) observeRouter(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("faultsuiteRouterLedger",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			batch, ok := in.Parameters.(*sqs.SendMessageBatchInput)
			res, ok2 := out.Result.(*sqs.SendMessageBatchOutput)
			if err == nil && ok && ok2 {
				byID := map[string]string{}
				for _, entry := range batch.Entries {
					byID[aws.ToString(entry.Id)] = aws.ToString(entry.MessageBody)
				}
				for _, s := range res.Successful {
					if m, derr := deliveryq.Decode(byID[aws.ToString(s.Id)]); derr == nil {
						l.addRouted(m)
					}
				}
			}
			return out, md, err
		}), middleware.After)
}
