package agentstest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents/vinsolutions/vinsolutionstest"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// VinSolutions' two-way sync end to end: leads pushed through the delivery path, then the
// sync paging the fake CRM's leads newest first onto the inbound queue.

// leadPages is how many lead pages the fake answered.
func leadPages(f *fakeVinSolutions) int {
	n := 0
	for _, r := range f.Requests("/leads") {
		if r.Method == http.MethodGet {
			n++
		}
	}
	return n
}

// A lead DealerAI pushed is not sent back as it was created; sold in VinSolutions it comes
// back once with DealerAI's ids; a lead entered in VinSolutions for another customer comes
// back as created in the CRM, without DealerAI's ids, and one for DealerAI's customer with
// DealerAI's contact id.
func TestVinSolutionsSyncReadsBackChanges(t *testing.T) {
	s := newStack(t)
	f := newFakeVinSolutions(t, vsCreds)
	s.enable("vinsolutions", f.settings(), vsCreds)
	s.runSync(s.syncHandler(syncEvery), syncEvery)
	s.synced("vinsolutions", dealer)
	quiet := func(what string) { s.t.Helper(); s.quiet(func() int { return leadPages(f) }, 2, what) }

	lead, leadEv := example(t, "lead.created", nil)
	s.publish(lead)
	s.waitRecord("vinsolutions", leadEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	leadID, contactID := leadIDs(t, leadEv)
	vs := f.Leads()[0]
	// read once it is 10 s old (a lead just created waits for the next pass), as an echo
	localtest.Eventually(t, 30*time.Second, "DealerAI's lead read back", func() bool {
		return strings.Contains(s.logs.String(), `"platform":"vinsolutions"`) && strings.Contains(s.logs.String(), `"echoesSuppressed":1`)
	})
	quiet("DealerAI's own lead came back")

	f.SetStatus(vs.ID, "SOLD", "SOLD_DELIVERED")
	sold := s.awaitInbound(1, 30*time.Second)[0]
	if sold.Type != events.TypeCRMLeadUpdated || sold.LeadID != leadID || sold.ContactID != contactID || sold.Platform != "vinsolutions" ||
		sold.PlatformIDs["leadId"] != strconv.FormatInt(vs.ID, 10) || sold.PlatformIDs["contactId"] != strconv.FormatInt(vs.ContactID, 10) ||
		sold.Status != "SOLD" || sold.SubStatus != "SOLD_DELIVERED" {
		t.Fatalf("the sale: %+v", sold)
	}
	quiet("the sale came back twice")

	stranger := f.AddLead(f.AddContact("Mia", "Chen", "mia@example.com", ""), 9001, "")
	again := f.AddLead(vs.ContactID, 9001, "came back to the showroom")
	got := s.awaitInbound(2, 30*time.Second)
	byLead := map[string]int{}
	for i, e := range got {
		byLead[e.PlatformIDs["leadId"]] = i
		if e.Type != events.TypeCRMLeadCreated || e.LeadID != "" || e.Status != "ACTIVE" || e.OccurredAt.IsZero() {
			t.Errorf("a lead entered in VinSolutions: %+v", e)
		}
	}
	if i, ok := byLead[strconv.FormatInt(stranger, 10)]; !ok || got[i].ContactID != "" {
		t.Errorf("another customer's lead: %+v", got)
	}
	if i, ok := byLead[strconv.FormatInt(again, 10)]; !ok || got[i].ContactID != contactID {
		t.Errorf("DealerAI's customer's new lead: %+v", got)
	}
	quiet("the new leads came back twice")

	st := s.syncStatusBetweenRuns("vinsolutions", dealer)
	if !st.Supported || st.LastRun == nil || st.LastRun.Error != "" || st.CursorTime == nil || st.State != "idle" {
		t.Errorf("GET .../sync: %+v", st)
	}
}

// A worker killed after a page's events are on the queue, before its cursor is stored: the
// rerun publishes that page again under the same ids and goes on; every change comes back,
// none under two ids.
func TestVinSolutionsSyncKilledMidPass(t *testing.T) {
	s := newStack(t)
	f := newFakeVinSolutions(t, vsCreds)
	s.enable("vinsolutions", f.settings(), vsCreds)
	h := s.syncHandler(time.Minute)
	h.Syncer.PageRecords = 1 // one lead a page
	job := syncJob("vinsolutions")
	// The first sync a minute back, and the leads dated 15 s back: followed, and old enough
	// to be read at once (a lead just created waits for the next pass).
	h.Syncer.Now = func() time.Time { return time.Now().Add(-time.Minute) }
	if resp, _ := h.Handle(context.Background(), job); len(resp.BatchItemFailures) != 0 { // the first sync: from then on
		t.Fatal(resp)
	}
	h.Syncer.Now = nil
	f.Now = func() time.Time { return time.Now().Add(-15 * time.Second) }
	for i := range 3 {
		body, ev := example(t, "lead.created", map[string]any{"eventId": fmt.Sprintf("evt_01JDQ9VSKILL%013d", i),
			"leadId": fmt.Sprintf("lead_vskill_%d", i), "contactId": fmt.Sprintf("ct_vskill_%d", i),
			"email": fmt.Sprintf("vskill%d@example.com", i), "phone": fmt.Sprintf("+1512555%04d", 300+i)})
		s.publish(body)
		s.waitRecord("vinsolutions", ev, 30*time.Second, status(deliverylog.StatusSucceeded))
	}
	for _, l := range f.Leads() { // the salespeople work the three leads
		f.SetStatus(l.ID, "ACTIVE", "ACTIVE_WAITING_FOR_PROSPECT_RESPONSE")
	}
	got := s.killThenRerun(h, job, 2)
	republishedOnce(t, got, "leadId", 3, 4)
	for _, e := range got {
		if e.Type != events.TypeCRMLeadUpdated || e.SubStatus != "ACTIVE_WAITING_FOR_PROSPECT_RESPONSE" || !strings.HasPrefix(e.LeadID, "lead_vskill_") {
			t.Errorf("event %+v", e)
		}
	}
	if resp, _ := h.Handle(context.Background(), job); len(resp.BatchItemFailures) != 0 {
		t.Fatal(resp)
	}
	if again := s.inbound(); len(again) != 0 {
		t.Errorf("read again: %+v", again)
	}
}

// VinSolutions answering 429 with Retry-After: that dealer's sync waits at least that long
// before it reads the leads again, while another dealer's sync goes on; then the change comes
// back.
func TestVinSolutionsSyncRateLimited(t *testing.T) {
	s := newStack(t)
	fakes := []*fakeVinSolutions{newFakeVinSolutions(t, vsCreds), newFakeVinSolutions(t, vsCreds)}
	leads := make([]int64, 2)
	s.rateLimitedSync(t, rateLimitedCase{platform: "vinsolutions", settings: [2]map[string]string{fakes[0].settings(), fakes[1].settings()}, creds: vsCreds,
		enter:  func(i int) { leads[i] = fakes[i].AddLead(fakes[i].AddContact("Ana", "Diaz", "", ""), 9001, "") },
		change: func(i int) { fakes[i].SetStatus(leads[i], "SOLD", "SOLD_DELIVERED") },
		status: "SOLD",
		limit: func() {
			fakes[0].Fail(vinsolutionstest.Fault{Method: http.MethodGet, Path: "/leads", Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "4"}, Times: 1})
		},
		reads: func() []agenttest.Request {
			var out []agenttest.Request
			for _, r := range fakes[0].Requests("/leads") {
				if r.Method == http.MethodGet {
					out = append(out, r)
				}
			}
			return out
		},
	})
}
