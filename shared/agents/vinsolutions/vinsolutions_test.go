package vinsolutions_test

// The connector against vinsolutionstest, a fake that keeps what it is sent and refuses what
// the public record says VinSolutions refuses. Subtest names and comments cite where each
// shape comes from (docs/agents.md#sources): the section (§2 VinSolutions) and its
// source ids — [CODE S12] RingCentral's connector, [CODE S14] Kanvas's, [NOTE S13] sandbox
// probes, [NOTE S15] notes of the Lead Management OpenAPI document (docs/agents.md#vinsolutions).

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/vinsolutions"
	"github.com/dealerai/integrations/shared/agents/vinsolutions/vinsolutionstest"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

const apiKey = "vs-api-key"

// fake is the fake CRM behind its token endpoint, recording the API requests.
type fake struct {
	*vinsolutionstest.CRM
	*httptest.Server
	issuer *agenttest.Issuer
	rec    agenttest.Recorder
}

func newFake(t testing.TB) *fake {
	f := &fake{issuer: &agenttest.Issuer{ClientID: "vs-client", ClientSecret: "vs-secret", Scope: "PublicAPI"}}
	f.CRM = &vinsolutionstest.CRM{APIKey: apiKey, DealerID: 5001, UserID: 7001, Authorized: f.issuer.Authorized}
	mux := http.NewServeMux()
	mux.Handle("POST /connect/token", f.issuer)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		r.Body = io.NopCloser(bytes.NewReader(f.rec.Record(r).Body))
		f.CRM.ServeHTTP(w, r)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fake) delivery(t *testing.T, event string, edits map[string]any) *connector.Delivery {
	return &connector.Delivery{
		Event:    agenttest.Event(t, event, edits),
		DealerID: "dlr_42",
		Settings: map[string]string{
			"baseUrl": f.URL, "tokenUrl": f.URL + "/connect/token",
			"dealerId": "5001", "userId": "7001", "leadSourceId": "9001", "leadType": "INTERNET",
		},
		Credentials: map[string]string{"clientId": "vs-client", "clientSecret": "vs-secret", "apiKey": apiKey},
		Attempt:     1,
		HTTP:        &http.Client{},
	}
}

