package dealersocket_test

// The shapes these tests check come from §3 (DealerSocket) and §5 (ADF) of docs/agents.md#sources, all
// [CODE]-level: S16 (a CRM pusher's LeadResponse handling), S17 (t2modus/dealersocket-client:
// lib/xml/*.rb and its tests' fixtures), S18 (bakaphp/kanvas-ecosystem-api's DealerSocket
// clients), S19 (api-evangelist's notes: no public spec). The fake (dealersockettest)
// enforces them.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/agents/adf"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/dealersocket"
	"github.com/dealerai/integrations/shared/agents/dealersocket/dealersockettest"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

var cfg = dealersockettest.Config{
	DirectLeadKey: "dlk-5f2a", Username: "dealerai", Password: "p@ss:word",
	PublicKey: "pub-123", SecretKey: "sec-456", DealerID: "3250_0", Vendor: "DealerAI",
}

var (
	leadPath     = dealersocket.LeadPath + cfg.DirectLeadKey
	activityPath = dealersockettest.APIPath + dealersocket.PathActivity
	notePath     = dealersockettest.APIPath + dealersocket.PathWorkNote
	salesPath    = dealersockettest.APIPath + dealersocket.PathEventSales
	customerPath = dealersockettest.APIPath + dealersocket.PathCustomer
	searchPath   = dealersockettest.APIPath + dealersocket.PathSearchEntity
)

func newFake(t *testing.T) *dealersockettest.Server { return dealersockettest.New(t, cfg) }

func delivery(t *testing.T, f *dealersockettest.Server, event string, edits map[string]any) *connector.Delivery {
	settings := dealersocket.Platform.WithDefaults(f.Settings())
	settings["dispositionStatuses"] = "APPT_SET=Contacted,LOST=Lost"
	return &connector.Delivery{
		Event:    agenttest.Event(t, event, edits),
		DealerID: "dlr_42",
		Settings: settings,
		Credentials: map[string]string{
			"directLeadKey": cfg.DirectLeadKey, "username": cfg.Username, "password": cfg.Password,
			"publicKey": cfg.PublicKey, "secretKey": cfg.SecretKey,
		},
		Attempt: 1,
		HTTP:    &http.Client{},
	}
}

// onLead is the delivery of an event of the DealerAI lead whose DealerSocket ids are lead.
func onLead(t *testing.T, f *dealersockettest.Server, lead map[string]string, event string, edits map[string]any) *connector.Delivery {
	d := delivery(t, f, event, edits)
	d.Lead = lead
	return d
}

func deliver(t *testing.T, d *connector.Delivery) connector.Result {
	t.Helper()
	res, err := dealersocket.New().Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func attemptError(t *testing.T, err error) *connector.AttemptError {
	t.Helper()
	var ae *connector.AttemptError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an AttemptError", err)
	}
	return ae
}

// pushLead delivers the lead.created example and returns the DealerSocket lead's ids.
func pushLead(t *testing.T, f *dealersockettest.Server) map[string]string {
	t.Helper()
	return deliver(t, delivery(t, f, "lead.created", nil)).Correlation
}

// ---- leads (§3 lead intake, §5 ADF) ----

func TestLeadIsAnADFLeadKeepingBothIDs(t *testing.T) {
	f := newFake(t)
	res := deliver(t, delivery(t, f, "lead.created", nil))
	reqs := f.Requests(leadPath)
	if len(reqs) != 1 {
		t.Fatalf("%d lead requests, want 1", len(reqs))
	}
	agenttest.Golden(t, "dealersocket/lead.created.xml", reqs[0].Body)
	if !bytes.HasPrefix(reqs[0].Body, []byte(adf.Header)) || reqs[0].Header.Get("Authorization") != cfg.Username+":"+cfg.Password {
		t.Error("not ADF 1.0 with the raw Authorization")
	}
	ev := f.Events()
	// [CODE S17 fixture] DSLeadId is the sales event (EventId), DSCustomerId the customer (EntityId)
	if len(ev) != 1 || res.Correlation["leadId"] != ev[0].EventID || res.Correlation["customerId"] != ev[0].EntityID {
		t.Errorf("correlation = %v, DealerSocket has %+v", res.Correlation, ev)
	}
}

