package agentsync_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agentsync"
)

const dealer = "dlr_1"

// published parses every inbound message sent, checking its attributes against its body.
func (u *unit) published(t *testing.T) []*inbound.Event {
	t.Helper()
	u.inbound.mu.Lock()
	defer u.inbound.mu.Unlock()
	var out []*inbound.Event
	for _, e := range u.inbound.sent {
		ev, err := inbound.Parse([]byte(aws.ToString(e.MessageBody)))
		if err != nil {
			t.Fatalf("an inbound message does not validate: %v\n%s", err, aws.ToString(e.MessageBody))
		}
		attrs := map[string]string{}
		for k, v := range e.MessageAttributes {
			attrs[k] = aws.ToString(v.StringValue)
		}
		want := map[string]string{"eventType": ev.Type, "dealerId": ev.DealerID, "platform": ev.Platform, "eventId": ev.ID}
		if !maps.Equal(attrs, want) {
			t.Errorf("attributes %v, want %v", attrs, want)
		}
		out = append(out, ev)
	}
	return out
}

func ids(evs []*inbound.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

// A first run reads the whole log in pages, publishes one event per change with its stable
// id, stores the cursor, and is due again after the interval.
func TestRunPublishesAndAdvances(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t, dealer)
	u.s.PageRecords = 2
	u.crm[dealer].add(leads(5, u.now.Add(-time.Hour))...)
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	evs := u.published(t)
	if len(evs) != 5 {
		t.Fatalf("%d events, want 5", len(evs))
	}
	for i, e := range evs {
		id := events.InboundEventID(testCRM.ID, "lead", e.PlatformIDs["leadId"], "1")
		if e.ID != id || e.Type != events.TypeCRMLeadCreated || e.LeadID != "" || e.Status != "Active" || !e.ObservedAt.Equal(u.now) || e.OccurredAt.IsZero() {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	st, _ := u.states.Get(ctx, dealer, testCRM.ID)
	if st.Cursor.Value != "5" || !st.Cursor.Time.Equal(u.now.Add(-time.Hour+5*time.Second)) || st.State != agentsync.StateIdle || st.LeaseOwner != "" {
		t.Errorf("state %+v", st)
	}
	if st.LastRun == nil || st.LastRun.RecordsRead != 5 || st.LastRun.EventsPublished != 5 || st.LastRun.Error != "" {
		t.Errorf("last run %+v", st.LastRun)
	}
	if got := u.agents.dueOf(dealer, testCRM.ID); !got.Equal(u.now.Add(agentsync.DefaultInterval)) {
		t.Errorf("next run %v, want in %v", got, agentsync.DefaultInterval)
	}
	if u.states.advances != 3 { // pages of 2, 2 and 1
		t.Errorf("%d cursor writes, want 3", u.states.advances)
	}

	// Nothing new: nothing published, the cursor stays.
	u.now = u.now.Add(5 * time.Minute)
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(u.published(t)); n != 5 {
		t.Errorf("%d events after a run without changes, want still 5", n)
	}
}

// A job stops at its record bound and queues the next job at once; the agent is held out of
// the schedule meanwhile.
func TestRunContinuesInANextJob(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t, dealer)
	u.s.PageRecords, u.s.MaxRecords = 2, 4
	u.crm[dealer].add(leads(7, u.now.Add(-time.Hour))...)
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(u.published(t)); n != 4 {
		t.Fatalf("%d events after the first job, want 4", n)
	}
	jobs := u.jobs.bodies()
	if len(jobs) != 1 || !strings.Contains(jobs[0], `"reason":"continue"`) || !strings.Contains(jobs[0], `"dealerId":"`+dealer+`"`) {
		t.Fatalf("jobs queued %v", jobs)
	}
	if got := u.agents.dueOf(dealer, testCRM.ID); !got.Equal(u.now.Add(agentsync.ClaimWindow)) {
		t.Errorf("due %v, want the claim window", got)
	}
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	evs := u.published(t)
	if len(evs) != 7 || len(u.jobs.bodies()) != 1 {
		t.Errorf("%d events and %d jobs after the second job, want 7 and 1", len(evs), len(u.jobs.bodies()))
	}
	seen := map[string]bool{}
	for _, id := range ids(evs) {
		if seen[id] {
			t.Errorf("%s published twice", id)
		}
		seen[id] = true
	}
}

// The cursor moves only after the page's events are on the queue: a publish that fails
// fails the job (SQS retries it) with the cursor after the last page published, and the
// retry goes on from there; a cursor write that fails makes the retry publish that page
// again under the same ids. Nothing is skipped, nothing has two ids.
func TestCursorAdvancesOnlyAfterPublishing(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t, dealer)
	u.s.PageRecords = 3
	u.crm[dealer].add(leads(9, u.now.Add(-time.Hour))...)
	u.inbound.failCalls = map[int]bool{2: true} // the second page's publish
	if err := u.s.Run(ctx, dealer, testCRM.ID); err == nil {
		t.Fatal("a failed publish did not fail the job")
	}
	st, _ := u.states.Get(ctx, dealer, testCRM.ID)
	if st.Cursor.Value != "3" || st.LeaseOwner != "" {
		t.Fatalf("after the second page's publish failed: cursor %+v, lease %q; want after the first page, released", st.Cursor, st.LeaseOwner)
	}
	u.states.failAdvance = 1 // the second page is published, its cursor not stored
	if err := u.s.Run(ctx, dealer, testCRM.ID); err == nil {
		t.Fatal("a failed cursor write did not fail the job")
	}
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range leads(9, u.now) {
		want = append(want, events.InboundEventID(testCRM.ID, "lead", r.ID, "1"))
	}
	got := ids(u.published(t))
	// leads 4-6 twice (published, then their cursor lost), each time under the same id
	wantSent := slices.Concat(want[:6], want[3:6], want[6:])
	if !slices.Equal(got, wantSent) {
		t.Errorf("published\n%v\nwant\n%v", got, wantSent)
	}
	st, _ = u.states.Get(ctx, dealer, testCRM.ID)
	if st.Cursor.Value != "9" {
		t.Errorf("cursor %+v", st.Cursor)
	}
}

