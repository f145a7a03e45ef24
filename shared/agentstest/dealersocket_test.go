package agentstest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/dealersocket"
	"github.com/dealerai/integrations/shared/agents/dealersocket/dealersockettest"
	"github.com/dealerai/integrations/shared/deliverylog"
)

// The DealerSocket agent end to end: the fake (dealersockettest) checks the ADF lead, the
// raw Authorization, every signed call's HMAC and the documented XML shapes, and keeps what
// it was sent.

// fakeDealerSocket is the fake DealerSocket accepting dsCreds-style credentials.
type fakeDealerSocket struct{ *dealersockettest.Server }

func newFakeDealerSocket(t testing.TB, creds map[string]string) *fakeDealerSocket {
	return &fakeDealerSocket{dealersockettest.New(t, dealersockettest.Config{
		DirectLeadKey: creds["directLeadKey"], Username: creds["username"], Password: creds["password"],
		PublicKey: creds["publicKey"], SecretKey: creds["secretKey"], DealerID: "77", Vendor: "DealerAI",
	})}
}

func (f *fakeDealerSocket) settings() map[string]string { return f.Settings() }

// withStatuses are the fake's settings with a disposition mapped to a sales status.
func (f *fakeDealerSocket) withStatuses() map[string]string {
	s := f.settings()
	s["dispositionStatuses"] = "APPT_SET=Contacted,LOST=Lost"
	return s
}

var dsLeadPath = dealersocket.LeadPath + dsCreds["directLeadKey"]

func dsAPI(path string) string { return dealersockettest.APIPath + path }

// TestDealerSocketLeadLifecycle: a lead, then its disposition, a contact update, a vehicle of
// interest and an appointment reach DealerSocket as the documented calls, in order, on the
// one sales event and customer the lead created.
func TestDealerSocketLeadLifecycle(t *testing.T) {
	s := newStack(t)
	f := newFakeDealerSocket(t, dsCreds)
	s.enable("dealersocket", f.withStatuses(), dsCreds)

	steps := []struct {
		event  string
		fields map[string]any
		calls  []string
	}{
		{"lead.created", nil, []string{"POST " + dsLeadPath}},
		{"lead.update.disposition", nil, []string{"POST " + dsAPI("/eventsales"), "POST " + dsAPI("/WorkNote"), "POST " + dealersockettest.EventSearchPath}},
		{"contact.basic.updated", map[string]any{"contactId": "ct_51d0e7b2"}, []string{"POST " + dsAPI("/SearchEntity"), "PUT " + dsAPI("/Customer")}},
		{"contact.vehicleofinterest.updated", nil, []string{"POST " + dsAPI("/eventsales")}},
		{"appointment.created", nil, []string{"POST " + dsAPI("/Activity")}},
	}
	var want []string
	for _, st := range steps {
		body, ev := example(t, st.event, st.fields)
		s.publish(body)
		rec := s.waitRecord("dealersocket", ev, 30*time.Second, status(deliverylog.StatusSucceeded))
		if rec.AttemptCount != 1 {
			t.Fatalf("%s took %d attempts: %+v", st.event, rec.AttemptCount, rec.Attempts)
		}
		want = append(want, st.calls...)
		if got := paths(f.Requests("")); !slices.Equal(got, want) {
			t.Fatalf("after %s: requests %v, want %v", st.event, got, want)
		}
	}

	ev, cust, acts := f.Events(), f.Customers(), f.Activities()
	if len(ev) != 1 || len(cust) != 1 || ev[0].LeadStatus != "Contacted" || ev[0].Vehicle.Model != "RAV4 XLE" {
		t.Fatalf("events %+v, customers %+v", ev, cust)
	}
	if c := cust[0]; c.GivenName != "Sofia" || c.FamilyName != "Rossi-Baker" || !slices.Contains(c.Emails, "ana.diaz@example.com") {
		t.Errorf("customer %+v: the update should change the name and keep the lead's email", c)
	}
	if len(acts) != 1 || acts[0].EventID != ev[0].EventID || acts[0].EntityID != ev[0].EntityID || acts[0].DueDateTime != "2026-11-30T16:00:00Z" {
		t.Errorf("activities %+v", acts)
	}
	if n := f.WorkNotes(); len(n) != 1 || !strings.Contains(n[0].Note, "APPT_SET") {
		t.Errorf("work notes %+v", n)
	}
}