func TestDuplicateLeadResolvesToTheExistingLeadNeverZero(t *testing.T) {
	for name, style := range map[string]dealersockettest.DuplicateStyle{
		"Success=true DSLeadId=0 DSCustomerId=0 [CODE S17 fixture]": dealersockettest.DuplicateSuccess,
		"Success=false DUPLICATE_LEAD [CODE S16]":                   dealersockettest.DuplicateError,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			f.Duplicates = style
			first := pushLead(t, f)
			res := deliver(t, delivery(t, f, "lead.created", map[string]any{"eventId": "evt_other", "leadId": "other"}))
			if res.Skipped || res.Correlation["leadId"] != first["leadId"] || res.Progress["duplicateOf"] != first["leadId"] {
				t.Errorf("result = %+v, want lead %s", res, first["leadId"])
			}
			if _, ok := res.Correlation["customerId"]; ok {
				t.Errorf("DSCustomerId 0 was kept: %v", res.Correlation)
			}
			if !strings.Contains(res.Summary, "already had") || len(f.Events()) != 1 {
				t.Errorf("summary %q, %d events", res.Summary, len(f.Events()))
			}
		})
	}
}

func TestLeadResponseWithoutAnyIDFails(t *testing.T) {
	f := newFake(t)
	f.Faults.Add(leadPath, agenttest.Fault{Status: http.StatusOK,
		Body: `<LeadResponse><DSExistingLeadId>0</DSExistingLeadId><DSLeadId>0</DSLeadId><DSCustomerId>0</DSCustomerId><Success>true</Success></LeadResponse>`})
	_, err := dealersocket.New().Deliver(context.Background(), delivery(t, f, "lead.created", nil))
	ae := attemptError(t, err)
	if ae.Class != connector.ClassPlatform || ae.Progress["leadId"] != "" || !strings.Contains(ae.Message, "names no lead") {
		t.Fatalf("err = %+v, want a platform error and no lead id", ae)
	}
}

func TestLeadErrorsFailTheAttempt(t *testing.T) {
	f := newFake(t)
	f.Faults.Add(leadPath, agenttest.Fault{Status: http.StatusOK,
		Body: `<LeadResponse><Success>false</Success><ErrorCode>INVALID_DEALER</ErrorCode><ErrorMessage>Dealer is inactive</ErrorMessage></LeadResponse>`})
	// [CODE S16] the deactivated account's answer, verbatim
	f.Faults.Add(leadPath, agenttest.Fault{Status: http.StatusOK,
		Body: `<LeadResponse xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><DSExistingLeadId>0</DSExistingLeadId><DSLeadId>0</DSLeadId><ErrorCode>ACCOUNT_DEACTIVATED</ErrorCode><ErrorMessage>Dealer Account previously setup turned off at CRM level</ErrorMessage><StackTrace i:nil="true" /><Success>false</Success></LeadResponse>`})
	c := dealersocket.New()
	_, err := c.Deliver(context.Background(), delivery(t, f, "lead.created", nil))
	if ae := attemptError(t, err); ae.Class != connector.ClassPlatform || ae.Permanent || !strings.Contains(ae.Message, "INVALID_DEALER") || !strings.Contains(ae.Message, "inactive") {
		t.Errorf("err = %v, want a platform error with DealerSocket's code and message", err)
	}
	_, err = c.Deliver(context.Background(), delivery(t, f, "lead.created", nil))
	if ae := attemptError(t, err); !ae.Permanent || !strings.Contains(ae.Message, "ACCOUNT_DEACTIVATED") {
		t.Errorf("err = %+v, want a permanent failure", ae)
	}
}

func TestWrongPasswordIsAnAuthErrorWithoutCredentials(t *testing.T) {
	f := newFake(t)
	d := delivery(t, f, "lead.created", nil)
	d.Credentials["password"] = "hunter2-wrong"
	_, err := dealersocket.New().Deliver(context.Background(), d)
	ae := attemptError(t, err)
	if ae.Class != connector.ClassAuth {
		t.Fatalf("err = %v, want auth", err)
	}
	for _, secret := range []string{"hunter2-wrong", cfg.DirectLeadKey, cfg.Username} {
		if strings.Contains(ae.Error()+ae.Snippet, secret) {
			t.Errorf("the error shows a credential (%s): %v", secret, ae)
		}
	}
}

