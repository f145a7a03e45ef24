package xtime_test

// The change feed against the fake XTime: a vehicle's appointments
// (GET /service/appointments?dealerCode&vin=, [CODE S20]) for each VIN DealerAI booked, with
// in-memory stand-ins for what the sync gives a feed (the VINs pushed, what it remembered).

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/xtime"
	"github.com/dealerai/integrations/shared/agents/xtime/xtimefake"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// feedRun is an agent's sync as the sync drives the feed (agenttest.FeedRun), on the fake.
type feedRun struct {
	*agenttest.FeedRun
	f      *xtimefake.Server
	feed   *xtime.Feed
	pushed *agenttest.Pushed
	creds  map[string]string
	now    time.Time
}

func newFeedRun(t testing.TB, f *xtimefake.Server) *feedRun {
	r := &feedRun{f: f, feed: xtime.NewFeed(oauth.NewCache()), pushed: &agenttest.Pushed{Name: "vin"},
		now:   time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC),
		creds: map[string]string{"clientId": "xt-client", "clientSecret": "xt-secret", "apiKey": apiKey}}
	r.FeedRun = &agenttest.FeedRun{T: t, Feed: r.feed, Request: r.request, Seen: agenttest.Memory{}}
	return r
}

func (r *feedRun) request(maxRecords int) *changefeed.Request {
	return &changefeed.Request{DealerID: "dlr_42", Credentials: r.creds, Cursor: r.Cursor, MaxRecords: maxRecords,
		Settings: xtime.Platform.WithDefaults(map[string]string{"baseUrl": r.f.URL, "tokenUrl": r.f.URL + xtimefake.TokenPath,
			"dealerCode": dealerCode, "timezone": "America/Chicago"}),
		HTTP: &http.Client{}, Pushed: r.pushed, Seen: r.Seen, Now: r.now}
}

func newFeedFake(t testing.TB) *xtimefake.Server {
	return newFake(t, func(c *xtimefake.Config) { c.CancelRoute = "" })
}

const vin1, vin2, vin3 = "1HGCM82633A004352", "2T3P1RFV8RW123456", "5YJ3E1EA7KF317000"

// A vehicle's appointment is read as scheduled the first time, then not again until XTime
// changes it: moved (rescheduled, the new time in UTC), cancelled before its time, completed
// after it; an appointment the service desk books for the same vehicle comes as new; a
// vehicle DealerAI never booked is not read.
func TestFeedAppointmentLifecycle(t *testing.T) {
	f := newFeedFake(t)
	r := newFeedRun(t, f)
	id := f.BookDirect(xtimefake.Appointment{VIN: vin1, DateTimeLocal: "2026-12-08T09:30-0600", FirstName: "Ana", LastName: "Diaz", Opcodes: []string{"OCTR"}})
	f.BookDirect(xtimefake.Appointment{VIN: vin3, DateTimeLocal: "2026-12-09T10:00-0600", FirstName: "Mia", Opcodes: []string{"BRK"}})
	r.pushed.Add(vin1)

	got := r.Rotation()
	if len(got) != 1 {
		t.Fatalf("first read: %+v", got)
	}
	c := got[0]
	if c.EventType != events.TypeServiceAppointmentUpdated || c.RecordKind != xtime.RecordKindAppointment || c.RecordID != id || !c.Created ||
		c.PlatformIDs["appointmentId"] != id || c.PlatformIDs["vin"] != vin1 || c.Version == "" {
		t.Errorf("first read: %+v", c)
	}
	if s := c.State; s.AppointmentStatus != events.AppointmentStatusScheduled || !s.AppointmentTime.Equal(time.Date(2026, 12, 8, 15, 30, 0, 0, time.UTC)) ||
		s.FirstName != "Ana" || s.LastName != "Diaz" || s.Services != "Oil Change and Tire Rotation" || s.Vehicle == nil || s.Vehicle.VIN != vin1 {
		t.Errorf("its state: %+v", s)
	}
	if again := r.Rotation(); len(again) != 0 {
		t.Fatalf("nothing changed, yet %+v", again)
	}

	f.Move(id, "2026-12-08T14:00-0600")
	moved := r.Rotation()
	if len(moved) != 1 || moved[0].Created || moved[0].State.AppointmentStatus != events.AppointmentStatusRescheduled ||
		!moved[0].State.AppointmentTime.Equal(time.Date(2026, 12, 8, 20, 0, 0, 0, time.UTC)) || moved[0].Version == c.Version {
		t.Fatalf("moved: %+v", moved)
	}
	if again := r.Rotation(); len(again) != 0 {
		t.Fatalf("the move came twice: %+v", again)
	}

	walkIn := f.BookDirect(xtimefake.Appointment{VIN: vin1, DateTimeLocal: "2026-11-30T08:00-0600", FirstName: "Ana", Opcodes: []string{"BRK"}})
	created := r.Rotation()
	if len(created) != 1 || created[0].RecordID != walkIn || !created[0].Created || created[0].State.Services != "Brake inspection" {
		t.Fatalf("booked at the service desk: %+v", created)
	}

	f.CancelDirect(id) // its time (Dec 8) is ahead: cancelled
	f.Complete(walkIn) // its time (Nov 30) has passed: served
	gone := r.Rotation()
	status := map[string]string{}
	for _, g := range gone {
		status[g.RecordID] = g.State.AppointmentStatus
		if g.State.AppointmentTime.IsZero() || g.PlatformIDs["vin"] != vin1 {
			t.Errorf("gone: %+v", g)
		}
	}
	if len(gone) != 2 || status[id] != events.AppointmentStatusCancelled || status[walkIn] != events.AppointmentStatusCompleted {
		t.Fatalf("cancelled and completed: %+v", gone)
	}
	if again := r.Rotation(); len(again) != 0 {
		t.Fatalf("closed appointments came again: %+v", again)
	}
	for _, req := range f.Requests(xtime.AppointmentsPath) {
		if v := req.Query.Get("vin"); v != vin1 || req.Query.Get("dealerCode") != dealerCode {
			t.Errorf("read %v", req.Query)
		}
	}
}

