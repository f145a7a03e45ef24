package xtime_test

// The shapes these tests hold the connector to come from the public record of XTime's API
// (docs/agents.md#xtime): [CODE S20] is a published production integration (Impel's XTime
// wrapper: token, headers, booking, reschedule, appointments, services); [NOTE S21] an
// integrations inventory (hosts, developerKey, "reschedule currently broken"). §4 is the
// XTime section of the research (docs/agents.md#sources), which cites both.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/xtime"
	"github.com/dealerai/integrations/shared/agents/xtime/xtimefake"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

const (
	apiKey     = "xt-api-key"
	dealerCode = "XT1234"
	cancelPath = "/service/appointments/{appointmentId}/cancel"
)

// dealerServices: the example's service type, "Oil change and tire rotation", names the first.
var dealerServices = []xtimefake.Service{
	{Opcode: "OCTR", ServiceName: "Oil Change and Tire Rotation"},
	{Opcode: "BRK", ServiceName: "Brake inspection"},
	{Opcode: "DAI01", ServiceName: "Customer concern"},
}

func newFake(t testing.TB, edit ...func(*xtimefake.Config)) *xtimefake.Server {
	cfg := xtimefake.Config{ClientID: "xt-client", ClientSecret: "xt-secret", APIKey: apiKey, DealerCode: dealerCode,
		Services: dealerServices, CancelRoute: "POST " + cancelPath}
	for _, e := range edit {
		e(&cfg)
	}
	return xtimefake.New(t, cfg)
}

// delivery is the example event name (a service appointment) with edits, for the fake.
func delivery(t *testing.T, f *xtimefake.Server, event string, edits map[string]any) *connector.Delivery {
	return &connector.Delivery{
		Event:    agenttest.Event(t, event, edits),
		DealerID: "dlr_42",
		Settings: xtime.Platform.WithDefaults(map[string]string{
			"baseUrl": f.URL, "tokenUrl": f.URL + xtimefake.TokenPath, "dealerCode": dealerCode,
			"timezone": "America/Chicago", "defaultOpcode": "DAI01",
		}),
		Credentials: map[string]string{"clientId": "xt-client", "clientSecret": "xt-secret", "apiKey": apiKey},
		Attempt:     1,
		HTTP:        &http.Client{},
	}
}

// created is the service example (appointment.rescheduled's) as an appointment.created.
var created = map[string]any{"eventType": "appointment.created"}

func deliver(t *testing.T, c *xtime.Connector, d *connector.Delivery) connector.Result {
	t.Helper()
	res, err := c.Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func attemptError(t *testing.T, err error) *connector.AttemptError {
	t.Helper()
	var ae *connector.AttemptError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an attempt error", err)
	}
	return ae
}