func TestConnectionErrorDoesNotShowTheLeadKey(t *testing.T) {
	f := newFake(t)
	d := delivery(t, f, "lead.created", nil)
	f.Close() // nothing listens any more
	_, err := dealersocket.New().Deliver(context.Background(), d)
	if ae := attemptError(t, err); ae.Class != connector.ClassConnection || strings.Contains(err.Error(), cfg.DirectLeadKey) {
		t.Fatalf("err = %v, want connection without the key", err)
	}
}

// A lead created but whose answer was lost is sent again; DealerSocket's duplicate answer
// resolves the retry to the same lead (§3: DSExistingLeadId).
func TestLeadWhoseAnswerWasLostIsNotCreatedTwice(t *testing.T) {
	f := newFake(t)
	f.LoseAnswer(leadPath, 0)
	c := dealersocket.New()
	d := delivery(t, f, "lead.created", nil)
	_, err := c.Deliver(context.Background(), d)
	if ae := attemptError(t, err); ae.Class != connector.ClassConnection {
		t.Fatalf("attempt 1: %v, want a connection error", err)
	}
	d.Attempt, d.Progress = 2, attemptError(t, err).Progress
	res := deliver(t, d)
	ev := f.Events()
	if len(ev) != 1 || len(f.Customers()) != 1 || res.Correlation["leadId"] != ev[0].EventID {
		t.Fatalf("%d events, %d customers, correlation %v", len(ev), len(f.Customers()), res.Correlation)
	}
}

func TestLeadReceivedIsALeadOnce(t *testing.T) {
	f := newFake(t)
	d := delivery(t, f, "lead.received", nil)
	res := deliver(t, d)
	if len(f.Requests(leadPath)) != 1 || res.Correlation["leadId"] == "" || res.Correlation["customerId"] == "" {
		t.Fatalf("result %+v", res)
	}
	agenttest.Golden(t, "dealersocket/lead.received.xml", f.Requests(leadPath)[0].Body)
	d = delivery(t, f, "lead.received", nil)
	d.Known = res.Correlation
	if res := deliver(t, d); !res.Skipped || len(f.Requests("")) != 1 {
		t.Fatalf("a lead DealerSocket has: %+v", res)
	}
}

// ---- appointments: ActivityInsert (§3 signed APIs; S17 lib/xml/activity.rb, S18 ActivityClient) ----

func TestAppointmentOfAKnownLeadIsASignedActivityInsert(t *testing.T) {
	f := newFake(t)
	lead := pushLead(t, f)
	d := onLead(t, f, lead, "appointment.created", nil)
	res := deliver(t, d)
	acts := f.Requests(activityPath)
	if len(acts) != 1 || len(f.Requests(leadPath)) != 1 {
		t.Fatalf("requests %v", paths(f.Requests("")))
	}
	a := acts[0]
	if a.Method != http.MethodPost || a.Header.Get("Content-Type") != "application/xml" ||
		a.Header.Get("Authentication") != dealersocket.Sign(cfg.PublicKey, cfg.SecretKey, a.Body) {
		t.Errorf("activity %s, %q, %q", a.Method, a.Header.Get("Content-Type"), a.Header.Get("Authentication"))
	}
	agenttest.Golden(t, "dealersocket/appointment.created.activity.xml", a.Body)
	stored := f.Activities()
	if len(stored) != 1 || res.Correlation["activityId"] != stored[0].ActivityID || stored[0].EventID != lead["leadId"] || stored[0].EntityID != lead["customerId"] {
		t.Errorf("result %+v, activities %+v", res, stored)
	}
	if res.LeadCorrelation != nil {
		t.Errorf("lead correlation %v for a lead already saved", res.LeadCorrelation)
	}
}