// 429 with Retry-After: backing off, due after the platform's wait; the other dealer's sync
// is not held up.
func TestRateLimitHonoursRetryAfter(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t, "dlr_a", "dlr_b")
	u.crm["dlr_a"].add(leads(2, u.now)...)
	u.crm["dlr_b"].add(leads(3, u.now)...)
	u.crm["dlr_a"].fail(http.StatusTooManyRequests, "900")
	for _, d := range []string{"dlr_a", "dlr_b"} {
		if err := u.s.Run(ctx, d, testCRM.ID); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := u.states.Get(ctx, "dlr_a", testCRM.ID)
	if a.State != agentsync.StateBackingOff || !strings.Contains(a.Reason, "429") || a.Failures != 1 || !a.Cursor.IsZero() {
		t.Errorf("dealer a: %+v", a)
	}
	if got := u.agents.dueOf("dlr_a", testCRM.ID); !got.Equal(u.now.Add(900 * time.Second)) {
		t.Errorf("dealer a due %v, want after Retry-After (900 s)", got.Sub(u.now))
	}
	b, _ := u.states.Get(ctx, "dlr_b", testCRM.ID)
	if b.State != agentsync.StateIdle || b.LastRun.EventsPublished != 3 {
		t.Errorf("dealer b: %+v", b)
	}
	// A 429 without Retry-After: the backoff.
	u.crm["dlr_a"].fail(http.StatusTooManyRequests, "")
	if err := u.s.Run(ctx, "dlr_a", testCRM.ID); err != nil {
		t.Fatal(err)
	}
	if got := u.agents.dueOf("dlr_a", testCRM.ID).Sub(u.now); got < 9*time.Minute || got > 11*time.Minute {
		t.Errorf("second failure: due in %v, want about 2 × the interval", got)
	}
}

// Transient failures back off exponentially up to the cap; a success clears them.
func TestBackoffGrowsAndResets(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t, dealer)
	u.crm[dealer].fail(http.StatusBadGateway, "")
	var waits []time.Duration
	for range 6 {
		if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
			t.Fatal(err)
		}
		waits = append(waits, u.agents.dueOf(dealer, testCRM.ID).Sub(u.now))
	}
	for i, want := range []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour, time.Hour} {
		if w := waits[i]; w < want*9/10 || w > want*11/10 {
			t.Errorf("failure %d: wait %v, want %v ±10 %%", i+1, w, want)
		}
	}
	st, _ := u.states.Get(ctx, dealer, testCRM.ID)
	if st.State != agentsync.StateBackingOff || st.Failures != 6 || st.LastRun.Error == "" {
		t.Errorf("state %+v", st)
	}
	u.crm[dealer].fail(0, "")
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	st, _ = u.states.Get(ctx, dealer, testCRM.ID)
	if st.State != agentsync.StateIdle || st.Failures != 0 || st.Reason != "" || st.LastRun.Error != "" {
		t.Errorf("after a success: %+v", st)
	}
}

