package agentstest

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents/xtime"
	"github.com/dealerai/integrations/shared/agents/xtime/xtimefake"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/resources"
)

// XTime end to end: the agent configured through the API, events on the events queue, the
// real router and delivery handlers, the fake XTime of package xtimefake (which refuses what
// the published record says XTime refuses).

// serviceAppt is the appointment.created example as a service appointment (same lead, same
// vehicle), with fields overridden.
func serviceAppt(t *testing.T, eventID, appointmentID string, fields map[string]any) ([]byte, *events.Event) {
	t.Helper()
	m := map[string]any{"eventId": eventID, "appointmentType": "service", "appointmentId": appointmentID, "serviceType": "Oil change"}
	for k, v := range fields {
		m[k] = v
	}
	return example(t, "appointment.created", m)
}

func (s *stack) waitQueuesEmpty() {
	s.t.Helper()
	localtest.Eventually(s.t, 20*time.Second, "the queues to drain", func() bool {
		return s.depth(resources.EventsQueue) == 0 && s.depth(resources.DeliveriesQueue) == 0
	})
}

// TestXTimeLeadLifecycle: the lead's own events (lead, disposition, contact and vehicle
// updates) are not routed to XTime, whose public API has no lead; a service appointment of
// that lead — which XTime never heard of — is booked at once (the dealer's services, the
// vehicle's appointments, the booking); a sales appointment is skipped without a request;
// the reschedule moves the booking (appointmentId in the body); the cancellation, with no
// cancelPath configured, is skipped and leaves the booking alone.
func TestXTimeLeadLifecycle(t *testing.T) {
	s := newStack(t)
	f := newFakeXTime(t, xtCreds)
	s.enable("xtime", f.settings(), xtCreds)

	var leadEvents []*events.Event
	for _, typ := range []string{"lead.created", "lead.update.disposition", "contact.basic.updated", "contact.vehicleofinterest.updated"} {
		body, ev := example(t, typ, nil)
		s.publish(body)
		leadEvents = append(leadEvents, ev)
	}
	service, serviceEv := serviceAppt(t, "evt_01JDQ9XT1ME000000000000A01", "apt_xt_1", nil)
	sales, salesEv := example(t, "appointment.created", nil)
	s.publish(service, sales)

	rec := s.waitRecord("xtime", serviceEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	if rec.AttemptCount != 1 || rec.Attempts[0].StatusCode != http.StatusOK || rec.Attempts[0].ErrorClass != "" {
		t.Fatalf("service appointment: %+v (an unknown lead must not hold it back)", rec)
	}
	skipped := s.waitRecord("xtime", salesEv, 30*time.Second, status(deliverylog.StatusSkipped))
	if !strings.Contains(skipped.LastError, "service appointments only") || skipped.AttemptCount != 0 {
		t.Fatalf("sales appointment: %+v", skipped)
	}
	s.waitQueuesEmpty()
	time.Sleep(settle)
	for _, ev := range leadEvents {
		if _, err := s.log.Get(context.Background(), dealer, agentTarget("xtime"), deliveryID("xtime", ev), true); err == nil {
			t.Errorf("%s was routed to XTime", ev.Type)
		}
	}

	want := []string{"GET " + xtime.ServicesPath, "GET " + xtime.AppointmentsPath, "POST " + xtime.BookingsPath}
	if got := paths(f.Requests("")); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	book := f.Requests(xtime.BookingsPath)[0]
	if q := book.Query; q.Get("dealerCode") != "XT1" || q.Get("vin") != "2T3P1RFV8RW412345" || q.Get("year") != "2024" || q.Get("make") != "Toyota" || q.Get("model") != "RAV4" {
		t.Errorf("booking query %v", q)
	}
	for _, r := range f.Requests("") {
		if r.Header.Get("Authorization") != "Bearer token-1" || r.Header.Get("x-api-key") != xtCreds["apiKey"] {
			t.Errorf("%s %s: headers %v", r.Method, r.Path, r.Header)
		}
	}
	appts := f.Appointments()
	if len(appts) != 1 || appts[0].DateTimeLocal != "2026-11-30T10:00-0600" || appts[0].FirstName != "Ana" || appts[0].LastName != "Diaz" ||
		appts[0].Phone != "5125550199" || !slices.Equal(appts[0].Opcodes, []string{"OIL"}) || !strings.Contains(appts[0].Comment, "apt_xt_1") {
		t.Fatalf("XTime holds %+v", appts)
	}

	// the reschedule: the booking moved
	moved, movedEv := serviceAppt(t, "evt_01JDQ9XT1ME000000000000A02", "apt_xt_1", map[string]any{"eventType": "appointment.rescheduled",
		"timestamp": "2026-11-28T11:00:00Z", "appointmentTime": "2026-12-02T15:30:00Z"})
	s.publish(moved)
	s.waitRecord("xtime", movedEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	reqs := f.Requests(xtime.BookingsPath)
	if len(reqs) != 2 || reqs[1].JSON(t)["appointmentId"] != "XT-1" {
		t.Fatalf("%d bookings; the move %s", len(reqs), reqs[len(reqs)-1].Body)
	}
	if appts := f.Appointments(); len(appts) != 1 || appts[0].DateTimeLocal != "2026-12-02T09:30-0600" {
		t.Fatalf("after the move XTime holds %+v", appts)
	}

	// the cancellation: no cancel call is published and none is configured
	cancelled, cancelledEv := serviceAppt(t, "evt_01JDQ9XT1ME000000000000A03", "apt_xt_1", map[string]any{"eventType": "appointment.cancelled",
		"timestamp": "2026-11-28T12:00:00Z", "appointmentTime": "2026-12-02T15:30:00Z"})
	s.publish(cancelled)
	rec = s.waitRecord("xtime", cancelledEv, 30*time.Second, status(deliverylog.StatusSkipped))
	if !strings.Contains(rec.LastError, "no cancelPath") {
		t.Errorf("cancellation: %+v", rec)
	}
	time.Sleep(settle)
	if n := len(f.Requests("")); n != 4 || f.issuer.Grants() != 1 {
		t.Errorf("%d calls (%v), %d token grants; want 4 and 1", n, paths(f.Requests("")), f.issuer.Grants())
	}
}

// TestXTimeCancelAndRebook: with a cancelPath, a cancellation calls it, and the
// cancel-and-rebook strategy cancels the old booking before booking the new time.
func TestXTimeCancelAndRebook(t *testing.T) {
	s := newStack(t)
	f := &fakeXTime{Server: xtimefake.New(t, xtimefake.Config{ClientID: xtCreds["clientId"], ClientSecret: xtCreds["clientSecret"],
		APIKey: xtCreds["apiKey"], DealerCode: "XT1", Services: xtServices, CancelRoute: "PUT /service/appointments/{appointmentId}/cancellation"})}
	f.issuer = f.Issuer
	settings := f.settings()
	settings["rescheduleStrategy"], settings["cancelPath"], settings["cancelMethod"] = "cancel-and-rebook", "/service/appointments/{appointmentId}/cancellation", "PUT"
	s.enable("xtime", settings, xtCreds)

	created, createdEv := serviceAppt(t, "evt_01JDQ9XT1ME000000000000B01", "apt_xt_2", nil)
	s.publish(created)
	s.waitRecord("xtime", createdEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	moved, movedEv := serviceAppt(t, "evt_01JDQ9XT1ME000000000000B02", "apt_xt_2", map[string]any{"eventType": "appointment.rescheduled",
		"timestamp": "2026-11-28T11:00:00Z", "appointmentTime": "2026-12-02T15:30:00Z"})
	s.publish(moved)
	s.waitRecord("xtime", movedEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	cancelled, cancelledEv := serviceAppt(t, "evt_01JDQ9XT1ME000000000000B03", "apt_xt_2", map[string]any{"eventType": "appointment.cancelled",
		"timestamp": "2026-11-28T12:00:00Z", "appointmentTime": "2026-12-02T15:30:00Z"})
	s.publish(cancelled)
	s.waitRecord("xtime", cancelledEv, 30*time.Second, status(deliverylog.StatusSucceeded))

	want := []string{"PUT /service/appointments/XT-1/cancellation", "PUT /service/appointments/XT-2/cancellation"}
	var got []string
	for _, p := range paths(f.Requests("")) {
		if strings.HasPrefix(p, "PUT ") {
			got = append(got, p)
		}
	}
	appts := f.Appointments()
	if !slices.Equal(got, want) || len(appts) != 2 || !appts[0].Cancelled || !appts[1].Cancelled || appts[1].DateTimeLocal != "2026-12-02T09:30-0600" {
		t.Fatalf("cancels %v, XTime holds %+v", got, appts)
	}
}

// TestXTimeOneBookingPerAppointmentWhenEventsArriveTogether: a lead, its service appointment
// twice (the same appointment under two event ids) and another service appointment,
// published at once: each appointment is booked once.
func TestXTimeOneBookingPerAppointmentWhenEventsArriveTogether(t *testing.T) {
	s := newStack(t)
	f := newFakeXTime(t, xtCreds)
	s.enable("xtime", f.settings(), xtCreds)

	lead, _ := example(t, "lead.created", nil)
	first, firstEv := serviceAppt(t, "evt_01JDQ9XT1ME000000000000C01", "apt_xt_3", nil)
	again, againEv := serviceAppt(t, "evt_01JDQ9XT1ME000000000000C02", "apt_xt_3", nil)
	other, otherEv := serviceAppt(t, "evt_01JDQ9XT1ME000000000000C03", "apt_xt_4", map[string]any{"serviceType": "Brakes", "appointmentTime": "2026-12-03T14:00:00Z"})
	s.publish(lead, first, again, other)

	done := func(r *deliverylog.Record) bool {
		return r.Status == deliverylog.StatusSucceeded || r.Status == deliverylog.StatusSkipped
	}
	for _, ev := range []*events.Event{firstEv, againEv, otherEv} {
		s.waitRecord("xtime", ev, 40*time.Second, done)
	}
	s.waitQueuesEmpty()
	time.Sleep(settle)
	appts := f.Appointments()
	if len(appts) != 2 || len(f.Requests(xtime.BookingsPath)) != 2 {
		t.Fatalf("XTime holds %+v after %d bookings; want one per appointment", appts, len(f.Requests(xtime.BookingsPath)))
	}
	if !slices.Equal(appts[0].Opcodes, []string{"OIL"}) && !slices.Equal(appts[1].Opcodes, []string{"OIL"}) ||
		!slices.Equal(appts[0].Opcodes, []string{"BRK"}) && !slices.Equal(appts[1].Opcodes, []string{"BRK"}) {
		t.Errorf("opcodes %v and %v", appts[0].Opcodes, appts[1].Opcodes)
	}
	if n := len(f.Requests(xtime.ServicesPath)); n != 1 {
		t.Errorf("%d service lookups, want 1 (cached)", n)
	}
}

// TestXTimeRetryAfterALostAnswer: XTime books but its answer is lost (the connection dropped,
// a 500): the retry finds the booking by VIN and books nothing twice. Without a VIN XTime
// cannot be searched: the retry stops the delivery (failed, with what to check) instead of
// booking again.
func TestXTimeRetryAfterALostAnswer(t *testing.T) {
	s := newStack(t)
	f := newFakeXTime(t, xtCreds)
	s.enable("xtime", f.settings(), xtCreds)

	f.LoseNext(xtime.BookingsPath, xtimefake.DropConnection)
	f.LoseNext(xtime.BookingsPath, xtimefake.Answer500)
	dropped, droppedEv := serviceAppt(t, "evt_01JDQ9XT1ME000000000000D01", "apt_xt_5", nil)
	s.publish(dropped)
	rec := s.waitRecord("xtime", droppedEv, 40*time.Second, status(deliverylog.StatusSucceeded))
	if rec.AttemptCount != 2 || rec.Attempts[0].ErrorClass != "connection" || rec.Progress["appointmentId"] != "XT-1" {
		t.Fatalf("dropped answer: %+v", rec)
	}
	failed, failedEv := serviceAppt(t, "evt_01JDQ9XT1ME000000000000D02", "apt_xt_6", map[string]any{"appointmentTime": "2026-12-04T14:00:00Z"})
	s.publish(failed)
	rec = s.waitRecord("xtime", failedEv, 40*time.Second, status(deliverylog.StatusSucceeded))
	if rec.AttemptCount != 2 || rec.Attempts[0].StatusCode != 500 || rec.Progress["appointmentId"] != "XT-2" {
		t.Fatalf("500 answer: %+v", rec)
	}
	if n := len(f.Requests(xtime.BookingsPath)); n != 2 || len(f.Appointments()) != 2 {
		t.Fatalf("%d bookings sent, %d held; want 2 and 2", n, len(f.Appointments()))
	}

	// no VIN: year, make and model book, but a lost answer cannot be looked for
	f.LoseNext(xtime.BookingsPath, xtimefake.DropConnection)
	noVIN, noVINEv := serviceAppt(t, "evt_01JDQ9XT1ME000000000000D03", "apt_xt_7", map[string]any{"vehicleVin": "", "appointmentTime": "2026-12-05T14:00:00Z"})
	s.publish(noVIN)
	rec = s.waitRecord("xtime", noVINEv, 40*time.Second, status(deliverylog.StatusFailed))
	if rec.AttemptCount != 2 || !strings.Contains(rec.LastError, "cannot be searched without a VIN") || !strings.Contains(rec.LastError, "2026-12-05T08:00-0600") {
		t.Fatalf("no VIN: %+v", rec)
	}
	s.waitQueuesEmpty()
	time.Sleep(settle)
	if n := len(f.Requests(xtime.BookingsPath)); n != 3 || len(f.Appointments()) != 3 {
		t.Fatalf("%d bookings sent, %d held; want 3 and 3", n, len(f.Appointments()))
	}
	if q := f.Requests(xtime.BookingsPath)[2].Query; q.Has("vin") || q.Get("model") != "RAV4" {
		t.Errorf("the VIN-less booking's query %v", q)
	}
}