// calls are the API requests received, "METHOD /path".
func (f *fake) calls() []string {
	var out []string
	for _, r := range f.rec.Requests("") {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

func (f *fake) last(t *testing.T, method, path string) agenttest.Request {
	t.Helper()
	reqs := f.rec.Requests(path)
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method {
			return reqs[i]
		}
	}
	t.Fatalf("no %s %s in %v", method, path, f.calls())
	return agenttest.Request{}
}

func (f *fake) golden(t *testing.T, method, path, name string) {
	t.Helper()
	agenttest.Golden(t, "vinsolutions/"+name, agenttest.Indent(t, f.last(t, method, path).Body))
}

func deliver(t *testing.T, d *connector.Delivery) (connector.Result, error) {
	t.Helper()
	return vinsolutions.New(oauth.NewCache()).Deliver(context.Background(), d)
}

func mustDeliver(t *testing.T, d *connector.Delivery) connector.Result {
	t.Helper()
	res, err := deliver(t, d)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func attemptError(t *testing.T, err error, class string) *connector.AttemptError {
	t.Helper()
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != class {
		t.Fatalf("err = %v, want an attempt error of class %s", err, class)
	}
	return ae
}

func TestLeadCreated(t *testing.T) {
	f := newFake(t)
	res := mustDeliver(t, f.delivery(t, "lead.created", nil))

	want := []string{
		"GET /gateway/v1/contact", "GET /gateway/v1/contact", // search by email, then phone
		"POST /gateway/v1/contact", "POST /leads", "POST /vehicles/interest",
		"GET /leads/id/1002", "PUT /leads/id/1002", // the note, appended
	}
	if got := f.calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	if got := res.Correlation; len(got) != 2 || got["contactId"] != "1001" || got["leadId"] != "1002" {
		t.Errorf("correlation = %v", got)
	}
	// the lead as read for the note: the state the two-way sync is not to send back
	if got := res.Pushed; len(got) != 2 || got["status"] != "ACTIVE" || got["subStatus"] != "ACTIVE_NEW_LEAD" {
		t.Errorf("pushed = %v", got)
	}
	if res.Skipped || res.StatusCode != http.StatusOK || res.Progress["vehicleInterest"] != "added" || res.Progress["leadNote"] != "added" {
		t.Errorf("result = %+v", res)
	}
	if f.issuer.Grants() != 1 {
		t.Errorf("%d tokens fetched, want 1", f.issuer.Grants())
	}

	t.Run("contact: POST /gateway/v1/contact {DealerId, UserId, ContactInformation, LeadInformation:{}} §2.1 [CODE S12, S14]", func(t *testing.T) {
		f.golden(t, "POST", "/gateway/v1/contact", "lead.created.contact.json")
		c := f.Contacts()
		if len(c) != 1 || c[0].FirstName != "Ana" || c[0].LastName != "Diaz" || !slices.Equal(c[0].Emails, []string{"ana.diaz@example.com"}) {
			t.Errorf("contacts %+v", c)
		}
	})
	t.Run("phone: 10 digits, no country code §2.1 [CODE S12, S14]", func(t *testing.T) {
		if c := f.Contacts(); !slices.Equal(c[0].Phones, []string{"5125550199"}) {
			t.Errorf("phones %v", c[0].Phones)
		}
	})
	t.Run("contact search: GET /gateway/v1/contact?dealerId&userId&email|phone §2.2 [CODE S12, S14]", func(t *testing.T) {
		reqs := f.rec.Requests("/gateway/v1/contact")
		if q := reqs[0].Query; q.Get("email") != "ana.diaz@example.com" || q.Get("dealerId") != "5001" || q.Get("userId") != "7001" {
			t.Errorf("email search %v", q)
		}
		if q := reqs[1].Query; q.Get("phone") != "5125550199" {
			t.Errorf("phone search %v", q)
		}
	})
	t.Run("lead: POST /leads?dealerId {leadSource href, leadType, contact href}, answer {leadId} §2.1 [CODE S12, S14; NOTE S15]", func(t *testing.T) {
		f.golden(t, "POST", "/leads", "lead.created.lead.json")
		if q := f.last(t, "POST", "/leads").Query; q.Get("dealerId") != "5001" {
			t.Errorf("query %v", q)
		}
		l := f.Leads()
		if len(l) != 1 || l[0].ContactID != 1001 || l[0].LeadSourceID != 9001 || l[0].LeadType != "INTERNET" {
			t.Errorf("leads %+v", l)
		}
	})
	t.Run("vehicle of interest: POST /vehicles/interest {lead, vehicles:[…]} §2.1 [CODE S14], §6 (6)", func(t *testing.T) {
		f.golden(t, "POST", "/vehicles/interest", "lead.created.vehicle-interest.json")
		if v := f.Vehicles(); len(v) != 1 || v[0].LeadID != 1002 || v[0].Fields["vin"] != "2T3P1RFV8RW412345" {
			t.Errorf("vehicles %+v", v)
		}
	})
	t.Run("note: GET /leads/id, then PUT {notes} with the note appended §2.1 [CODE S12], §6 (7)", func(t *testing.T) {
		f.golden(t, "PUT", "/leads/id/1002", "lead.created.note.json")
		if n := f.Leads()[0].Notes; n != "[2026-11-27 15:04 UTC] DealerAI lead from AutoTrader. Comments: Looking for the XLE trim in blue, can trade in my 2017 Civic." {
			t.Errorf("notes %q", n)
		}
	})
	t.Run("media type per resource: gateway JSON, /leads v3, /vehicles v1 §2 [CODE S12, S14; NOTE S13, S15]", func(t *testing.T) {
		for _, r := range f.rec.Requests("") {
			want := map[string]string{"gateway": "application/json", "leads": "application/vnd.coxauto.v3+json", "vehicles": "application/vnd.coxauto.v1+json"}[strings.Split(r.Path, "/")[1]]
			if r.Header.Get("Accept") != want {
				t.Errorf("%s %s: Accept %q, want %q", r.Method, r.Path, r.Header.Get("Accept"), want)
			}
			if ct := r.Header.Get("Content-Type"); (len(r.Body) > 0) != (ct == want) {
				t.Errorf("%s %s: Content-Type %q with a body of %d bytes", r.Method, r.Path, ct, len(r.Body))
			}
		}
	})
	t.Run("auth: Bearer and api_key on every call §2 [CODE S12, S14; NOTE S13]", func(t *testing.T) {
		for _, r := range f.rec.Requests("") {
			if r.Header.Get("api_key") != apiKey || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") || r.Header.Get("x-api-key") != "" {
				t.Errorf("%s %s: headers %v", r.Method, r.Path, r.Header)
			}
		}
	})
}

func TestLeadWithoutVehicleNorCommentsIsNoteless(t *testing.T) {
	f := newFake(t)
	edits := map[string]any{"vehicleYear": nil, "vehicleMake": nil, "vehicleModel": nil, "vehicleVin": nil, "comments": nil, "source": nil}
	mustDeliver(t, f.delivery(t, "lead.created", edits))
	want := []string{"GET /gateway/v1/contact", "GET /gateway/v1/contact", "POST /gateway/v1/contact", "POST /leads"}
	if got := f.calls(); !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
}

func TestLeadReceivedIsPushedLikeALead(t *testing.T) {
	f := newFake(t)
	res := mustDeliver(t, f.delivery(t, "lead.received", nil))
	if res.Correlation["leadId"] == "" || len(f.Leads()) != 1 || f.Contacts()[0].LastName != "Lee" {
		t.Errorf("result %+v, leads %+v, contacts %+v", res, f.Leads(), f.Contacts())
	}
}

// TestAKnownCustomerKeepsTheirContact: the contact search finds the dealership's own contact,
// which the lead then names: no second contact §2.2 [CODE S12, S14].
func TestAKnownCustomerKeepsTheirContact(t *testing.T) {
	for name, seed := range map[string][2]string{"by email": {"ANA.DIAZ@example.com", ""}, "by phone": {"", "5125550199"}} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			id := f.AddContact("Ana", "Diaz", seed[0], seed[1])
			res := mustDeliver(t, f.delivery(t, "lead.created", nil))
			if len(f.Contacts()) != 1 || res.Correlation["contactId"] != "1001" || f.Leads()[0].ContactID != id {
				t.Errorf("contacts %+v, correlation %v", f.Contacts(), res.Correlation)
			}
			if slices.Contains(f.calls(), "POST /gateway/v1/contact") {
				t.Errorf("a contact was created: %v", f.calls())
			}
		})
	}
}

