package agentsync_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	catalog "github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/resources"
)

// stack is the sync function as app builds it, on fresh tables and queues of the emulators,
// with TestCRM (a platform with a change feed) beside the registry's platforms.
type stack struct {
	t       *testing.T
	env     *localtest.Env
	h       *agentsync.Handler
	store   *agents.Store
	corr    *agents.CorrelationStore
	catalog platform.Catalog
}

func newStack(t *testing.T) *stack {
	t.Helper()
	env := localtest.New(t)
	vars := env.Names.Env()
	cfg, err := app.ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	cfg.DefaultAgentPlatforms = append(cfg.DefaultAgentPlatforms, testCRM.ID) // in every dealer's plan unless stored otherwise
	// The registry's platforms without their change feeds (platforms without one, as the
	// tick sees them), and the fake CRM with its feed.
	var cat platform.Catalog
	for _, p := range registry.Platforms() {
		p.NewChangeFeed = nil
		cat = append(cat, p)
	}
	cat = append(cat, testCRM)
	// The fakes listen on 127.0.0.1 over http: a plain client stands in for the policy's.
	h, err := app.NewSyncHandler(env.AWS, cfg, &http.Client{Timeout: 10 * time.Second}, cat)
	if err != nil {
		t.Fatal(err)
	}
	h.Syncer.Metrics = nil
	table := env.Table(resources.ConfigTable)
	return &stack{t: t, env: env, h: h, store: agents.NewStore(env.DynamoDB, table), corr: agents.NewCorrelationStore(env.DynamoDB, table), catalog: cat}
}

// agent configures dealer's agent of platform p (enabled or not) against the fake CRM.
func (s *stack) agent(dealerID string, p platform.Platform, crm *fakeCRM, enabled bool) {
	s.t.Helper()
	a := &agents.Agent{DealerID: dealerID, Platform: p.ID, Enabled: enabled, Events: p.Events,
		Settings: map[string]string{"baseUrl": "http://127.0.0.1:1"}, Credentials: map[string]string{"key": "good-key"}}
	if crm != nil {
		a.Settings["baseUrl"] = crm.srv.URL
	}
	if stored, err := s.store.Get(context.Background(), dealerID, p.ID); err == nil {
		a.Version = stored.Version
	}
	if _, err := s.store.Put(context.Background(), a); err != nil {
		s.t.Fatal(err)
	}
}

// handle runs the sync function on one batch of messages, as the event source mapping would.
func (s *stack) handle(ctx context.Context, msgs ...agentsync.Message) events.SQSEventResponse {
	s.t.Helper()
	var batch events.SQSEvent
	for i, m := range msgs {
		body := agentsync.TickBody
		if m.Kind == agentsync.KindJob {
			body = `{"kind":"job","dealerId":"` + m.DealerID + `","platform":"` + m.Platform + `","reason":"schedule"}`
		}
		batch.Records = append(batch.Records, events.SQSMessage{MessageId: string(rune('a' + i)), Body: body})
	}
	resp, err := s.h.Handle(ctx, batch)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp
}

func job(dealerID string) agentsync.Message {
	return agentsync.Message{Kind: agentsync.KindJob, DealerID: dealerID, Platform: testCRM.ID}
}

// jobs drains the sync-jobs queue.
func (s *stack) jobs() []agentsync.Message {
	s.t.Helper()
	var out []agentsync.Message
	for {
		msgs := s.receive(resources.SyncJobsQueue)
		if len(msgs) == 0 {
			return out
		}
		for _, m := range msgs {
			dec, err := agentsync.DecodeMessage(aws.ToString(m.Body))
			if err != nil {
				s.t.Fatal(err)
			}
			out = append(out, *dec)
		}
	}
}