func calls(f *xtimefake.Server) []string {
	var out []string
	for _, r := range f.Requests("") {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// TestBooking [CODE S20, §4]: the dealer's services are read, the vehicle's appointments
// looked up, then the booking posted: dealerCode and the vehicle in the query, the
// dealership's local time, digits-only phone, one service by opcode; the id comes back at
// appointmentId.
func TestBooking(t *testing.T) {
	f := newFake(t)
	res := deliver(t, xtime.New(oauth.NewCache()), delivery(t, f, "appointment.rescheduled", created))

	want := []string{"GET " + xtime.ServicesPath, "GET " + xtime.AppointmentsPath, "POST " + xtime.BookingsPath}
	if got := calls(f); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	services := f.Requests(xtime.ServicesPath)[0].Query
	if services.Get("dealerCode") != dealerCode || services.Get("make") != "OTHER" || services.Get("model") != "OTHER" || len(services.Get("year")) != 4 {
		t.Errorf("services query %v, want the dealer's standard services (a generic vehicle, as S20 asks)", services)
	}
	if q := f.Requests(xtime.AppointmentsPath)[0].Query; q.Get("vin") != "5YJ3E1EA7KF317000" || q.Get("dealerCode") != dealerCode {
		t.Errorf("appointments query %v", q)
	}
	book := f.Requests(xtime.BookingsPath)[0]
	agenttest.Golden(t, "xtime/appointment.created.service.json", agenttest.Indent(t, book.Body))
	if q := book.Query; q.Get("dealerCode") != dealerCode || q.Get("vin") != "5YJ3E1EA7KF317000" || q.Get("year") != "2021" ||
		q.Get("make") != "Toyota" || q.Get("model") != "Highlander" {
		t.Errorf("booking query %v, want dealerCode and the vehicle (vin, year, make, model)", q)
	}
	for _, r := range f.Requests("") {
		if r.Header.Get("Authorization") != "Bearer token-1" || r.Header.Get("x-api-key") != apiKey || r.Header.Get("developerKey") != "" {
			t.Errorf("%s %s: headers %v", r.Method, r.Path, r.Header)
		}
	}
	if book.Header.Get("Content-Type") != "application/json" {
		t.Errorf("booking Content-Type %q", book.Header.Get("Content-Type"))
	}
	appts := f.Appointments()
	if len(appts) != 1 || appts[0].DateTimeLocal != "2026-12-01T07:00-0600" || appts[0].Phone != "5125550131" ||
		!slices.Equal(appts[0].Opcodes, []string{"OCTR"}) { // 13:00Z in Chicago (CST)
		t.Fatalf("XTime holds %+v", appts)
	}
	wantIDs := map[string]string{"appointmentId": "XT-1", "dateTimeLocal": "2026-12-01T07:00-0600", "opcode": "OCTR", "vin": "5YJ3E1EA7KF317000"}
	if res.Skipped || !mapsEqual(res.Correlation, wantIDs) || res.StatusCode != http.StatusOK {
		t.Errorf("result %+v, want correlation %v", res, wantIDs)
	}
	// what the change feed will read back: not an inbound event
	if want := map[string]string{"appointmentTime": "2026-12-01T13:00:00Z", "appointmentStatus": "scheduled"}; !mapsEqual(res.Pushed, want) {
		t.Errorf("pushed %v, want %v", res.Pushed, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestAuthorizationIsTheTokenTypeAndToken [CODE S20]: the header is
// "<token_type> <access_token>" as the token endpoint answered, not always "Bearer".
func TestAuthorizationIsTheTokenTypeAndToken(t *testing.T) {
	f := newFake(t, func(c *xtimefake.Config) { c.TokenType = "XTBearer" })
	deliver(t, xtime.New(oauth.NewCache()), delivery(t, f, "appointment.rescheduled", created))
	for _, r := range f.Requests("") {
		if r.Header.Get("Authorization") != "XTBearer token-1" {
			t.Errorf("%s: Authorization %q", r.Path, r.Header.Get("Authorization"))
		}
	}
	if f.Denied() != 0 || len(f.Appointments()) != 1 {
		t.Errorf("%d refused, %d booked", f.Denied(), len(f.Appointments()))
	}
}

// TestDeveloperKey [NOTE S21, unverified]: sent in the developerKey header when configured.
func TestDeveloperKey(t *testing.T) {
	f := newFake(t, func(c *xtimefake.Config) { c.DeveloperKey = "xt-dev-key" })
	d := delivery(t, f, "appointment.rescheduled", created)
	_, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), d)
	if ae := attemptError(t, err); ae.Class != connector.ClassAuth || ae.StatusCode != http.StatusForbidden {
		t.Fatalf("without the developer key: %+v, want auth 403", ae)
	}
	d = delivery(t, f, "appointment.rescheduled", created)
	d.Credentials["developerKey"] = "xt-dev-key"
	deliver(t, xtime.New(oauth.NewCache()), d)
	if n := len(f.Appointments()); n != 1 {
		t.Fatalf("%d booked", n)
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

// TestParseLocalTime: XTime's answers are read in our format and the usual ISO 8601 forms;
// a time without an offset is the dealership's wall clock.
func TestParseLocalTime(t *testing.T) {
	chicago, _ := time.LoadLocation("America/Chicago")
	want := time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
	for _, s := range []string{"2026-12-01T07:00-0600", "2026-12-01T07:00:00-0600", "2026-12-01T07:00:00-06:00",
		"2026-12-01T13:00:00Z", "2026-12-01T07:00-06:00", "2026-12-01T07:00:00", "2026-12-01T07:00", " 2026-12-01T07:00-0600 "} {
		if got, ok := xtime.ParseLocalTime(s, chicago); !ok || !got.Equal(want) {
			t.Errorf("%q = %v %v, want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "tomorrow", "2026-12-01", "12/01/2026 07:00"} {
		if _, ok := xtime.ParseLocalTime(s, chicago); ok {
			t.Errorf("%q parsed", s)
		}
	}
}

func TestNonServiceAppointmentIsSkippedWithoutARequest(t *testing.T) {
	f := newFake(t)
	for _, ev := range []string{"appointment.created", "appointment.created.testdrive", "appointment.cancelled", "lead.created"} {
		res, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), delivery(t, f, ev, nil))
		if err != nil || !res.Skipped {
			t.Errorf("%s: res = %+v, err = %v; want skipped", ev, res, err)
		}
	}
	if n := len(f.Requests("")); n != 0 || f.Issuer.Grants() != 0 {
		t.Errorf("%d requests, %d tokens; want none", n, f.Issuer.Grants())
	}
}

// TestRefusalInA200FailsTheAttempt [CODE S20, §4]: XTime refuses with {success: false, code,
// message}, also with HTTP 200; the attempt fails with its code and message.
func TestRefusalInA200FailsTheAttempt(t *testing.T) {
	f := newFake(t)
	f.Faults.Add(xtime.BookingsPath, agenttest.Fault{Status: http.StatusOK,
		Body: `{"success":false,"code":"x-001009","message":"Timeslot is not available"}`})
	_, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), delivery(t, f, "appointment.rescheduled", created))
	ae := attemptError(t, err)
	if ae.Class != connector.ClassPlatform || ae.StatusCode != 200 || ae.Permanent ||
		!strings.Contains(ae.Message, "x-001009") || !strings.Contains(ae.Message, "Timeslot is not available") {
		t.Fatalf("err = %+v, want a retryable platform error with XTime's code and message", ae)
	}
	if ae.Progress["bookingUnknown"] != "" {
		t.Errorf("a refused booking is not an unknown one: progress %v", ae.Progress)
	}
	// and a 200 that is not XTime's answer at all
	f.Faults.Add(xtime.BookingsPath, agenttest.Fault{Status: http.StatusOK, Body: `<html>maintenance</html>`})
	_, err = xtime.New(oauth.NewCache()).Deliver(context.Background(), delivery(t, f, "appointment.rescheduled", created))
	if ae := attemptError(t, err); ae.Class != connector.ClassPlatform || !strings.Contains(ae.Snippet, "maintenance") {
		t.Fatalf("err = %+v", ae)
	}
}

// TestFakeRefusalsReachTheAttempt: what the fake refuses (an opcode the dealer does not have)
// fails the attempt with XTime's message.
func TestFakeRefusalsReachTheAttempt(t *testing.T) {
	f := newFake(t)
	d := delivery(t, f, "appointment.rescheduled", created)
	d.Settings["serviceLookup"], d.Settings["defaultOpcode"] = "off", "NOPE"
	_, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), d)
	if ae := attemptError(t, err); ae.Class != connector.ClassPlatform || !strings.Contains(ae.Message, `opcode "NOPE" is not a service`) {
		t.Fatalf("err = %+v", ae)
	}
}

// TestVehicle [CODE S20]: the vehicle goes in the booking's query, by VIN or by year, make
// and model; an appointment with neither is not sent (S20 requires one or the other).
func TestVehicle(t *testing.T) {
	t.Run("VIN only", func(t *testing.T) {
		f := newFake(t)
		deliver(t, xtime.New(oauth.NewCache()), delivery(t, f, "appointment.rescheduled",
			map[string]any{"eventType": "appointment.created", "vehicleYear": nil, "vehicleMake": nil, "vehicleModel": nil}))
		q := f.Requests(xtime.BookingsPath)[0].Query
		if q.Get("vin") != "5YJ3E1EA7KF317000" || q.Has("year") || q.Has("make") || q.Has("model") {
			t.Errorf("query %v", q)
		}
	})
	t.Run("year, make and model without VIN", func(t *testing.T) {
		f := newFake(t)
		res := deliver(t, xtime.New(oauth.NewCache()), delivery(t, f, "appointment.rescheduled",
			map[string]any{"eventType": "appointment.created", "vehicleVin": nil}))
		q := f.Requests(xtime.BookingsPath)[0].Query
		if q.Has("vin") || q.Get("year") != "2021" || q.Get("make") != "Toyota" || q.Get("model") != "Highlander" {
			t.Errorf("query %v", q)
		}
		// XTime's appointments are searched by VIN: there is nothing to look up
		if got := calls(f); !slices.Equal(got, []string{"GET " + xtime.ServicesPath, "POST " + xtime.BookingsPath}) {
			t.Errorf("calls %v", got)
		}
		if res.Correlation["appointmentId"] != "XT-1" || res.Correlation["vin"] != "" {
			t.Errorf("correlation %v", res.Correlation)
		}
	})
	t.Run("neither", func(t *testing.T) {
		f := newFake(t)
		_, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), delivery(t, f, "appointment.rescheduled",
			map[string]any{"eventType": "appointment.created", "vehicleVin": nil, "vehicleModel": nil}))
		if ae := attemptError(t, err); !ae.Permanent || !strings.Contains(ae.Message, "VIN, or its year, make and model") {
			t.Fatalf("err = %+v, want a permanent failure naming what is missing", ae)
		}
		if n := len(f.Requests("")); n != 0 {
			t.Errorf("%d requests, want none", n)
		}
	})
}