func TestTenDigits(t *testing.T) {
	for in, want := range map[string]string{
		"+15125550199": "5125550199", "(512) 555-0199": "5125550199", "1-512-555-0199": "5125550199", "5125550199": "5125550199",
		"+44 20 7946 0958": "", "555-0199": "", "": "", "+1 512 555 01999": "",
	} {
		if got := vinsolutions.TenDigits(in); got != want {
			t.Errorf("TenDigits(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAPhoneVinSolutionsCannotKeepGoesInTheNote: Phones[].Number takes at most 10 digits
// §2.1 [CODE S12, S14]: a foreign number is not sent on the contact (it would be refused) but
// is kept in the lead's note.
func TestAPhoneVinSolutionsCannotKeepGoesInTheNote(t *testing.T) {
	f := newFake(t)
	mustDeliver(t, f.delivery(t, "lead.created", map[string]any{"phone": "+44 20 7946 0958"}))
	if c := f.Contacts(); len(c[0].Phones) != 0 {
		t.Errorf("phones %v", c[0].Phones)
	}
	if n := f.Leads()[0].Notes; !strings.Contains(n, "Phone: +44 20 7946 0958 (not a 10-digit number") {
		t.Errorf("notes %q", n)
	}
	if n := len(f.rec.Requests("/gateway/v1/contact")); n != 2 {
		t.Errorf("calls %v: want one search (by email: the phone cannot be searched), then the create", f.calls())
	}
}

// TestNotesAreAppendedNeverReplaced: PUT /leads/id/{id} with notes replaces the lead's notes
// §2.1, §6 (7) [CODE S12, S14], so every note is the CRM's notes, then ours.
func TestNotesAreAppendedNeverReplaced(t *testing.T) {
	f := newFake(t)
	contact := f.AddContact("Ana", "Diaz", "ana.diaz@example.com", "")
	lead := f.AddLead(contact, 9001, "Called the customer, left a message.\n")
	known := map[string]string{"contactId": "1001", "leadId": "1002"}

	// the lead's own event, for a lead VinSolutions has already
	d := f.delivery(t, "lead.created", nil)
	d.Known = known
	mustDeliver(t, d)
	// its disposition, and an appointment
	d = f.delivery(t, "lead.update.disposition", nil)
	d.Lead = known
	mustDeliver(t, d)
	d = f.delivery(t, "appointment.created", nil)
	d.Lead = known
	mustDeliver(t, d)

	if lead != 1002 || len(f.Leads()) != 1 || len(f.Contacts()) != 1 {
		t.Fatalf("leads %+v, contacts %+v", f.Leads(), f.Contacts())
	}
	want := "Called the customer, left a message.\n\n" +
		"[2026-11-27 15:04 UTC] DealerAI lead from AutoTrader. Comments: Looking for the XLE trim in blue, can trade in my 2017 Civic.\n\n" +
		"[2026-11-28 10:12 UTC] DealerAI disposition: Appointment set (APPT_SET). Notes: Test drive booked for Saturday morning.\n\n" +
		"[2026-11-28 10:11 UTC] DealerAI: sales appointment created for 2026-11-30T16:00:00Z. Vehicle: 2024 Toyota RAV4 (VIN 2T3P1RFV8RW412345). Stock: T24117. Contact: Ana Diaz, ana.diaz@example.com, +15125550199. DealerAI appointment apt_7c1e90d4."
	if got := f.Leads()[0].Notes; got != want {
		t.Errorf("notes:\n%s\nwant:\n%s", got, want)
	}
	f.golden(t, "PUT", "/leads/id/1002", "appointment.created.note.json")
	// a lead VinSolutions had: its vehicles are searched before one is added
	if calls := f.calls(); !slices.Equal(calls[:2], []string{"GET /vehicles/interest", "POST /vehicles/interest"}) {
		t.Errorf("calls %v", calls)
	}
}

// TestRetryAfterALostAnswerCreatesNothingTwice: the platform did the work but the answer was
// lost (the connection dropped, or a 500 after the fact); the next attempt, given the
// progress, finds what was created instead of creating it again.
func TestRetryAfterALostAnswerCreatesNothingTwice(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault vinsolutionstest.Fault
		class string
	}{
		{"contact (found by email)", vinsolutionstest.Fault{Method: "POST", Path: "/gateway/v1/contact", After: true, Drop: true, Times: 1}, connector.ClassConnection},
		{"lead (found among the contact's leads)", vinsolutionstest.Fault{Method: "POST", Path: "/leads", After: true, Status: 500, Times: 1}, connector.ClassHTTPStatus},
		{"vehicle of interest (found among the lead's)", vinsolutionstest.Fault{Method: "POST", Path: "/vehicles/interest", After: true, Drop: true, Times: 1}, connector.ClassConnection},
		{"note (found in the lead's notes)", vinsolutionstest.Fault{Method: "PUT", Path: "/leads/id/1002", After: true, Drop: true, Times: 1}, connector.ClassConnection},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.Fail(tc.fault)
			c := vinsolutions.New(oauth.NewCache())
			d := f.delivery(t, "lead.created", nil)
			_, err := c.Deliver(context.Background(), d)
			ae := attemptError(t, err, tc.class)

			d.Attempt, d.Progress = 2, ae.Progress
			res, err := c.Deliver(context.Background(), d)
			if err != nil {
				t.Fatalf("attempt 2: %v", err)
			}
			if len(f.Contacts()) != 1 || len(f.Leads()) != 1 || len(f.Vehicles()) != 1 {
				t.Errorf("%d contacts, %d leads, %d vehicles; want one each", len(f.Contacts()), len(f.Leads()), len(f.Vehicles()))
			}
			if n := f.Leads()[0].Notes; strings.Count(n, "DealerAI lead from AutoTrader") != 1 {
				t.Errorf("notes %q", n)
			}
			if res.Correlation["contactId"] != "1001" || res.Correlation["leadId"] != "1002" {
				t.Errorf("correlation %v", res.Correlation)
			}
		})
	}
}

// TestTheLeadSearchReadsEitherPageShape: GET /leads answers items (S12, S16) or results in
// some versions [NOTE S15], leadSource as an href (v3) or an object, ids nested in v4.
func TestTheLeadSearchReadsEitherPageShape(t *testing.T) {
	f := newFake(t)
	f.Fail(vinsolutionstest.Fault{Method: "POST", Path: "/leads", After: true, Status: 500, Times: 1})
	c := vinsolutions.New(oauth.NewCache())
	d := f.delivery(t, "lead.created", nil)
	_, err := c.Deliver(context.Background(), d)
	ae := attemptError(t, err, connector.ClassHTTPStatus)

	created := f.Leads()[0].Created.UTC().Format("2006-01-02T15:04:05.999") // no zone: UTC
	crm := f.Config.Handler
	f.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" && r.URL.Path == "/leads" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"totalItems":2,"results":[`+
				`{"leadId":{"href":"https://api.vinsolutions.com/leads/id/77","id":77},"leadSource":{"leadSourceId":9002,"leadSourceName":"Other"},"createdUtc":"`+created+`"},`+
				`{"leadId":{"href":"https://api.vinsolutions.com/leads/id/1002","id":1002},"leadSource":{"leadSourceId":9001,"leadSourceName":"DealerAI"},"createdUtc":"`+created+`"}]}`)
			return
		}
		crm.ServeHTTP(w, r)
	})
	d.Attempt, d.Progress = 2, ae.Progress
	res, err := c.Deliver(context.Background(), d)
	if err != nil || res.Correlation["leadId"] != "1002" || len(f.Leads()) != 1 {
		t.Fatalf("attempt 2: %+v %v, leads %+v", res, err, f.Leads())
	}
}