func TestRescheduleAndCancelUpdateTheActivity(t *testing.T) {
	f := newFake(t)
	lead := pushLead(t, f)
	d := onLead(t, f, lead, "appointment.created", nil)
	created := deliver(t, d)

	d = delivery(t, f, "appointment.rescheduled", nil)
	d.Lead, d.Known = lead, created.Correlation
	res := deliver(t, d)
	put := f.Requests(activityPath)[1]
	if put.Method != http.MethodPut || res.Correlation["activityId"] != created.Correlation["activityId"] {
		t.Fatalf("reschedule: %s, %+v", put.Method, res)
	}
	agenttest.Golden(t, "dealersocket/appointment.rescheduled.activity.xml", put.Body)

	d = delivery(t, f, "appointment.cancelled", map[string]any{"appointmentId": "apt_7c1e90d4", "appointmentType": "sales"})
	d.Lead, d.Known = lead, res.Correlation
	deliver(t, d)
	acts := f.Activities()
	if len(acts) != 1 || acts[0].Updates != 2 || acts[0].Status != "Cancelled" || len(f.Requests(activityPath)) != 3 {
		t.Fatalf("activities %+v", acts)
	}
}

func TestCancelOfAnAppointmentWithoutActivityIsAWorkNote(t *testing.T) {
	f := newFake(t)
	lead := pushLead(t, f)
	d := onLead(t, f, lead, "appointment.cancelled", nil)
	res := deliver(t, d)
	notes := f.WorkNotes()
	if len(notes) != 1 || len(f.Activities()) != 0 || !strings.Contains(notes[0].Note, "cancelled") || !strings.Contains(res.Summary, "work note") {
		t.Fatalf("notes %+v, summary %q", notes, res.Summary)
	}
	agenttest.Golden(t, "dealersocket/appointment.cancelled.worknote.xml", f.Requests(notePath)[0].Body)
}

func TestAppointmentOfAnUnknownLeadSendsTheLeadFirstAndResumes(t *testing.T) {
	f := newFake(t)
	c := dealersocket.New()
	f.Faults.Add(activityPath, agenttest.Fault{Status: http.StatusBadGateway, Body: "upstream"})
	d := delivery(t, f, "appointment.cancelled", map[string]any{"eventType": "appointment.created"}) // the trade-in example
	_, err := c.Deliver(context.Background(), d)
	ae := attemptError(t, err)
	if ae.StatusCode != http.StatusBadGateway || ae.Progress["leadId"] == "" || ae.Progress["customerId"] == "" {
		t.Fatalf("attempt 1: err = %+v, want 502 with the lead in progress", ae)
	}
	d.Attempt, d.Progress = 2, ae.Progress
	res := deliver(t, d)
	if n := len(f.Requests(leadPath)); n != 1 {
		t.Fatalf("%d ADF leads sent, want 1 (the retry resumes at the activity)", n)
	}
	agenttest.Golden(t, "dealersocket/appointment.created.tradein.xml", f.Requests(leadPath)[0].Body)
	ev := f.Events()
	want := map[string]string{"leadId": ev[0].EventID, "customerId": ev[0].EntityID}
	if res.LeadCorrelation["leadId"] != want["leadId"] || res.LeadCorrelation["customerId"] != want["customerId"] || res.Correlation["activityId"] == "" {
		t.Errorf("result = %+v, want lead ids %v", res, want)
	}
}

// A lead DealerSocket reported as a duplicate comes without its customer (DSCustomerId 0):
// the appointment finds it with SearchEntity and the event search [CODE S17, S18].
func TestAppointmentFindsTheCustomerOfADuplicate(t *testing.T) {
	f := newFake(t)
	existing := f.AddCustomer(dealersockettest.Customer{GivenName: "Ana", FamilyName: "Diaz", Emails: []string{"ana.diaz@example.com"}})
	// another customer with the same email but without the lead: passed over
	f.AddCustomer(dealersockettest.Customer{GivenName: "Ana", FamilyName: "D.", Emails: []string{"ana.diaz@example.com"}})
	lead := pushLead(t, f)
	if lead["leadId"] != existing || lead["customerId"] != "" {
		t.Fatalf("duplicate lead: %v", lead)
	}
	d := onLead(t, f, lead, "appointment.created", nil)
	res := deliver(t, d)
	owner := f.Events()[0].EntityID
	if res.LeadCorrelation["customerId"] != owner || res.LeadCorrelation["leadId"] != existing || f.Activities()[0].EntityID != owner {
		t.Fatalf("result %+v, want customer %s", res, owner)
	}
	agenttest.Golden(t, "dealersocket/customer.search.email.xml", f.Requests(searchPath)[0].Body)
	searches := f.Requests(dealersockettest.EventSearchPath)
	if len(searches) == 0 || searches[0].Header.Get("Authentication") != dealersocket.Sign(cfg.PublicKey, cfg.SecretKey, searches[0].Body) {
		t.Fatalf("event searches %v", paths(f.Requests("")))
	}
	agenttest.Golden(t, "dealersocket/customer.eventsearch.json", agenttest.Indent(t, searches[0].Body))
}