// Refused credentials: failing with the reason, retried hourly, not counted as a platform
// failure; good credentials again: idle.
func TestRefusedCredentialsMarkTheAgentFailing(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t, dealer)
	u.crm[dealer].add(leads(1, u.now)...)
	u.crm[dealer].setKey("rotated-key")
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	st, _ := u.states.Get(ctx, dealer, testCRM.ID)
	if st.State != agentsync.StateFailing || !strings.Contains(st.Reason, "401") || len(u.published(t)) != 0 {
		t.Errorf("state %+v", st)
	}
	if got := u.agents.dueOf(dealer, testCRM.ID); !got.Equal(u.now.Add(agentsync.FailingRetry)) {
		t.Errorf("due in %v, want %v", got.Sub(u.now), agentsync.FailingRetry)
	}
	u.agents.agents[dealer+"/"+testCRM.ID].Credentials["key"] = "rotated-key"
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	st, _ = u.states.Get(ctx, dealer, testCRM.ID)
	if st.State != agentsync.StateIdle || len(u.published(t)) != 1 {
		t.Errorf("after new credentials: %+v", st)
	}
}

// A change DealerAI's own push made is not sent back; a change of another field is, with
// DealerAI's ids; a lead created in the CRM for a contact DealerAI pushed carries the contact
// only.
func TestEchoesAreSuppressed(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t, dealer)
	// DealerAI pushed lead L1 (CRM lead-1, contact contact-1) with status Active/New.
	keys := agents.LeadKeys("L1", "C1")
	ptr := agents.ReversePointer{LeadID: "L1", ContactID: "C1", Keys: keys}
	for _, id := range []agents.PlatformID{{Name: "leadId", Value: "lead-1"}, {Name: "contactId", Value: "contact-1"}} {
		ptr.ID = id
		u.records.pointers[id] = ptr
	}
	u.records.pushed[keys[0]] = map[string]string{connector.PushedStatus: "Active", connector.PushedSubStatus: "New"}

	base := u.now.Add(-time.Hour)
	u.crm[dealer].add(
		leads(1, base)[0], // its creation, as pushed: an echo
		crmRecord{Kind: "lead", ID: "lead-1", Version: "2", ChangedAt: base.Add(time.Minute), ContactID: "contact-1", Status: "Active", SubStatus: "New"},                    // the same state again: an echo
		crmRecord{Kind: "lead", ID: "lead-1", Version: "3", ChangedAt: base.Add(2 * time.Minute), ContactID: "contact-1", Status: "Sold", SubStatus: "Delivered"},            // the salesperson sold it
		crmRecord{Kind: "lead", ID: "lead-9", Version: "1", ChangedAt: base.Add(3 * time.Minute), Created: true, ContactID: "contact-1", Status: "Active", SubStatus: "New"}, // a second lead for the same customer, entered in the CRM
	)
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	evs := u.published(t)
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2: %v", len(evs), ids(evs))
	}
	if e := evs[0]; e.Type != events.TypeCRMLeadUpdated || e.LeadID != "L1" || e.ContactID != "C1" || e.Status != "Sold" || e.ID != events.InboundEventID(testCRM.ID, "lead", "lead-1", "3") {
		t.Errorf("the sale: %+v", e)
	}
	if e := evs[1]; e.Type != events.TypeCRMLeadCreated || e.LeadID != "" || e.ContactID != "C1" || e.PlatformIDs["leadId"] != "lead-9" {
		t.Errorf("the CRM's own lead: %+v", e)
	}
	st, _ := u.states.Get(ctx, dealer, testCRM.ID)
	if st.LastRun.EchoesSuppressed != 2 || st.LastRun.RecordsRead != 4 {
		t.Errorf("last run %+v", st.LastRun)
	}
}

func TestEcho(t *testing.T) {
	at := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	pushed := map[string]string{connector.PushedAppointmentTime: "2026-12-03T09:00:00-06:00", connector.PushedAppointmentStatus: "scheduled", connector.PushedAssigneeID: "7"}
	for _, c := range []struct {
		name  string
		state inbound.State
		echo  bool
	}{
		{"the same time in another zone", inbound.State{AppointmentTime: at, AppointmentStatus: "scheduled"}, true},
		{"with the same assignee", inbound.State{AppointmentTime: at, Assignee: &inbound.Person{ID: "7", Name: "any"}}, true},
		{"moved", inbound.State{AppointmentTime: at.Add(time.Hour), AppointmentStatus: "scheduled"}, false},
		{"cancelled", inbound.State{AppointmentTime: at, AppointmentStatus: "cancelled"}, false},
		{"a field never pushed", inbound.State{AppointmentTime: at, Status: "Active"}, false},
		{"nothing compared", inbound.State{Source: "Walk-in"}, false},
	} {
		if got := agentsync.Echo(pushed, c.state); got != c.echo {
			t.Errorf("%s: Echo = %v, want %v", c.name, got, c.echo)
		}
	}
	if agentsync.Echo(nil, inbound.State{Status: "Active"}) {
		t.Error("an echo of nothing pushed")
	}
}