// TestAnEarlierLeadOfTheCustomerIsNotTakenForOurs: the lead search after a lost answer takes
// only a lead created since the request, not the customer's earlier one of the same source.
func TestAnEarlierLeadOfTheCustomerIsNotTakenForOurs(t *testing.T) {
	f := newFake(t)
	var past atomic.Bool
	past.Store(true)
	f.CRM.Now = func() time.Time { // set before any request
		if past.Load() {
			return time.Now().Add(-time.Hour)
		}
		return time.Now()
	}
	earlier := f.AddLead(f.AddContact("Ana", "Diaz", "ana.diaz@example.com", ""), 9001, "")
	past.Store(false)
	f.Fail(vinsolutionstest.Fault{Method: "POST", Path: "/leads", After: true, Status: 500, Times: 1})
	c := vinsolutions.New(oauth.NewCache())
	d := f.delivery(t, "lead.created", nil)
	_, err := c.Deliver(context.Background(), d)
	d.Attempt, d.Progress = 2, attemptError(t, err, connector.ClassHTTPStatus).Progress
	res, err := c.Deliver(context.Background(), d)
	if err != nil || earlier != 1002 || res.Correlation["leadId"] != "1003" || len(f.Leads()) != 2 {
		t.Fatalf("attempt 2: %+v %v, leads %+v", res, err, f.Leads())
	}
}

