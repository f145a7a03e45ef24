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
	"github.com/dealerai/integrations/shared/agents/fortellis"
	"github.com/dealerai/integrations/shared/agents/fortellis/fortellistest"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// Fortellis end to end: the agent configured through the API, events through the router and
// the delivery handler, and the fake Fortellis (package fortellistest), which enforces the
// published Elead and Appointments v3 shapes.

// fakeFortellis is the fake Fortellis as the shared end-to-end tests use a fake platform.
type fakeFortellis struct {
	*fortellistest.Fake
	issuer *agenttest.Issuer
}

func newFakeFortellis(t testing.TB, creds map[string]string) *fakeFortellis {
	f := fortellistest.New(t, creds["apiKey"], creds["apiSecret"], "sub-ft-1")
	return &fakeFortellis{Fake: f, issuer: f.Issuer}
}

func (f *fakeFortellis) settings() map[string]string { return f.Settings() }

// calls lists the requests the fake received, "METHOD path".
func (f *fakeFortellis) calls() []string { return paths(f.Requests("")) }

// The example lead's DealerAI ids (lead.created, lead.update.disposition, appointment.created
// and contact.vehicleofinterest.updated share them).
const (
	exampleLeadID    = "6553f0a2c1e4b8d9a7f31c20"
	exampleContactID = "ct_51d0e7b2"
)

// TestFortellisLeadLifecycle: a lead, then its disposition, a contact update, a vehicle of
// interest and its appointments reach Fortellis as the documented calls, each after the other.
func TestFortellisLeadLifecycle(t *testing.T) {
	s := newStack(t)
	f := newFakeFortellis(t, ftCreds)
	s.enable("fortellis", f.settings(), ftCreds)
	step := func(name string, fields map[string]any, want ...string) {
		t.Helper()
		before := len(f.calls())
		body, ev := example(t, name, fields)
		s.publish(body)
		s.waitRecord("fortellis", ev, 30*time.Second, status(deliverylog.StatusSucceeded))
		if got := f.calls()[before:]; !slices.Equal(got, want) {
			t.Fatalf("%s: requests %v, want %v", name, got, want)
		}
	}

	step("lead.created", nil,
		"POST "+fortellis.CustomerSearchPath, "POST "+fortellis.CustomersPath, "POST "+fortellis.OpportunitiesPath)
	customerID := f.Records(fortellistest.Customers)[0]["id"].(string)
	oppID := f.Records(fortellistest.Opportunities)[0]["id"].(string)

	step("lead.update.disposition", nil, // Appointment set (APPT_SET)
		"GET "+fortellis.OpportunityStatusesPath, "POST "+fortellis.OpportunityCommentPath, "POST "+fortellis.SubStatusPath(oppID),
		"GET "+fortellis.OpportunitiesPath+"/"+oppID) // read back for the two-way sync
	step("contact.basic.updated", map[string]any{"contactId": exampleContactID, "firstName": "Ana", "lastName": "Diaz-Moreno",
		"name": "Ana Diaz-Moreno", "email": "ana.dm@example.com", "phone": "+15125550199"},
		"GET "+fortellis.CustomersPath+"/"+customerID, "POST "+fortellis.CustomersPath+"/"+customerID)
	step("contact.vehicleofinterest.updated", map[string]any{"vehicleInterest": map[string]any{
		"year": "2025", "make": "Toyota", "model": "Camry", "trim": "SE", "interest": "buy", "status": "new"}},
		"GET "+fortellis.OpportunitiesPath+"/"+oppID, "POST "+fortellis.VehicleSoughtPath)
	step("appointment.created", nil, // sales
		"GET "+fortellis.ActivityTypesPath, "POST "+fortellis.ScheduleActivityPath)
	step("appointment.created", map[string]any{"eventId": "evt_01JDQ9FTSERV1CE00000000000",
		"appointmentType": "service", "appointmentId": "apt_ft_svc_1", "serviceType": "Oil change"},
		"POST "+fortellis.ServiceAppointmentsPath)

	if opp := f.Records(fortellistest.Opportunities)[0]; opp["subStatus"] != "Appointment Set" || len(opp["soughtVehicles"].([]any)) != 2 {
		t.Errorf("opportunity %v", opp)
	}
	if c := f.Records(fortellistest.Customers)[0]; c["lastName"] != "Diaz-Moreno" || c["firstName"] != "Ana" ||
		len(c["emails"].([]any)) != 2 || len(c["phones"].([]any)) != 1 {
		t.Errorf("customer %v", c)
	}
	if a := f.Records(fortellistest.Activities); len(a) != 1 || a[0]["opportunityId"] != oppID || a[0]["activityType"] != float64(7) {
		t.Errorf("activities %v", a)
	}
	if n := len(f.Records(fortellistest.Comments)); n != 1 {
		t.Errorf("%d comments, want the disposition's", n)
	}
	// the lead's ids, and what the disposition pushed (two-way sync tells its own changes from ours)
	store := agents.NewCorrelationStore(s.env.DynamoDB, s.cfg.ConfigTable)
	corr, err := store.Get(context.Background(), dealer, "fortellis", "lead#"+exampleLeadID)
	if err != nil || corr.IDs["opportunityId"] != oppID || corr.IDs["customerId"] != customerID {
		t.Errorf("lead correlation %+v, %v", corr, err)
	}
	pushed, err := store.Get(context.Background(), dealer, "fortellis", agents.UpdateKey("lead.update.disposition", "lead#"+exampleLeadID))
	if err != nil || pushed.IDs["subStatus"] != "Appointment Set" || pushed.IDs["opportunityId"] != oppID {
		t.Errorf("disposition correlation %+v, %v", pushed, err)
	}
	if f.issuer.Grants() != 1 {
		t.Errorf("%d token grants, want 1 (cached)", f.issuer.Grants())
	}
	for _, r := range f.Requests("") {
		if r.Header.Get("Subscription-Id") != "sub-ft-1" || len(r.Header.Get("Request-Id")) != 36 {
			t.Errorf("%s %s: headers %v", r.Method, r.Path, r.Header)
		}
	}
}