func TestAppointmentWithoutSignedAPIKeysIsSkipped(t *testing.T) {
	f := newFake(t)
	d := delivery(t, f, "appointment.created", nil)
	delete(d.Credentials, "publicKey")
	delete(d.Credentials, "secretKey")
	if res := deliver(t, d); !res.Skipped || len(f.Requests("")) != 0 {
		t.Fatalf("res = %+v, %d requests; want skipped without requests", res, len(f.Requests("")))
	}
}

// [CODE S17 test] a refused insert answers Success=false, EVENTID_INVALID and ActivityId 0.
func TestRefusedActivityFailsWithDealerSocketsError(t *testing.T) {
	f := newFake(t)
	lead := pushLead(t, f)
	d := delivery(t, f, "appointment.created", nil)
	d.Lead = map[string]string{"leadId": "999", "customerId": lead["customerId"]}
	_, err := dealersocket.New().Deliver(context.Background(), d)
	ae := attemptError(t, err)
	if ae.Class != connector.ClassPlatform || !strings.Contains(ae.Message, "EVENTID_INVALID") || ae.Progress["activityId"] != "" {
		t.Fatalf("err = %+v", ae)
	}
	f.Faults.Add(activityPath, agenttest.Fault{Status: http.StatusOK, Body: `<ActivityResponse xmlns="http://www.dealersocket.com"><Success>true</Success><ActivityId>0</ActivityId></ActivityResponse>`})
	d.Lead = lead
	_, err = dealersocket.New().Deliver(context.Background(), d)
	if ae := attemptError(t, err); !strings.Contains(ae.Message, "no ActivityId") {
		t.Fatalf("an ActivityId of 0: %v", err)
	}
}

// ---- dispositions: eventsales LeadStatus (S17 lib/xml/event.rb, S18 LeadClient) and WorkNote (S18) ----

func TestDispositionSetsTheStatusAndAppendsAWorkNote(t *testing.T) {
	f := newFake(t)
	lead := pushLead(t, f)
	d := onLead(t, f, lead, "lead.update.disposition", nil)
	res := deliver(t, d)
	// the status set, the note, and the sales event read back (what the change feed will see)
	if got := paths(f.Requests("")[1:]); strings.Join(got, ",") != "POST "+salesPath+",POST "+notePath+",POST "+dealersockettest.EventSearchPath {
		t.Fatalf("requests %v", got)
	}
	agenttest.Golden(t, "dealersocket/lead.update.disposition.eventsales.xml", f.Requests(salesPath)[0].Body)
	agenttest.Golden(t, "dealersocket/lead.update.disposition.worknote.xml", f.Requests(notePath)[0].Body)
	ev := f.Events()[0]
	if ev.LeadStatus != "Contacted" || res.Correlation["leadStatus"] != "Contacted" || res.Correlation["dispositionCode"] != "APPT_SET" {
		t.Errorf("event %+v, correlation %v", ev, res.Correlation)
	}
	// [CODE S18] LeadStatus Contacted reads back as status 221, "Up/Contacted"
	if want := map[string]string{connector.PushedStatus: "Up/Contacted", connector.PushedAssigneeID: dealersockettest.DefaultAssignee}; !reflect.DeepEqual(res.Pushed, want) {
		t.Errorf("pushed %v, want %v", res.Pushed, want)
	}
	if n := f.WorkNotes(); len(n) != 1 || !strings.Contains(n[0].Note, "Test drive booked") {
		t.Errorf("work notes %+v", n)
	}

	// a code dispositionStatuses does not map: only the note, no state pushed
	d = onLead(t, f, lead, "lead.update.disposition", map[string]any{"eventId": "evt_disp_2", "dispositionCode": "CALLBACK", "dispositionName": "Call back"})
	res = deliver(t, d)
	if len(f.Requests(salesPath)) != 1 || len(f.WorkNotes()) != 2 || res.Correlation["leadStatus"] != "" || f.Events()[0].StatusChanges != 1 || res.Pushed != nil {
		t.Errorf("unmapped code: %+v", res)
	}
}

