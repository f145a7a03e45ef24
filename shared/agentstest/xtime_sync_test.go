package agentstest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents/xtime"
	"github.com/dealerai/integrations/shared/agents/xtime/xtimefake"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// XTime's two-way sync end to end: service appointments booked through the delivery path,
// then the sync reading the vehicles' appointments back from the fake XTime (one VIN a call)
// onto the inbound queue.

// appointmentReads counts f's appointments calls, for quiet.
func appointmentReads(f *fakeXTime) func() int {
	return func() int { return len(f.Requests(xtime.AppointmentsPath)) }
}

// ahead is an appointment time still to come when the tests run (a gone appointment whose
// time has passed reads as completed).
var ahead = time.Now().UTC().AddDate(0, 1, 0).Truncate(24 * time.Hour).Add(15 * time.Hour)

// bookService books a service appointment through DealerAI (the vehicle's VIN, a time ahead)
// and waits for its delivery.
func (s *stack) bookService(t *testing.T, n int, vin string) {
	t.Helper()
	body, ev := serviceAppt(t, fmt.Sprintf("evt_01JDQ9XTSYNC%014d", n), fmt.Sprintf("apt_sync_%d", n), map[string]any{
		"vehicleVin": vin, "appointmentTime": ahead.Add(time.Duration(n) * time.Hour).Format(time.RFC3339),
		"leadId": fmt.Sprintf("lead_sync_%d", n), "contactId": fmt.Sprintf("ct_sync_%d", n)})
	s.publish(body)
	s.waitRecord("xtime", ev, 30*time.Second, status(deliverylog.StatusSucceeded))
}