// TestAnAnswerWithoutTheIDFails: a create answered without the id it is documented to carry
// is an error, never an empty or "0" id.
func TestAnAnswerWithoutTheIDFails(t *testing.T) {
	f := newFake(t)
	f.Fail(vinsolutionstest.Fault{Method: "POST", Path: "/leads", After: true, Status: http.StatusCreated, Times: 1})
	_, err := deliver(t, f.delivery(t, "lead.created", nil))
	ae := attemptError(t, err, connector.ClassPlatform)
	if !strings.Contains(ae.Message, "leadId") || ae.Progress["contactId"] != "1001" || ae.Progress["leadId"] != "" {
		t.Errorf("error %+v", ae)
	}
}

func TestParseIDReadsEveryShapeOfAnID(t *testing.T) {
	for body, want := range map[string]string{
		`{"ContactId":1001}`: "1001", `{"contactid":"1001"}`: "1001", `{"leadId":"https://api.vinsolutions.com/leads/id/77"}`: "77",
		`{"leadId":{"href":"https://api.vinsolutions.com/leads/id/78","id":78}}`: "78", // v4 nests {href, id} [NOTE S13]
		`{"leadId":null}`: "", `[]`: "", `{"leadId":{"a":{"b":1}}}`: "",
	} {
		field := "leadId"
		if strings.Contains(strings.ToLower(body), "contactid") {
			field = "ContactId"
		}
		if got := vinsolutions.ParseID([]byte(body), field); got != want {
			t.Errorf("ParseID(%s) = %q, want %q", body, got, want)
		}
	}
}

