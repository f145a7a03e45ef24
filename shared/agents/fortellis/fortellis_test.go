package fortellis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/fortellis"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

const subscriptionID = "sub-3f9a"

var uuid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// fakeFortellis checks what the Fortellis gateway and APIs check: a Basic-authenticated
// token grant with scope anonymous; on every call a valid bearer token (TOKEN-EXPIRED
// otherwise), the Subscription-Id (SUBSCRIPTION-MISMATCH), a Request-Id that is a UUID and
// never repeats, JSON, and each endpoint's required fields.
type fakeFortellis struct {
	*httptest.Server
	issuer *agenttest.Issuer
	rec    agenttest.Recorder
	faults agenttest.Faults

	mu         sync.Mutex
	requestIDs map[string]bool
	next       int
}

func newFake(t *testing.T) *fakeFortellis {
	f := &fakeFortellis{
		issuer:     &agenttest.Issuer{ClientID: "fx-api-key", ClientSecret: "fx-api-secret", Scope: "anonymous", Basic: true},
		requestIDs: map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.Handle("POST /oauth2/v1/token", f.issuer)
	mux.HandleFunc("POST /", f.api)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func gatewayError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%q,"message":%q}`, code, msg)
}

func (f *fakeFortellis) api(w http.ResponseWriter, r *http.Request) {
	body := f.rec.Record(r).Body
	reqID := r.Header.Get("Request-Id")
	f.mu.Lock()
	repeated := f.requestIDs[reqID]
	f.requestIDs[reqID] = true
	f.mu.Unlock()
	switch {
	case !f.issuer.Authorized(r):
		gatewayError(w, http.StatusUnauthorized, fortellis.TokenExpired, "The access token has expired")
		return
	case r.Header.Get("Subscription-Id") != subscriptionID:
		gatewayError(w, http.StatusForbidden, fortellis.SubscriptionMismatch, "Subscription-Id does not match")
		return
	case !uuid.MatchString(reqID) || repeated:
		gatewayError(w, http.StatusBadRequest, "INVALID-REQUEST-ID", "Request-Id must be a new UUID")
		return
	case r.Header.Get("Content-Type") != "application/json":
		gatewayError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED-MEDIA-TYPE", "application/json expected")
		return
	}
	if f.faults.Serve(w, r) {
		return
	}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		gatewayError(w, http.StatusBadRequest, "INVALID-BODY", "not JSON")
		return
	}
	require := func(fields ...string) bool {
		for _, k := range fields {
			if v, ok := m[k]; !ok || v == "" {
				gatewayError(w, http.StatusBadRequest, "VALIDATION", k+" is required")
				return false
			}
		}
		return true
	}
	f.mu.Lock()
	f.next++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", f.next)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == fortellis.CustomersPath:
		if !require("firstName") {
			return
		}
	case r.URL.Path == fortellis.OpportunitiesPath:
		if !require("customerId", "soughtVehicles", "source", "upType") {
			return
		}
	case r.URL.Path == fortellis.ScheduleActivityPath:
		if !require("opportunityId", "dueDate") {
			return
		}
	case r.URL.Path == fortellis.ServiceAppointmentsPath:
		if !require("appointmentDateTime", "customer") {
			return
		}
	case strings.HasPrefix(r.URL.Path, "/sales/v1/elead/opportunities/") && strings.HasSuffix(r.URL.Path, "/comments"):
		if !require("comment") {
			return
		}
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{}`)
		return
	default:
		gatewayError(w, http.StatusNotFound, "NOT-FOUND", "no such API")
		return
	}
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"id":%q}`, id)
}

func (f *fakeFortellis) delivery(t *testing.T, event string, edits map[string]any) *connector.Delivery {
	return &connector.Delivery{
		Event:    agenttest.Event(t, event, edits),
		DealerID: "dlr_42",
		Settings: map[string]string{
			"baseUrl": f.URL, "tokenUrl": f.URL + "/oauth2/v1/token", "subscriptionId": subscriptionID,
			"leadSource": "DealerAI", "upType": "Internet", "activityTypeId": "7",
		},
		Credentials: map[string]string{"apiKey": "fx-api-key", "apiSecret": "fx-api-secret"},
		Attempt:     1,
		HTTP:        &http.Client{},
	}
}

func lastBody(t *testing.T, f *fakeFortellis, path string) []byte {
	t.Helper()
	reqs := f.rec.Requests(path)
	if len(reqs) == 0 {
		t.Fatalf("no request to %s", path)
	}
	return agenttest.Indent(t, reqs[len(reqs)-1].Body)
}

func TestLeadCreated(t *testing.T) {
	f := newFake(t)
	res, err := fortellis.New(oauth.NewCache()).Deliver(context.Background(), f.delivery(t, "lead.created", nil))
	if err != nil {
		t.Fatal(err)
	}
	agenttest.Golden(t, "fortellis/lead.created.customer.json", lastBody(t, f, fortellis.CustomersPath))
	agenttest.Golden(t, "fortellis/lead.created.opportunity.json", lastBody(t, f, fortellis.OpportunitiesPath))
	commentPath := "/sales/v1/elead/opportunities/00000000-0000-4000-8000-000000000002/comments"
	agenttest.Golden(t, "fortellis/lead.created.comment.json", lastBody(t, f, commentPath))
	if res.Correlation["customerId"] != "00000000-0000-4000-8000-000000000001" || res.Correlation["opportunityId"] != "00000000-0000-4000-8000-000000000002" {
		t.Errorf("correlation = %v", res.Correlation)
	}
}

func TestSalesAppointmentIsAScheduledActivity(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "appointment.created.testdrive", nil)
	d.Lead = map[string]string{"customerId": "c-1", "opportunityId": "opp-1"}
	res, err := fortellis.New(oauth.NewCache()).Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	agenttest.Golden(t, "fortellis/appointment.created.testdrive.activity.json", lastBody(t, f, fortellis.ScheduleActivityPath))
	if res.Correlation["opportunityId"] != "opp-1" || res.Correlation["activityId"] == "" {
		t.Errorf("correlation = %v", res.Correlation)
	}
}

func TestServiceAppointmentIsBooked(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "appointment.rescheduled", map[string]any{"eventType": "appointment.created"}) // the service example
	res, err := fortellis.New(oauth.NewCache()).Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	agenttest.Golden(t, "fortellis/appointment.created.service.json", lastBody(t, f, fortellis.ServiceAppointmentsPath))
	if res.Correlation["appointmentId"] == "" {
		t.Errorf("correlation = %v", res.Correlation)
	}
	if n := len(f.rec.Requests(fortellis.ScheduleActivityPath)); n != 0 {
		t.Errorf("%d sales activities for a service appointment", n)
	}
}

func TestSalesAppointmentBeforeTheLeadIsPending(t *testing.T) {
	f := newFake(t)
	_, err := fortellis.New(oauth.NewCache()).Deliver(context.Background(), f.delivery(t, "appointment.created", nil))
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassPendingDependency {
		t.Fatalf("err = %v, want pending_dependency", err)
	}
}

func TestCancelledSalesAppointmentIsACommentOnTheOpportunity(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "appointment.cancelled", nil)
	d.Lead = map[string]string{"opportunityId": "opp-9"}
	if _, err := fortellis.New(oauth.NewCache()).Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if n := len(f.rec.Requests("/sales/v1/elead/opportunities/opp-9/comments")); n != 1 {
		t.Errorf("%d comments, want 1", n)
	}
}

func TestTokenExpiredIsRefreshedOnceInTheAttempt(t *testing.T) {
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	if _, err := c.Deliver(context.Background(), f.delivery(t, "lead.created", nil)); err != nil {
		t.Fatal(err)
	}
	f.issuer.ExpireAll()
	d := f.delivery(t, "appointment.created", nil)
	d.Lead = map[string]string{"opportunityId": "opp-1"}
	if _, err := c.Deliver(context.Background(), d); err != nil {
		t.Fatalf("the attempt must succeed after one refresh: %v", err)
	}
	if g := f.issuer.Grants(); g != 2 {
		t.Errorf("%d tokens, want 2", g)
	}
	if n := len(f.rec.Requests(fortellis.ScheduleActivityPath)); n != 2 {
		t.Errorf("%d activity requests, want 2 (refused, then accepted)", n)
	}
}

func TestSubscriptionMismatch(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "lead.created", nil)
	d.Settings["subscriptionId"] = "sub-other"
	_, err := fortellis.New(oauth.NewCache()).Deliver(context.Background(), d)
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassAuth || ae.StatusCode != 403 || !strings.Contains(ae.Message, fortellis.SubscriptionMismatch) {
		t.Fatalf("err = %v, want auth 403 SUBSCRIPTION-MISMATCH", err)
	}
	if f.issuer.Grants() != 1 {
		t.Errorf("a subscription mismatch must not refresh the token (%d grants)", f.issuer.Grants())
	}
}

func TestQuotaExceeded(t *testing.T) {
	f := newFake(t)
	f.faults.Add(fortellis.CustomersPath, agenttest.Fault{Status: http.StatusTooManyRequests,
		Body: `{"code":"QUOTA-EXCEEDED","message":"Rate limit"}`, Header: map[string]string{"Retry-After": "30"}})
	_, err := fortellis.New(oauth.NewCache()).Deliver(context.Background(), f.delivery(t, "lead.created", nil))
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.RetryAfter != 30*time.Second || !strings.Contains(ae.Message, "quota") {
		t.Fatalf("err = %+v, want 429 quota with Retry-After 30s", err)
	}
}

func TestResumeAfterAFailedOpportunityStep(t *testing.T) {
	f := newFake(t)
	c := fortellis.New(oauth.NewCache())
	f.faults.Add(fortellis.OpportunitiesPath, agenttest.Fault{Status: http.StatusInternalServerError, Body: `{"code":"INTERNAL","message":"oops"}`})
	d := f.delivery(t, "lead.created", nil)
	_, err := c.Deliver(context.Background(), d)
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Progress["customerId"] == "" || ae.Progress["opportunityId"] != "" {
		t.Fatalf("attempt 1: %+v", err)
	}
	d.Attempt, d.Progress = 2, ae.Progress
	res, err := c.Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.rec.Requests(fortellis.CustomersPath)); n != 1 {
		t.Errorf("%d customers created, want 1", n)
	}
	if res.Correlation["customerId"] != ae.Progress["customerId"] {
		t.Errorf("correlation = %v", res.Correlation)
	}
}

func TestRequestIDsAreUnique(t *testing.T) {
	f := newFake(t)
	// the fake refuses a repeated Request-Id: a lead (three calls) and a token refresh pass
	c := fortellis.New(oauth.NewCache())
	for range 3 {
		if _, err := c.Deliver(context.Background(), f.delivery(t, "lead.created", nil)); err != nil {
			t.Fatal(err)
		}
		f.issuer.ExpireAll()
	}
	seen := map[string]bool{}
	for _, r := range f.rec.Requests("") {
		id := r.Header.Get("Request-Id")
		if seen[id] {
			t.Fatalf("Request-Id %s repeated", id)
		}
		seen[id] = true
	}
}

func TestServiceRescheduleOfAKnownAppointmentIsSkipped(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "appointment.rescheduled", nil)
	d.Known = map[string]string{"appointmentId": "svc-1"}
	res, err := fortellis.New(oauth.NewCache()).Deliver(context.Background(), d)
	if err != nil || !res.Skipped {
		t.Fatalf("res = %+v, err = %v; want skipped", res, err)
	}
}
