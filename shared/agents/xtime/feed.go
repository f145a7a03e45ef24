package xtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
)

// The change feed. XTime publishes no change feed and no webhook: its one read is a vehicle's
// appointments as they are now (GET /service/appointments?dealerCode&vin=), with neither a
// status nor a change time in the published record. So the feed reads the VINs DealerAI
// booked (Request.Pushed, by the "vin" the connector keeps), one call each, in ascending order
// across runs (a rotation, PageVINs a call, continued at once until it ends, then again after
// SYNC_INTERVAL), and compares each vehicle's appointments with the ones the sync remembered
// for it (Request.Seen, a memory per VIN: each appointment's time and status):
//
//   - an appointment never seen is new in XTime (scheduled; the sync recognises DealerAI's own
//     booking by its reverse pointer and does not send it back unchanged);
//   - one whose time moved is rescheduled;
//   - one that is gone from the vehicle's list is cancelled when its time is still ahead, and
//     completed when its time has passed (an appointment served leaves the list of upcoming
//     ones; XTime says nothing more);
//   - a status the answer does give (not in the published record) is taken as it is:
//     cancelled, completed or no-show.
//
// Each is a service.appointment.updated (docs/agents.md#xtime).

// RecordKindAppointment is the record kind of an XTime appointment.
const RecordKindAppointment = "appointment"

// recordKindVIN is the kind of the sync's memory of a vehicle: its appointments as last read.
const recordKindVIN = "vin"

// PageVINs bounds the vehicles one call of the feed reads (one appointments call each).
const PageVINs = 25

// readMargin is the least time left before the job's deadline for the feed to start another
// call; under it, the page ends with what was read.
const readMargin = 2 * time.Second

// Feed is XTime's change feed.
type Feed struct {
	Tokens *oauth.Cache
}

var _ changefeed.Feed = (*Feed)(nil)

// NewFeed returns the change feed; it caches tokens in tokens (the connector's cache).
func NewFeed(tokens *oauth.Cache) *Feed { return &Feed{Tokens: tokens} }

// Changes implements changefeed.Feed.
func (f *Feed) Changes(ctx context.Context, req *changefeed.Request) (*changefeed.Page, error) {
	if req.Pushed == nil || req.Seen == nil {
		return nil, changefeed.Errorf(changefeed.Transient, "XTime's feed needs the records DealerAI pushed and what the sync remembered")
	}
	loc, err := time.LoadLocation(req.Settings["timezone"])
	if err != nil || req.Settings["timezone"] == "" {
		return nil, changefeed.Errorf(changefeed.Transient, "XTime's timezone setting is not a time zone")
	}
	cur := changefeed.ParseRotation(req.Cursor.Value)
	if cur.Started.IsZero() {
		cur = changefeed.Rotation{Started: req.Now} // a new rotation
	}
	limit := max(min(req.MaxRecords, PageVINs), 1)
	vins, err := req.Pushed.IDs(ctx, keyVIN, cur.After, limit)
	if err != nil {
		return nil, changefeed.Errorf(changefeed.Transient, "list the VINs DealerAI booked: %v", err)
	}
	s := &session{c: &Connector{Tokens: f.Tokens}, grant: grantOf(req.Settings, req.Credentials),
		d: &connector.Delivery{Settings: req.Settings, Credentials: req.Credentials, HTTP: req.HTTP}}
	page := &changefeed.Page{}
	var read []vehicleRead
	stopped := false
	for _, vin := range vins {
		if d, ok := ctx.Deadline(); ok && time.Until(d) < readMargin && len(read) > 0 {
			stopped = true // near the job's deadline: the page ends with what was read
			break
		}
		appts, skip, err := s.vehicleAppointments(ctx, vin)
		if err != nil && ctx.Err() != nil && len(read) > 0 {
			stopped = true
			break
		}
		if err != nil {
			return nil, err
		}
		page.RecordsRead++
		cur.After = vin
		if skip != "" {
			page.Notes = append(page.Notes, "VIN "+truncate(vin, 64)+" skipped: "+skip)
			continue
		}
		read = append(read, vehicleRead{vin: vin, appts: appts})
	}
	if err := changes(ctx, req, loc, read, page); err != nil {
		return nil, changefeed.Errorf(changefeed.Transient, "read what the sync remembered: %v", err)
	}
	page.Next, page.More = cur.Next(req.Cursor, len(vins), limit, stopped)
	return page, nil
}

// vehicleAppointments reads a vehicle's appointments. skip says why the vehicle is passed
// over instead (XTime refused its VIN); any other refusal is an error.
func (s *session) vehicleAppointments(ctx context.Context, vin string) ([]BookedAppointment, string, error) {
	const step = "XTime appointments"
	resp, err := s.call(ctx, http.MethodGet, AppointmentsPath, url.Values{"vin": {vin}}, nil, step)
	if err != nil {
		return nil, "", err
	}
	appts, r, ok := ParseAppointments(resp.Body)
	if ok && !r.Success && strings.Contains(strings.ToLower(r.Message), "vin") {
		return nil, refusalMessage(step, r), nil
	}
	if !ok || !r.Success {
		return nil, "", answerError(step, resp, r, ok)
	}
	return appts, "", nil
}