// TestFortellisAppointmentForAnUnknownLeadCreatesTheLead: an appointment whose lead Elead
// does not have creates the customer and the opportunity from its own fields first; the
// lead's own (older) event that arrives afterwards creates nothing more and adds its comments.
func TestFortellisAppointmentForAnUnknownLeadCreatesTheLead(t *testing.T) {
	s := newStack(t)
	f := newFakeFortellis(t, ftCreds)
	s.enable("fortellis", f.settings(), ftCreds)

	appt, apptEv := example(t, "appointment.created", nil)
	s.publish(appt)
	rec := s.waitRecord("fortellis", apptEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	want := []string{"POST " + fortellis.CustomerSearchPath, "POST " + fortellis.CustomersPath, "POST " + fortellis.OpportunitiesPath,
		"GET " + fortellis.ActivityTypesPath, "POST " + fortellis.ScheduleActivityPath}
	if got := f.calls(); !slices.Equal(got, want) || rec.AttemptCount != 1 {
		t.Fatalf("requests %v, want %v (attempts %+v)", got, want, rec.Attempts)
	}
	oppID := f.Records(fortellistest.Opportunities)[0]["id"].(string)

	lead, leadEv := example(t, "lead.created", nil)
	s.publish(lead)
	s.waitRecord("fortellis", leadEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	time.Sleep(settle)
	// the opportunity seeks the lead's vehicle already (the appointment's): only the comments
	want = append(want, "GET "+fortellis.OpportunitiesPath+"/"+oppID, "POST "+fortellis.OpportunityCommentPath)
	if n, m := len(f.Records(fortellistest.Customers)), len(f.Records(fortellistest.Opportunities)); n != 1 || m != 1 || !slices.Equal(f.calls(), want) {
		t.Fatalf("%d customers, %d opportunities, requests %v, want %v", n, m, f.calls(), want)
	}
	if c := f.Records(fortellistest.Comments); len(c) != 1 || !strings.Contains(c[0]["comment"].(string), "AutoTrader") {
		t.Errorf("comments %v", c)
	}
}

// TestFortellisLeadAndTwoAppointmentsAtOnceCreateOneLead: published together, the lead and
// two appointments of one DealerAI lead make one customer and one opportunity, with the lead's
// comments whichever event came first.
func TestFortellisLeadAndTwoAppointmentsAtOnceCreateOneLead(t *testing.T) {
	s := newStack(t)
	f := newFakeFortellis(t, ftCreds)
	s.enable("fortellis", f.settings(), ftCreds)

	lead, leadEv := example(t, "lead.created", nil)
	sales, salesEv := example(t, "appointment.created", nil)
	testDrive, testDriveEv := example(t, "appointment.created", map[string]any{"eventId": "evt_01JDQ9FTTESTDR1VE000000000",
		"appointmentType": "testdrive", "appointmentId": "apt_ft_td_1", "appointmentTime": "2026-12-01T17:00:00Z"})
	s.publish(lead, sales, testDrive)
	for _, ev := range []*events.Event{leadEv, salesEv, testDriveEv} {
		s.waitRecord("fortellis", ev, 60*time.Second, status(deliverylog.StatusSucceeded))
	}
	time.Sleep(settle)
	customers, opps, acts := f.Records(fortellistest.Customers), f.Records(fortellistest.Opportunities), f.Records(fortellistest.Activities)
	if len(customers) != 1 || len(opps) != 1 || len(acts) != 2 {
		t.Fatalf("%d customers, %d opportunities, %d activities; requests %v", len(customers), len(opps), len(acts), f.calls())
	}
	comments, _ := opps[0]["comments"].(string)
	for _, c := range f.Records(fortellistest.Comments) {
		comments += "\n" + c["comment"].(string)
	}
	if strings.Count(comments, "AutoTrader") != 1 {
		t.Errorf("the lead's comments reached Elead %d times: %q", strings.Count(comments, "AutoTrader"), comments)
	}
	for _, a := range acts {
		if a["opportunityId"] != opps[0]["id"] {
			t.Errorf("activity %v is not on the opportunity %v", a, opps[0]["id"])
		}
	}
}

// TestFortellisRetryAfterALostResponseCreatesNothingTwice: Fortellis creates the customer
// but answers 500, then creates the opportunity but the connection drops, then books the
// service appointment but the connection drops: the retries find what was created.
func TestFortellisRetryAfterALostResponseCreatesNothingTwice(t *testing.T) {
	s := newStack(t)
	f := newFakeFortellis(t, ftCreds)
	s.enable("fortellis", f.settings(), ftCreds)
	f.FailAfter(http.MethodPost, fortellis.CustomersPath, http.StatusInternalServerError)
	f.DropAfter(http.MethodPost, fortellis.OpportunitiesPath)
	f.DropAfter(http.MethodPost, fortellis.ServiceAppointmentsPath)

	lead, leadEv := example(t, "lead.created", nil)
	service, serviceEv := example(t, "appointment.created", map[string]any{"eventId": "evt_01JDQ9FTSERV1CE00000000001",
		"appointmentType": "service", "appointmentId": "apt_ft_svc_2", "serviceType": "Brakes"})
	s.publish(lead, service)
	rec := s.waitRecord("fortellis", leadEv, 60*time.Second, status(deliverylog.StatusSucceeded))
	if rec.AttemptCount != 3 || rec.Attempts[0].StatusCode != 500 || rec.Attempts[1].ErrorClass != "connection" {
		t.Errorf("lead attempts %+v", rec.Attempts)
	}
	svc := s.waitRecord("fortellis", serviceEv, 60*time.Second, status(deliverylog.StatusSucceeded))
	if svc.AttemptCount != 2 || svc.Attempts[0].ErrorClass != "connection" {
		t.Errorf("service attempts %+v", svc.Attempts)
	}
	time.Sleep(settle)
	if n, m, a := len(f.Records(fortellistest.Customers)), len(f.Records(fortellistest.Opportunities)), len(f.Records(fortellistest.Appointments)); n != 1 || m != 1 || a != 1 {
		t.Fatalf("%d customers, %d opportunities, %d appointments; requests %v", n, m, a, f.calls())
	}
}
