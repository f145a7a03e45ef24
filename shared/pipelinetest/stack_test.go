// Package pipelinetest holds the end-to-end tests and the benchmark of the delivery pipeline:
// events queue → router → deliveries queue → delivery → HTTP endpoints, on DynamoDB Local and
// the SQS emulator, with the handlers driven by infra/local's SQSPoller exactly as the local
// stack (and Lambda's event source mapping) drives them.
//
// Run with the emulators:
//
//	go run ./infra/local/cmd/stack emulators -- go test ./shared/pipelinetest/...
package pipelinetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/delivery"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/safeurl"
	"github.com/dealerai/integrations/shared/signing"
	"github.com/dealerai/integrations/shared/subscriptions"
)

// stack is one test's pipeline: fresh tables and queues, the router and delivery handlers
// built by package app from the configuration, and pollers feeding them.
type stack struct {
	t    testing.TB
	env  *localtest.Env
	cfg  app.Config
	subs *subscriptions.Store
	log  *deliverylog.Store
	// startDelivery starts the delivery poller of a stack made with noDelivery.
	startDelivery func()
}

// options change a stack's settings the way the environment would.
type options struct {
	env map[string]string // extra settings (DELIVERY_TIMEOUT, ...)
	// policy, when set, replaces the endpoint policy of the environment (a fake resolver).
	policy *safeurl.Policy
	// noDelivery leaves the deliveries queue unconsumed until startDelivery.
	noDelivery bool
	// concurrency of each poller (default 2).
	concurrency int
	// tune, when set, changes the delivery handler app builds (an injected clock).
	tune func(*delivery.Handler)
}

func newStack(t testing.TB, o options) *stack {
	t.Helper()
	env := localtest.New(t)
	vars := env.Names.Env()
	vars["ALLOW_ENDPOINT_CIDRS"] = "127.0.0.0/8,::1/128"
	vars["ALLOW_HTTP_ENDPOINTS"] = "true"
	vars["DELIVERY_BACKOFF"] = "1s,1s,1s" // what DELIVERY_BACKOFF=1s,1s,1s make dev sets
	for k, v := range o.env {
		vars[k] = v
	}
	cfg, err := app.ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := &stack{
		t: t, env: env, cfg: cfg,
		subs: subscriptions.NewStore(env.DynamoDB, cfg.ConfigTable),
		log:  deliverylog.NewStore(env.DynamoDB, cfg.DeliveryLogTable),
	}
	router, err := app.NewRouter(ctx, env.AWS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var deliver app.SQSHandler
	if o.policy != nil || o.tune != nil {
		h := s.newDeliveryHandler(o.policy)
		if o.tune != nil {
			o.tune(h)
		}
		deliver = h.Handle
	} else if deliver, err = app.NewDelivery(ctx, env.AWS, cfg); err != nil {
		t.Fatal(err)
	}
	conc := o.concurrency
	if conc == 0 {
		conc = 2
	}
	s.env.StartPoller(t, resources.EventsQueue, router, resources.RouterTimeout, conc)
	start := func() { s.env.StartPoller(t, resources.DeliveriesQueue, deliver, resources.DeliveryTimeout, conc) }
	if o.noDelivery {
		s.startDelivery = start
	} else {
		start()
	}
	return s
}

// newDeliveryHandler builds a delivery handler as app does, with policy or the environment's
// endpoint policy.
func (s *stack) newDeliveryHandler(policy *safeurl.Policy) *delivery.Handler {
	s.t.Helper()
	if policy == nil {
		p, err := s.cfg.EndpointPolicy()
		if err != nil {
			s.t.Fatal(err)
		}
		policy = &p
	}
	h, err := app.NewDeliveryHandler(s.env.AWS, s.cfg, *policy)
	if err != nil {
		s.t.Fatal(err)
	}
	return h
}

// ---- subscriptions ----

// subscribe creates an enabled subscription of dealer to url with filters; it returns it
// with its secret.
func (s *stack) subscribe(dealer, url string, filters ...string) *subscriptions.Subscription {
	s.t.Helper()
	secret, err := signing.NewSecret()
	if err != nil {
		s.t.Fatal(err)
	}
	sub := subscriptions.New(dealer, subscriptions.Fields{URL: &url, Events: filters}, secret, time.Now())
	if err := s.subs.Create(context.Background(), sub); err != nil {
		s.t.Fatal(err)
	}
	return sub
}

func (s *stack) disable(sub *subscriptions.Subscription) {
	s.t.Helper()
	if err := s.subs.Disable(context.Background(), sub.DealerID, sub.ID, "test"); err != nil {
		s.t.Fatal(err)
	}
}

// ---- queues ----

// sendDeliveries puts delivery messages straight on the deliveries queue (as the API's retry
// and test sends do).
func (s *stack) sendDeliveries(msgs ...deliveryq.Message) {
	s.t.Helper()
	for i := 0; i < len(msgs); i += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for j := range msgs[i:min(i+10, len(msgs))] {
			e, err := msgs[i+j].Encode(strconv.Itoa(j))
			if err != nil {
				s.t.Fatal(err)
			}
			entries = append(entries, e)
		}
		out, err := s.env.SQS.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.env.QueueURL(resources.DeliveriesQueue)), Entries: entries})
		if err != nil || len(out.Failed) > 0 {
			s.t.Fatalf("send deliveries: %v %v", err, out)
		}
	}
}