// What is not synced: a disabled or deleted agent, a platform without a feed, a platform out
// of the dealer's plan (rescheduled a whole interval later), an agent whose lease another
// job holds.
func TestRunSkips(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t, dealer, "dlr_off", "dlr_noplan")
	u.agents.agents["dlr_off/"+testCRM.ID].Enabled = false
	u.s.Entitlements = fakePlans{"dlr_noplan": false, dealer: true, "dlr_off": true}
	for d := range u.crm {
		u.crm[d].add(leads(1, u.now)...)
	}
	for _, run := range []struct{ dealer, platform string }{{"dlr_off", testCRM.ID}, {"dlr_gone", testCRM.ID}, {dealer, "vinsolutions"}, {"dlr_noplan", testCRM.ID}} {
		if err := u.s.Run(ctx, run.dealer, run.platform); err != nil {
			t.Errorf("%v: %v", run, err)
		}
	}
	if got := u.agents.dueOf("dlr_noplan", testCRM.ID); !got.Equal(u.now.Add(agentsync.DefaultInterval)) {
		t.Errorf("out of plan: due %v", got)
	}
	// another job holds the lease
	if err := u.states.Lease(ctx, dealer, testCRM.ID, "other", u.now, u.now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	for d, crm := range u.crm {
		if n := crm.callCount(); n != 0 {
			t.Errorf("%s: %d platform calls, want none", d, n)
		}
	}
	if n := len(u.published(t)); n != 0 {
		t.Errorf("%d events published", n)
	}
}

type fakePlans map[string]bool

func (p fakePlans) Includes(_ context.Context, dealerID, _ string) (bool, error) {
	return p[dealerID], nil
}

// A change the catalog refuses (a feed's bug) is not published and is noted; the page's
// other changes are.
func TestInvalidChangeIsNotedNotPublished(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t, dealer)
	recs := leads(3, u.now)
	recs[1].Invalid = true
	u.crm[dealer].add(recs...)
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(u.published(t)); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
	st, _ := u.states.Get(ctx, dealer, testCRM.ID)
	if len(st.Notes) != 1 || !strings.Contains(st.Notes[0], "crm.lead.exploded") || st.Cursor.Value != "3" {
		t.Errorf("state %+v", st)
	}
}

// An agent whose URL setting names a host that is not the platform's: nothing is sent, the
// agent is failing with the reason.
func TestBlockedHostSendsNothing(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t, dealer)
	u.agents.agents[dealer+"/"+testCRM.ID].Settings["baseUrl"] = "http://localhost:1"
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	st, _ := u.states.Get(ctx, dealer, testCRM.ID)
	if st.State != agentsync.StateFailing || !strings.Contains(st.Reason, "settings.baseUrl names localhost") {
		t.Errorf("state %+v", st)
	}
}

// One job per agent's time: a slow platform ends the job at its budget, with what it read
// published and the rest for the next run.
func TestJobIsBoundedInTime(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t, dealer)
	u.s.Budget = 200 * time.Millisecond
	u.crm[dealer].add(leads(2, u.now)...)
	u.crm[dealer].setDelay(5 * time.Second)
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	// (had the job waited for the platform, it would have read both leads and be idle)
	st, _ := u.states.Get(ctx, dealer, testCRM.ID)
	if st.State != agentsync.StateBackingOff || !strings.Contains(st.Reason, "deadline") || len(u.published(t)) != 0 {
		t.Errorf("state %+v", st)
	}
}

func TestDecodeMessage(t *testing.T) {
	for body, ok := range map[string]bool{
		agentsync.TickBody: true,
		`{"kind":"job","dealerId":"d","platform":"p","reason":"manual"}`: true,
		`{"kind":"job","dealerId":"d"}`:                                  false,
		`{"kind":"other"}`:                                               false,
		`not json`:                                                       false,
	} {
		m, err := agentsync.DecodeMessage(body)
		if (err == nil) != ok {
			t.Errorf("%s: %+v, %v", body, m, err)
		}
	}
	var m agentsync.Message
	_ = json.Unmarshal([]byte(agentsync.TickBody), &m)
	if m.Kind != agentsync.KindTick {
		t.Error("TickBody is not a tick")
	}
}