// TestAppointmentOfALeadVinSolutionsDoesNotHave: Lead Management has no appointment call
// [NOTE S13, S15]; the appointment is a note on a lead created from its own fields first, and
// the lead's ids are returned for the DealerAI lead.
func TestAppointmentOfALeadVinSolutionsDoesNotHave(t *testing.T) {
	f := newFake(t)
	res := mustDeliver(t, f.delivery(t, "appointment.created", nil))
	want := []string{"GET /gateway/v1/contact", "GET /gateway/v1/contact", "POST /gateway/v1/contact", "POST /leads", "GET /leads/id/1002", "PUT /leads/id/1002"}
	if got := f.calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	if got := res.LeadCorrelation; len(got) != 2 || got["contactId"] != "1001" || got["leadId"] != "1002" {
		t.Errorf("lead correlation %v", got)
	}
	if c := f.Contacts()[0]; c.FirstName != "Ana" || c.LastName != "Diaz" {
		t.Errorf("contact %+v", c)
	}
	if n := f.Leads()[0].Notes; !strings.HasPrefix(n, "[2026-11-28 10:11 UTC] DealerAI: sales appointment created") {
		t.Errorf("notes %q", n)
	}

	t.Run("a service appointment or a cancellation makes no lead", func(t *testing.T) {
		f := newFake(t)
		for _, d := range []*connector.Delivery{
			f.delivery(t, "appointment.created", map[string]any{"appointmentType": "service", "vehicleStockNumber": nil}),
			f.delivery(t, "appointment.cancelled", nil),
		} {
			if res, err := deliver(t, d); err != nil || !res.Skipped {
				t.Errorf("%s: %+v %v, want skipped", d.Event.Type, res, err)
			}
		}
		if calls := f.calls(); len(calls) != 0 {
			t.Errorf("calls %v", calls)
		}
	})
	t.Run("a name of one word gets the stand-in last name [CODE S12]", func(t *testing.T) {
		f := newFake(t)
		mustDeliver(t, f.delivery(t, "appointment.created.testdrive", map[string]any{"name": "Ana"}))
		if c := f.Contacts()[0]; c.FirstName != "Ana" || c.LastName != "Customer" {
			t.Errorf("contact %+v", c)
		}
	})
}