// When the sales event cannot be read back, the disposition still succeeds: the state pushed
// is the status's name as the event search names it.
func TestDispositionPushedStateWithoutTheReadBack(t *testing.T) {
	f := newFake(t)
	lead := pushLead(t, f)
	f.Faults.Add(dealersockettest.EventSearchPath, agenttest.Fault{Status: http.StatusInternalServerError, Body: "down"})
	d := onLead(t, f, lead, "lead.update.disposition", map[string]any{"dispositionCode": "LOST", "dispositionName": "Lost"})
	res := deliver(t, d)
	if f.Events()[0].LeadStatus != "Lost" || !reflect.DeepEqual(res.Pushed, map[string]string{connector.PushedStatus: "Lost"}) {
		t.Fatalf("result %+v, event %+v", res, f.Events()[0])
	}
}

func TestLeadStatusNames(t *testing.T) {
	for v, want := range map[string]string{
		"Contacted": "Up/Contacted", "Up/Contacted": "Up/Contacted", "Write-Up": "Write Up", "write up": "Write Up",
		"Pending F&I": "Pending F&I", "Store Visit": "Store Visit", "Demo Vehicle": "Demo", "225": "Sold", "Lost": "Lost",
		"Appointment Set": "Appointment Set", // not a status DealerSocket names: itself
	} {
		if got := dealersocket.LeadStatusName(v); got != want {
			t.Errorf("LeadStatusName(%q) = %q, want %q", v, got, want)
		}
	}
	if dealersocket.StatusName("225") != "Sold" || dealersocket.StatusName("230") != "230" {
		t.Error("StatusName")
	}
}

func TestDispositionResumesWithoutSettingTheStatusTwice(t *testing.T) {
	f := newFake(t)
	lead := pushLead(t, f)
	f.Faults.Add(notePath, agenttest.Fault{Status: http.StatusServiceUnavailable, Body: "busy"})
	c := dealersocket.New()
	d := onLead(t, f, lead, "lead.update.disposition", nil)
	_, err := c.Deliver(context.Background(), d)
	ae := attemptError(t, err)
	d.Attempt, d.Progress = 2, ae.Progress
	deliver(t, d)
	if ev := f.Events()[0]; ev.StatusChanges != 1 || len(f.WorkNotes()) != 1 {
		t.Fatalf("event %+v, %d notes", ev, len(f.WorkNotes()))
	}
}

func TestDispositionOfAnUnknownLeadSendsTheLeadFirst(t *testing.T) {
	f := newFake(t)
	res := deliver(t, delivery(t, f, "lead.update.disposition", nil))
	ev := f.Events()
	if len(ev) != 1 || res.LeadCorrelation["leadId"] != ev[0].EventID || res.LeadCorrelation["customerId"] != ev[0].EntityID || ev[0].LeadStatus != "Contacted" {
		t.Fatalf("result %+v, events %+v", res, ev)
	}
	if body := string(f.Requests(leadPath)[0].Body); !strings.Contains(body, "DealerAI disposition: Appointment set (APPT_SET).") {
		t.Errorf("ADF comments: %s", body)
	}
}

