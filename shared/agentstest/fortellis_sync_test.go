package agentstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/fortellis"
	"github.com/dealerai/integrations/shared/agents/fortellis/fortellistest"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// Fortellis's (Elead's) two-way sync end to end: leads pushed through the delivery path, then
// the sync reading searchDelta and the activity histories of the fake onto the inbound queue.

// deltas is how many searchDelta pages the fake answered.
func deltas(f *fakeFortellis) int { return len(f.Requests(fortellis.SearchDeltaPath)) }

// opportunityOf is the fake's opportunity of DealerAI's example lead, once it has one.
func opportunityOf(t *testing.T, f *fakeFortellis) (opportunityID, customerID string) {
	t.Helper()
	opps := f.Records(fortellistest.Opportunities)
	if len(opps) == 0 {
		t.Fatal("Elead has no opportunity")
	}
	return opps[0]["id"].(string), opps[0]["customerId"].(string)
}

// A lead DealerAI pushed is not sent back as it was pushed, nor after DealerAI's disposition
// and appointment; a salesperson assigned in Elead comes back once with DealerAI's ids; the
// appointment completed in Elead comes back with DealerAI's appointment id; an opportunity
// entered in Elead comes back as created in the CRM, without DealerAI's ids.
func TestFortellisSyncReadsBackChanges(t *testing.T) {
	s := newStack(t)
	f := newFakeFortellis(t, ftCreds)
	s.enable("fortellis", f.settings(), ftCreds)
	s.runSync(s.syncHandler(syncEvery), syncEvery)
	s.synced("fortellis", dealer)
	quiet := func(what string) { s.t.Helper(); s.quiet(func() int { return deltas(f) }, 2, what) }

	lead, leadEv := example(t, "lead.created", nil)
	s.publish(lead)
	s.waitRecord("fortellis", leadEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	leadID, contactID := leadIDs(t, leadEv)
	opp, customer := opportunityOf(t, f)
	quiet("DealerAI's own lead came back")

	disp, dispEv := example(t, "lead.update.disposition", nil) // Appointment set
	s.publish(disp)
	s.waitRecord("fortellis", dispEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	appt, apptEv := example(t, "appointment.created", nil) // a sales appointment: a scheduled activity
	s.publish(appt)
	s.waitRecord("fortellis", apptEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	quiet("DealerAI's own disposition or appointment came back")
	if !strings.Contains(s.logs.String(), `"echoesSuppressed":`) || strings.Contains(s.logs.String(), `"platform":"fortellis","state":"backing_off"`) {
		t.Error("no sync run counted an echo it suppressed, or a run failed")
	}

	// a manager assigns a salesperson in Elead: once, with DealerAI's ids
	f.ChangeOpportunity(opp, func(o map[string]any) { o["salesTeam"] = fortellistest.Salesperson("emp-7", "Luis", "Ortega") })
	got := s.awaitInbound(1, 30*time.Second)[0]
	if got.Type != events.TypeCRMLeadUpdated || got.LeadID != leadID || got.ContactID != contactID || got.DealerID != dealer || got.Platform != "fortellis" ||
		got.PlatformIDs["opportunityId"] != opp || got.PlatformIDs["customerId"] != customer || got.Status != "Active" || got.SubStatus != "Appointment Set" ||
		got.Assignee == nil || got.Assignee.ID != "emp-7" || got.Assignee.Name != "Luis Ortega" {
		t.Fatalf("the salesperson assigned: %+v", got)
	}
	quiet("the assignment came back twice")

	// the customer shows up: the appointment completed in Elead
	acts := f.Records(fortellistest.Activities)
	if len(acts) != 1 {
		t.Fatalf("activities %v", acts)
	}
	f.CompleteActivity(acts[0]["id"].(string), "Showed")
	done := s.awaitInbound(1, 30*time.Second)[0]
	var ids struct{ AppointmentID string }
	if err := json.Unmarshal(apptEv.Body, &ids); err != nil {
		t.Fatal(err)
	}
	if done.Type != events.TypeCRMAppointmentUpdated || done.AppointmentStatus != events.AppointmentStatusCompleted || done.Outcome != "Showed" ||
		done.AppointmentID != ids.AppointmentID || done.AppointmentID == "" || done.LeadID != leadID || done.PlatformIDs["activityId"] != acts[0]["id"] ||
		done.AppointmentTime.IsZero() {
		t.Errorf("the appointment completed: %+v", done)
	}
	quiet("the appointment came back twice")

	// a walk-in entered in Elead
	walkInCustomer := f.Add(fortellistest.Customers, map[string]any{"firstName": "Mia", "lastName": "Chen"})
	walkIn := f.Add(fortellistest.Opportunities, map[string]any{"customerId": walkInCustomer, "source": "Walk-in", "upType": "Showroom",
		"dateIn": time.Now().UTC().Format(time.RFC3339)})
	created := s.awaitInbound(1, 30*time.Second)[0]
	if created.Type != events.TypeCRMLeadCreated || created.LeadID != "" || created.ContactID != "" || created.PlatformIDs["opportunityId"] != walkIn ||
		created.Source != "Walk-in" || created.Status != "Active" || created.OccurredAt.IsZero() {
		t.Errorf("the walk-in: %+v", created)
	}
	quiet("the walk-in came back twice")

	st := s.syncStatusBetweenRuns("fortellis", dealer)
	if !st.Supported || st.LastRun == nil || st.LastRun.Error != "" || st.CursorTime == nil || st.State != "idle" {
		t.Errorf("GET .../sync: %+v", st)
	}
}

// A worker killed after a page's events are on the queue, before its cursor is stored: the
// rerun publishes that page again under the same ids and goes on; every change comes back,
// none under two ids.
func TestFortellisSyncKilledMidPage(t *testing.T) {
	s := newStack(t)
	f := newFakeFortellis(t, ftCreds)
	s.enable("fortellis", f.settings(), ftCreds)
	h := s.syncHandler(time.Minute)
	h.Syncer.PageRecords = 2 // a searchDelta page and one opportunity's history a call
	job := syncJob("fortellis")
	if resp, _ := h.Handle(context.Background(), job); len(resp.BatchItemFailures) != 0 { // the first sync: from now on
		t.Fatal(resp)
	}
	for i := range 3 {
		body, ev := example(t, "lead.created", map[string]any{"eventId": fmt.Sprintf("evt_01JDQ9FTKILL%013d", i),
			"leadId": fmt.Sprintf("lead_ftkill_%d", i), "contactId": fmt.Sprintf("ct_ftkill_%d", i),
			"email": fmt.Sprintf("ftkill%d@example.com", i), "phone": fmt.Sprintf("+1512555%04d", 200+i)})
		s.publish(body)
		s.waitRecord("fortellis", ev, 30*time.Second, status(deliverylog.StatusSucceeded))
	}
	// the BDC works the three leads in Elead
	for _, o := range f.Records(fortellistest.Opportunities) {
		f.ChangeOpportunity(o["id"].(string), func(o map[string]any) { o["subStatus"] = "Contacted" })
	}
	got := s.killThenRerun(h, job, 2)
	republishedOnce(t, got, "opportunityId", 3, 4)
	for _, e := range got {
		if e.Type != events.TypeCRMLeadUpdated || e.SubStatus != "Contacted" || !strings.HasPrefix(e.LeadID, "lead_ftkill_") {
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

// Fortellis answering 429 with Retry-After: that dealer's sync waits at least that long
// before it reads searchDelta again, while another dealer's sync goes on; then the change
// comes back.
func TestFortellisSyncRateLimited(t *testing.T) {
	s := newStack(t)
	fakes := []*fakeFortellis{newFakeFortellis(t, ftCreds), newFakeFortellis(t, ftCreds)}
	opps := make([]string, 2)
	s.rateLimitedSync(t, rateLimitedCase{platform: "fortellis", settings: [2]map[string]string{fakes[0].settings(), fakes[1].settings()}, creds: ftCreds,
		enter: func(i int) {
			c := fakes[i].Add(fortellistest.Customers, map[string]any{"firstName": "Ana", "lastName": "Diaz"})
			opps[i] = fakes[i].Add(fortellistest.Opportunities, map[string]any{"customerId": c, "source": "Walk-in", "upType": "Showroom"})
		},
		change: func(i int) {
			fakes[i].ChangeOpportunity(opps[i], func(o map[string]any) { o["status"], o["subStatus"] = "Sold", "CRM Sold" })
		},
		status: "Sold",
		limit: func() {
			fakes[0].Faults.Add(fortellis.SearchDeltaPath, agenttest.Fault{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "4"},
				Body: `{"code":"QUOTA-EXCEEDED","message":"quota exceeded"}`})
		},
		reads: func() []agenttest.Request { return fakes[0].Requests(fortellis.SearchDeltaPath) },
	})
}
