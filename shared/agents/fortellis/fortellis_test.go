package fortellis_test

// The connector against the fake Fortellis (package fortellistest), which enforces the
// published shapes. Each test names the fact it rests on (docs/agents.md#sources): a section
// (§1.1 auth and errors, §1.2 the Elead push, §1.5 service appointments) and the
// source: [SPEC S1] Elead Sales Opportunities, [SPEC S2] Elead customers, [SPEC S3] Elead
// product reference data (CDK's OpenAPI definitions), [SPEC S6] Fortellis developer
// documentation, [SPEC S11] the Appointments v3 reference, [CODE S7] a Fortellis Node client,
// [CODE S8] a production Elead integration, [CODE S10] saved Appointments v3 output.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/fortellis"
	"github.com/dealerai/integrations/shared/agents/fortellis/fortellistest"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

const (
	apiKey         = "fx-api-key"
	apiSecret      = "fx-api-secret"
	subscriptionID = "sub-3f9a"
)

func newFake(t *testing.T) *fortellistest.Fake {
	return fortellistest.New(t, apiKey, apiSecret, subscriptionID)
}

// delivery is an attempt of the example event name (edited) to the fake, with the platform's
// defaults and settings overrides.
func delivery(t *testing.T, f *fortellistest.Fake, name string, edits map[string]any, settings ...string) *connector.Delivery {
	s := f.Settings()
	for i := 0; i+1 < len(settings); i += 2 {
		s[settings[i]] = settings[i+1]
	}
	return &connector.Delivery{
		Event:       agenttest.Event(t, name, edits),
		DealerID:    "dlr_42",
		Settings:    fortellis.Platform.WithDefaults(s),
		Credentials: map[string]string{"apiKey": apiKey, "apiSecret": apiSecret},
		Attempt:     1,
		HTTP:        &http.Client{},
	}
}

func deliver(t *testing.T, c *fortellis.Connector, d *connector.Delivery) connector.Result {
	t.Helper()
	res, err := c.Deliver(context.Background(), d)
	if err != nil {
		t.Fatalf("%s: %v", d.Event.Type, err)
	}
	return res
}

func attemptError(t *testing.T, err error) *connector.AttemptError {
	t.Helper()
	var ae *connector.AttemptError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an *AttemptError", err)
	}
	return ae
}

// lastBody is the body of the last request to path, indented for a golden file.
func lastBody(t *testing.T, f *fortellistest.Fake, path string) []byte {
	t.Helper()
	reqs := f.Requests(path)
	if len(reqs) == 0 {
		t.Fatalf("no request to %s", path)
	}
	return agenttest.Indent(t, reqs[len(reqs)-1].Body)
}