func TestDispositionStatusesSetting(t *testing.T) {
	got, err := dealersocket.ParseDispositionStatuses(" APPT_SET = Store Visit , LOST=Lost,")
	if err != nil || len(got) != 2 || got["APPT_SET"] != "Store Visit" || got["LOST"] != "Lost" {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"APPT_SET", "=Lost", "LOST=", "A=x,A=y"} {
		if _, err := dealersocket.ParseDispositionStatuses(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	errs := dealersocket.Platform.Check(map[string]string{"dispositionStatuses": "oops", "activityTypeElement": "Type"}, map[string]string{"publicKey": "p"})
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	if strings.Join(fields, ",") != "credentials.secretKey,settings.activityTypeElement,settings.dispositionStatuses" {
		t.Errorf("check: %v", errs)
	}
}

// ---- contact updates: Customer UC (S17 Customer#update, S18 CustomerClient), SearchEntity ----

func TestContactUpdateKeepsTheRestOfTheCustomer(t *testing.T) {
	f := newFake(t)
	lead := pushLead(t, f)
	// what DealerSocket's users added to the customer: an address and a work phone
	f.UpdateCustomer(lead["customerId"], func(c *dealersockettest.Customer) {
		c.Address = dealersockettest.Address{LineOne: "1200 Barton Springs Rd", CityName: "Austin", Postcode: "78704", State: "TX"}
		c.Phones = append(c.Phones, dealersockettest.Phone{Number: "5125550100", UseCode: "Work"})
	})
	d := onLead(t, f, lead, "contact.basic.updated", map[string]any{"contactId": "ct_51d0e7b2"})
	res := deliver(t, d)
	if got := paths(f.Requests("")[1:]); strings.Join(got, ",") != "POST "+searchPath+",PUT "+customerPath {
		t.Fatalf("requests %v", got)
	}
	agenttest.Golden(t, "dealersocket/customer.search.id.xml", f.Requests(searchPath)[0].Body)
	agenttest.Golden(t, "dealersocket/contact.basic.updated.customer.xml", f.Requests(customerPath)[0].Body)
	c := f.Customers()[0]
	want := dealersockettest.Customer{EntityID: lead["customerId"], GivenName: "Sofia", FamilyName: "Rossi-Baker",
		Emails:  []string{"sofia.rb@example.com", "ana.diaz@example.com"},
		Phones:  []dealersockettest.Phone{{Number: "5125550186", UseCode: "Cell"}, {Number: "5125550199", UseCode: "Home"}, {Number: "5125550100", UseCode: "Work"}},
		Address: dealersockettest.Address{LineOne: "1200 Barton Springs Rd", CityName: "Austin", Postcode: "78704", State: "TX"}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("customer after the update:\n got %+v\nwant %+v", c, want)
	}
	if res.Correlation["customerId"] != c.EntityID {
		t.Errorf("correlation %v", res.Correlation)
	}
}

func TestContactUpdateOfAnUnknownLeadWaitsOnceThenSkips(t *testing.T) {
	f := newFake(t)
	d := delivery(t, f, "contact.basic.updated", nil)
	_, err := dealersocket.New().Deliver(context.Background(), d)
	if ae := attemptError(t, err); ae.Class != connector.ClassPendingDependency {
		t.Fatalf("attempt 1: %v", err)
	}
	d.Attempt = 2
	if res := deliver(t, d); !res.Skipped || len(f.Requests("")) != 0 {
		t.Fatalf("attempt 2: %+v, %d requests", res, len(f.Requests("")))
	}
}

// ---- vehicle of interest: eventsales SalesActivity/Vehicle (S17 lib/xml/event.rb, S18 LeadClient) ----

func TestVehicleOfInterestGoesOnTheSalesEvent(t *testing.T) {
	f := newFake(t)
	lead := pushLead(t, f)
	d := onLead(t, f, lead, "contact.vehicleofinterest.updated", nil)
	deliver(t, d)
	agenttest.Golden(t, "dealersocket/contact.vehicleofinterest.updated.eventsales.xml", f.Requests(salesPath)[0].Body)
	if v := f.Events()[0].Vehicle; v.Model != "RAV4 XLE" || v.Stock != "T24117" || f.Events()[0].LeadStatus != "" {
		t.Fatalf("event %+v", f.Events()[0])
	}
}

func TestSign(t *testing.T) {
	// HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), RFC 4231-style vector
	got := dealersocket.Sign("pub", "key", []byte("The quick brown fox jumps over the lazy dog"))
	if want := "pub:97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func paths(reqs []agenttest.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Method + " " + r.Path
	}
	return out
}