// vehicleRead is one vehicle's answer.
type vehicleRead struct {
	vin   string
	appts []BookedAppointment
}

// seenAppointment is what the sync remembers of an appointment: its time (UTC, RFC 3339; ""
// when XTime's could not be read) and its status.
type seenAppointment struct {
	At     string `json:"at,omitempty"`
	Status string `json:"st"`
}

// closed reports whether the appointment is over (cancelled, completed, no-show): a
// vehicle's list losing it says nothing more.
func (a seenAppointment) closed() bool {
	return a.Status == events.AppointmentStatusCancelled || a.Status == events.AppointmentStatusCompleted ||
		a.Status == events.AppointmentStatusNoShow
}

// changes compares the vehicles read with what the sync remembered of them, adding to page
// the appointments that are new, moved, closed or gone, and the vehicles' new memories.
func changes(ctx context.Context, req *changefeed.Request, loc *time.Location, read []vehicleRead, page *changefeed.Page) error {
	if len(read) == 0 {
		return nil
	}
	var vins []string
	for _, v := range read {
		vins = append(vins, v.vin)
	}
	remembered, err := req.Seen.Remembered(ctx, recordKindVIN, vins)
	if err != nil {
		return err
	}
	for _, v := range read {
		was := map[string]seenAppointment{}
		if m, ok := remembered[v.vin]; ok && json.Unmarshal([]byte(m), &was) != nil {
			was = map[string]seenAppointment{} // not ours: read as never seen
		}
		now := map[string]seenAppointment{}
		for _, a := range v.appts {
			if a.VIN != "" && !strings.EqualFold(a.VIN, v.vin) {
				continue // another vehicle's (XTime answered more than asked)
			}
			seen := seenAppointment{Status: statusOf(a.Status)}
			t, ok := ParseLocalTime(a.DateTimeLocal, loc)
			if ok {
				seen.At = t.UTC().Format(time.RFC3339)
			}
			prev, known := was[a.AppointmentID]
			switch {
			case !known:
				if seen.Status == "" {
					seen.Status = events.AppointmentStatusScheduled
				}
			case seen.Status == "" && prev.At != seen.At:
				seen.Status = events.AppointmentStatusRescheduled
			case seen.Status == "":
				seen.Status = prev.Status // unchanged
			}
			now[a.AppointmentID] = seen
			if known && prev == seen {
				continue
			}
			page.Changes = append(page.Changes, change(v.vin, a.AppointmentID, !known, prev, seen, &a))
		}
		for _, id := range sortedKeys(was) {
			prev := was[id]
			if _, listed := now[id]; listed || prev.closed() {
				continue
			}
			gone := seenAppointment{At: prev.At, Status: events.AppointmentStatusCancelled}
			if t, err := time.Parse(time.RFC3339, prev.At); err == nil && t.Before(req.Now) {
				gone.Status = events.AppointmentStatusCompleted
			}
			page.Changes = append(page.Changes, change(v.vin, id, false, prev, gone, nil))
		}
		memory, _ := json.Marshal(now) // plain data: cannot fail
		if m, ok := remembered[v.vin]; !ok || m != string(memory) {
			page.Remember = append(page.Remember, changefeed.Memory{RecordKind: recordKindVIN, RecordID: v.vin, Value: string(memory)})
		}
	}
	return nil
}

// change is the Change of appointment id of vehicle vin from prev (none when created) to now;
// a is XTime's answer for it (nil when it is gone from the list).
func change(vin, id string, created bool, prev, now seenAppointment, a *BookedAppointment) changefeed.Change {
	state := inbound.State{AppointmentStatus: now.Status, Vehicle: &inbound.Vehicle{VIN: vin}}
	if t, err := time.Parse(time.RFC3339, now.At); err == nil {
		state.AppointmentTime = t
	}
	if a != nil {
		state.FirstName, state.LastName = a.FirstName, a.LastName
		var names []string
		for _, s := range a.Services {
			names = append(names, firstOf(s.Name, s.Opcode))
		}
		state.Services = strings.Join(names, ", ")
	}
	// XTime gives no version or change time: the version is the move from the state
	// remembered to this one, the same whenever this state is read after that one.
	sum := sha256.Sum256([]byte(prev.At + "\x00" + prev.Status + "\x00" + now.At + "\x00" + now.Status))
	return changefeed.Change{
		RecordKind: RecordKindAppointment, RecordID: id, Version: "move:" + hex.EncodeToString(sum[:12]),
		EventType: events.TypeServiceAppointmentUpdated, Created: created,
		PlatformIDs: map[string]string{keyAppointmentID: id, keyVIN: vin},
		State:       state,
	}
}

// statusOf maps a status XTime's answer gives (none in the published record) to an
// appointment status: cancelled, completed, no-show; "" for any other (an open appointment).
func statusOf(s string) string {
	switch strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s)) {
	case "cancelled", "canceled":
		return events.AppointmentStatusCancelled
	case "completed", "complete", "closed", "finished":
		return events.AppointmentStatusCompleted
	case "noshow", "missed":
		return events.AppointmentStatusNoShow
	}
	return ""
}

func sortedKeys(m map[string]seenAppointment) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