// TestLostAnswerIsFoundByVIN: XTime booked, but its answer was lost (the connection dropped,
// or a 500); the retry finds the booking among the vehicle's appointments at the same time
// and keeps its id instead of booking again.
func TestLostAnswerIsFoundByVIN(t *testing.T) {
	for name, loss := range map[string]xtimefake.Loss{"dropped connection": xtimefake.DropConnection, "500": xtimefake.Answer500} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			f.LoseNext(xtime.BookingsPath, loss)
			c := xtime.New(oauth.NewCache())
			d := delivery(t, f, "appointment.rescheduled", created)
			_, err := c.Deliver(context.Background(), d)
			ae := attemptError(t, err)
			if ae.Permanent || ae.Progress["bookingUnknown"] != "2026-12-01T07:00-0600" {
				t.Fatalf("first attempt: %+v", ae)
			}
			d.Attempt, d.Progress = 2, ae.Progress
			res := deliver(t, c, d)
			if n := len(f.Requests(xtime.BookingsPath)); n != 1 || len(f.Appointments()) != 1 {
				t.Fatalf("%d bookings sent, %d held; want 1 and 1", n, len(f.Appointments()))
			}
			if res.Correlation["appointmentId"] != "XT-1" || !strings.Contains(res.Summary, "earlier answer was lost") || res.Progress["bookingUnknown"] != "" {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// TestAppointmentAlreadyInXTimeIsKept: a vehicle already booked at that time (by this
// delivery's lost attempt, or at the dealership) is not booked twice; one at another time is
// no match.
func TestAppointmentAlreadyInXTimeIsKept(t *testing.T) {
	f := newFake(t)
	c := xtime.New(oauth.NewCache())
	other := map[string]any{"eventType": "appointment.created", "appointmentId": "apt_other", "appointmentTime": "2026-12-02T13:00:00Z"}
	deliver(t, c, delivery(t, f, "appointment.rescheduled", other))
	res := deliver(t, c, delivery(t, f, "appointment.rescheduled", created))
	if res.Correlation["appointmentId"] != "XT-2" || len(f.Appointments()) != 2 {
		t.Fatalf("another time: %+v, %d held", res, len(f.Appointments()))
	}
	res = deliver(t, c, delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.created", "appointmentId": "apt_again"}))
	if res.Correlation["appointmentId"] != "XT-2" || len(f.Appointments()) != 2 {
		t.Fatalf("same vehicle, same time: %+v, %d held", res, len(f.Appointments()))
	}
}

// TestLostAnswerWithoutVINStops: without a VIN XTime cannot be searched, so a booking whose
// answer was lost is not sent again: the delivery fails for good, saying what to check.
func TestLostAnswerWithoutVINStops(t *testing.T) {
	f := newFake(t)
	f.LoseNext(xtime.BookingsPath, xtimefake.DropConnection)
	c := xtime.New(oauth.NewCache())
	d := delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.created", "vehicleVin": nil})
	_, err := c.Deliver(context.Background(), d)
	ae := attemptError(t, err)
	if ae.Class != connector.ClassConnection || ae.Permanent {
		t.Fatalf("first attempt: %+v", ae)
	}
	d.Attempt, d.Progress = 2, ae.Progress
	_, err = c.Deliver(context.Background(), d)
	if ae := attemptError(t, err); !ae.Permanent || !strings.Contains(ae.Message, "2026-12-01T07:00-0600") {
		t.Fatalf("second attempt: %+v, want a permanent failure naming the time to check", ae)
	}
	if n := len(f.Requests(xtime.BookingsPath)); n != 1 || len(f.Appointments()) != 1 {
		t.Fatalf("%d bookings sent; want 1", n)
	}
}

// TestRefusedBookingWithoutVINIsRetried: a refusal is an answer; the retry books.
func TestRefusedBookingWithoutVINIsRetried(t *testing.T) {
	f := newFake(t)
	f.Faults.Add(xtime.BookingsPath, agenttest.Fault{Status: http.StatusOK, Body: `{"success":false,"code":"x-001009","message":"Timeslot is not available"}`})
	c := xtime.New(oauth.NewCache())
	d := delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.created", "vehicleVin": nil})
	_, err := c.Deliver(context.Background(), d)
	d.Attempt, d.Progress = 2, attemptError(t, err).Progress
	if res := deliver(t, c, d); res.Correlation["appointmentId"] != "XT-1" {
		t.Fatalf("result %+v", res)
	}
}

// TestOpcode [CODE S20: GET /service/services, opcodes mapped per dealer]: the dealer's
// service named like the appointment's service type, else defaultOpcode when XTime lists it;
// serviceLookup off books defaultOpcode without looking.
func TestOpcode(t *testing.T) {
	cases := []struct {
		name, serviceType, defaultOpcode, lookup string
		want, failure                            string
	}{
		{"matched by name, any case and spacing", "  brake   INSPECTION ", "DAI01", "on", "BRK", ""},
		{"no match: defaultOpcode", "Wiper blades", "DAI01", "on", "DAI01", ""},
		{"no service type: defaultOpcode", "", "DAI01", "on", "DAI01", ""},
		{"defaultOpcode not the dealer's", "Wiper blades", "ZZZ", "on", "", "defaultOpcode ZZZ is not one of the dealer's XTime services (OCTR, BRK, DAI01)"},
		{"no match, no defaultOpcode", "Wiper blades", "", "on", "", `no XTime service of the dealer is named "Wiper blades"`},
		{"lookup off", "Brake inspection", "DAI01", "off", "DAI01", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			d := delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.created", "serviceType": c.serviceType})
			d.Settings["defaultOpcode"], d.Settings["serviceLookup"] = c.defaultOpcode, c.lookup
			res, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), d)
			if c.failure != "" {
				if ae := attemptError(t, err); !ae.Permanent || !strings.Contains(ae.Message, c.failure) {
					t.Fatalf("err = %+v, want %q", ae, c.failure)
				}
				if n := len(f.Requests(xtime.BookingsPath)); n != 0 {
					t.Errorf("%d bookings", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Correlation["opcode"] != c.want || !slices.Equal(f.Appointments()[0].Opcodes, []string{c.want}) {
				t.Errorf("booked %v, want %s", f.Appointments()[0].Opcodes, c.want)
			}
			if looked := len(f.Requests(xtime.ServicesPath)); looked != map[string]int{"on": 1, "off": 0}[c.lookup] {
				t.Errorf("%d service lookups with serviceLookup %s", looked, c.lookup)
			}
		})
	}
}

// TestServicesAreCachedPerDealer: reference data is read once per container and dealer.
func TestServicesAreCachedPerDealer(t *testing.T) {
	f := newFake(t)
	c := xtime.New(oauth.NewCache())
	for _, id := range []string{"apt_1", "apt_2", "apt_3"} {
		deliver(t, c, delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.created", "appointmentId": id,
			"appointmentTime": "2026-12-0" + id[4:] + "T15:00:00Z"}))
	}
	if n := len(f.Requests(xtime.ServicesPath)); n != 1 {
		t.Errorf("%d service lookups for three bookings of one dealer, want 1", n)
	}
	if n := len(f.Appointments()); n != 3 {
		t.Errorf("%d booked", n)
	}
}

// TestRescheduleUpdatesTheBooking [CODE S20 update_appointment]: the default strategy posts
// the booking again with XTime's appointmentId and the new time.
func TestRescheduleUpdatesTheBooking(t *testing.T) {
	f := newFake(t)
	c := xtime.New(oauth.NewCache())
	booked := deliver(t, c, delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.created", "appointmentTime": "2026-11-30T15:00:00Z"}))
	d := delivery(t, f, "appointment.rescheduled", nil)
	d.Known = booked.Correlation
	res := deliver(t, c, d)
	reqs := f.Requests(xtime.BookingsPath)
	if len(reqs) != 2 || reqs[1].JSON(t)["appointmentId"] != "XT-1" {
		t.Fatalf("bookings %d, the second %s", len(reqs), reqs[len(reqs)-1].Body)
	}
	agenttest.Golden(t, "xtime/appointment.rescheduled.update.json", agenttest.Indent(t, reqs[1].Body))
	appts := f.Appointments()
	if len(appts) != 1 || appts[0].DateTimeLocal != "2026-12-01T07:00-0600" {
		t.Fatalf("XTime holds %+v", appts)
	}
	if res.Correlation["appointmentId"] != "XT-1" || res.Correlation["dateTimeLocal"] != "2026-12-01T07:00-0600" ||
		!mapsEqual(res.Pushed, map[string]string{"appointmentTime": "2026-12-01T13:00:00Z", "appointmentStatus": "rescheduled"}) {
		t.Errorf("result %+v", res)
	}
	if n := len(f.Requests(xtime.AppointmentsPath)); n != 1 {
		t.Errorf("%d appointment lookups; a move needs none", n)
	}
}

// TestRescheduleCancelsAndRebooks: the strategy kept for when the update call fails ([NOTE
// S21] "reschedule currently broken"): the configured cancel call, then a new booking.
func TestRescheduleCancelsAndRebooks(t *testing.T) {
	f := newFake(t)
	c := xtime.New(oauth.NewCache())
	booked := deliver(t, c, delivery(t, f, "appointment.rescheduled", created))
	d := delivery(t, f, "appointment.rescheduled", nil)
	d.Settings["rescheduleStrategy"], d.Settings["cancelPath"] = "cancel-and-rebook", cancelPath
	d.Known = booked.Correlation // the same time: the cancelled booking is no match
	res := deliver(t, c, d)
	cancels := f.Requests("/service/appointments/XT-1/cancel")
	if len(cancels) != 1 || cancels[0].JSON(t)["appointmentId"] != "XT-1" {
		t.Fatalf("cancels %v", calls(f))
	}
	reqs := f.Requests(xtime.BookingsPath)
	if len(reqs) != 2 {
		t.Fatalf("%d bookings, want 2", len(reqs))
	}
	agenttest.Golden(t, "xtime/appointment.rescheduled.service.json", agenttest.Indent(t, reqs[1].Body))
	if appts := f.Appointments(); !appts[0].Cancelled || appts[1].Cancelled || res.Correlation["appointmentId"] != "XT-2" || res.Progress["cancelled"] != "XT-1" {
		t.Errorf("XTime holds %+v; result %+v", appts, res)
	}
}

func TestRescheduleResumesAfterTheCancel(t *testing.T) {
	f := newFake(t)
	c := xtime.New(oauth.NewCache())
	booked := deliver(t, c, delivery(t, f, "appointment.rescheduled", created))
	f.Faults.Add(xtime.BookingsPath, agenttest.Fault{Status: http.StatusServiceUnavailable, Body: "busy", Header: map[string]string{"Retry-After": "120"}})
	d := delivery(t, f, "appointment.rescheduled", nil)
	d.Settings["rescheduleStrategy"], d.Settings["cancelPath"] = "cancel-and-rebook", cancelPath
	d.Known = booked.Correlation
	_, err := c.Deliver(context.Background(), d)
	ae := attemptError(t, err)
	if ae.StatusCode != 503 || ae.RetryAfter != 2*time.Minute {
		t.Fatalf("err = %+v, want 503 with Retry-After 2m", ae)
	}
	d.Attempt, d.Progress = 2, ae.Progress
	deliver(t, c, d)
	if n := len(f.Requests("/service/appointments/XT-1/cancel")); n != 1 {
		t.Errorf("%d cancels, want 1 (the retry must not cancel again)", n)
	}
}

func TestRescheduleOfUnknownAppointmentBooks(t *testing.T) {
	f := newFake(t)
	res := deliver(t, xtime.New(oauth.NewCache()), delivery(t, f, "appointment.rescheduled", nil))
	if res.Correlation["appointmentId"] != "XT-1" || !strings.Contains(res.Summary, "no earlier XTime appointment") {
		t.Fatalf("res = %+v", res)
	}
}

// TestCancel: XTime publishes no cancel call [§4 "Cancel: [?]"]: a cancellation is sent only
// to a configured cancelPath, with the configured method; without one it is skipped.
func TestCancel(t *testing.T) {
	cancelled := map[string]any{"eventType": "appointment.cancelled"}
	t.Run("configured", func(t *testing.T) {
		f := newFake(t)
		c := xtime.New(oauth.NewCache())
		booked := deliver(t, c, delivery(t, f, "appointment.rescheduled", created))
		d := delivery(t, f, "appointment.rescheduled", cancelled)
		d.Settings["cancelPath"] = cancelPath
		d.Known = booked.Correlation
		res := deliver(t, c, d)
		if res.Correlation["status"] != "cancelled" || res.Correlation["appointmentId"] != "XT-1" || !f.Appointments()[0].Cancelled ||
			!mapsEqual(res.Pushed, map[string]string{"appointmentTime": "2026-12-01T13:00:00Z", "appointmentStatus": "cancelled"}) {
			t.Errorf("res = %+v", res)
		}
		// a reschedule after the cancellation books anew
		d = delivery(t, f, "appointment.rescheduled", nil)
		d.Known = res.Correlation
		if res := deliver(t, c, d); res.Correlation["appointmentId"] != "XT-2" {
			t.Errorf("reschedule after cancel: %+v", res)
		}
	})
	t.Run("DELETE", func(t *testing.T) {
		f := newFake(t, func(c *xtimefake.Config) { c.CancelRoute = "DELETE /service/appointments-bookings/{appointmentId}" })
		c := xtime.New(oauth.NewCache())
		booked := deliver(t, c, delivery(t, f, "appointment.rescheduled", created))
		d := delivery(t, f, "appointment.rescheduled", cancelled)
		d.Settings["cancelPath"], d.Settings["cancelMethod"] = "/service/appointments-bookings/{appointmentId}", "DELETE"
		d.Known = booked.Correlation
		deliver(t, c, d)
		if r := f.Requests("/service/appointments-bookings/XT-1"); len(r) != 1 || len(r[0].Body) != 0 || !f.Appointments()[0].Cancelled {
			t.Errorf("cancel requests %v", calls(f))
		}
	})
	t.Run("no cancelPath", func(t *testing.T) {
		f := newFake(t)
		d := delivery(t, f, "appointment.rescheduled", cancelled)
		d.Known = map[string]string{"appointmentId": "XT-9"}
		res := deliver(t, xtime.New(oauth.NewCache()), d)
		if !res.Skipped || !strings.Contains(res.SkipReason, "no cancelPath") || len(f.Requests("")) != 0 {
			t.Errorf("res = %+v, %d requests", res, len(f.Requests("")))
		}
	})
	t.Run("nothing known", func(t *testing.T) {
		f := newFake(t)
		d := delivery(t, f, "appointment.rescheduled", cancelled)
		d.Settings["cancelPath"] = cancelPath
		if res := deliver(t, xtime.New(oauth.NewCache()), d); !res.Skipped || len(f.Requests("")) != 0 {
			t.Errorf("res = %+v", res)
		}
	})
	t.Run("wrong cancelPath", func(t *testing.T) {
		f := newFake(t)
		d := delivery(t, f, "appointment.rescheduled", cancelled)
		d.Settings["cancelPath"] = "/service/appointments/{appointmentId}/void"
		d.Known = map[string]string{"appointmentId": "XT-9"}
		_, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), d)
		if ae := attemptError(t, err); ae.StatusCode != http.StatusNotFound || !strings.Contains(ae.Message, "XTime cancel") {
			t.Errorf("err = %+v, want the 404 (not 'already cancelled')", ae)
		}
	})
}