// TestDealerSocketAppointmentOfAnUnknownLeadCreatesTheLead: an appointment whose lead
// DealerSocket does not have sends the lead first (ADF) and keeps its ids for the DealerAI
// lead: the lead's own later delivery sends nothing, and a disposition finds both ids.
func TestDealerSocketAppointmentOfAnUnknownLeadCreatesTheLead(t *testing.T) {
	s := newStack(t)
	f := newFakeDealerSocket(t, dsCreds)
	s.enable("dealersocket", f.withStatuses(), dsCreds)

	appt, apptEv := example(t, "appointment.created", nil)
	s.publish(appt)
	s.waitRecord("dealersocket", apptEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	if got := paths(f.Requests("")); !slices.Equal(got, []string{"POST " + dsLeadPath, "POST " + dsAPI("/Activity")}) {
		t.Fatalf("requests %v", got)
	}

	lead, leadEv := example(t, "lead.created", nil)
	disp, dispEv := example(t, "lead.update.disposition", map[string]any{"dispositionCode": "LOST", "dispositionName": "Lost"})
	s.publish(lead)
	s.waitRecord("dealersocket", leadEv, 30*time.Second, status(deliverylog.StatusSkipped))
	s.publish(disp)
	s.waitRecord("dealersocket", dispEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	// the status set, the note, the sales event read back for what the status left
	if got := paths(f.Requests(""))[2:]; !slices.Equal(got, []string{"POST " + dsAPI("/eventsales"), "POST " + dsAPI("/WorkNote"), "POST " + dealersockettest.EventSearchPath}) {
		t.Fatalf("after the lead and the disposition: %v (no second lead, no customer search)", got)
	}
	if ev := f.Events(); len(ev) != 1 || ev[0].LeadStatus != "Lost" {
		t.Fatalf("events %+v", ev)
	}
}

// TestDealerSocketLeadAndTwoAppointmentsAtOnce: published together, they create one lead.
func TestDealerSocketLeadAndTwoAppointmentsAtOnce(t *testing.T) {
	s := newStack(t)
	f := newFakeDealerSocket(t, dsCreds)
	s.enable("dealersocket", f.settings(), dsCreds)

	lead, leadEv := example(t, "lead.created", nil)
	first, firstEv := example(t, "appointment.created", nil)
	second, secondEv := example(t, "appointment.created", map[string]any{"eventId": "evt_01JDQ9APPT2000000000000DS",
		"appointmentId": "apt_second", "appointmentType": "testdrive", "appointmentTime": "2026-12-02T15:00:00Z"})
	s.publish(lead, first, second)
	for _, ev := range []*events.Event{firstEv, secondEv} {
		s.waitRecord("dealersocket", ev, 40*time.Second, status(deliverylog.StatusSucceeded))
	}
	s.waitRecord("dealersocket", leadEv, 40*time.Second, func(r *deliverylog.Record) bool {
		return r.Status == deliverylog.StatusSucceeded || r.Status == deliverylog.StatusSkipped
	})
	time.Sleep(settle)
	if n := len(f.Requests(dsLeadPath)); n != 1 || len(f.Events()) != 1 {
		t.Fatalf("%d ADF leads, %d DealerSocket leads; want one (requests %v)", n, len(f.Events()), paths(f.Requests("")))
	}
	acts := f.Activities()
	if len(acts) != 2 || acts[0].EventID != f.Events()[0].EventID || acts[1].EventID != acts[0].EventID {
		t.Fatalf("activities %+v", acts)
	}
}

// TestDealerSocketRetryAfterALostAnswer: DealerSocket created the lead but its answer was lost
// (the connection dropped, or a 500 after the create): the retry's lead is DealerSocket's
// duplicate, resolved to the lead it created — one lead each — and the appointment that
// follows finds the customer the duplicate answer did not name.
func TestDealerSocketRetryAfterALostAnswer(t *testing.T) {
	s := newStack(t)
	f := newFakeDealerSocket(t, dsCreds)
	s.enable("dealersocket", f.settings(), dsCreds)

	f.LoseAnswer(dsLeadPath, 0)
	lead, leadEv := example(t, "lead.created", nil)
	other, otherEv := example(t, "lead.created", map[string]any{"eventId": "evt_01JDQ9OTHERLEAD0000000000DS",
		"leadId": "6553f0a2c1e4b8d9a7f31c77", "contactId": "ct_other", "firstName": "Luis", "email": "luis.ortega@example.com", "phone": "+15125550165"})
	s.publish(lead)
	r1 := s.waitRecord("dealersocket", leadEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	f.LoseAnswer(dsLeadPath, 500)
	s.publish(other)
	r2 := s.waitRecord("dealersocket", otherEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	if r1.AttemptCount != 2 || r1.Attempts[0].ErrorClass != "connection" || r2.AttemptCount != 2 || r2.Attempts[0].StatusCode != 500 {
		t.Fatalf("attempts: %+v / %+v", r1.Attempts, r2.Attempts)
	}
	if n := len(f.Requests(dsLeadPath)); n != 4 || len(f.Events()) != 2 || len(f.Customers()) != 2 {
		t.Fatalf("%d lead requests, %d leads, %d customers; want 4, 2, 2", n, len(f.Events()), len(f.Customers()))
	}

	appt, apptEv := example(t, "appointment.created", nil)
	s.publish(appt)
	s.waitRecord("dealersocket", apptEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	ana := f.Events()[0]
	if acts := f.Activities(); len(acts) != 1 || acts[0].EventID != ana.EventID || acts[0].EntityID != ana.EntityID {
		t.Fatalf("activities %+v, lead %+v", acts, ana)
	}
	if len(f.Requests(dsAPI("/SearchEntity"))) != 1 || len(f.Requests(dealersockettest.EventSearchPath)) != 1 {
		t.Errorf("requests %v: the customer is found once", paths(f.Requests("")))
	}
}
