package xtime_test

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
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/xtime"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

const (
	apiKey     = "xt-api-key"
	dealerCode = "XT1234"
)

var localTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}[+-]\d{4}$`)

// fakeXTime checks what XTime checks: a Basic-authenticated token grant with both scheduling
// scopes, the bearer token and x-api-key on every call, the dealerCode, a JSON body with the
// local date-time in XTime's format, a name and an opcode.
type fakeXTime struct {
	*httptest.Server
	issuer *agenttest.Issuer
	rec    agenttest.Recorder
	faults agenttest.Faults

	mu     sync.Mutex
	booked int
}

func newFake(t *testing.T) *fakeXTime {
	f := &fakeXTime{issuer: &agenttest.Issuer{ClientID: "xt-client", ClientSecret: "xt-secret", Scope: xtime.Scope, Basic: true}}
	mux := http.NewServeMux()
	mux.Handle("POST /oauth2/token", f.issuer)
	mux.HandleFunc("POST /service/appointments-bookings", f.book)
	mux.HandleFunc("POST /service/appointments-bookings/{id}/cancel", f.cancel)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeXTime) check(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	body := f.rec.Record(r).Body
	fail := func(code int, c, msg string) (map[string]any, bool) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"success":false,"code":%q,"message":%q}`, c, msg)
		return nil, false
	}
	switch {
	case !f.issuer.Authorized(r):
		return fail(http.StatusUnauthorized, "UNAUTHORIZED", "invalid token")
	case r.Header.Get("x-api-key") != apiKey:
		return fail(http.StatusForbidden, "FORBIDDEN", "invalid api key")
	case r.URL.Query().Get("dealerCode") != dealerCode:
		return fail(http.StatusBadRequest, "INVALID_DEALER", "unknown dealerCode")
	case r.Header.Get("Content-Type") != "application/json":
		return fail(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "want application/json")
	}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return fail(http.StatusBadRequest, "INVALID_BODY", "not JSON")
	}
	if f.faults.Serve(w, r) {
		return nil, false
	}
	return m, true
}