func paths(f *fortellistest.Fake) []string {
	var out []string
	for _, r := range f.Requests("") {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// knownLead is the saved ids of a lead the fake has: a customer and an opportunity.
func knownLead(f *fortellistest.Fake) map[string]string {
	c := f.Add(fortellistest.Customers, map[string]any{"firstName": "Ana", "lastName": "Diaz",
		"emails": []any{map[string]any{"address": "ana.diaz@example.com", "emailType": "Personal"}}})
	o := f.Add(fortellistest.Opportunities, map[string]any{"customerId": c, "source": "DealerAI", "upType": "Internet"})
	return map[string]string{"customerId": c, "opportunityId": o, "createdFrom": "lead.created"}
}

// ---- §1.2 the lead: customer, then opportunity ----

func TestLeadCreatedSearchesThenCreatesTheCustomerAndTheOpportunity(t *testing.T) {
	f := newFake(t)
	res := deliver(t, fortellis.New(oauth.NewCache()), delivery(t, f, "lead.created", nil))
	want := []string{"POST " + fortellis.CustomerSearchPath, "POST " + fortellis.CustomersPath, "POST " + fortellis.OpportunitiesPath}
	if got := paths(f); !equal(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	t.Run("customer search [SPEC S2]", func(t *testing.T) {
		if q := f.Requests(fortellis.CustomerSearchPath)[0].Query; q.Get("page") != "1" || q.Get("pageSize") == "" {
			t.Errorf("query %v", q)
		}
		agenttest.Golden(t, "fortellis/lead.created.customer-search.json", lastBody(t, f, fortellis.CustomerSearchPath))
	})
	t.Run("customer: phones with preferredTimeToContact, no isPreferred [SPEC S2, §6 item 4]", func(t *testing.T) {
		agenttest.Golden(t, "fortellis/lead.created.customer.json", lastBody(t, f, fortellis.CustomersPath))
	})
	t.Run("opportunity with the vehicle sought and the comments ≤1500 [SPEC S1]", func(t *testing.T) {
		agenttest.Golden(t, "fortellis/lead.created.opportunity.json", lastBody(t, f, fortellis.OpportunitiesPath))
	})
	t.Run("ids: the customer's at id, the opportunity's at opportunity.id [SPEC S1, S2; §6 item 1]", func(t *testing.T) {
		customers, opps := f.Records(fortellistest.Customers), f.Records(fortellistest.Opportunities)
		if len(customers) != 1 || len(opps) != 1 {
			t.Fatalf("%d customers, %d opportunities", len(customers), len(opps))
		}
		if res.Correlation["customerId"] != customers[0]["id"] || res.Correlation["opportunityId"] != opps[0]["id"] ||
			res.Correlation["createdFrom"] != "lead.created" {
			t.Errorf("correlation = %v", res.Correlation)
		}
	})
}

func TestLeadReceivedIsAnOpportunityWithoutAVehicle(t *testing.T) {
	f := newFake(t)
	deliver(t, fortellis.New(oauth.NewCache()), delivery(t, f, "lead.received", nil))
	opps := f.Records(fortellistest.Opportunities)
	if len(opps) != 1 || len(opps[0]["soughtVehicles"].([]any)) != 0 || opps[0]["comments"] != "DealerAI lead received." {
		t.Fatalf("opportunities %v", opps)
	}
}

func TestALeadAlreadyPushedIsSkipped(t *testing.T) {
	f := newFake(t)
	d := delivery(t, f, "lead.received", nil)
	d.Known = map[string]string{"customerId": "c-1", "opportunityId": "o-1"}
	if res := deliver(t, fortellis.New(oauth.NewCache()), d); !res.Skipped || len(f.Requests("")) != 0 {
		t.Fatalf("res = %+v, %d requests", res, len(f.Requests("")))
	}
}

func TestALeadAfterItsAppointmentCompletesTheOpportunity(t *testing.T) {
	// The appointment created the opportunity from its own fields; the lead's own event then
	// adds what the appointment did not carry: its vehicle [SPEC S1 vehicleSought] and its
	// comments [SPEC S1 comment].
	f := newFake(t)
	lead := knownLead(f)
	lead["createdFrom"] = "appointment.created"
	d := delivery(t, f, "lead.created", nil)
	d.Known = lead
	res := deliver(t, fortellis.New(oauth.NewCache()), d)
	want := []string{"GET " + fortellis.OpportunitiesPath + "/" + lead["opportunityId"], "POST " + fortellis.VehicleSoughtPath, "POST " + fortellis.OpportunityCommentPath}
	if got := paths(f); !equal(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	if vs := f.Records(fortellistest.VehiclesSought); len(vs) != 1 || vs[0]["vin"] != "2T3P1RFV8RW412345" || vs[0]["isPrimary"] != true {
		t.Errorf("vehicles sought %v", vs)
	}
	if res.Correlation["opportunityId"] != lead["opportunityId"] || res.Correlation["createdFrom"] != "appointment.created" {
		t.Errorf("correlation %v", res.Correlation)
	}
	// the opportunity has the vehicle already: only the comments
	f2 := newFake(t)
	lead = knownLead(f2)
	lead["createdFrom"] = "appointment.created"
	d = delivery(t, f2, "lead.created", map[string]any{"vehicleVin": nil, "vehicleModel": "Camry"}) // another vehicle
	d.Known = lead
	deliver(t, fortellis.New(oauth.NewCache()), d)
	d = delivery(t, f2, "lead.created", map[string]any{"eventId": "evt_01JDQ9FTLEADAGAIN000000000", "vehicleVin": nil, "vehicleModel": "Camry"})
	d.Known = lead
	deliver(t, fortellis.New(oauth.NewCache()), d)
	if n := len(f2.Requests(fortellis.VehicleSoughtPath)); n != 1 {
		t.Errorf("%d vehicles sought added, want 1 (the second finds it)", n)
	}
}

func TestAnExistingCustomerIsFoundNotCreatedAgain(t *testing.T) {
	// [SPEC S2] POST …/customers/search → {items[{id, emails, phones, rank}]}
	f := newFake(t)
	id := f.Add(fortellistest.Customers, map[string]any{"firstName": "Ana", "lastName": "Diaz",
		"emails": []any{map[string]any{"address": "ANA.DIAZ@example.com", "emailType": "Work"}}})
	res := deliver(t, fortellis.New(oauth.NewCache()), delivery(t, f, "lead.created", nil))
	if n := len(f.Requests(fortellis.CustomersPath)); n != 0 || res.Correlation["customerId"] != id {
		t.Fatalf("%d customers created, correlation %v; want the existing %s", n, res.Correlation, id)
	}
	// a customer found may have opportunities: they are looked at before one is created
	if n := len(f.Requests(fortellis.OpportunitiesOfCustomer + id)); n != 1 {
		t.Errorf("%d opportunity searches", n)
	}
	if n := len(f.Records(fortellistest.Opportunities)); n != 1 {
		t.Errorf("%d opportunities", n)
	}
}

func TestASameNamedCustomerWithAnotherPhoneIsNotTaken(t *testing.T) {
	f := newFake(t)
	f.Add(fortellistest.Customers, map[string]any{"firstName": "Ana", "lastName": "Lopez",
		"phones": []any{map[string]any{"number": "+15125550199", "phoneType": "Home", "preferredTimeToContact": "Day"}}})
	deliver(t, fortellis.New(oauth.NewCache()), delivery(t, f, "lead.created", map[string]any{"email": nil}))
	if n := len(f.Records(fortellistest.Customers)); n != 2 {
		t.Fatalf("%d customers; a phone shared with another last name must not match", n)
	}
}

func TestAnActiveOpportunityOfTheCustomerGetsTheLeadsCommentsAsAComment(t *testing.T) {
	// [SPEC S1] POST …/opportunities/comment {opportunityId, comment} → 204, no body (§6 item 2)
	f := newFake(t)
	lead := knownLead(f)
	res := deliver(t, fortellis.New(oauth.NewCache()), delivery(t, f, "lead.created", nil))
	if res.Correlation["opportunityId"] != lead["opportunityId"] || len(f.Requests(fortellis.OpportunitiesPath)) != 0 {
		t.Fatalf("correlation %v, requests %v", res.Correlation, paths(f))
	}
	agenttest.Golden(t, "fortellis/lead.created.comment.json", lastBody(t, f, fortellis.OpportunityCommentPath))
	if c := f.Records(fortellistest.Comments); len(c) != 1 || c[0]["opportunityId"] != lead["opportunityId"] {
		t.Errorf("comments %v", c)
	}
}

func TestIsDuplicateResolvesToTheExistingOpportunity(t *testing.T) {
	// [SPEC S1] 200 {opportunity, isDuplicate, opportunityActivityId}
	f := newFake(t)
	f.DetectDuplicates = true
	lead := knownLead(f)
	// the customer's opportunities are not found (an empty search may be a 404 [CODE S8])
	f.Faults.Add(fortellis.OpportunitiesOfCustomer+lead["customerId"], agenttest.Fault{Status: http.StatusNotFound,
		Body: `{"code":"NOT-FOUND","message":"no opportunities","referenceId":"r-1"}`})
	res := deliver(t, fortellis.New(oauth.NewCache()), delivery(t, f, "lead.created", nil))
	if res.Correlation["opportunityId"] != lead["opportunityId"] || !strings.Contains(res.Summary, "duplicate") {
		t.Fatalf("result %+v, want the existing opportunity %s", res, lead["opportunityId"])
	}
	if n := len(f.Records(fortellistest.Opportunities)); n != 1 {
		t.Errorf("%d opportunities", n)
	}
	if n := len(f.Records(fortellistest.Comments)); n != 1 {
		t.Errorf("%d comments: the duplicate gets the lead's comments", n)
	}
}

func TestAnOpportunityIDAtTheTopLevelIsNotTaken(t *testing.T) {
	// §6 item 1: the id is at opportunity.id; an answer without it is a platform error, not "".
	f := newFake(t)
	f.Faults.Add(fortellis.OpportunitiesPath, agenttest.Fault{Status: http.StatusOK, Body: `{"id":"top-level"}`})
	_, err := fortellis.New(oauth.NewCache()).Deliver(context.Background(), delivery(t, f, "lead.created", nil))
	ae := attemptError(t, err)
	if ae.Class != connector.ClassPlatform || !strings.Contains(ae.Message, "opportunity.id") || ae.Progress["customerId"] == "" {
		t.Fatalf("err = %+v", ae)
	}
}

func TestALostOpportunityAnswerCreatesNothingTwice(t *testing.T) {
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	f.DropAfter(http.MethodPost, fortellis.OpportunitiesPath)
	d := delivery(t, f, "lead.created", nil)
	_, err := c.Deliver(context.Background(), d)
	ae := attemptError(t, err)
	if ae.Class != connector.ClassConnection || ae.Progress["customerId"] == "" || ae.Progress["opportunityId"] != "" {
		t.Fatalf("attempt 1: %+v", ae)
	}
	if n := len(f.Records(fortellistest.Opportunities)); n != 1 {
		t.Fatalf("the fake made %d opportunities", n)
	}
	d.Attempt, d.Progress = 2, ae.Progress
	res := deliver(t, c, d)
	opps := f.Records(fortellistest.Opportunities)
	if len(opps) != 1 || res.Correlation["opportunityId"] != opps[0]["id"] || len(f.Records(fortellistest.Customers)) != 1 {
		t.Fatalf("%d opportunities (%v), correlation %v", len(opps), opps, res.Correlation)
	}
	if n := len(f.Records(fortellistest.Comments)); n != 0 {
		t.Errorf("%d comments: the lost create carried them already", n)
	}
}

func TestALostCustomerAnswerCreatesNothingTwice(t *testing.T) {
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	f.FailAfter(http.MethodPost, fortellis.CustomersPath, http.StatusInternalServerError)
	d := delivery(t, f, "lead.created", nil)
	_, err := c.Deliver(context.Background(), d)
	ae := attemptError(t, err)
	if ae.StatusCode != 500 || ae.Class != connector.ClassPlatform || !strings.Contains(ae.Message, "referenceId") {
		t.Fatalf("attempt 1: %+v", ae)
	}
	d.Attempt, d.Progress = 2, ae.Progress
	deliver(t, c, d)
	if n, m := len(f.Records(fortellistest.Customers)), len(f.Records(fortellistest.Opportunities)); n != 1 || m != 1 {
		t.Fatalf("%d customers, %d opportunities", n, m)
	}
}

func TestResumeAfterAFailedOpportunityStep(t *testing.T) {
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	f.Faults.Add(fortellis.OpportunitiesPath, agenttest.Fault{Status: http.StatusBadGateway, Body: `{"code":"TARGET-SYSTEM-UNREACHABLE","message":"down"}`})
	d := delivery(t, f, "lead.created", nil)
	_, err := c.Deliver(context.Background(), d)
	ae := attemptError(t, err)
	if ae.Class != connector.ClassConnection || ae.Progress["customerId"] == "" {
		t.Fatalf("attempt 1: %+v", ae)
	}
	d.Attempt, d.Progress = 2, ae.Progress
	deliver(t, c, d)
	if n := len(f.Requests(fortellis.CustomersPath)); n != 1 {
		t.Errorf("%d customer creates, want 1", n)
	}
}

// ---- §1.2 sales appointments: scheduled activities ----

func TestSalesAppointmentIsAScheduledActivityOfTheCompanysType(t *testing.T) {
	// [CODE S7, S8] POST …/activities/schedule {opportunityId, dueDate, activityName,
	// activityType (int)}; the type from GET …/activities/types, per company (§6 item 3)
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	d := delivery(t, f, "appointment.created.testdrive", nil)
	d.Lead = knownLead(f)
	res := deliver(t, c, d)
	agenttest.Golden(t, "fortellis/appointment.created.testdrive.activity.json", lastBody(t, f, fortellis.ScheduleActivityPath))
	acts := f.Records(fortellistest.Activities)
	if len(acts) != 1 || res.Correlation["activityId"] != acts[0]["id"] || res.Correlation["opportunityId"] != d.Lead["opportunityId"] ||
		res.Correlation["dueDate"] != "2026-11-29T14:30:00Z" {
		t.Fatalf("correlation %v, activities %v", res.Correlation, acts)
	}
	// the types are cached for the company
	d2 := delivery(t, f, "appointment.created", nil)
	d2.Lead = d.Lead
	deliver(t, c, d2)
	if n := len(f.Requests(fortellis.ActivityTypesPath)); n != 1 {
		t.Errorf("%d activity type reads, want 1 (cached)", n)
	}
}

func TestActivityTypeSetting(t *testing.T) {
	for _, tc := range []struct {
		setting string
		want    float64
		reads   int
	}{{"37", 37, 0}, {"note", 37, 1}, {"SEND EMAIL/LETTER", 14, 1}} {
		t.Run(tc.setting, func(t *testing.T) {
			f := newFake(t)
			d := delivery(t, f, "appointment.created", nil, "activityType", tc.setting)
			d.Lead = knownLead(f)
			deliver(t, fortellis.New(oauth.NewCache()), d)
			if a := f.Records(fortellistest.Activities); len(a) != 1 || a[0]["activityType"] != tc.want {
				t.Fatalf("activities %v", a)
			}
			if n := len(f.Requests(fortellis.ActivityTypesPath)); n != tc.reads {
				t.Errorf("%d type reads, want %d", n, tc.reads)
			}
		})
	}
	t.Run("a name the company lacks", func(t *testing.T) {
		f := newFake(t)
		d := delivery(t, f, "appointment.created", nil, "activityType", "Showroom Visit")
		d.Lead = knownLead(f)
		_, err := fortellis.New(oauth.NewCache()).Deliver(context.Background(), d)
		ae := attemptError(t, err)
		if !ae.Permanent || !strings.Contains(ae.Message, "Appointment (7)") || len(f.Records(fortellistest.Activities)) != 0 {
			t.Fatalf("err = %+v", ae)
		}
	})
}

func TestActivityTypesAreReadAgainAfterTheTTL(t *testing.T) {
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	c.SetClock(func() time.Time { return now })
	lead := knownLead(f)
	for i, step := range []time.Duration{0, fortellis.ReferenceTTL - time.Second, 2 * time.Second} {
		now = now.Add(step)
		d := delivery(t, f, "appointment.created", map[string]any{"appointmentTime": time.Date(2026, 12, 1+i, 10, 0, 0, 0, time.UTC)})
		d.Lead = lead
		deliver(t, c, d)
	}
	if n := len(f.Requests(fortellis.ActivityTypesPath)); n != 2 {
		t.Fatalf("%d type reads, want 2 (one per TTL)", n)
	}
}

func TestAnAppointmentForALeadEleadLacksCreatesTheLeadFirst(t *testing.T) {
	f := newFake(t)
	res := deliver(t, fortellis.New(oauth.NewCache()), delivery(t, f, "appointment.created.testdrive", nil))
	want := []string{"POST " + fortellis.CustomerSearchPath, "POST " + fortellis.CustomersPath, "POST " + fortellis.OpportunitiesPath,
		"GET " + fortellis.ActivityTypesPath, "POST " + fortellis.ScheduleActivityPath}
	if got := paths(f); !equal(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	opps := f.Records(fortellistest.Opportunities)
	if len(opps) != 1 || res.LeadCorrelation["opportunityId"] != opps[0]["id"] || res.LeadCorrelation["createdFrom"] != "appointment.created" {
		t.Fatalf("lead correlation %v", res.LeadCorrelation)
	}
	v := opps[0]["soughtVehicles"].([]any)[0].(map[string]any)
	if v["model"] != "Accord Hybrid" || v["isNew"] != true || v["isPrimary"] != true {
		t.Errorf("vehicle sought %v", v)
	}
	if c := f.Records(fortellistest.Customers)[0]; c["firstName"] != "Priya" || c["lastName"] != "Natarajan" {
		t.Errorf("customer %v", c)
	}
}

func TestALostScheduleAnswerSchedulesNothingTwice(t *testing.T) {
	// the opportunity's activities [CODE S7, S8] GET …/activities/history/byOpportunityId/{id}
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	f.DropAfter(http.MethodPost, fortellis.ScheduleActivityPath)
	d := delivery(t, f, "appointment.created", nil)
	d.Lead = knownLead(f)
	_, err := c.Deliver(context.Background(), d)
	ae := attemptError(t, err)
	d.Attempt, d.Progress = 2, ae.Progress
	res := deliver(t, c, d)
	acts := f.Records(fortellistest.Activities)
	if len(acts) != 1 || res.Correlation["activityId"] != acts[0]["id"] {
		t.Fatalf("activities %v, correlation %v", acts, res.Correlation)
	}
}

func TestRescheduledSalesAppointment(t *testing.T) {
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	lead := knownLead(f)
	d := delivery(t, f, "appointment.created", map[string]any{"eventType": "appointment.rescheduled"})
	d.Lead = lead
	d.Known = map[string]string{"opportunityId": lead["opportunityId"], "activityId": "act-1", "dueDate": "2026-11-29T16:00:00Z"}
	deliver(t, c, d)
	a := f.Records(fortellistest.Activities)
	if len(a) != 1 || !strings.Contains(a[0]["activityName"].(string), "rescheduled") || !strings.Contains(a[0]["comments"].(string), "act-1") {
		t.Fatalf("activities %v", a)
	}
	// the same time again: nothing to do
	d.Known["dueDate"] = "2026-11-30T16:00:00Z"
	if res := deliver(t, c, d); !res.Skipped {
		t.Fatalf("res = %+v, want skipped", res)
	}
}

func TestCancelledSalesAppointmentIsACommentOnTheOpportunity(t *testing.T) {
	f := newFake(t)
	d := delivery(t, f, "appointment.cancelled", nil)
	d.Lead = knownLead(f)
	d.Known = map[string]string{"activityId": "act-9"}
	res := deliver(t, fortellis.New(oauth.NewCache()), d)
	agenttest.Golden(t, "fortellis/appointment.cancelled.comment.json", lastBody(t, f, fortellis.OpportunityCommentPath))
	if res.Correlation["status"] != "cancelled" || len(f.Records(fortellistest.Comments)) != 1 {
		t.Fatalf("res %+v", res)
	}
	// noted already
	d.Known = res.Correlation
	if res := deliver(t, fortellis.New(oauth.NewCache()), d); !res.Skipped || len(f.Records(fortellistest.Comments)) != 1 {
		t.Fatalf("res = %+v, want skipped", res)
	}
	// without a lead in Elead there is nothing to cancel
	d = delivery(t, f, "appointment.cancelled", nil)
	if res := deliver(t, fortellis.New(oauth.NewCache()), d); !res.Skipped {
		t.Fatalf("res = %+v, want skipped", res)
	}
}

// ---- §1.2 the lead's lifecycle ----

func TestDispositionIsACommentAndTheMatchingSubStatus(t *testing.T) {
	// [CODE S7, S8] POST /sales/v2/elead/opportunities/{id}/subStatus/update {subStatus};
	// the company's sub-statuses [SPEC S3] companyOpportunityStatuses
	f := newFake(t)
	d := delivery(t, f, "lead.update.disposition", nil) // "Appointment set" (APPT_SET)
	d.Lead = knownLead(f)
	res := deliver(t, fortellis.New(oauth.NewCache()), d)
	opp := d.Lead["opportunityId"]
	want := []string{"GET " + fortellis.OpportunityStatusesPath, "POST " + fortellis.OpportunityCommentPath, "POST " + fortellis.SubStatusPath(opp),
		"GET " + fortellis.OpportunitiesPath + "/" + opp} // read back: the state the two-way sync is not to send back
	if got := paths(f); !equal(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	agenttest.Golden(t, "fortellis/lead.update.disposition.comment.json", lastBody(t, f, fortellis.OpportunityCommentPath))
	agenttest.Golden(t, "fortellis/lead.update.disposition.substatus.json", lastBody(t, f, fortellis.SubStatusPath(opp)))
	// what was pushed is kept with the disposition (for two-way sync); the lead's ids are unchanged
	if res.Correlation["subStatus"] != "Appointment Set" || res.Correlation["opportunityId"] != opp || res.LeadCorrelation != nil {
		t.Fatalf("correlation %v, lead %v", res.Correlation, res.LeadCorrelation)
	}
	if res.Pushed["status"] != "Active" || res.Pushed["subStatus"] != "Appointment Set" || len(res.Pushed) != 2 {
		t.Errorf("pushed %v", res.Pushed)
	}
}

func TestDispositionMapSetsInactive(t *testing.T) {
	// [CODE S8] POST …/{id}/set-inactive {opportunityId, inactiveSubStatus, comments}
	f := newFake(t)
	d := delivery(t, f, "lead.update.disposition", map[string]any{"dispositionCode": "NOT_INTERESTED", "dispositionName": "Not interested"},
		"dispositionMap", `{"not_interested": "inactive:Not In Market", "APPT_SET": "Appointment Set"}`)
	d.Lead = knownLead(f)
	res := deliver(t, fortellis.New(oauth.NewCache()), d)
	agenttest.Golden(t, "fortellis/lead.update.disposition.set-inactive.json", lastBody(t, f, fortellis.SetInactivePath(d.Lead["opportunityId"])))
	if res.Correlation["status"] != "Inactive" || res.Correlation["subStatus"] != "Not In Market" {
		t.Fatalf("correlation %v", res.Correlation)
	}
	if res.Pushed["status"] != "Inactive" || res.Pushed["subStatus"] != "Not In Market" {
		t.Errorf("pushed %v", res.Pushed)
	}
	if n := len(f.Requests(fortellis.OpportunityStatusesPath)); n != 0 {
		t.Errorf("a mapped disposition needs no reference data (%d reads)", n)
	}
}

func TestDispositionWithoutAMatchIsOnlyAComment(t *testing.T) {
	f := newFake(t)
	d := delivery(t, f, "lead.update.disposition", map[string]any{"dispositionCode": "CALLBACK", "dispositionName": "Call back later"})
	d.Lead = knownLead(f)
	res := deliver(t, fortellis.New(oauth.NewCache()), d)
	if len(f.Records(fortellistest.Comments)) != 1 || len(f.Records(fortellistest.SubStatuses)) != 0 || res.LeadCorrelation != nil ||
		!strings.Contains(res.Summary, "dispositionMap") {
		t.Fatalf("res %+v", res)
	}
}

func TestDispositionForALeadEleadLacksCreatesTheLead(t *testing.T) {
	f := newFake(t)
	res := deliver(t, fortellis.New(oauth.NewCache()), delivery(t, f, "lead.update.disposition", nil))
	opps := f.Records(fortellistest.Opportunities)
	if len(opps) != 1 || res.LeadCorrelation["opportunityId"] != opps[0]["id"] || res.LeadCorrelation["createdFrom"] != "lead.update.disposition" ||
		res.Correlation["subStatus"] != "Appointment Set" {
		t.Fatalf("correlation %v, lead correlation %v", res.Correlation, res.LeadCorrelation)
	}
}

func TestContactUpdateMergesIntoTheCustomer(t *testing.T) {
	// [SPEC S2] GET and POST /sales/v1/elead/customers/{id}; the customer's own phones stay,
	// read-only fields of the record are not sent back
	f := newFake(t)
	id := f.Add(fortellistest.Customers, map[string]any{"firstName": "Sofia", "lastName": "Rossi", "middleName": "M",
		"phones":  []any{map[string]any{"number": "5125550100", "phoneType": "Home", "preferredTimeToContact": "Evening", "doNotCall": true}},
		"address": map[string]any{"addressLine1": "1 Main St", "zip": "78704"}})
	c := fortellis.New(oauth.NewCache())
	d := delivery(t, f, "contact.basic.updated", nil)
	d.Lead = map[string]string{"customerId": id, "opportunityId": "o-1"}
	res := deliver(t, c, d)
	agenttest.Golden(t, "fortellis/contact.basic.updated.customer.json", lastBody(t, f, fortellis.CustomersPath+"/"+id))
	if res.Correlation["customerId"] != id || !strings.Contains(res.Summary, "lastName, email added, phone added") {
		t.Fatalf("res %+v", res)
	}
	// the same again: nothing to change
	res = deliver(t, c, d)
	if n := len(f.Requests(fortellis.CustomersPath + "/" + id)); n != 3 || !strings.Contains(res.Summary, "already up to date") {
		t.Fatalf("%d requests to the customer (want 2 reads, 1 update); %+v", n, res)
	}
}

func TestContactUpdateOfAContactEleadLacksIsSkipped(t *testing.T) {
	f := newFake(t)
	res := deliver(t, fortellis.New(oauth.NewCache()), delivery(t, f, "contact.basic.updated", nil))
	if !res.Skipped || len(f.Requests("")) != 0 {
		t.Fatalf("res %+v", res)
	}
}

func TestVehicleOfInterestIsAVehicleSought(t *testing.T) {
	// [SPEC S1] POST …/vehicleSought {opportunityId, isNew, isPrimary, …} → the item {id, …}
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	d := delivery(t, f, "contact.vehicleofinterest.updated", nil)
	d.Lead = knownLead(f)
	res := deliver(t, c, d)
	agenttest.Golden(t, "fortellis/contact.vehicleofinterest.updated.vehicle-sought.json", lastBody(t, f, fortellis.VehicleSoughtPath))
	vs := f.Records(fortellistest.VehiclesSought)
	if len(vs) != 1 || res.Correlation["vehicleSoughtId"] != vs[0]["id"] {
		t.Fatalf("vehicles sought %v, correlation %v", vs, res.Correlation)
	}
	// the same vehicle again (a new event): already on the opportunity, not added twice
	d.Known = nil
	res = deliver(t, c, d)
	if n := len(f.Records(fortellistest.VehiclesSought)); n != 1 || !strings.Contains(res.Summary, "already") {
		t.Fatalf("%d vehicles sought, %+v", n, res)
	}
	// remembered: not even read
	d.Known = res.Correlation
	if res := deliver(t, c, d); !res.Skipped {
		t.Fatalf("res %+v, want skipped", res)
	}
}

func TestVehicleOfInterestToSellIsATradeIn(t *testing.T) {
	// [SPEC S1] POST …/tradein {opportunityId, year, make, model, …}
	f := newFake(t)
	d := delivery(t, f, "contact.vehicleofinterest.updated", map[string]any{"vehicleInterest": map[string]any{
		"year": "2017", "make": "Honda", "model": "Civic", "interest": "trade-in"}})
	d.Lead = knownLead(f)
	res := deliver(t, fortellis.New(oauth.NewCache()), d)
	ti := f.Records(fortellistest.TradeIns)
	if len(ti) != 1 || ti[0]["year"] != float64(2017) || res.Correlation["tradeInId"] != ti[0]["id"] {
		t.Fatalf("trade-ins %v, correlation %v", ti, res.Correlation)
	}
}

// ---- §1.5 service appointments: Appointments v3 ----

func TestServiceAppointmentIsBookedInTheV3Shape(t *testing.T) {
	// [SPEC S11, CODE S10] {dateTime, requestedServices[{description}], vehicleHref, contact,
	// concerns, remarks} → appointmentId (§6 item 5)
	f := newFake(t)
	d := delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.created"}, // the service example
		"vehicleHrefTemplate", "https://api.fortellis.io/service/v1/vehicles/{vin}")
	res := deliver(t, fortellis.New(oauth.NewCache()), d)
	agenttest.Golden(t, "fortellis/appointment.created.service.json", lastBody(t, f, fortellis.ServiceAppointmentsPath))
	a := f.Records(fortellistest.Appointments)
	if len(a) != 1 || res.Correlation["appointmentId"] != a[0]["appointmentId"] || len(f.Requests(fortellis.ScheduleActivityPath)) != 0 {
		t.Fatalf("appointments %v, correlation %v", a, res.Correlation)
	}
}

func TestServiceAppointmentRescheduleAndCancel(t *testing.T) {
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	booked := deliver(t, c, delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.created"}))
	id := booked.Correlation["appointmentId"]

	d := delivery(t, f, "appointment.rescheduled", map[string]any{"appointmentTime": "2026-12-02T15:00:00Z"})
	d.Known = booked.Correlation
	res := deliver(t, c, d)
	if n := len(f.Requests(fortellis.ServiceAppointmentsPath + "/" + id)); n != 1 || res.Correlation["dateTime"] != "2026-12-02T15:00:00Z" {
		t.Fatalf("%d updates, %+v", n, res)
	}
	if a := f.Records(fortellistest.Appointments)[0]; a["dateTime"] != "2026-12-02T15:00:00Z" {
		t.Errorf("appointment %v", a)
	}

	d = delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.cancelled"})
	d.Known = res.Correlation
	res = deliver(t, c, d)
	if r := f.Requests(fortellis.ServiceAppointmentsPath + "/" + id); r[len(r)-1].Method != http.MethodDelete || res.Correlation["status"] != "cancelled" {
		t.Fatalf("requests %v, %+v", paths(f), res)
	}
	// cancelled again (gone): not an error
	if res := deliver(t, c, d); !strings.Contains(res.Summary, "gone") {
		t.Fatalf("%+v", res)
	}
	// known to be cancelled: skipped; rescheduled after that: booked anew
	d.Known = res.Correlation
	if res := deliver(t, c, d); !res.Skipped {
		t.Fatalf("%+v", res)
	}
	d = delivery(t, f, "appointment.rescheduled", nil)
	d.Known = res.Correlation
	if res := deliver(t, c, d); res.Correlation["appointmentId"] == id || len(f.Records(fortellistest.Appointments)) != 2 {
		t.Fatalf("%+v", res)
	}
	// a cancellation of an appointment never booked: skipped
	if res := deliver(t, c, delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.cancelled"})); !res.Skipped {
		t.Fatalf("%+v", res)
	}
}

func TestALostServiceAppointmentAnswerBooksNothingTwice(t *testing.T) {
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	f.DropAfter(http.MethodPost, fortellis.ServiceAppointmentsPath)
	d := delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.created"})
	_, err := c.Deliver(context.Background(), d)
	ae := attemptError(t, err)
	d.Attempt, d.Progress = 2, ae.Progress
	res := deliver(t, c, d)
	a := f.Records(fortellistest.Appointments)
	if len(a) != 1 || res.Correlation["appointmentId"] != a[0]["appointmentId"] {
		t.Fatalf("appointments %v, correlation %v", a, res.Correlation)
	}
}

// ---- §1.1 the gateway ----

func TestEveryCallCarriesTheTokenSubscriptionAndAFreshRequestID(t *testing.T) {
	// [SPEC S6] Bearer, Subscription-Id, Request-Id (a GUID; the fake refuses one reused)
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	for range 2 {
		deliver(t, c, delivery(t, f, "lead.created", map[string]any{"leadId": nil, "contactId": nil, "email": nil}))
		f.Issuer.ExpireAll()
	}
	seen := map[string]bool{}
	for _, r := range f.Requests("") {
		id := r.Header.Get("Request-Id")
		if seen[id] || r.Header.Get("Subscription-Id") != subscriptionID || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Fatalf("%s %s headers %v", r.Method, r.Path, r.Header)
		}
		seen[id] = true
	}
	if f.Issuer.Grants() != 2 || f.Refused() != 1 {
		t.Errorf("%d grants, %d refused", f.Issuer.Grants(), f.Refused())
	}
}

func TestTokenExpiredIsRefreshedOnceInTheAttempt(t *testing.T) {
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	deliver(t, c, delivery(t, f, "lead.created", nil))
	f.Issuer.ExpireAll()
	d := delivery(t, f, "appointment.created", nil)
	d.Lead = knownLead(f)
	deliver(t, c, d)
	if g := f.Issuer.Grants(); g != 2 || f.Refused() != 1 {
		t.Errorf("%d tokens, %d refused; want 2 and 1", g, f.Refused())
	}
}

func TestGatewayErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     agenttest.Fault
		settings  []string
		class     string
		permanent bool
		message   string
		retry     time.Duration
	}{
		{name: "subscription mismatch", settings: []string{"subscriptionId", "sub-other"}, class: connector.ClassAuth, message: fortellis.SubscriptionMismatch},
		{name: "quota", fault: agenttest.Fault{Status: 429, Body: `{"code":"QUOTA-EXCEEDED","message":"Rate limit"}`, Header: map[string]string{"Retry-After": "30"}},
			class: connector.ClassHTTPStatus, message: "quota", retry: 30 * time.Second},
		{name: "inactive subscription", fault: agenttest.Fault{Status: 403, Body: `{"code":"API-SUBSCRIPTION-INACTIVE","message":"pending"}`},
			class: connector.ClassAuth, message: "not active"},
		{name: "timed out behind the gateway", fault: agenttest.Fault{Status: 504, Body: `{"code":"TARGET-SYSTEM-TIMED-OUT","message":"slow"}`},
			class: connector.ClassTimeout, message: "timed out"},
		{name: "Elead's own error body {code, message, referenceId} [SPEC S1]", fault: agenttest.Fault{Status: 400,
			Body: `{"code":"InvalidEmail","message":"emailAddress is invalid","referenceId":"9e88d251-9b50-3dfb-00ef-00c5009b003d"}`},
			class: connector.ClassPlatform, permanent: true, message: "InvalidEmail): emailAddress is invalid [referenceId 9e88d251-9b50-3dfb-00ef-00c5009b003d]"},
		{name: "wrong base URL", settings: []string{"baseUrl", "REPLACE/cdk-nowhere"}, class: connector.ClassPlatform, permanent: true, message: fortellis.APIDoesNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			if tc.fault.Status != 0 {
				f.Faults.Add(fortellis.CustomerSearchPath, tc.fault)
			}
			for i := range tc.settings {
				tc.settings[i] = strings.Replace(tc.settings[i], "REPLACE", f.URL, 1)
			}
			_, err := fortellis.New(oauth.NewCache()).Deliver(context.Background(), delivery(t, f, "lead.created", nil, tc.settings...))
			ae := attemptError(t, err)
			if ae.Class != tc.class || ae.Permanent != tc.permanent || !strings.Contains(ae.Message, tc.message) || ae.RetryAfter != tc.retry ||
				!strings.Contains(ae.Message, "Request-Id") {
				t.Fatalf("err = %+v", ae)
			}
			if f.Issuer.Grants() != 1 {
				t.Errorf("%d token grants: only a refused token is fetched again", f.Issuer.Grants())
			}
		})
	}
}

// ---- settings ----

func TestSettingsCheck(t *testing.T) {
	valid := fortellis.Platform.WithDefaults(map[string]string{"subscriptionId": "sub-1"})
	if errs := fortellis.Platform.Check(valid, nil); len(errs) != 0 {
		t.Fatalf("defaults: %v", errs)
	}
	for key, bad := range map[string]string{
		"upType":                "Web", // [SPEC S1] Unknown, Campaign, Internet, Phone, Showroom
		"dispositionMap":        `["APPT_SET"]`,
		"appointmentUpdatePath": "/service/v3/appointments",
		"appointmentCancelPath": "service/v3/appointments/{appointmentId}",
		"vehicleHrefTemplate":   "https://api.fortellis.io/service/v1/vehicles",
	} {
		s := fortellis.Platform.WithDefaults(map[string]string{"subscriptionId": "sub-1", key: bad})
		errs := fortellis.Platform.Check(s, nil)
		if len(errs) != 1 || errs[0].Field != "settings."+key {
			t.Errorf("%s = %q: %v", key, bad, errs)
		}
	}
}