// inbound drains the inbound queue, validating every message and its attributes.
func (s *stack) inbound() []*inbound.Event {
	s.t.Helper()
	var out []*inbound.Event
	for {
		msgs := s.receive(resources.InboundQueue)
		if len(msgs) == 0 {
			return out
		}
		for _, m := range msgs {
			ev, err := inbound.Parse([]byte(aws.ToString(m.Body)))
			if err != nil {
				s.t.Fatalf("an inbound message does not validate: %v", err)
			}
			for name, want := range map[string]string{"eventType": ev.Type, "dealerId": ev.DealerID, "platform": ev.Platform, "eventId": ev.ID} {
				if got := aws.ToString(m.MessageAttributes[name].StringValue); got != want {
					s.t.Errorf("attribute %s = %q, want %q", name, got, want)
				}
			}
			out = append(out, ev)
		}
	}
}

// receive takes up to 10 messages of a queue off it; none when it has none visible.
func (s *stack) receive(q resources.Queue) []sqstypes.Message {
	s.t.Helper()
	if s.env.Visible(s.t, q) == 0 {
		return nil
	}
	out, err := s.env.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(s.env.QueueURL(q)), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: localtest.ReceiveVisibility,
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, m := range out.Messages {
		if _, err := s.env.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(s.env.QueueURL(q)), ReceiptHandle: m.ReceiptHandle}); err != nil {
			s.t.Fatal(err)
		}
	}
	return out.Messages
}

// A tick finds the enabled agents of platforms with a change feed through the SyncDue index
// and queues one job each; the agents it claimed are not queued again by the next tick, and
// once their jobs ran they are due after the interval.
func TestTickFindsDueAgents(t *testing.T) {
	ctx := context.Background()
	s := newStack(t)
	crm := newFakeCRM(t)
	for _, d := range []string{"dlr_a", "dlr_b", "dlr_c", "dlr_d", "dlr_e"} { // over the index's shards
		s.agent(d, testCRM, crm, true)
	}
	s.agent("dlr_off", testCRM, crm, false)
	vin, _ := s.catalog.Get("vinsolutions")
	s.agent("dlr_a", vin, nil, true) // no change feed: never queued

	if resp := s.handle(ctx, agentsync.Message{Kind: agentsync.KindTick}); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("tick failed: %v", resp)
	}
	var dealers []string
	for _, j := range s.jobs() {
		if j.Platform != testCRM.ID || j.Reason != agentsync.ReasonSchedule {
			t.Errorf("job %+v", j)
		}
		dealers = append(dealers, j.DealerID)
	}
	slices.Sort(dealers)
	if want := []string{"dlr_a", "dlr_b", "dlr_c", "dlr_d", "dlr_e"}; !slices.Equal(dealers, want) {
		t.Fatalf("jobs for %v, want %v", dealers, want)
	}
	s.handle(ctx, agentsync.Message{Kind: agentsync.KindTick})
	if again := s.jobs(); len(again) != 0 {
		t.Fatalf("a second tick queued %v: the claimed agents were queued twice", again)
	}
	s.handle(ctx, job("dlr_a"))
	a, err := s.store.Get(ctx, "dlr_a", testCRM.ID)
	if err != nil {
		t.Fatal(err)
	}
	if wait := time.Until(a.SyncDue); wait < 4*time.Minute || wait > 5*time.Minute {
		t.Errorf("after its job dlr_a is due in %v, want the interval (5 min)", wait)
	}
	// A platform the dealer's plan leaves out is not read (the job looks again an interval later).
	if _, err := plans.NewStore(s.env.DynamoDB, s.env.Table(resources.ConfigTable)).Put(ctx,
		&plans.Entitlement{DealerID: "dlr_c", Platforms: []string{"xtime"}, UpdatedBy: "staff"}); err != nil {
		t.Fatal(err)
	}
	before := crm.callCount()
	s.handle(ctx, job("dlr_c"))
	if crm.callCount() != before {
		t.Error("a platform out of the dealer's plan was read")
	}
	if c, _ := s.store.Get(ctx, "dlr_c", testCRM.ID); time.Until(c.SyncDue) < 4*time.Minute {
		t.Errorf("out of the plan: due in %v, want an interval", time.Until(c.SyncDue))
	}
	// Disabling an agent takes it out of the schedule.
	s.agent("dlr_b", testCRM, crm, false)
	if b, _ := s.store.Get(ctx, "dlr_b", testCRM.ID); !b.SyncDue.IsZero() {
		t.Errorf("a disabled agent is due at %v", b.SyncDue)
	}
}