// ---- delivery log ----

func (s *stack) record(sub *subscriptions.Subscription, deliveryID string) *deliverylog.Record {
	s.t.Helper()
	rec, err := s.log.Get(context.Background(), sub.DealerID, subTarget(sub), deliveryID, true)
	if err != nil {
		s.t.Fatalf("delivery %s: %v", deliveryID, err)
	}
	return rec
}

// waitRecord waits until the delivery's record satisfies ok.
func (s *stack) waitRecord(sub *subscriptions.Subscription, deliveryID string, timeout time.Duration, ok func(*deliverylog.Record) bool) *deliverylog.Record {
	s.t.Helper()
	var rec *deliverylog.Record
	localtest.Eventually(s.t, timeout, fmt.Sprintf("delivery %s", deliveryID), func() bool {
		r, err := s.log.Get(context.Background(), sub.DealerID, subTarget(sub), deliveryID, true)
		rec = r
		return err == nil && ok(r)
	})
	return rec
}

func subTarget(sub *subscriptions.Subscription) deliveryq.Target {
	return deliveryq.Target{Kind: deliveryq.KindSubscription, ID: sub.ID}
}

// ---- receivers ----

// received is one request an endpoint got.
type received struct {
	At     time.Time
	Header http.Header
	Body   []byte
}

// receiver is an httptest endpoint that records requests; respond decides each answer (n is
// the 1-based count of requests so far); nil answers 200.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []received
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t testing.TB, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{At: time.Now(), Header: r.Header.Clone(), Body: body})
		n := len(rc.reqs)
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(n, w, r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// message builds a delivery message of the normalized event body for a subscription.
func message(sub *subscriptions.Subscription, body json.RawMessage, eventID, eventType string, eventTime time.Time) deliveryq.Message {
	return deliveryq.Message{
		DeliveryID: deliveryq.DeliveryID(eventID, eventTime, subTarget(sub)),
		EventID:    eventID, EventType: eventType, DealerID: sub.DealerID, Target: subTarget(sub),
		CreatedAt: time.Now(), Payload: body,
	}
}

// Queue and wait helpers shared with the other end-to-end suites (package localtest).

func (s *stack) publish(bodies ...[]byte) { s.t.Helper(); s.env.Publish(s.t, bodies...) }

func (s *stack) depth(q resources.Queue) int { s.t.Helper(); return s.env.Depth(s.t, q) }

func (s *stack) drain(q resources.Queue, want int) []sqstypes.Message {
	s.t.Helper()
	return s.env.Drain(s.t, q, want)
}