func (f *fakeXTime) book(w http.ResponseWriter, r *http.Request) {
	m, ok := f.check(w, r)
	if !ok {
		return
	}
	refuse := func(msg string) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"success":false,"code":"VALIDATION_ERROR","message":%q}`, msg)
	}
	if s, _ := m["appointmentDateTimeLocal"].(string); !localTime.MatchString(s) {
		refuse("appointmentDateTimeLocal must look like 2006-01-02T15:04-0700")
		return
	}
	if s, _ := m["firstName"].(string); s == "" {
		refuse("firstName is required")
		return
	}
	services, _ := m["services"].([]any)
	if len(services) == 0 {
		refuse("services is required")
		return
	}
	if op, _ := services[0].(map[string]any)["opcode"].(string); op == "" {
		refuse("services[].opcode is required")
		return
	}
	f.mu.Lock()
	f.booked++
	id := fmt.Sprintf("XT-%d", f.booked)
	f.mu.Unlock()
	fmt.Fprintf(w, `{"success":true,"appointmentId":%q}`, id)
}

func (f *fakeXTime) cancel(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.check(w, r); !ok {
		return
	}
	fmt.Fprint(w, `{"success":true}`)
}

func (f *fakeXTime) delivery(t *testing.T, event string, edits map[string]any) *connector.Delivery {
	return &connector.Delivery{
		Event:    agenttest.Event(t, event, edits),
		DealerID: "dlr_42",
		Settings: map[string]string{
			"baseUrl": f.URL, "tokenUrl": f.URL + "/oauth2/token", "dealerCode": dealerCode,
			"timezone": "America/Chicago", "defaultOpcode": "DAI01",
			"rescheduleStrategy": "cancel-and-rebook", "cancelPath": "/service/appointments-bookings/{appointmentId}/cancel",
		},
		Credentials: map[string]string{"clientId": "xt-client", "clientSecret": "xt-secret", "apiKey": apiKey},
		Attempt:     1,
		HTTP:        &http.Client{},
	}
}

// serviceCreated is the service example as an appointment.created.
var serviceCreated = map[string]any{"eventType": "appointment.created"}

func TestServiceAppointmentCreated(t *testing.T) {
	f := newFake(t)
	res, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), f.delivery(t, "appointment.rescheduled", serviceCreated))
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.rec.Requests(xtime.BookingsPath)
	if len(reqs) != 1 {
		t.Fatalf("%d bookings, want 1", len(reqs))
	}
	agenttest.Golden(t, "xtime/appointment.created.service.json", agenttest.Indent(t, reqs[0].Body))
	var body struct{ AppointmentDateTimeLocal string }
	_ = json.Unmarshal(reqs[0].Body, &body)
	if body.AppointmentDateTimeLocal != "2026-12-01T07:00-0600" { // 13:00Z in Chicago (CST)
		t.Errorf("appointmentDateTimeLocal = %s", body.AppointmentDateTimeLocal)
	}
	if res.Correlation["appointmentId"] != "XT-1" || res.Skipped {
		t.Errorf("result = %+v", res)
	}
}

func TestLocalTime(t *testing.T) {
	at := func(s string) time.Time {
		v, _ := time.Parse(time.RFC3339, s)
		return v
	}
	cases := []struct {
		utc, zone, want string
	}{
		{"2026-12-01T13:00:00Z", "America/Chicago", "2026-12-01T07:00-0600"},
		{"2026-07-01T13:00:00Z", "America/Chicago", "2026-07-01T08:00-0500"}, // daylight saving
		{"2026-07-01T13:00:00Z", "America/New_York", "2026-07-01T09:00-0400"},
		{"2026-12-01T20:30:00Z", "Asia/Kolkata", "2026-12-02T02:00+0530"}, // next day, half-hour offset
		{"2026-12-01T13:00:00Z", "UTC", "2026-12-01T13:00+0000"},
	}
	for _, c := range cases {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := xtime.LocalTime(at(c.utc), loc); got != c.want {
			t.Errorf("%s in %s = %s, want %s", c.utc, c.zone, got, c.want)
		}
	}
}

func TestNonServiceAppointmentIsSkippedWithoutARequest(t *testing.T) {
	f := newFake(t)
	for _, ev := range []string{"appointment.created", "appointment.created.testdrive", "appointment.cancelled"} {
		res, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), f.delivery(t, ev, nil))
		if err != nil || !res.Skipped {
			t.Errorf("%s: res = %+v, err = %v; want skipped", ev, res, err)
		}
	}
	if n := len(f.rec.Requests("")); n != 0 || f.issuer.Grants() != 0 {
		t.Errorf("%d requests, %d tokens; want none", n, f.issuer.Grants())
	}
}

func TestSuccessFalseFailsTheAttempt(t *testing.T) {
	f := newFake(t)
	f.faults.Add(xtime.BookingsPath, agenttest.Fault{Status: http.StatusOK,
		Body: `{"success":false,"code":"SLOT_UNAVAILABLE","message":"No capacity at the requested time"}`})
	_, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), f.delivery(t, "appointment.rescheduled", serviceCreated))
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassPlatform {
		t.Fatalf("err = %v, want a platform error", err)
	}
	if !strings.Contains(ae.Message, "SLOT_UNAVAILABLE") || !strings.Contains(ae.Message, "No capacity") {
		t.Errorf("message = %q, want XTime's code and message", ae.Message)
	}
}

func TestValidationErrorStatusCarriesXTimeCode(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "appointment.rescheduled", serviceCreated)
	d.Settings["defaultOpcode"] = "" // the fake refuses a booking without opcode
	_, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), d)
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Message, "VALIDATION_ERROR") {
		t.Fatalf("err = %v, want XTime's 400 VALIDATION_ERROR", err)
	}
}

func TestRescheduleCancelsAndRebooks(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "appointment.rescheduled", nil)
	d.Known = map[string]string{"appointmentId": "XT-OLD"}
	res, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.rec.Requests("/service/appointments-bookings/XT-OLD/cancel")); n != 1 {
		t.Errorf("%d cancels of XT-OLD, want 1", n)
	}
	reqs := f.rec.Requests(xtime.BookingsPath)
	if len(reqs) != 1 {
		t.Fatalf("%d bookings, want 1", len(reqs))
	}
	agenttest.Golden(t, "xtime/appointment.rescheduled.service.json", agenttest.Indent(t, reqs[0].Body))
	if res.Correlation["appointmentId"] != "XT-1" || res.Progress["cancelled"] != "XT-OLD" {
		t.Errorf("result = %+v", res)
	}
}

func TestRescheduleResumesAfterTheCancel(t *testing.T) {
	f := newFake(t)
	c := xtime.New(oauth.NewCache())
	f.faults.Add(xtime.BookingsPath, agenttest.Fault{Status: http.StatusServiceUnavailable, Body: "busy", Header: map[string]string{"Retry-After": "120"}})
	d := f.delivery(t, "appointment.rescheduled", nil)
	d.Known = map[string]string{"appointmentId": "XT-OLD"}
	_, err := c.Deliver(context.Background(), d)
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.StatusCode != 503 || ae.RetryAfter != 2*time.Minute {
		t.Fatalf("err = %+v, want 503 with Retry-After 2m", err)
	}
	d.Attempt, d.Progress = 2, ae.Progress
	if _, err := c.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if n := len(f.rec.Requests("/service/appointments-bookings/XT-OLD/cancel")); n != 1 {
		t.Errorf("%d cancels, want 1 (the retry must not cancel again)", n)
	}
}

func TestRescheduleOfUnknownAppointmentBooks(t *testing.T) {
	f := newFake(t)
	res, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), f.delivery(t, "appointment.rescheduled", nil))
	if err != nil || res.Correlation["appointmentId"] != "XT-1" {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
}

func TestCancel(t *testing.T) {
	f := newFake(t)
	cancelled := map[string]any{"eventType": "appointment.cancelled"}
	d := f.delivery(t, "appointment.rescheduled", cancelled)
	d.Known = map[string]string{"appointmentId": "XT-9"}
	res, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if res.Correlation["status"] != "cancelled" || len(f.rec.Requests("/service/appointments-bookings/XT-9/cancel")) != 1 {
		t.Errorf("res = %+v", res)
	}

	// nothing known: nothing to cancel
	res, err = xtime.New(oauth.NewCache()).Deliver(context.Background(), f.delivery(t, "appointment.rescheduled", cancelled))
	if err != nil || !res.Skipped {
		t.Errorf("unknown appointment: res = %+v, err = %v; want skipped", res, err)
	}
}

func TestSkipStrategy(t *testing.T) {
	f := newFake(t)
	for _, typ := range []string{"appointment.rescheduled", "appointment.cancelled"} {
		d := f.delivery(t, "appointment.rescheduled", map[string]any{"eventType": typ})
		d.Settings["rescheduleStrategy"] = "skip"
		d.Known = map[string]string{"appointmentId": "XT-9"}
		res, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), d)
		if err != nil || !res.Skipped {
			t.Errorf("%s: res = %+v, err = %v; want skipped", typ, res, err)
		}
	}
	if n := len(f.rec.Requests("")); n != 0 {
		t.Errorf("%d requests, want 0", n)
	}
}

func TestTokenIsCachedAndRefreshedOnceWhenExpired(t *testing.T) {
	f := newFake(t)
	c := xtime.New(oauth.NewCache())
	for range 2 {
		if _, err := c.Deliver(context.Background(), f.delivery(t, "appointment.rescheduled", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if g := f.issuer.Grants(); g != 1 {
		t.Fatalf("%d tokens for two deliveries, want 1 (cached)", g)
	}
	f.issuer.ExpireAll()
	if _, err := c.Deliver(context.Background(), f.delivery(t, "appointment.rescheduled", nil)); err != nil {
		t.Fatal(err)
	}
	if g := f.issuer.Grants(); g != 2 {
		t.Errorf("%d tokens, want 2 (one refresh)", g)
	}
}
