package fortellistest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents/fortellis"
	"github.com/dealerai/integrations/shared/agents/fortellis/fortellistest"
)

// client calls the fake as a Fortellis solution would, with parts of the request overridden.
type client struct {
	t     *testing.T
	f     *fortellistest.Fake
	token string
}

func newClient(t *testing.T) *client {
	f := fortellistest.New(t, "k", "s", "sub-1")
	req, _ := http.NewRequest(http.MethodPost, f.URL+fortellistest.TokenPath, strings.NewReader(url.Values{
		"grant_type": {"client_credentials"}, "scope": {"anonymous"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("k", "s")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return &client{t: t, f: f, token: tok.AccessToken}
}

// do sends a request; header edits with "" delete the header. It returns the status and the
// error body's code and message.
func (c *client) do(method, path, body string, header map[string]string) (int, string) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.f.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Subscription-Id", "sub-1")
	req.Header.Set("Request-Id", fortellis.NewRequestID())
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e struct{ Code, Message string }
	_ = json.Unmarshal(raw, &e)
	return resp.StatusCode, e.Code + ": " + e.Message
}

// TestTheFakeRefusesWhatThePlatformRefuses: each published rule, broken once, is refused in
// the platform's error format — so a connector that breaks it fails its tests.
func TestTheFakeRefusesWhatThePlatformRefuses(t *testing.T) {
	c := newClient(t)
	customer := c.f.Add(fortellistest.Customers, map[string]any{"firstName": "Ana"})
	opp := c.f.Add(fortellistest.Opportunities, map[string]any{"customerId": customer, "source": "DealerAI", "upType": "Internet"})
	goodPhone := `{"number":"5125550199","phoneType":"Cellular","preferredTimeToContact":"Unspecified"}`
	for _, tc := range []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		says                     string
	}{
		// §1.1 [SPEC S6]: the gateway
		{"no token", "GET", fortellis.ActivityTypesPath, "", map[string]string{"Authorization": ""}, 401, "MISSING-AUTHORIZATION"},
		{"an unknown token", "GET", fortellis.ActivityTypesPath, "", map[string]string{"Authorization": "Bearer nope"}, 401, "TOKEN-EXPIRED"},
		{"no Subscription-Id", "GET", fortellis.ActivityTypesPath, "", map[string]string{"Subscription-Id": ""}, 400, "MISSING-SUBSCRIPTION-ID"},
		{"another subscription", "GET", fortellis.ActivityTypesPath, "", map[string]string{"Subscription-Id": "sub-2"}, 403, "SUBSCRIPTION-MISMATCH"},
		{"Request-Id not a GUID", "GET", fortellis.ActivityTypesPath, "", map[string]string{"Request-Id": "42"}, 400, "INVALID-REQUEST-ID"},
		{"a body that is not JSON-typed", "POST", fortellis.CustomersPath, `{}`, map[string]string{"Content-Type": "text/plain"}, 415, "UNSUPPORTED-MEDIA-TYPE"},
		{"an API that does not exist", "POST", "/sales/v1/elead/opportunities/" + opp + "/comments", `{"comment":"x"}`, nil, 404, "API-DOES-NOT-EXIST"},
		// §1.2 [SPEC S2]: customers
		{"a phone with isPreferred (§6 item 4)", "POST", fortellis.CustomersPath,
			`{"phones":[{"number":"1","phoneType":"Cellular","preferredTimeToContact":"Day","isPreferred":true}]}`, nil, 400, "isPreferred is not a field"},
		{"a phone without preferredTimeToContact (§6 item 4)", "POST", fortellis.CustomersPath,
			`{"phones":[{"number":"1","phoneType":"Cellular"}]}`, nil, 400, "preferredTimeToContact is required"},
		{"an unknown phone type", "POST", fortellis.CustomersPath,
			`{"phones":[{"number":"1","phoneType":"Mobile","preferredTimeToContact":"Day"}]}`, nil, 400, "phoneType must be one of"},
		{"an email without emailType", "POST", fortellis.CustomersPath, `{"emails":[{"address":"a@b.c"}]}`, nil, 400, "emailType is required"},
		{"a read-only field sent back", "POST", fortellis.CustomersPath + "/" + customer,
			`{"phones":[` + strings.TrimSuffix(goodPhone, "}") + `,"onDoNotCallRegistry":false}]}`, nil, 400, "onDoNotCallRegistry is not a field"},
		{"an empty customer search", "POST", fortellis.CustomerSearchPath, `{}`, nil, 400, "at least one"},
		// §1.2 [SPEC S1]: opportunities
		{"an opportunity without upType", "POST", fortellis.OpportunitiesPath, `{"customerId":"` + customer + `","source":"DealerAI"}`, nil, 400, "upType is required"},
		{"a source the company lacks", "POST", fortellis.OpportunitiesPath, `{"customerId":"` + customer + `","source":"AutoTrader","upType":"Internet"}`, nil, 400, "source"},
		{"a vehicle sought without isNew", "POST", fortellis.OpportunitiesPath,
			`{"customerId":"` + customer + `","source":"DealerAI","upType":"Internet","soughtVehicles":[{"isPrimary":true}]}`, nil, 400, "isNew is required"},
		{"a year as a string", "POST", fortellis.OpportunitiesPath,
			`{"customerId":"` + customer + `","source":"DealerAI","upType":"Internet","soughtVehicles":[{"isNew":true,"isPrimary":true,"yearFrom":"2024"}]}`, nil, 400, "yearFrom must be an integer"},
		{"comments over 1500 characters", "POST", fortellis.OpportunitiesPath,
			`{"customerId":"` + customer + `","source":"DealerAI","upType":"Internet","comments":"` + strings.Repeat("é", 1501) + `"}`, nil, 400, "longer than 1500"},
		{"a comment without opportunityId (§6 item 2)", "POST", fortellis.OpportunityCommentPath, `{"comment":"x"}`, nil, 400, "opportunityId is required"},
		{"a comment on an unknown opportunity", "POST", fortellis.OpportunityCommentPath, `{"opportunityId":"nope","comment":"x"}`, nil, 404, "NOT-FOUND"},
		{"a sub-status the company lacks", "POST", fortellis.SubStatusPath(opp), `{"subStatus":"Dreaming"}`, nil, 400, "Active sub-status"},
		{"set inactive with an Active sub-status", "POST", fortellis.SetInactivePath(opp), `{"opportunityId":"` + opp + `","inactiveSubStatus":"New"}`, nil, 400, "inactive sub-status"},
		// §1.2 [CODE S7, S8]: activities (§6 item 3)
		{"activityTypeId instead of activityType", "POST", fortellis.ScheduleActivityPath,
			`{"opportunityId":"` + opp + `","dueDate":"2026-11-30T16:00:00Z","activityName":"x","activityType":7,"activityTypeId":7}`, nil, 400, "activityTypeId is not a field"},
		{"no activityName", "POST", fortellis.ScheduleActivityPath,
			`{"opportunityId":"` + opp + `","dueDate":"2026-11-30T16:00:00Z","activityType":7}`, nil, 400, "activityName is required"},
		{"activityType as a name", "POST", fortellis.ScheduleActivityPath,
			`{"opportunityId":"` + opp + `","dueDate":"2026-11-30T16:00:00Z","activityName":"x","activityType":"Appointment"}`, nil, 400, "activityType must be an integer"},
		{"an activity type the company lacks", "POST", fortellis.ScheduleActivityPath,
			`{"opportunityId":"` + opp + `","dueDate":"2026-11-30T16:00:00Z","activityName":"x","activityType":99}`, nil, 400, "activity types"},
		{"a due date that is not RFC 3339", "POST", fortellis.ScheduleActivityPath,
			`{"opportunityId":"` + opp + `","dueDate":"11/30/2026","activityName":"x","activityType":7}`, nil, 400, "RFC 3339"},
		// §1.5 [SPEC S11, CODE S10]: Appointments v3 (§6 item 5)
		{"the old appointment shape", "POST", fortellis.ServiceAppointmentsPath,
			`{"appointmentDateTime":"2026-12-01T13:00:00Z","customer":{"firstName":"G"}}`, nil, 400, "not a field"},
		{"no requested services", "POST", fortellis.ServiceAppointmentsPath, `{"dateTime":"2026-12-01T13:00:00Z","requestedServices":[]}`, nil, 400, "requestedServices must not be empty"},
		{"cancel an unknown appointment", "DELETE", fortellis.ServiceAppointmentsPath + "/nope", "", nil, 404, "NOT-FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, says := c.do(tc.method, tc.path, tc.body, tc.header)
			if status != tc.status || !strings.Contains(says, tc.says) {
				t.Fatalf("%d %q, want %d %q", status, says, tc.status, tc.says)
			}
		})
	}
	t.Run("a Request-Id used twice", func(t *testing.T) {
		id := fortellis.NewRequestID()
		if status, _ := c.do("GET", fortellis.ActivityTypesPath, "", map[string]string{"Request-Id": id}); status != 200 {
			t.Fatalf("first use: %d", status)
		}
		if status, says := c.do("GET", fortellis.ActivityTypesPath, "", map[string]string{"Request-Id": id}); status != 400 || !strings.Contains(says, "INVALID-REQUEST-ID") {
			t.Fatalf("second use: %d %s", status, says)
		}
	})
	t.Run("the shapes accepted", func(t *testing.T) {
		for _, r := range []struct{ method, path, body string }{
			{"POST", fortellis.CustomersPath, `{"firstName":"A","phones":[` + goodPhone + `],"emails":[{"address":"a@b.c","emailType":"Personal","isPreferred":true}]}`},
			{"POST", fortellis.OpportunityCommentPath, `{"opportunityId":"` + opp + `","comment":"` + strings.Repeat("é", 1500) + `"}`},
			{"POST", fortellis.SubStatusPath(opp), `{"subStatus":"Appointment Set"}`},
			{"POST", fortellis.ScheduleActivityPath, `{"opportunityId":"` + opp + `","dueDate":"2026-11-30T16:00:00Z","activityName":"x","activityType":7}`},
			{"POST", fortellis.ServiceAppointmentsPath, `{"dateTime":"2026-12-01T13:00:00Z","requestedServices":[{"description":"Oil"}]}`},
		} {
			if status, says := c.do(r.method, r.path, r.body, nil); status >= 300 {
				t.Errorf("%s %s: %d %s", r.method, r.path, status, says)
			}
		}
	})
}

// TestTheFakeSearchDelta: searchDelta answers what changed since dateFrom a page at a time,
// 404 for nothing, and refuses a window older than 7 days or no paging.
func TestTheFakeSearchDelta(t *testing.T) {
	c := newClient(t)
	now := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	c.f.SetClock(func() time.Time { return now })
	delta := func(from time.Time, query string) (int, string) {
		return c.do(http.MethodGet, fortellis.SearchDeltaPath+"?dateFrom="+url.QueryEscape(from.Format(time.RFC3339))+query, "", nil)
	}
	if code, msg := delta(now.Add(-time.Hour), "&page=1&pageSize=10"); code != http.StatusNotFound {
		t.Errorf("nothing changed: %d %s", code, msg)
	}
	customer := c.f.Add(fortellistest.Customers, map[string]any{"firstName": "Ana"})
	c.f.Add(fortellistest.Opportunities, map[string]any{"customerId": customer, "source": "DealerAI", "upType": "Internet"})
	for _, tc := range []struct {
		from  time.Time
		query string
		want  int
	}{
		{now.Add(-time.Hour), "&page=1&pageSize=10", http.StatusOK},
		{now.Add(time.Second), "&page=1&pageSize=10", http.StatusNotFound},
		{now.Add(-time.Hour), "&page=2&pageSize=10", http.StatusNotFound},
		{now.Add(-8 * 24 * time.Hour), "&page=1&pageSize=10", http.StatusBadRequest},
		{now.Add(-time.Hour), "", http.StatusBadRequest},
		{now.Add(-time.Hour), "&page=1&pageSize=500", http.StatusBadRequest},
	} {
		if code, msg := delta(tc.from, tc.query); code != tc.want {
			t.Errorf("dateFrom %v %s: %d %s, want %d", tc.from, tc.query, code, msg, tc.want)
		}
	}
}