// Two workers get a job of the same agent at once: one reads the platform, the other drops
// its job.
func TestOneJobPerAgentAtATime(t *testing.T) {
	ctx := context.Background()
	s := newStack(t)
	crm := newFakeCRM(t)
	crm.add(leads(3, time.Now().Add(-time.Hour))...)
	release := crm.hold() // the job that leased is still reading when the other one starts
	defer release()
	s.agent("dlr_a", testCRM, crm, true)
	other, err := app.NewSyncHandler(s.env.AWS, mustConfig(t, s.env), &http.Client{}, s.catalog)
	if err != nil {
		t.Fatal(err)
	}
	other.Syncer.Metrics = nil
	var wg sync.WaitGroup
	done := make(chan struct{}, 2)
	for _, h := range []*agentsync.Handler{s.h, other} {
		wg.Go(func() {
			if err := h.Syncer.Run(ctx, "dlr_a", testCRM.ID); err != nil {
				t.Error(err)
			}
			done <- struct{}{}
		})
	}
	<-done // the one that found the lease held returns while the other waits on the platform
	release()
	wg.Wait()
	if n := crm.callCount(); n != 1 {
		t.Errorf("the platform was read %d times, want once", n)
	}
	if evs := s.inbound(); len(evs) != 3 {
		t.Errorf("%d events, want 3", len(evs))
	}
}

func mustConfig(t testing.TB, env *localtest.Env) app.Config {
	vars := env.Names.Env()
	cfg, err := app.ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	cfg.DefaultAgentPlatforms = append(cfg.DefaultAgentPlatforms, testCRM.ID)
	return cfg
}

// cutQueue is the inbound queue of a worker that dies right after a publish: the publish
// reaches SQS, then the invocation's context ends before the cursor is stored.
type cutQueue struct {
	agentsync.Queue
	after  int32
	sends  atomic.Int32
	cancel context.CancelFunc
}

func (c *cutQueue) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out, err := c.Queue.SendMessageBatch(ctx, in, opts...)
	if c.sends.Add(1) == c.after {
		c.cancel()
	}
	return out, err
}

// A worker killed after a page is on the queue but before its cursor is stored: the next job
// publishes that page again under the same ids and goes on; no change is missed and none has
// two ids.
func TestKilledRunRepublishesTheSameIDs(t *testing.T) {
	s := newStack(t)
	crm := newFakeCRM(t)
	base := time.Now().Add(-time.Hour)
	crm.add(leads(9, base)...)
	s.agent("dlr_a", testCRM, crm, true)
	s.h.Syncer.PageRecords = 3

	ctx, cancel := context.WithCancel(context.Background())
	cut := &cutQueue{Queue: s.h.Syncer.Inbound, after: 2, cancel: cancel}
	s.h.Syncer.Inbound = cut
	if resp := s.handle(ctx, job("dlr_a")); len(resp.BatchItemFailures) != 1 {
		t.Fatalf("the killed job was not reported failed: %+v", resp)
	}
	st, err := (&agentsync.StateStore{DB: s.env.DynamoDB, Table: s.env.Table(resources.ConfigTable)}).Get(context.Background(), "dlr_a", testCRM.ID)
	if err != nil || st.Cursor.Value != "3" || st.LeaseOwner != "" {
		t.Fatalf("after the kill: %+v %v; want the cursor after the first page, the lease given up", st, err)
	}
	s.h.Syncer.Inbound = cut.Queue
	if resp := s.handle(context.Background(), job("dlr_a")); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("the rerun failed: %+v", resp)
	}
	count := map[string]int{}
	byRecord := map[string]string{}
	for _, e := range s.inbound() {
		count[e.ID]++
		if id, ok := byRecord[e.PlatformIDs["leadId"]]; ok && id != e.ID {
			t.Errorf("%s published under two ids: %s and %s", e.PlatformIDs["leadId"], id, e.ID)
		}
		byRecord[e.PlatformIDs["leadId"]] = e.ID
	}
	for _, r := range leads(9, base) {
		id := catalog.InboundEventID(testCRM.ID, "lead", r.ID, r.Version)
		want := 1
		if r.ID == "lead-4" || r.ID == "lead-5" || r.ID == "lead-6" {
			want = 2 // the page on the queue when the worker died
		}
		if count[id] != want {
			t.Errorf("%s published %d times, want %d", r.ID, count[id], want)
		}
	}
	if len(count) != 9 {
		t.Errorf("%d distinct ids, want 9", len(count))
	}
}