func TestDispositionIsANote(t *testing.T) {
	f := newFake(t)
	f.AddLead(f.AddContact("Ana", "Diaz", "", ""), 9001, "")
	d := f.delivery(t, "lead.update.disposition", nil)
	d.Lead = map[string]string{"contactId": "1001", "leadId": "1002"}
	res := mustDeliver(t, d)
	if got := f.calls(); !slices.Equal(got, []string{"GET /leads/id/1002", "PUT /leads/id/1002"}) {
		t.Errorf("calls %v", got)
	}
	f.golden(t, "PUT", "/leads/id/1002", "lead.update.disposition.note.json")
	// what was pushed last, for the change feed to come
	if res.Correlation["dispositionCode"] != "APPT_SET" || res.Correlation["leadId"] != "1002" {
		t.Errorf("correlation %v", res.Correlation)
	}

	t.Run("of a lead VinSolutions does not have: skipped", func(t *testing.T) {
		f := newFake(t)
		res, err := deliver(t, f.delivery(t, "lead.update.disposition", nil))
		if err != nil || !res.Skipped || len(f.calls()) != 0 {
			t.Errorf("%+v %v, calls %v", res, err, f.calls())
		}
	})
}

// TestContactUpdateKeepsTheCRMsOwn: the contact is read (GET /gateway/v1/contact/{id} → an
// array of one) and written back (PUT /gateway/v1/contact/{id}) with the new names and only
// the email or phone it lacks §2.2 [CODE S14].
func TestContactUpdateKeepsTheCRMsOwn(t *testing.T) {
	f := newFake(t)
	id := f.AddContact("Sofia", "Rossi", "sofia.work@example.com", "5125550186")
	d := f.delivery(t, "contact.basic.updated", nil)
	d.Lead = map[string]string{"contactId": "1001", "leadId": "1002"}
	res := mustDeliver(t, d)
	if got := f.calls(); !slices.Equal(got, []string{"GET /gateway/v1/contact/1001", "PUT /gateway/v1/contact/1001"}) {
		t.Fatalf("calls %v", got)
	}
	f.golden(t, "PUT", "/gateway/v1/contact/1001", "contact.basic.updated.contact.json")
	c := f.Contacts()[0]
	if c.ID != id || c.LastName != "Rossi-Baker" || !slices.Equal(c.Emails, []string{"sofia.work@example.com", "sofia.rb@example.com"}) ||
		!slices.Equal(c.Phones, []string{"5125550186"}) {
		t.Errorf("contact %+v", c)
	}
	if res.Correlation["contactId"] != "1001" {
		t.Errorf("correlation %v", res.Correlation)
	}
	if q := f.last(t, "GET", "/gateway/v1/contact/1001").Query; q.Get("dealerId") != "5001" || q.Get("userId") != "7001" {
		t.Errorf("query %v", q)
	}

	t.Run("again: up to date, no write", func(t *testing.T) {
		res := mustDeliver(t, d)
		if n := len(f.rec.Requests("/gateway/v1/contact/1001")); n != 3 || !strings.Contains(res.Summary, "up to date") {
			t.Errorf("%d requests, summary %q", n, res.Summary)
		}
	})
	t.Run("of a contact VinSolutions does not have: skipped", func(t *testing.T) {
		f := newFake(t)
		res, err := deliver(t, f.delivery(t, "contact.basic.updated", nil))
		if err != nil || !res.Skipped || len(f.calls()) != 0 {
			t.Errorf("%+v %v, calls %v", res, err, f.calls())
		}
	})
}

func TestVehicleOfInterestIsAddedOnce(t *testing.T) {
	f := newFake(t)
	f.AddLead(f.AddContact("Ana", "Diaz", "", ""), 9001, "")
	d := f.delivery(t, "contact.vehicleofinterest.updated", nil)
	d.Lead = map[string]string{"contactId": "1001", "leadId": "1002"}
	mustDeliver(t, d)
	if got := f.calls(); !slices.Equal(got, []string{"GET /vehicles/interest", "POST /vehicles/interest"}) {
		t.Fatalf("calls %v", got)
	}
	f.golden(t, "POST", "/vehicles/interest", "contact.vehicleofinterest.updated.vehicle-interest.json")
	if q := f.last(t, "GET", "/vehicles/interest").Query; q.Get("leadId") != "1002" || q.Get("dealerId") != "5001" {
		t.Errorf("search query %v", q)
	}

	res := mustDeliver(t, d)
	if n := len(f.Vehicles()); n != 1 || !strings.Contains(res.Summary, "already there") {
		t.Errorf("%d vehicles, summary %q", n, res.Summary)
	}
}