func TestSkipStrategy(t *testing.T) {
	f := newFake(t)
	d := delivery(t, f, "appointment.rescheduled", nil)
	d.Settings["rescheduleStrategy"] = "skip"
	d.Known = map[string]string{"appointmentId": "XT-9"}
	res, err := xtime.New(oauth.NewCache()).Deliver(context.Background(), d)
	if err != nil || !res.Skipped {
		t.Errorf("res = %+v, err = %v; want skipped", res, err)
	}
	if n := len(f.Requests("")); n != 0 {
		t.Errorf("%d requests, want 0", n)
	}
}

func TestTokenIsCachedAndRefreshedOnceWhenExpired(t *testing.T) {
	f := newFake(t)
	c := xtime.New(oauth.NewCache())
	for _, id := range []string{"apt_1", "apt_2"} {
		deliver(t, c, delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.created", "appointmentId": id,
			"appointmentTime": "2026-12-0" + id[4:] + "T15:00:00Z"}))
	}
	if g := f.Issuer.Grants(); g != 1 {
		t.Fatalf("%d tokens for two deliveries, want 1 (cached)", g)
	}
	f.Issuer.ExpireAll()
	deliver(t, c, delivery(t, f, "appointment.rescheduled", map[string]any{"eventType": "appointment.created", "appointmentId": "apt_3",
		"appointmentTime": "2026-12-03T15:00:00Z"}))
	if g, denied := f.Issuer.Grants(), f.Denied(); g != 2 || denied != 1 {
		t.Errorf("%d tokens, %d refusals; want 2 and 1 (one refresh)", g, denied)
	}
}

// TestBodyDecodesAsXTimeTakesIt: every field of the booking is one the record shows.
func TestBodyDecodesAsXTimeTakesIt(t *testing.T) {
	f := newFake(t)
	deliver(t, xtime.New(oauth.NewCache()), delivery(t, f, "appointment.rescheduled", created))
	var m map[string]json.RawMessage
	_ = json.Unmarshal(f.Requests(xtime.BookingsPath)[0].Body, &m)
	for k := range m {
		if !slices.Contains([]string{"appointmentDateTimeLocal", "firstName", "lastName", "emailAddress", "phoneNumber", "comment", "services"}, k) {
			t.Errorf("field %s is not in the published booking", k)
		}
	}
}