// A platform answering 429 with Retry-After backs off for that long, while another dealer's
// sync in the same batch goes on; refused credentials mark the agent failing.
func TestRateLimitedPlatformDoesNotHoldOthers(t *testing.T) {
	ctx := context.Background()
	s := newStack(t)
	limited, healthy, refusing := newFakeCRM(t), newFakeCRM(t), newFakeCRM(t)
	for _, c := range []*fakeCRM{limited, healthy, refusing} {
		c.add(leads(2, time.Now().Add(-time.Hour))...)
	}
	limited.fail(http.StatusTooManyRequests, "120")
	limited.setDelay(500 * time.Millisecond)
	refusing.setKey("rotated")
	s.agent("dlr_limited", testCRM, limited, true)
	s.agent("dlr_healthy", testCRM, healthy, true)
	s.agent("dlr_refusing", testCRM, refusing, true)

	start := time.Now()
	if resp := s.handle(ctx, job("dlr_limited"), job("dlr_healthy"), job("dlr_refusing")); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("platform failures failed the messages: %+v", resp)
	}
	evs := s.inbound()
	if len(evs) != 2 || evs[0].DealerID != "dlr_healthy" || evs[1].DealerID != "dlr_healthy" {
		t.Fatalf("events %v", evs)
	}
	states := &agentsync.StateStore{DB: s.env.DynamoDB, Table: s.env.Table(resources.ConfigTable)}
	st, _ := states.Get(ctx, "dlr_limited", testCRM.ID)
	a, _ := s.store.Get(ctx, "dlr_limited", testCRM.ID)
	if st.State != agentsync.StateBackingOff || a.SyncDue.Before(start.Add(120*time.Second)) || !st.Cursor.IsZero() {
		t.Errorf("rate limited: %+v, due %v (want ≥ 120 s after the run)", st, a.SyncDue.Sub(start))
	}
	st, _ = states.Get(ctx, "dlr_refusing", testCRM.ID)
	a, _ = s.store.Get(ctx, "dlr_refusing", testCRM.ID)
	if st.State != agentsync.StateFailing || !strings.Contains(st.Reason, "401") || a.SyncDue.Before(start.Add(59*time.Minute)) {
		t.Errorf("refused credentials: %+v, due %v", st, a.SyncDue.Sub(start))
	}
}