func TestExpiredTokenIsRefreshedOnce(t *testing.T) {
	f := newFake(t)
	c := vinsolutions.New(oauth.NewCache())
	if _, err := c.Deliver(context.Background(), f.delivery(t, "lead.created", nil)); err != nil {
		t.Fatal(err)
	}
	f.issuer.ExpireAll() // the cached token is now refused with 401
	d := f.delivery(t, "appointment.created", nil)
	d.Lead = map[string]string{"leadId": "1002"}
	if _, err := c.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if g := f.issuer.Grants(); g != 2 {
		t.Errorf("%d tokens fetched, want 2 (one refresh)", g)
	}
	if reads := f.rec.Requests("/leads/id/1002"); len(reads) != 5 { // the lead's read and note; the appointment's read, refused once, then read and note
		t.Errorf("%d requests to the lead, want 5", len(reads))
	}
}

func TestTokenRefusedTwiceIsAnAuthError(t *testing.T) {
	f := newFake(t)
	f.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/connect/token" {
			f.issuer.ServeHTTP(w, r)
			return
		}
		f.rec.Record(r)
		w.WriteHeader(http.StatusUnauthorized)
	})
	_, err := deliver(t, f.delivery(t, "lead.created", nil))
	if ae := attemptError(t, err, connector.ClassAuth); ae.StatusCode != 401 {
		t.Fatalf("err = %v, want auth 401", err)
	}
	if g := f.issuer.Grants(); g != 2 {
		t.Errorf("%d tokens fetched, want 2", g)
	}
	if n := len(f.rec.Requests("")); n != 2 {
		t.Errorf("%d API requests, want 2", n)
	}
}

// TestWrongClientSecretIsAnAuthError: the token is a form-authenticated client-credentials
// grant with scope PublicAPI §2 [CODE S12–S14].
func TestWrongClientSecretIsAnAuthError(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "lead.created", nil)
	d.Credentials["clientSecret"] = "wrong-secret-value"
	_, err := deliver(t, d)
	ae := attemptError(t, err, connector.ClassAuth)
	if strings.Contains(err.Error(), "wrong-secret-value") || strings.Contains(ae.Snippet, "wrong-secret-value") {
		t.Errorf("the error shows the secret: %v", err)
	}
	if !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("err = %v, want the OAuth error code", err)
	}
}

// TestAKnownLeadIsNotWrittenAgain: a lead VinSolutions has with its vehicle and note already
// (the same DealerAI lead published again) is only read.
func TestAKnownLeadIsNotWrittenAgain(t *testing.T) {
	f := newFake(t)
	mustDeliver(t, f.delivery(t, "lead.created", nil))
	before := len(f.calls())
	d := f.delivery(t, "lead.created", map[string]any{"eventId": "evt_republished"})
	d.Known = map[string]string{"contactId": "1001", "leadId": "1002"}
	res := mustDeliver(t, d)
	if got := f.calls()[before:]; !slices.Equal(got, []string{"GET /vehicles/interest", "GET /leads/id/1002"}) {
		t.Errorf("calls %v", got)
	}
	if !strings.Contains(res.Summary, "vehicle of interest already there, note already there") {
		t.Errorf("summary %q", res.Summary)
	}
}

func TestOtherEventsAreSkipped(t *testing.T) {
	f := newFake(t)
	res, err := deliver(t, f.delivery(t, "contact.created", nil))
	if err != nil || !res.Skipped || len(f.calls()) != 0 {
		t.Errorf("%+v %v", res, err)
	}
}
