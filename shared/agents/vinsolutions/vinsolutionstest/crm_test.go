package vinsolutionstest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents/vinsolutions/vinsolutionstest"
)

const (
	gateway  = "application/json"
	leadsV3  = "application/vnd.coxauto.v3+json"
	vehicles = "application/vnd.coxauto.v1+json"
)

type request struct {
	method, path, mediaType, body string
	header                        map[string]string // overrides
}

func serve(t *testing.T) (*vinsolutionstest.CRM, func(request) (int, string)) {
	crm := &vinsolutionstest.CRM{APIKey: "key", DealerID: 5001, UserID: 7001,
		Authorized: func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer good" }}
	srv := httptest.NewServer(crm)
	t.Cleanup(srv.Close)
	do := func(r request) (int, string) {
		t.Helper()
		req, err := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer good")
		req.Header.Set("api_key", "key")
		req.Header.Set("Accept", r.mediaType)
		if r.body != "" {
			req.Header.Set("Content-Type", r.mediaType)
		}
		for k, v := range r.header {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	return crm, do
}

const goodContact = `{"DealerId":5001,"UserId":7001,"ContactInformation":{"FirstName":"Ana","LastName":"Diaz","Emails":[{"EmailAddress":"a@example.com","EmailType":"primary"}],"Phones":[{"Number":"5125550199","PhoneType":"Cell"}]},"LeadInformation":{}}`

// TestTheFakeTakesTheDocumentedShapes: the calls as the published integrations make them
// succeed, so the refusals below are about the shape each one breaks.
func TestTheFakeTakesTheDocumentedShapes(t *testing.T) {
	crm, do := serve(t)
	steps := []struct {
		r    request
		code int
		want string
	}{
		{request{method: "POST", path: "/gateway/v1/contact", mediaType: gateway, body: goodContact}, 201, `"ContactId":1001`},
		{request{method: "GET", path: "/gateway/v1/contact?dealerId=5001&userId=7001&email=A@example.com", mediaType: gateway}, 200, `"ContactId":1001`},
		{request{method: "GET", path: "/gateway/v1/contact?dealerId=5001&userId=7001&phone=5125550100", mediaType: gateway}, 200, `[]`},
		{request{method: "POST", path: "/leads?dealerId=5001", mediaType: leadsV3,
			body: `{"leadSource":"https://api.vinsolutions.com/leadSources/id/9001?dealerId=5001","leadType":"INTERNET","contact":"https://api.vinsolutions.com/contacts/id/1001?dealerid=5001&userid=7001"}`}, 201, `"leadId":1002`},
		{request{method: "GET", path: "/leads?dealerId=5001&contactId=1001", mediaType: leadsV3}, 200, `"leadId":1002`},
		{request{method: "PUT", path: "/leads/id/1002", mediaType: leadsV3, body: `{"notes":"first"}`}, 200, ``},
		{request{method: "GET", path: "/leads/id/1002?dealerId=5001&userId=7001", mediaType: leadsV3}, 200, `"notes":"first"`},
		{request{method: "POST", path: "/vehicles/interest?leadId=1002&dealerId=5001", mediaType: vehicles,
			body: `{"lead":"https://api.vinsolutions.com/leads/id/1002","vehicles":[{"vin":"V1","year":2024,"make":"Toyota","model":"RAV4"}]}`}, 201, ``},
		{request{method: "GET", path: "/vehicles/interest?leadId=1002&dealerId=5001", mediaType: vehicles}, 200, `"vin":"V1"`},
		{request{method: "GET", path: "/gateway/v1/contact/1001?dealerId=5001&userId=7001", mediaType: gateway}, 200, `[{"ContactId":1001`},
		{request{method: "PUT", path: "/gateway/v1/contact/1001", mediaType: gateway,
			body: `{"DealerId":5001,"UserId":7001,"ContactInformation":{"LastName":"Diaz-Lopez","Emails":[{"EmailAddress":"b@example.com","EmailType":"primary"}]}}`}, 204, ``},
	}
	for _, s := range steps {
		code, body := do(s.r)
		if code != s.code || !strings.Contains(body, s.want) {
			t.Fatalf("%s %s: %d %s, want %d with %s", s.r.method, s.r.path, code, body, s.code, s.want)
		}
	}
	c := crm.Contacts()[0]
	if c.LastName != "Diaz-Lopez" || strings.Join(c.Emails, ",") != "a@example.com,b@example.com" || strings.Join(c.Phones, ",") != "5125550199" {
		t.Errorf("contact after the update %+v", c)
	}
}

// TestTheFakeRefusesWhatVinSolutionsRefuses: a divergence from the documented shapes fails.
func TestTheFakeRefusesWhatVinSolutionsRefuses(t *testing.T) {
	crm, do := serve(t)
	contact := crm.AddContact("Ana", "Diaz", "a@example.com", "")
	lead := crm.AddLead(contact, 9001, "")
	if contact != 1001 || lead != 1002 {
		t.Fatalf("ids %d %d", contact, lead)
	}
	for _, tc := range []struct {
		name string
		r    request
		code int
		want string
	}{
		{"no token", request{method: "GET", path: "/leads?dealerId=5001", mediaType: leadsV3, header: map[string]string{"Authorization": ""}}, 401, "denied"},
		{"the key in x-api-key instead of api_key [NOTE S13]", request{method: "GET", path: "/leads?dealerId=5001", mediaType: leadsV3,
			header: map[string]string{"api_key": "", "x-api-key": "key"}}, 403, "api_key"},
		{"/leads in v1 [NOTE S15]", request{method: "GET", path: "/leads?dealerId=5001", mediaType: vehicles}, 400, "UnsupportedApiVersion"},
		{"/vehicles/interest in v3", request{method: "GET", path: "/vehicles/interest?leadId=1002", mediaType: leadsV3}, 400, "UnsupportedApiVersion"},
		{"/leads without a version [NOTE S15]", request{method: "GET", path: "/leads?dealerId=5001", mediaType: gateway}, 400, "ApiVersionUnspecified"},
		{"the gateway in a Cox media type", request{method: "POST", path: "/gateway/v1/contact", mediaType: leadsV3, body: goodContact,
			header: map[string]string{"Accept": gateway}}, 415, "application/json"},
		{"a flat vehicle of interest, §6 (6) [CODE S14]", request{method: "POST", path: "/vehicles/interest", mediaType: vehicles,
			body: `{"lead":"https://api.vinsolutions.com/leads/id/1002","year":2024,"make":"Toyota"}`}, 400, "vehicles is required"},
		{"a vehicle of interest of no lead", request{method: "POST", path: "/vehicles/interest", mediaType: vehicles,
			body: `{"lead":"https://api.vinsolutions.com/leads/id/4242","vehicles":[{"make":"Toyota"}]}`}, 400, "does not exist"},
		{"a phone of 11 digits [CODE S12, S14]", request{method: "POST", path: "/gateway/v1/contact", mediaType: gateway,
			body: strings.Replace(goodContact, `"5125550199"`, `"15125550199"`, 1)}, 400, "at most 10"},
		{"a formatted phone", request{method: "POST", path: "/gateway/v1/contact", mediaType: gateway,
			body: strings.Replace(goodContact, `"5125550199"`, `"(512) 555-0199"`, 1)}, 400, "digits only"},
		{"DealerId as a string", request{method: "POST", path: "/gateway/v1/contact", mediaType: gateway,
			body: strings.Replace(goodContact, `"DealerId":5001`, `"DealerId":"5001"`, 1)}, 400, "DealerId"},
		{"another user than the token's [NOTE S13]", request{method: "POST", path: "/gateway/v1/contact", mediaType: gateway,
			body: strings.Replace(goodContact, `"UserId":7001`, `"UserId":7002`, 1)}, 403, "not associated"},
		{"a contact without a last name [CODE S12]", request{method: "POST", path: "/gateway/v1/contact", mediaType: gateway,
			body: strings.Replace(goodContact, `"LastName":"Diaz"`, `"LastName":""`, 1)}, 400, "LastName"},
		{"a contact search without userId [CODE S12, S14]", request{method: "GET", path: "/gateway/v1/contact?dealerId=5001&email=a@example.com", mediaType: gateway}, 400, "UserId"},
		{"a lead search by userId [NOTE S15]", request{method: "GET", path: "/leads?dealerId=5001&userId=7001", mediaType: leadsV3}, 404, "Not Found"},
		{"a lead without dealerId [NOTE S15]", request{method: "POST", path: "/leads", mediaType: leadsV3,
			body: `{"leadSource":"https://api.vinsolutions.com/leadSources/id/9001","leadType":"INTERNET","contact":"https://api.vinsolutions.com/contacts/id/1001"}`}, 400, "dealerId"},
		{"a lead source as an id, not an href [CODE S12, S14]", request{method: "POST", path: "/leads?dealerId=5001", mediaType: leadsV3,
			body: `{"leadSource":9001,"leadType":"INTERNET","contact":"https://api.vinsolutions.com/contacts/id/1001"}`}, 400, "leadSource"},
		{"a lead source not the dealer's", request{method: "POST", path: "/leads?dealerId=5001", mediaType: leadsV3,
			body: `{"leadSource":"https://api.vinsolutions.com/leadSources/id/9002","leadType":"INTERNET","contact":"https://api.vinsolutions.com/contacts/id/1001"}`}, 400, "not the dealer's"},
		{"a lead update with a member no integration sends", request{method: "PUT", path: "/leads/id/1002", mediaType: leadsV3,
			body: `{"leadId":1002,"notes":"x"}`}, 400, "leadId"},
		{"an unknown lead", request{method: "GET", path: "/leads/id/4242", mediaType: leadsV3}, 404, "no such lead"},
		{"a route Lead Management does not have: notes [NOTE S13, S15]", request{method: "POST", path: "/leads/id/1002/notes", mediaType: leadsV3, body: `{}`}, 596, "Service Not Found"},
		{"an appointment [NOTE S15]", request{method: "POST", path: "/appointments", mediaType: leadsV3, body: `{}`}, 596, "Service Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(tc.r)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("%d %s, want %d with %q", code, body, tc.code, tc.want)
			}
			if !json.Valid([]byte(body)) {
				t.Errorf("the answer is not JSON: %s", body)
			}
		})
	}
	if n := len(crm.Contacts()) + len(crm.Leads()) + len(crm.Vehicles()); n != 2 {
		t.Errorf("a refused request changed the CRM: %d records", n)
	}
	if crm.Leads()[0].Notes != "" {
		t.Errorf("notes %q", crm.Leads()[0].Notes)
	}
}

// TestFaults: a lost answer is work done without an answer; a plain fault does nothing.
func TestFaults(t *testing.T) {
	crm, do := serve(t)
	crm.Fail(vinsolutionstest.Fault{Method: "POST", Path: "/gateway/v1/contact", After: true, Status: 500, Times: 1})
	if code, _ := do(request{method: "POST", path: "/gateway/v1/contact", mediaType: gateway, body: goodContact}); code != 500 || len(crm.Contacts()) != 1 {
		t.Fatalf("after-fault: %d, %d contacts", code, len(crm.Contacts()))
	}
	crm.Fail(vinsolutionstest.Fault{Status: 503, Times: -1})
	for range 2 {
		if code, _ := do(request{method: "POST", path: "/gateway/v1/contact", mediaType: gateway, body: goodContact}); code != 503 {
			t.Fatalf("fault: %d", code)
		}
	}
	crm.ClearFaults()
	if code, _ := do(request{method: "POST", path: "/gateway/v1/contact", mediaType: gateway, body: goodContact}); code != 201 || len(crm.Contacts()) != 2 {
		t.Fatalf("cleared: %d, %d contacts", code, len(crm.Contacts()))
	}
}

// TestTheLeadPaging: GET /leads?sortby=date pages the dealer's leads newest first, with next
// and previous hrefs, and the status a salesperson set.
func TestTheLeadPaging(t *testing.T) {
	crm, do := serve(t)
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	crm.Now = func() time.Time { at = at.Add(time.Minute); return at }
	contact := crm.AddContact("Ana", "Diaz", "", "")
	var leads []int64
	for range 3 {
		leads = append(leads, crm.AddLead(contact, 9001, ""))
	}
	crm.SetStatus(leads[0], "SOLD", "SOLD_DELIVERED")
	var page struct {
		Count          int
		Next, Previous *string
		Items          []struct {
			LeadID                     int64
			LeadStatus, LeadStatusType string
		}
	}
	for i, want := range [][]int64{{leads[2], leads[1]}, {leads[0]}} {
		code, body := do(request{method: "GET", path: fmt.Sprintf("/leads?dealerId=5001&limit=2&pagenumber=%d&sortby=date", i+1), mediaType: leadsV3})
		if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil || page.Count != 3 || len(page.Items) != len(want) {
			t.Fatalf("page %d: %d %s", i+1, code, body)
		}
		for j, id := range want {
			if page.Items[j].LeadID != id {
				t.Errorf("page %d item %d: lead %d, want %d", i+1, j, page.Items[j].LeadID, id)
			}
		}
		if (page.Next != nil) != (i == 0) || (page.Previous != nil) != (i == 1) {
			t.Errorf("page %d: next %v, previous %v", i+1, page.Next, page.Previous)
		}
	}
	if it := page.Items[0]; it.LeadStatusType != "SOLD" || it.LeadStatus != "SOLD_DELIVERED" {
		t.Errorf("the sold lead: %+v", it)
	}
	for _, q := range []string{"limit=0", "pagenumber=x", "sortby=name"} {
		if code, body := do(request{method: "GET", path: "/leads?dealerId=5001&" + q, mediaType: leadsV3}); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
}