// The whole echo path on the real stores: DealerAI delivers a lead (the Dispatcher saves its
// ids, their reverse pointers and the state it pushed); the CRM reports that lead as pushed
// (an echo, dropped), then sold (published with DealerAI's ids), and a lead of its own
// (published without). Nothing goes to the events or deliveries queue: inbound events never
// push.
func TestEchoSuppressedOnTheRealStores(t *testing.T) {
	ctx := context.Background()
	s := newStack(t)
	crm := newFakeCRM(t)
	s.agent("dlr_42", testCRM, crm, true)

	stub := &pushConnector{res: connector.Result{Correlation: map[string]string{"leadId": "lead-1", "contactId": "contact-1"},
		Pushed: map[string]string{connector.PushedStatus: "Active", connector.PushedSubStatus: "New"}}}
	d := agents.NewDispatcher(s.corr, &http.Client{}, s.catalog)
	d.Connectors[testCRM.ID] = stub
	raw, _ := catalog.Example(catalog.TypeLeadCreated)
	ev, err := catalog.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.store.Get(ctx, "dlr_42", testCRM.ID)
	target := deliveryq.Target{Kind: deliveryq.KindAgent, ID: testCRM.ID}
	msg := &deliveryq.Message{DeliveryID: deliveryq.DeliveryID(ev.ID, ev.Timestamp, target), EventID: ev.ID, EventType: ev.Type, DealerID: ev.DealerID, Target: target, Payload: ev.Body}
	if _, err := d.DeliverTo(ctx, a, msg, 1, nil); err != nil {
		t.Fatal(err)
	}
	var lead struct{ LeadID, ContactID string }
	_ = json.Unmarshal(ev.Body, &lead)

	base := time.Now().Add(-time.Hour)
	crm.add(
		leads(1, base)[0],
		crmRecord{Kind: "lead", ID: "lead-1", Version: "2", ChangedAt: base.Add(time.Minute), ContactID: "contact-1", Status: "Sold", SubStatus: "Delivered", AssigneeID: "7"},
		crmRecord{Kind: "lead", ID: "lead-77", Version: "1", ChangedAt: base.Add(2 * time.Minute), Created: true, ContactID: "contact-77", Status: "Active"},
	)
	if resp := s.handle(ctx, job("dlr_42")); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%+v", resp)
	}
	evs := s.inbound()
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2 (the echo dropped)", len(evs))
	}
	if e := evs[0]; e.Type != catalog.TypeCRMLeadUpdated || e.LeadID != lead.LeadID || e.ContactID != lead.ContactID || e.Status != "Sold" || e.Assignee.ID != "7" {
		t.Errorf("the sale: %+v", e)
	}
	if e := evs[1]; e.Type != catalog.TypeCRMLeadCreated || e.LeadID != "" || e.ContactID != "" {
		t.Errorf("the CRM's own lead: %+v", e)
	}
	if n := s.env.Depth(t, resources.EventsQueue) + s.env.Depth(t, resources.DeliveriesQueue); n != 0 {
		t.Errorf("%d messages on the events and deliveries queues: the sync pushed something", n)
	}
	if stub.calls.Load() != 1 {
		t.Errorf("the connector was called %d times, want once (the delivery)", stub.calls.Load())
	}
}

type pushConnector struct {
	res   connector.Result
	calls atomic.Int32
}

func (p *pushConnector) Deliver(context.Context, *connector.Delivery) (connector.Result, error) {
	p.calls.Add(1)
	return p.res, nil
}

// An enabled agent stored before the sync existed has no index keys, so no tick finds it; its
// first job (POST .../sync) puts it in the schedule.
func TestAgentWithoutIndexKeysJoinsWithItsFirstJob(t *testing.T) {
	ctx := context.Background()
	s := newStack(t)
	crm := newFakeCRM(t)
	s.agent("dlr_old", testCRM, crm, true)
	_, err := s.env.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.env.Table(resources.ConfigTable)), Key: agents.Key("dlr_old", testCRM.ID),
		UpdateExpression: aws.String("REMOVE " + resources.SyncShardAttr + ", " + resources.SyncDueAttr),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.handle(ctx, agentsync.Message{Kind: agentsync.KindTick})
	if jobs := s.jobs(); len(jobs) != 0 {
		t.Fatalf("a tick found an agent without index keys: %v", jobs)
	}
	s.handle(ctx, job("dlr_old"))
	a, err := s.store.Get(ctx, "dlr_old", testCRM.ID)
	if err != nil || a.SyncDue.IsZero() || crm.callCount() != 1 {
		t.Fatalf("after its first job: due %v, %d platform calls, %v", a.SyncDue, crm.callCount(), err)
	}
	out, err := s.env.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.env.Table(resources.ConfigTable)), Key: agents.Key("dlr_old", testCRM.ID)})
	if err != nil {
		t.Fatal(err)
	}
	if shard, ok := out.Item[resources.SyncShardAttr].(*ddbtypes.AttributeValueMemberS); !ok || shard.Value != resources.SyncShardKey(testCRM.ID, resources.SyncShardOf("dlr_old")) {
		t.Errorf("index partition key %v", out.Item[resources.SyncShardAttr])
	}
}
