package agentstest

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/vinsolutions/vinsolutionstest"
	"github.com/dealerai/integrations/shared/deliverylog"
)

// The VinSolutions agent end to end on the local stack, against vinsolutionstest's CRM (which
// keeps what it is sent and refuses the shapes VinSolutions refuses): docs/agents.md#vinsolutions.

const ana = "6553f0a2c1e4b8d9a7f31c20" // the DealerAI lead of the example events

// succeededOrSkipped: a delivery that ended without failing.
func succeededOrSkipped(r *deliverylog.Record) bool {
	return r.Status == deliverylog.StatusSucceeded || r.Status == deliverylog.StatusSkipped
}

func callsOf(f *fakeVinSolutions, from int) []string { return paths(f.Requests("")[from:]) }

// TestVinSolutionsLeadLifecycle: a lead becomes a contact, a lead, its vehicle of interest and
// a note; its disposition, a contact update and a new vehicle of interest reach the same
// records; an appointment is a note on that lead. Every note follows the CRM's own.
func TestVinSolutionsLeadLifecycle(t *testing.T) {
	s := newStack(t)
	f := newFakeVinSolutions(t, vsCreds)
	s.enable("vinsolutions", f.settings(), vsCreds)

	lead, leadEv := example(t, "lead.created", nil)
	s.publish(lead)
	rec := s.waitRecord("vinsolutions", leadEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	if rec.AttemptCount != 1 || rec.Attempts[0].StatusCode != http.StatusOK {
		t.Fatalf("lead delivery: %+v", rec)
	}
	want := []string{"GET /gateway/v1/contact", "GET /gateway/v1/contact", "POST /gateway/v1/contact", "POST /leads",
		"POST /vehicles/interest", "GET /leads/id/1002", "PUT /leads/id/1002"}
	if got := callsOf(f, 0); !slices.Equal(got, want) {
		t.Fatalf("lead: calls %v, want %v", got, want)
	}
	// the dealership writes a note of its own in VinSolutions
	notes := f.Leads()[0].Notes + "\n\nSalesperson: called back, customer wants a quote."
	if !f.SetNotes(1002, notes) {
		t.Fatal("no lead 1002")
	}

	// the lead's updates, arriving together
	n := len(f.Requests(""))
	disposition, dispositionEv := example(t, "lead.update.disposition", nil)
	contact, contactEv := example(t, "contact.basic.updated", map[string]any{"contactId": "ct_51d0e7b2", "name": "Ana Diaz-Lopez",
		"firstName": "Ana", "lastName": "Diaz-Lopez", "email": "ana.dl@example.com", "phone": "+15125550199"})
	vehicle, vehicleEv := example(t, "contact.vehicleofinterest.updated", map[string]any{"vehicleInterest": map[string]any{
		"year": "2025", "make": "Toyota", "model": "Camry", "trim": "SE", "vin": "4T1G11AK5SU000001", "stock": "T25002"}})
	s.publish(disposition, contact, vehicle)
	for _, ev := range []*events.Event{dispositionEv, contactEv, vehicleEv} {
		s.waitRecord("vinsolutions", ev, 30*time.Second, status(deliverylog.StatusSucceeded))
	}
	got := callsOf(f, n)
	slices.Sort(got)
	want = []string{"GET /gateway/v1/contact/1001", "GET /leads/id/1002", "GET /vehicles/interest", "POST /vehicles/interest",
		"PUT /gateway/v1/contact/1001", "PUT /leads/id/1002"}
	if !slices.Equal(got, want) {
		t.Fatalf("updates: calls %v, want %v", got, want)
	}

	appt, apptEv := example(t, "appointment.created", nil)
	s.publish(appt)
	s.waitRecord("vinsolutions", apptEv, 30*time.Second, status(deliverylog.StatusSucceeded))

	// one contact, updated; one lead; its notes in order after the CRM's own; two vehicles
	c := f.Contacts()
	if len(c) != 1 || c[0].LastName != "Diaz-Lopez" || !slices.Equal(c[0].Emails, []string{"ana.diaz@example.com", "ana.dl@example.com"}) ||
		!slices.Equal(c[0].Phones, []string{"5125550199"}) {
		t.Errorf("contacts %+v", c)
	}
	leads := f.Leads()
	if len(leads) != 1 {
		t.Fatalf("leads %+v", leads)
	}
	wantNotes := notes + "\n\n" +
		"[2026-11-28 10:12 UTC] DealerAI disposition: Appointment set (APPT_SET). Notes: Test drive booked for Saturday morning.\n\n" +
		"[2026-11-28 10:11 UTC] DealerAI: sales appointment created for 2026-11-30T16:00:00Z."
	if !strings.HasPrefix(leads[0].Notes, wantNotes) {
		t.Errorf("notes:\n%s\nwant them to start with:\n%s", leads[0].Notes, wantNotes)
	}
	if v := f.Vehicles(); len(v) != 2 || v[1].Fields["vin"] != "4T1G11AK5SU000001" || v[1].Fields["trim"] != "SE" {
		t.Errorf("vehicles %+v", v)
	}
	if f.issuer.Grants() != 1 {
		t.Errorf("%d token grants, want 1 (cached)", f.issuer.Grants())
	}

	// what was pushed last is kept with the ids, for the change feed to come
	corr, err := agents.NewCorrelationStore(s.env.DynamoDB, s.cfg.ConfigTable).Get(context.Background(), dealer, "vinsolutions",
		agents.UpdateKey("lead.update.disposition", "lead#"+ana))
	if err != nil || corr.IDs["dispositionCode"] != "APPT_SET" || corr.IDs["leadId"] != "1002" {
		t.Errorf("disposition correlation %+v %v", corr, err)
	}

	r := s.call("GET", "/v1/agents/vinsolutions/deliveries?status=succeeded", dealer, nil)
	var page struct{ Items []struct{ EventType string } }
	r.json(t, &page)
	if r.status != http.StatusOK || len(page.Items) != 5 {
		t.Fatalf("deliveries: %d %s", r.status, r.body)
	}
	time.Sleep(settle)
	if n := len(f.Requests("")); n != 15 {
		t.Fatalf("%d requests after settling (%v), want 15", n, paths(f.Requests("")))
	}
}

// TestVinSolutionsAppointmentOfAnUnknownLead: VinSolutions has no appointment call; an
// appointment of a lead it does not have creates the contact and the lead from the
// appointment's own fields, and notes it there. The lead is kept for the DealerAI lead: its
// next event finds it. A service appointment of an unknown customer makes no sales lead.
func TestVinSolutionsAppointmentOfAnUnknownLead(t *testing.T) {
	s := newStack(t)
	f := newFakeVinSolutions(t, vsCreds)
	s.enable("vinsolutions", f.settings(), vsCreds)

	appt, apptEv := example(t, "appointment.created", nil)
	s.publish(appt)
	rec := s.waitRecord("vinsolutions", apptEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	want := []string{"GET /gateway/v1/contact", "GET /gateway/v1/contact", "POST /gateway/v1/contact", "POST /leads", "GET /leads/id/1002", "PUT /leads/id/1002"}
	if got := callsOf(f, 0); !slices.Equal(got, want) || rec.AttemptCount != 1 {
		t.Fatalf("calls %v, want %v (attempts %d)", got, want, rec.AttemptCount)
	}
	if c := f.Contacts(); len(c) != 1 || c[0].FirstName != "Ana" || c[0].LastName != "Diaz" {
		t.Errorf("contacts %+v", c)
	}

	disposition, dispositionEv := example(t, "lead.update.disposition", nil)
	service, serviceEv := example(t, "appointment.created", map[string]any{"eventId": "evt_01JDQ9SERV1CE00000000000VS",
		"leadId": "6553f0a2c1e4b8d9a7f31c99", "contactId": "ct_other", "appointmentId": "apt_svc_vs", "appointmentType": "service",
		"serviceType": "Oil change", "vehicleStockNumber": nil})
	s.publish(disposition, service)
	s.waitRecord("vinsolutions", dispositionEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	skipped := s.waitRecord("vinsolutions", serviceEv, 30*time.Second, status(deliverylog.StatusSkipped))
	if !strings.Contains(skipped.LastError, "service appointment") {
		t.Errorf("service appointment: %+v", skipped)
	}
	if l := f.Leads(); len(l) != 1 || !strings.Contains(l[0].Notes, "DealerAI disposition: Appointment set") {
		t.Errorf("leads %+v", l)
	}
	time.Sleep(settle)
	if n := len(f.Requests("")); n != 8 {
		t.Errorf("%d requests (%v), want 8", n, paths(f.Requests("")))
	}
}

// TestVinSolutionsLeadAndTwoAppointmentsAtOnce: a lead and two of its appointments published
// in the same second (delivered by concurrent invocations) create one contact and one lead,
// which holds both appointments' notes.
func TestVinSolutionsLeadAndTwoAppointmentsAtOnce(t *testing.T) {
	s := newStack(t)
	f := newFakeVinSolutions(t, vsCreds)
	s.enable("vinsolutions", f.settings(), vsCreds)

	lead, leadEv := example(t, "lead.created", nil)
	first, firstEv := example(t, "appointment.created", nil)
	second, secondEv := example(t, "appointment.created", map[string]any{"eventId": "evt_01JDQ81D4E6F8G0H2J4K6M8N0Q",
		"appointmentId": "apt_7c1e90d5", "appointmentTime": "2026-12-02T17:00:00Z"})
	s.publish(lead, first, second)
	for _, ev := range []*events.Event{firstEv, secondEv} {
		s.waitRecord("vinsolutions", ev, 60*time.Second, status(deliverylog.StatusSucceeded))
	}
	// skipped as older when an appointment went first and created the lead (docs/agents.md#vinsolutions)
	rec := s.waitRecord("vinsolutions", leadEv, 60*time.Second, succeededOrSkipped)
	t.Logf("lead.created: %s %s", rec.Status, rec.LastError)
	time.Sleep(settle)

	if c, l := f.Contacts(), f.Leads(); len(c) != 1 || len(l) != 1 {
		t.Fatalf("%d contacts, %d leads (%v); want one each", len(c), len(l), paths(f.Requests("")))
	}
	if n := len(f.Requests("/leads")); n != 1 {
		t.Errorf("%d lead creates, want 1", n)
	}
	notes := f.Leads()[0].Notes
	for _, want := range []string{"apt_7c1e90d4", "apt_7c1e90d5"} {
		if strings.Count(notes, "DealerAI appointment "+want) != 1 {
			t.Errorf("notes %q: want one note of %s", notes, want)
		}
	}
}

// TestVinSolutionsRetryAfterALostAnswer: VinSolutions creates the contact but the connection
// drops before its answer, then creates the lead but answers 500. The retries find both
// (the contact by its email, the lead among the contact's since the request) instead of
// creating them again.
func TestVinSolutionsRetryAfterALostAnswer(t *testing.T) {
	s := newStack(t)
	f := newFakeVinSolutions(t, vsCreds)
	f.Fail(vinsolutionstest.Fault{Method: "POST", Path: "/gateway/v1/contact", After: true, Drop: true, Times: 1})
	f.Fail(vinsolutionstest.Fault{Method: "POST", Path: "/leads", After: true, Status: http.StatusInternalServerError, Times: 1})
	s.enable("vinsolutions", f.settings(), vsCreds)

	lead, ev := example(t, "lead.created", nil)
	s.publish(lead)
	rec := s.waitRecord("vinsolutions", ev, 40*time.Second, status(deliverylog.StatusSucceeded))
	if rec.AttemptCount != 3 || rec.Attempts[0].ErrorClass != "connection" || rec.Attempts[1].ErrorClass != "http_status" || rec.Attempts[1].StatusCode != 500 {
		t.Fatalf("attempts %+v", rec.Attempts)
	}
	time.Sleep(settle)
	if c, l, v := f.Contacts(), f.Leads(), f.Vehicles(); len(c) != 1 || len(l) != 1 || len(v) != 1 {
		t.Fatalf("%d contacts, %d leads, %d vehicles (%v); want one each", len(c), len(l), len(v), paths(f.Requests("")))
	}
	if n := strings.Count(f.Leads()[0].Notes, "DealerAI lead from AutoTrader"); n != 1 {
		t.Errorf("notes %q", f.Leads()[0].Notes)
	}
	// attempt 2 found the contact (no second create), attempt 3 the lead
	if n := len(f.Requests("/leads")); n != 2 {
		t.Errorf("%d requests to /leads (%v), want the create and the search", n, paths(f.Requests("")))
	}
}