// A service appointment DealerAI booked is not sent back as it was booked; moved at the
// service desk it comes back once, rescheduled, with DealerAI's ids; DealerAI's own move does
// not come back; an appointment booked at the desk for the same vehicle comes as scheduled,
// with DealerAI's contact but not its appointment; DealerAI's appointment cancelled at the
// desk comes back cancelled; a vehicle DealerAI never booked is not read.
func TestXTimeSyncReadsBackChanges(t *testing.T) {
	s := newStack(t)
	f := newFakeXTime(t, xtCreds)
	s.enable("xtime", f.settings(), xtCreds)
	s.bookService(t, 1, "2T3P1RFV8RW412345")
	stranger := f.BookDirect(xtimefake.Appointment{VIN: "1HGCM82633A004352", DateTimeLocal: "2027-03-01T09:00-0600", FirstName: "Mia", Opcodes: []string{"BRK"}})
	s.runSync(s.syncHandler(syncEvery), syncEvery)

	reads := appointmentReads(f)
	s.quiet(reads, 2, "DealerAI's own booking came back")
	if !strings.Contains(s.logs.String(), `"echoesSuppressed":1`) {
		t.Error("no sync run counted the booking as an echo")
	}
	booked := f.Appointments()[0]

	// the service desk moves it: once, with DealerAI's ids
	f.Move(booked.ID, xtime.LocalTime(ahead.Add(26*time.Hour), chicago(t)))
	moved := s.awaitInbound(1, 30*time.Second)[0]
	if moved.Type != events.TypeServiceAppointmentUpdated || moved.Platform != "xtime" || moved.AppointmentID != "apt_sync_1" ||
		moved.LeadID != "lead_sync_1" || moved.ContactID != "ct_sync_1" || moved.PlatformIDs["appointmentId"] != booked.ID ||
		moved.PlatformIDs["vin"] != "2T3P1RFV8RW412345" {
		t.Fatalf("the move: %+v", moved)
	}
	if st := moved.State; st.AppointmentStatus != events.AppointmentStatusRescheduled || !st.AppointmentTime.Equal(ahead.Add(26*time.Hour)) ||
		st.Services != "Oil change" || st.FirstName != "Ana" || st.Vehicle == nil || st.Vehicle.VIN != "2T3P1RFV8RW412345" {
		t.Errorf("its state: %+v", st)
	}
	s.quiet(reads, 2, "the move came back twice")

	// DealerAI moves it: not sent back
	again, againEv := serviceAppt(t, "evt_01JDQ9XTSYNC00000000000M01", "apt_sync_1", map[string]any{"eventType": "appointment.rescheduled",
		"vehicleVin": "2T3P1RFV8RW412345", "appointmentTime": ahead.Add(50 * time.Hour).Format(time.RFC3339),
		"leadId": "lead_sync_1", "contactId": "ct_sync_1", "timestamp": time.Now().UTC().Format(time.RFC3339)})
	s.publish(again)
	s.waitRecord("xtime", againEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	s.quiet(reads, 2, "DealerAI's own move came back")

	// booked at the desk for the same vehicle; DealerAI's appointment cancelled at the desk
	desk := f.BookDirect(xtimefake.Appointment{VIN: "2T3P1RFV8RW412345", DateTimeLocal: xtime.LocalTime(ahead.Add(72*time.Hour), chicago(t)),
		FirstName: "Ana", LastName: "Diaz", Opcodes: []string{"BRK"}})
	f.CancelDirect(booked.ID)
	got := s.awaitInbound(2, 30*time.Second)
	byID := map[string]*inbound.Event{}
	for _, e := range got {
		byID[e.PlatformIDs["appointmentId"]] = e
	}
	if e := byID[desk]; e == nil || e.AppointmentStatus != events.AppointmentStatusScheduled || e.AppointmentID != "" || e.LeadID != "" ||
		e.ContactID != "ct_sync_1" || e.Services != "Brakes" {
		t.Errorf("booked at the desk: %+v", e)
	}
	if e := byID[booked.ID]; e == nil || e.AppointmentStatus != events.AppointmentStatusCancelled || e.AppointmentID != "apt_sync_1" ||
		!e.AppointmentTime.Equal(ahead.Add(50*time.Hour)) {
		t.Errorf("cancelled at the desk: %+v", e)
	}
	s.quiet(reads, 2, "the desk's changes came back twice")
	for _, r := range f.Requests(xtime.AppointmentsPath) {
		if r.Query.Get("vin") != "2T3P1RFV8RW412345" {
			t.Errorf("a vehicle DealerAI never booked (appointment %s) was read: %v", stranger, r.Query)
		}
	}

	var st agentsync.Status
	r := s.call("GET", "/v1/agents/xtime/sync", dealer, nil)
	r.json(t, &st)
	if r.status != http.StatusOK || !st.Supported || st.LastRun == nil || st.LastRun.Error != "" || st.CursorTime == nil {
		t.Errorf("GET .../sync: %d %s", r.status, r.body)
	}
}

func chicago(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// A worker killed after a page's events are on the queue, before its cursor is stored: the
// rerun publishes that page again under the same ids and goes on; every change comes back,
// none under two ids, and a later change once.
func TestXTimeSyncKilledMidRotation(t *testing.T) {
	s := newStack(t)
	f := newFakeXTime(t, xtCreds)
	s.enable("xtime", f.settings(), xtCreds)
	vins := []string{"1HGCM82633A004351", "1HGCM82633A004352", "1HGCM82633A004353"}
	for i, vin := range vins {
		s.bookService(t, i, vin)
	}
	h := s.syncHandler(time.Minute)
	h.Syncer.PageRecords = 1 // one VIN a page
	job := syncJob("xtime")
	if resp, _ := h.Handle(context.Background(), job); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("the first rotation failed: %+v", resp)
	}
	if got := s.inbound(); len(got) != 0 {
		t.Fatalf("DealerAI's own bookings came back: %+v", got)
	}
	for i, a := range f.Appointments() {
		f.Move(a.ID, xtime.LocalTime(ahead.Add(time.Duration(100+i)*time.Hour), chicago(t)))
	}

	got := s.killThenRerun(h, job, 2)
	idOf, count := oneIDPerRecord(t, got, "appointmentId")
	for _, e := range got {
		if e.AppointmentStatus != events.AppointmentStatusRescheduled || !strings.HasPrefix(e.AppointmentID, "apt_sync_") {
			t.Errorf("%+v", e)
		}
	}
	if len(idOf) != 3 || len(got) != 4 {
		t.Fatalf("%d appointments in %d events, want 3 in 4 (the page on the queue when the worker died twice): %v", len(idOf), len(got), count)
	}

	first := f.Appointments()[0]
	f.CancelDirect(first.ID)
	if resp, _ := h.Handle(context.Background(), job); len(resp.BatchItemFailures) != 0 {
		t.Fatal(resp)
	}
	if again := s.inbound(); len(again) != 1 || again[0].AppointmentStatus != events.AppointmentStatusCancelled || again[0].PlatformIDs["appointmentId"] != first.ID {
		t.Errorf("after a cancellation: %+v", again)
	}
}

// XTime answering 429 with Retry-After: that dealer's sync waits at least that long before it
// reads again, while another dealer's sync goes on; then the change comes back.
func TestXTimeSyncRateLimited(t *testing.T) {
	const other = "dlr_43"
	s := newStack(t)
	limited, healthy := newFakeXTime(t, xtCreds), newFakeXTime(t, xtCreds)
	s.enable("xtime", limited.settings(), xtCreds)
	s.enableFor(other, "xtime", healthy.settings(), xtCreds)
	s.bookService(t, 1, "2T3P1RFV8RW412345")
	otherBody, otherEv := localtest.Example(t, "appointment.created", other, map[string]any{"eventId": "evt_01JDQ9OTHERDEALER00000000XT",
		"appointmentType": "service", "appointmentId": "apt_other", "serviceType": "Oil change", "leadId": "lead_other", "contactId": "ct_other",
		"appointmentTime": ahead.Format(time.RFC3339)})
	s.publish(otherBody)
	localtest.Eventually(t, 30*time.Second, "the other dealer's appointment delivered", func() bool {
		r, err := s.log.Get(context.Background(), other, agentTarget("xtime"), deliveryID("xtime", otherEv), true)
		return err == nil && r.Status == deliverylog.StatusSucceeded
	})
	s.runSync(s.syncHandler(syncEvery), syncEvery)
	s.quiet(appointmentReads(limited), 1, "a booking came back")
	s.quiet(appointmentReads(healthy), 1, "a booking came back")

	before := len(limited.Requests(xtime.AppointmentsPath))
	limited.Faults.Add(xtime.AppointmentsPath, agenttest.Fault{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "4"},
		Body: `{"success":false,"code":"x-000429","message":"too many requests"}`})
	for _, f := range []*fakeXTime{limited, healthy} {
		f.Move(f.Appointments()[0].ID, xtime.LocalTime(ahead.Add(5*time.Hour), chicago(t)))
	}
	_, theirs := mineAndTheirs(t, s.awaitInbound(2, 60*time.Second), other, events.AppointmentStatusRescheduled)
	waitedOut(t, limited.Requests(xtime.AppointmentsPath)[max(before-1, 0):], 4*time.Second, theirs)
}
