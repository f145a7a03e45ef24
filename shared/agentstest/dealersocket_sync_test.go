package agentstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents/dealersocket/dealersockettest"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// DealerSocket's two-way sync end to end: leads pushed through the delivery path, then the
// sync reading them back from the fake's event search (one customer a call) onto the inbound
// queue.

// syncEvery is the SYNC_INTERVAL of these tests: a rotation over the customers every second.
const syncEvery = time.Second

// leadIDs are DealerAI's ids of an event's lead.
func leadIDs(t *testing.T, ev *events.Event) (leadID, contactID string) {
	t.Helper()
	var ids struct{ LeadID, ContactID string }
	if err := json.Unmarshal(ev.Body, &ids); err != nil {
		t.Fatal(err)
	}
	return ids.LeadID, ids.ContactID
}

// searches is how many event searches the fake answered.
func searches(f *fakeDealerSocket) int { return len(f.Requests(dealersockettest.EventSearchPath)) }

// searchesOf counts f's event searches, for quiet.
func searchesOf(f *fakeDealerSocket) func() int { return func() int { return searches(f) } }

// quiet waits for n more rotations of the sync (with one record to read, n more reads —
// reads counts them — and the read of the rotation after, so that the n-th one's job has
// published), then fails on anything on the inbound queue.
func (s *stack) quiet(reads func() int, n int, what string) {
	s.t.Helper()
	want := reads() + n + 1
	localtest.Eventually(s.t, 30*time.Second, fmt.Sprintf("%d more rotations", n), func() bool { return reads() >= want })
	if extra := s.inbound(); len(extra) != 0 {
		s.t.Fatalf("%s: %d more inbound events: %+v", what, len(extra), extra[0])
	}
}

