package vinsolutions_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/vinsolutions"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// fakeVinSolutions checks what the VinSolutions API checks: the token grant, the bearer
// token and api_key on every call, the dealerId/userId query, each endpoint's media type and
// required fields.
type fakeVinSolutions struct {
	*httptest.Server
	issuer *agenttest.Issuer
	rec    agenttest.Recorder
	faults agenttest.Faults

	mu   sync.Mutex
	next int
}

const (
	apiKey   = "vs-api-key"
	dealerID = "5001"
	userID   = "7001"
)

func newFake(t *testing.T) *fakeVinSolutions {
	f := &fakeVinSolutions{issuer: &agenttest.Issuer{ClientID: "vs-client", ClientSecret: "vs-secret", Scope: "PublicAPI"}}
	mux := http.NewServeMux()
	mux.Handle("POST /connect/token", f.issuer)
	mux.HandleFunc("/", f.api)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeVinSolutions) id() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	return 1000*f.next + 1
}

func (f *fakeVinSolutions) api(w http.ResponseWriter, r *http.Request) {
	body := f.rec.Record(r).Body
	fail := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"message":%q}`, msg)
	}
	if !f.issuer.Authorized(r) {
		fail(http.StatusUnauthorized, "invalid or expired token")
		return
	}
	if r.Header.Get("api_key") != apiKey {
		fail(http.StatusForbidden, "invalid api_key")
		return
	}
	if r.URL.Query().Get("dealerId") != dealerID || r.URL.Query().Get("userId") != userID {
		fail(http.StatusBadRequest, "dealerId and userId are required")
		return
	}
	if f.faults.Serve(w, r) {
		return
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		fail(http.StatusBadRequest, "body is not JSON")
		return
	}
	want := func(mediaType string, fields ...string) bool {
		if r.Header.Get("Content-Type") != mediaType {
			fail(http.StatusUnsupportedMediaType, "want "+mediaType)
			return false
		}
		for _, k := range fields {
			if _, ok := m[k]; !ok {
				fail(http.StatusBadRequest, k+" is required")
				return false
			}
		}
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/gateway/v1/contact":
		if !want("application/json", "DealerId", "UserId", "ContactInformation", "LeadInformation") {
			return
		}
		if _, ok := m["DealerId"].(float64); !ok {
			fail(http.StatusBadRequest, "DealerId must be a number")
			return
		}
		fmt.Fprintf(w, `{"ContactId":%d}`, f.id())
	case r.Method == http.MethodPost && r.URL.Path == "/leads":
		if !want(vinsolutions.LeadsMediaType, "leadSource", "leadType", "contact") {
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"leadId":%d}`, f.id())
	case r.Method == http.MethodPost && r.URL.Path == "/vehicles/interest":
		if !want(vinsolutions.VehiclesMediaType, "lead") {
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"vehicleInterestId":%d}`, f.id())
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/leads/id/"):
		if !want(vinsolutions.LeadsMediaType, "leadId", "notes") {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		fail(http.StatusNotFound, "no such endpoint")
	}
}

func (f *fakeVinSolutions) delivery(t *testing.T, event string, edits map[string]any) *connector.Delivery {
	return &connector.Delivery{
		Event:    agenttest.Event(t, event, edits),
		DealerID: "dlr_42",
		Settings: map[string]string{
			"baseUrl": f.URL, "tokenUrl": f.URL + "/connect/token",
			"dealerId": dealerID, "userId": userID, "leadSourceId": "9001", "leadType": "INTERNET",
		},
		Credentials: map[string]string{"clientId": "vs-client", "clientSecret": "vs-secret", "apiKey": apiKey},
		Attempt:     1,
		HTTP:        &http.Client{},
	}
}

func golden(t *testing.T, f *fakeVinSolutions, path, name string) {
	t.Helper()
	reqs := f.rec.Requests(path)
	if len(reqs) == 0 {
		t.Fatalf("no request to %s", path)
	}
	body := reqs[len(reqs)-1].Body
	// the fake server's URL changes from run to run
	body = []byte(strings.ReplaceAll(string(body), f.URL, "https://api.vinsolutions.example"))
	agenttest.Golden(t, "vinsolutions/"+name, agenttest.Indent(t, body))
}

func TestLeadCreated(t *testing.T) {
	f := newFake(t)
	c := vinsolutions.New(oauth.NewCache())
	res, err := c.Deliver(context.Background(), f.delivery(t, "lead.created", nil))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, f, "/gateway/v1/contact", "lead.created.contact.json")
	golden(t, f, "/leads", "lead.created.lead.json")
	golden(t, f, "/vehicles/interest", "lead.created.vehicle-interest.json")
	golden(t, f, "/leads/id/2001", "lead.created.note.json")
	if got, want := res.Correlation, map[string]string{"contactId": "1001", "leadId": "2001"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("correlation = %v, want %v", got, want)
	}
	if res.Skipped || res.StatusCode != http.StatusNoContent || res.Progress["vehicleInterest"] != "3001" || res.Progress["leadNote"] != "added" {
		t.Errorf("result = %+v", res)
	}
	if f.issuer.Grants() != 1 {
		t.Errorf("%d tokens fetched, want 1", f.issuer.Grants())
	}
}

func TestLeadWithoutVehicleNorCommentsIsTwoCalls(t *testing.T) {
	f := newFake(t)
	edits := map[string]any{"vehicleYear": nil, "vehicleMake": nil, "vehicleModel": nil, "vehicleVin": nil, "comments": nil, "source": nil}
	if _, err := vinsolutions.New(oauth.NewCache()).Deliver(context.Background(), f.delivery(t, "lead.created", edits)); err != nil {
		t.Fatal(err)
	}
	if n := len(f.rec.Requests("")); n != 2 {
		t.Errorf("%d requests, want 2 (contact and lead: no vehicle, no note)", n)
	}
}

func TestAppointmentCreatedAddsANote(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "appointment.created", nil)
	d.Lead = map[string]string{"contactId": "1001", "leadId": "2001"}
	res, err := vinsolutions.New(oauth.NewCache()).Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, f, "/leads/id/2001", "appointment.created.note.json")
	if res.Correlation["leadId"] != "2001" {
		t.Errorf("correlation = %v", res.Correlation)
	}
}

func TestResumeAfterAFailedLeadStep(t *testing.T) {
	f := newFake(t)
	c := vinsolutions.New(oauth.NewCache())
	f.faults.Add("/leads", agenttest.Fault{Status: http.StatusInternalServerError, Body: `{"message":"boom"}`})

	d := f.delivery(t, "lead.created", nil)
	_, err := c.Deliver(context.Background(), d)
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassHTTPStatus || ae.StatusCode != 500 {
		t.Fatalf("attempt 1: err = %v, want an http_status 500", err)
	}
	if ae.Progress["contactId"] != "1001" || ae.Progress["leadId"] != "" {
		t.Fatalf("attempt 1 progress = %v, want the contact only", ae.Progress)
	}
	if !strings.Contains(ae.Snippet, "boom") {
		t.Errorf("snippet = %q", ae.Snippet)
	}

	d.Attempt, d.Progress = 2, ae.Progress
	res, err := c.Deliver(context.Background(), d)
	if err != nil {
		t.Fatalf("attempt 2: %v", err)
	}
	if n := len(f.rec.Requests("/gateway/v1/contact")); n != 1 {
		t.Errorf("%d contacts created, want 1", n)
	}
	if res.Correlation["contactId"] != "1001" || res.Correlation["leadId"] == "" {
		t.Errorf("correlation = %v", res.Correlation)
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
	d.Lead = map[string]string{"leadId": "2001"}
	if _, err := c.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if g := f.issuer.Grants(); g != 2 {
		t.Errorf("%d tokens fetched, want 2 (one refresh)", g)
	}
	notes := f.rec.Requests("/leads/id/2001")
	if len(notes) != 3 { // the lead's note, then the appointment's: refused once, then accepted
		t.Errorf("%d note requests, want 3", len(notes))
	}
}

func TestTokenRefusedTwiceIsAnAuthError(t *testing.T) {
	f := newFake(t)
	c := vinsolutions.New(oauth.NewCache())
	// a server that refuses every token: the connector refreshes exactly once
	f.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/connect/token" {
			f.issuer.ServeHTTP(w, r)
			return
		}
		f.rec.Record(r)
		w.WriteHeader(http.StatusUnauthorized)
	})
	_, err := c.Deliver(context.Background(), f.delivery(t, "lead.created", nil))
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassAuth || ae.StatusCode != 401 {
		t.Fatalf("err = %v, want auth 401", err)
	}
	if g := f.issuer.Grants(); g != 2 {
		t.Errorf("%d tokens fetched, want 2", g)
	}
	if n := len(f.rec.Requests("")); n != 2 {
		t.Errorf("%d API requests, want 2", n)
	}
}

func TestWrongClientSecretIsAnAuthError(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "lead.created", nil)
	d.Credentials["clientSecret"] = "wrong-secret-value"
	_, err := vinsolutions.New(oauth.NewCache()).Deliver(context.Background(), d)
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassAuth {
		t.Fatalf("err = %v, want auth", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") || strings.Contains(ae.Snippet, "wrong-secret-value") {
		t.Errorf("the error shows the secret: %v", err)
	}
	if !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("err = %v, want the OAuth error code", err)
	}
}

func TestAppointmentBeforeTheLeadIsPending(t *testing.T) {
	f := newFake(t)
	_, err := vinsolutions.New(oauth.NewCache()).Deliver(context.Background(), f.delivery(t, "appointment.rescheduled", nil))
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassPendingDependency {
		t.Fatalf("err = %v, want pending_dependency", err)
	}
	if n := len(f.rec.Requests("")); n != 0 || f.issuer.Grants() != 0 {
		t.Errorf("%d requests and %d tokens, want none", n, f.issuer.Grants())
	}
}

func TestKnownLeadIsNotPushedAgain(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "lead.created", nil)
	d.Known = map[string]string{"contactId": "1001", "leadId": "2001"}
	res, err := vinsolutions.New(oauth.NewCache()).Deliver(context.Background(), d)
	if err != nil || !res.Skipped {
		t.Fatalf("res = %+v, err = %v; want skipped", res, err)
	}
	if n := len(f.rec.Requests("")); n != 0 {
		t.Errorf("%d requests, want 0", n)
	}
}