// Pages are bounded (one VIN a page here) and continue where the last stopped; a page read
// again before its cursor is stored (a crash) gives the same changes with the same versions;
// a rotation's end starts the next one with the next run, its start as the cursor's time.
func TestFeedPagesAndReplays(t *testing.T) {
	f := newFeedFake(t)
	r := newFeedRun(t, f)
	for i, v := range []string{vin3, vin1, vin2} {
		f.BookDirect(xtimefake.Appointment{VIN: v, DateTimeLocal: fmt.Sprintf("2026-12-0%dT09:00-0600", i+3), FirstName: "Ana", Opcodes: []string{"BRK"}})
	}
	r.pushed.Add(vin3, vin1, vin2)

	first, err := r.feed.Changes(context.Background(), r.request(1))
	if err != nil {
		t.Fatal(err)
	}
	replay, err := r.feed.Changes(context.Background(), r.request(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Changes) != 1 || !first.More || first.RecordsRead != 1 || len(replay.Changes) != 1 ||
		replay.Changes[0].Version != first.Changes[0].Version || replay.Next != first.Next {
		t.Fatalf("a page read twice: %+v / %+v", first, replay)
	}
	if first.Changes[0].PlatformIDs["vin"] != vin1 {
		t.Errorf("the first page is not the first VIN: %+v", first.Changes[0])
	}
	var vins []string
	for {
		p := r.Page(1)
		for _, c := range p.Changes {
			vins = append(vins, c.PlatformIDs["vin"])
		}
		if !p.More {
			break
		}
	}
	if strings.Join(vins, ",") != strings.Join([]string{vin1, vin2, vin3}, ",") {
		t.Errorf("read %v", vins)
	}
	if r.Cursor.Value != "" || !r.Cursor.Time.Equal(r.now) {
		t.Errorf("after the rotation: %+v", r.Cursor)
	}
}

// XTime's refusals: a 429 is RateLimited with its Retry-After; an expired token is replaced
// within the call; refused credentials are CredentialsRefused; a VIN XTime refuses is skipped
// with a note, the others read.
func TestFeedFailures(t *testing.T) {
	f := newFeedFake(t)
	r := newFeedRun(t, f)
	f.BookDirect(xtimefake.Appointment{VIN: vin1, DateTimeLocal: "2026-12-08T09:30-0600", FirstName: "Ana", Opcodes: []string{"OCTR"}})
	r.pushed.Add(vin1)

	f.Faults.Add(xtime.AppointmentsPath, agenttest.Fault{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "7"},
		Body: `{"success":false,"code":"x-000429","message":"too many requests"}`})
	_, err := r.feed.Changes(context.Background(), r.request(10))
	if fe := changefeed.Classify(err); fe.Failure != changefeed.RateLimited || fe.RetryAfter != 7*time.Second {
		t.Fatalf("429: %v (%+v)", err, fe)
	}

	r.Page(10)
	f.Issuer.ExpireAll()
	f.Move(f.Appointments()[0].ID, "2026-12-08T10:00-0600")
	if p := r.Page(10); len(p.Changes) != 1 || f.Denied() != 1 || f.Issuer.Grants() != 2 {
		t.Fatalf("expired token: %d changes, %d denied, %d grants", len(p.Changes), f.Denied(), f.Issuer.Grants())
	}

	r.creds["apiKey"] = "revoked"
	_, err = r.feed.Changes(context.Background(), r.request(10))
	if fe := changefeed.Classify(err); fe.Failure != changefeed.CredentialsRefused || strings.Contains(err.Error(), "xt-secret") {
		t.Fatalf("refused key: %v", err)
	}
	r.creds["apiKey"] = apiKey

	r.pushed.Add("BAD")
	f.Faults.Add(xtime.AppointmentsPath, agenttest.Fault{Status: http.StatusOK, Body: `{"success":false,"code":"x-000422","message":"vin is invalid"}`})
	p := r.Page(10)
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "VIN "+vin1+" skipped: XTime appointments: XTime refused (x-000422): vin is invalid") ||
		p.RecordsRead != 2 || len(p.Changes) != 0 || p.More {
		t.Fatalf("a refused VIN: %+v", p)
	}
}

// BenchmarkFeedRotation: our side of a rotation over 100 VINs DealerAI booked, one appointment
// each, nothing changed (as most rotations find), against the fake on loopback.
func BenchmarkFeedRotation(b *testing.B) {
	f := newFeedFake(b)
	r := newFeedRun(b, f)
	for i := range 100 {
		vin := fmt.Sprintf("1HGCM82633A%06d", i)
		f.BookDirect(xtimefake.Appointment{VIN: vin, DateTimeLocal: "2026-12-08T09:30-0600", FirstName: "Ana", Opcodes: []string{"OCTR"}})
		r.pushed.Add(vin)
	}
	r.Rotation() // every appointment seen
	b.ResetTimer()
	for b.Loop() {
		if got := r.Rotation(); len(got) != 0 {
			b.Fatalf("%d changes", len(got))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/VIN")
}