// A lead DealerAI pushed comes back with DealerAI's ids: first as DealerSocket has it (its
// status and salesperson), then once when a salesperson sells it; the status DealerAI's own
// disposition set does not come back; a sales event entered in DealerSocket for the customer
// comes back as created in the CRM, without a DealerAI lead; a customer DealerAI never sent
// is not read.
func TestDealerSocketSyncReadsBackChanges(t *testing.T) {
	s := newStack(t)
	f := newFakeDealerSocket(t, dsCreds)
	s.enable("dealersocket", f.withStatuses(), dsCreds)
	s.runSync(s.syncHandler(syncEvery), syncEvery)

	lead, leadEv := example(t, "lead.created", nil)
	s.publish(lead)
	s.waitRecord("dealersocket", leadEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	leadID, contactID := leadIDs(t, leadEv)
	ds := f.Events()[0]

	first := s.awaitInbound(1, 30*time.Second)[0]
	if first.Type != events.TypeCRMLeadUpdated || first.LeadID != leadID || first.ContactID != contactID || first.DealerID != dealer || first.Platform != "dealersocket" ||
		first.PlatformIDs["leadId"] != ds.EventID || first.PlatformIDs["customerId"] != ds.EntityID {
		t.Fatalf("the lead as DealerSocket has it: %+v", first)
	}
	if first.Status != "Unqualified" || first.Assignee == nil || first.Assignee.Name != dealersockettest.DefaultAssignee || first.FirstName != "Ana" || first.Vehicle == nil || first.Vehicle.Make != "Toyota" {
		t.Errorf("its state: %+v", first.State)
	}

	// DealerAI's disposition sets Lost: not sent back
	disp, dispEv := example(t, "lead.update.disposition", map[string]any{"dispositionCode": "LOST", "dispositionName": "Lost"})
	s.publish(disp)
	s.waitRecord("dealersocket", dispEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	if got := f.Events()[0]; got.Status != dealersockettest.StatusLost {
		t.Fatalf("the disposition did not set Lost: %+v", got)
	}
	s.quiet(searchesOf(f), 2, "DealerAI's own status came back")
	if !strings.Contains(s.logs.String(), `"echoesSuppressed":1`) {
		t.Error("no sync run counted the echo it suppressed")
	}

	// a salesperson sells the car in DealerSocket: once, with DealerAI's ids
	f.ChangeEvent(ds.EventID, func(e *dealersockettest.Event) { e.Status = dealersockettest.StatusSold })
	sold := s.awaitInbound(1, 30*time.Second)[0]
	if sold.Type != events.TypeCRMLeadUpdated || sold.LeadID != leadID || sold.ContactID != contactID || sold.Status != "Sold" ||
		!sold.OccurredAt.Equal(f.Events()[0].UpdateDate.Truncate(time.Millisecond)) || sold.ID == first.ID {
		t.Errorf("the sale: %+v", sold)
	}
	s.quiet(searchesOf(f), 2, "the sale came back twice")

	// a walk-in entered in DealerSocket for the customer, and a customer DealerAI never sent
	walkIn := f.AddEvent(dealersockettest.Event{EntityID: ds.EntityID, Status: dealersockettest.StatusStoreVisit, PrimaryAssigned: "Luis Ortega"})
	stranger := f.AddCustomer(dealersockettest.Customer{GivenName: "Mia", FamilyName: "Chen"})
	created := s.awaitInbound(1, 30*time.Second)[0]
	if created.Type != events.TypeCRMLeadCreated || created.LeadID != "" || created.ContactID != contactID || created.PlatformIDs["leadId"] != walkIn ||
		created.Status != "Store Visit" || created.Assignee == nil || created.Assignee.Name != "Luis Ortega" {
		t.Errorf("the walk-in: %+v", created)
	}
	s.quiet(searchesOf(f), 2, "the walk-in came back twice")
	for _, r := range f.Requests(dealersockettest.EventSearchPath) {
		if !strings.Contains(string(r.Body), `"entityId":`+ds.EntityID+`,`) {
			t.Errorf("a customer DealerAI never sent (event %s) was read: %s", stranger, r.Body)
		}
	}

	var st agentsync.Status
	r := s.call("GET", "/v1/agents/dealersocket/sync", dealer, nil)
	r.json(t, &st)
	if r.status != http.StatusOK || !st.Supported || st.LastRun == nil || st.LastRun.Error != "" || st.CursorTime == nil {
		t.Errorf("GET .../sync: %d %s", r.status, r.body)
	}
}

// cutInbound is the inbound queue of a worker that dies right after a publish: the publish
// reaches SQS, then the invocation's context ends before the page is remembered and its
// cursor stored.
type cutInbound struct {
	agentsync.Queue
	after  int32
	sends  atomic.Int32
	cancel context.CancelFunc
}

func (c *cutInbound) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out, err := c.Queue.SendMessageBatch(ctx, in, opts...)
	if c.sends.Add(1) == c.after {
		c.cancel()
	}
	return out, err
}

// A worker killed after a page's events are on the queue, before its cursor is stored: the
// rerun publishes that page again under the same ids and goes on; every lead comes back, none
// under two ids, and a later change once.
func TestDealerSocketSyncKilledMidRotation(t *testing.T) {
	s := newStack(t)
	f := newFakeDealerSocket(t, dsCreds)
	s.enable("dealersocket", f.settings(), dsCreds)
	for i := range 3 {
		body, ev := example(t, "lead.created", map[string]any{"eventId": fmt.Sprintf("evt_01JDQ9SYNCKILL%011d", i),
			"leadId": fmt.Sprintf("lead_kill_%d", i), "contactId": fmt.Sprintf("ct_kill_%d", i),
			"email": fmt.Sprintf("kill%d@example.com", i), "phone": fmt.Sprintf("+1512555%04d", 100+i)})
		s.publish(body)
		s.waitRecord("dealersocket", ev, 30*time.Second, status(deliverylog.StatusSucceeded))
	}
	h := s.syncHandler(time.Minute)
	h.Syncer.PageRecords = 1 // one customer a page
	job := syncJob("dealersocket")
	got := s.killThenRerun(h, job, 2)
	idOf, count := oneIDPerRecord(t, got, "leadId")
	if len(idOf) != 3 || len(got) != 4 {
		t.Fatalf("%d leads in %d events, want 3 leads in 4 (the page on the queue when the worker died twice): %v", len(idOf), len(got), count)
	}
	for rec, id := range idOf {
		if count[id] > 2 {
			t.Errorf("lead %s published %d times", rec, count[id])
		}
	}

	first := f.Events()[0]
	f.ChangeEvent(first.EventID, func(e *dealersockettest.Event) { e.Status = dealersockettest.StatusSold })
	if resp, _ := h.Handle(context.Background(), job); len(resp.BatchItemFailures) != 0 {
		t.Fatal(resp)
	}
	if again := s.inbound(); len(again) != 1 || again[0].Status != "Sold" || again[0].PlatformIDs["leadId"] != first.EventID || again[0].LeadID != "lead_kill_0" {
		t.Errorf("after a sale: %+v", again)
	}
}

// DealerSocket answering 429 with Retry-After: that dealer's sync waits at least that long
// before it searches again, while another dealer's sync goes on; then the change comes back.
func TestDealerSocketSyncRateLimited(t *testing.T) {
	const other = "dlr_43"
	s := newStack(t)
	limited, healthy := newFakeDealerSocket(t, dsCreds), newFakeDealerSocket(t, dsCreds)
	s.enable("dealersocket", limited.settings(), dsCreds)
	s.enableFor(other, "dealersocket", healthy.settings(), dsCreds)
	lead, leadEv := example(t, "lead.created", nil)
	otherLead, otherEv := localtest.Example(t, "lead.created", other, map[string]any{"eventId": "evt_01JDQ9OTHERDEALER00000000DS", "leadId": "lead_other", "contactId": "ct_other"})
	s.publish(lead, otherLead)
	s.waitRecord("dealersocket", leadEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	localtest.Eventually(t, 30*time.Second, "the other dealer's lead delivered", func() bool {
		r, err := s.log.Get(context.Background(), other, agentTarget("dealersocket"), deliveryID("dealersocket", otherEv), true)
		return err == nil && r.Status == deliverylog.StatusSucceeded
	})
	s.runSync(s.syncHandler(syncEvery), syncEvery)
	s.awaitInbound(2, 30*time.Second) // each lead as DealerSocket has it

	before := searches(limited)
	limited.Faults.Add(dealersockettest.EventSearchPath, agenttest.Fault{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "4"}, Body: "slow down"})
	for _, f := range []*fakeDealerSocket{limited, healthy} {
		f.ChangeEvent(f.Events()[0].EventID, func(e *dealersockettest.Event) { e.Status = dealersockettest.StatusSold })
	}
	got := s.awaitInbound(2, 60*time.Second)
	_, theirs := mineAndTheirs(t, got, other, "Sold")
	reqs := limited.Requests(dealersockettest.EventSearchPath)[max(before-1, 0):]
	waitedOut(t, reqs, 4*time.Second, theirs)
}

// syncJob is the sync-jobs message of the test dealer's agent of platform.
func syncJob(platform string) lambdaevents.SQSEvent {
	return lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{{MessageId: "job",
		Body: `{"kind":"job","dealerId":"` + dealer + `","platform":"` + platform + `","reason":"schedule"}`}}}
}

// killThenRerun runs job on h with a worker that dies right after its after-th publish
// (failing the job), then again to the end, and returns what the inbound queue then holds.
func (s *stack) killThenRerun(h *agentsync.Handler, job lambdaevents.SQSEvent, after int32) []*inbound.Event {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cut := &cutInbound{Queue: h.Syncer.Inbound, after: after, cancel: cancel}
	h.Syncer.Inbound = cut
	if resp, _ := h.Handle(ctx, job); len(resp.BatchItemFailures) != 1 {
		s.t.Fatalf("the killed job was not reported failed: %+v", resp)
	}
	h.Syncer.Inbound = cut.Queue
	if resp, _ := h.Handle(context.Background(), job); len(resp.BatchItemFailures) != 0 {
		s.t.Fatalf("the rerun failed: %+v", resp)
	}
	return s.inbound()
}

// longestGap is the longest wait between two of a fake's requests (they come every second;
// the one answered 429 is followed by the longest): the request before it and the one after.
func longestGap(reqs []agenttest.Request) (before, after time.Time) {
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].Received.Sub(reqs[i-1].Received); gap > after.Sub(before) {
			before, after = reqs[i-1].Received, reqs[i].Received
		}
	}
	return before, after
}

// oneIDPerRecord fails the test when events publish a record (by its platform id idName)
// under two event ids; it returns each record's event id and how often each id came.
func oneIDPerRecord(t *testing.T, got []*inbound.Event, idName string) (idOf map[string]string, count map[string]int) {
	t.Helper()
	count, idOf = map[string]int{}, map[string]string{}
	for _, e := range got {
		count[e.ID]++
		rec := e.PlatformIDs[idName]
		if id, ok := idOf[rec]; ok && id != e.ID {
			t.Errorf("%s %s published under two ids: %s and %s", idName, rec, id, e.ID)
		}
		idOf[rec] = e.ID
	}
	return idOf, count
}

func gaps(reqs []agenttest.Request) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(reqs); i++ {
		out = append(out, reqs[i].Received.Sub(reqs[i-1].Received).Round(time.Millisecond))
	}
	return out
}
