// Package xtime books DealerAI's service appointments in XTime, Cox Automotive's service
// scheduler (docs/agents.md#xtime).
//
// Tokens come from an OAuth 2.0 client-credentials grant authenticated with HTTP Basic
// (scopes cai.scheduling.appointments.read and .write); every call carries
// "Authorization: <token_type> <token>", x-api-key (and developerKey when configured) and
// ?dealerCode=. A booking is POST /service/appointments-bookings with the vehicle in the
// query (vin, year, make, model), the time in the dealership's zone
// ("2006-01-02T15:04-0700"), the phone as digits and one service by opcode; XTime answers
// {success, appointmentId} or {success: false, code, message}, the latter also with HTTP 200.
//
// The opcode is the dealer's XTime service named like the appointment's service type
// (GET /service/services, cached per container), else defaultOpcode. Before booking a
// vehicle known by VIN, its appointments are read (GET /service/appointments?vin=): one at
// the same time is the booking of an earlier attempt whose answer was lost, and is kept
// instead of booking again. A reschedule posts the booking again with XTime's appointmentId,
// or cancels and rebooks, or is skipped (rescheduleStrategy). XTime publishes no cancel
// call: cancellations go to the configured cancelPath, or are skipped without one.
// Appointments that are not service appointments are skipped without a request.
package xtime

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the dealership's zone must load on Lambda, whose image has no zoneinfo

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
)

// Keys of Progress and of the correlation kept per DealerAI appointment.
const (
	keyAppointmentID = "appointmentId"  // XTime's id of the appointment
	keyDateTimeLocal = "dateTimeLocal"  // the time last sent, as sent
	keyOpcode        = "opcode"         // the opcode last sent
	keyVIN           = "vin"            // the vehicle's VIN, when booked by VIN
	keyStatus        = "status"         // "cancelled" once cancelled
	keyCancelled     = "cancelled"      // Progress: the XTime id this delivery cancelled
	keyUnconfirmed   = "bookingUnknown" // Progress: a booking was sent and its answer lost
)

// Connector is the XTime connector. Build it once per container: it caches tokens and the
// dealers' service lists.
type Connector struct {
	Tokens   *oauth.Cache
	services serviceCache
}

// New returns a connector that caches tokens in tokens.
func New(tokens *oauth.Cache) *Connector { return &Connector{Tokens: tokens} }

// Deliver implements connector.Connector.
func (c *Connector) Deliver(ctx context.Context, d *connector.Delivery) (connector.Result, error) {
	if !connector.IsAppointment(d.Event.Type) {
		return connector.Skip("XTime takes appointments only"), nil
	}
	a, err := connector.Appointment(d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	if a.AppointmentType != events.AppointmentService {
		return connector.Skip("XTime books service appointments only; this is a " + firstOf(a.AppointmentType, "typeless") + " appointment"), nil
	}
	s := &session{
		c:        c,
		d:        d,
		a:        a,
		progress: map[string]string{},
		grant:    grantOf(d.Settings, d.Credentials),
	}
	maps.Copy(s.progress, d.Progress)
	res, err := s.deliver(ctx)
	if err != nil {
		return connector.Result{}, connector.WithProgress(err, s.progress)
	}
	if !res.Skipped {
		res.Progress = s.progress
		res.StatusCode = s.status
	}
	return res, nil
}

// grantOf is the token grant of an agent's settings and credentials.
func grantOf(settings, creds map[string]string) oauth.Grant {
	return oauth.Grant{
		Platform:     "XTime",
		TokenURL:     settings["tokenUrl"],
		ClientID:     creds["clientId"],
		ClientSecret: creds["clientSecret"],
		Scope:        Scope,
		BasicAuth:    true,
	}
}

type session struct {
	c        *Connector
	d        *connector.Delivery
	a        *events.AppointmentCreated
	grant    oauth.Grant
	progress map[string]string
	status   int
}

func (s *session) deliver(ctx context.Context) (connector.Result, error) {
	known := s.d.Known[keyAppointmentID]
	if s.d.Known[keyStatus] == "cancelled" {
		known = ""
	}
	switch s.d.Event.Type {
	case events.TypeAppointmentCreated:
		if known != "" && s.progress[keyAppointmentID] == "" {
			return connector.Skip("the appointment is already booked in XTime (appointment " + known + ")"), nil
		}
		return s.book(ctx, "", "booked")
	case events.TypeAppointmentRescheduled:
		strategy := s.d.Settings["rescheduleStrategy"]
		switch {
		case strategy == SkipReschedules:
			return connector.Skip("rescheduleStrategy is skip: XTime reschedules are not sent"), nil
		case known == "":
			return s.book(ctx, "", "booked (no earlier XTime appointment known)")
		case strategy == CancelAndRebook:
			if err := s.cancel(ctx, known); err != nil {
				return connector.Result{}, err
			}
			return s.book(ctx, known, "rescheduled: cancelled "+known+", booked")
		default: // update
			return s.move(ctx, known)
		}
	default: // cancelled
		switch {
		case known == "":
			return connector.Skip("no XTime appointment is known for this appointment: nothing to cancel"), nil
		case s.d.Settings["cancelPath"] == "":
			return connector.Skip("XTime publishes no cancel call and no cancelPath is configured: XTime appointment " + known + " stays booked"), nil
		}
		if err := s.cancel(ctx, known); err != nil {
			return connector.Result{}, err
		}
		ids := maps.Clone(s.d.Known)
		ids[keyStatus] = "cancelled" // a later reschedule books anew
		pushed := map[string]string{connector.PushedAppointmentStatus: events.AppointmentStatusCancelled}
		if t, ok := ParseLocalTime(s.d.Known[keyDateTimeLocal], time.UTC); ok {
			pushed[connector.PushedAppointmentTime] = t.UTC().Format(time.RFC3339) // the time it had
		}
		return connector.Result{Correlation: ids, Pushed: pushed, Summary: "XTime appointment " + known + " cancelled"}, nil
	}
}

// book creates the appointment, unless an earlier attempt did or XTime already has it at
// that time (a booking whose answer was lost); replaced is an XTime id that is not it.
func (s *session) book(ctx context.Context, replaced, what string) (connector.Result, error) {
	if s.progress[keyAppointmentID] == "" {
		b, err := s.booking(ctx)
		if err != nil {
			return connector.Result{}, err
		}
		found, err := s.findBooked(ctx, b, replaced)
		if err != nil {
			return connector.Result{}, err
		}
		if found != "" {
			what += " (XTime already had it at that time: an earlier answer was lost)"
		} else {
			r, err := s.post(ctx, b, "XTime booking")
			if err != nil {
				return connector.Result{}, err
			}
			if found = r.AppointmentID; found == "" {
				return connector.Result{}, &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: s.status,
					Message: "XTime booking: the answer holds no appointmentId"}
			}
		}
		s.done(b, found)
	}
	id := s.progress[keyAppointmentID]
	return connector.Result{Correlation: s.correlation(), Pushed: s.pushed(events.AppointmentStatusScheduled),
		Summary: "XTime appointment " + id + " " + what}, nil
}

// move reschedules XTime's appointment id: the booking posted again with its appointmentId.
func (s *session) move(ctx context.Context, id string) (connector.Result, error) {
	if s.progress[keyAppointmentID] == "" {
		b, err := s.booking(ctx)
		if err != nil {
			return connector.Result{}, err
		}
		b.body.AppointmentID = id
		r, err := s.post(ctx, b, "XTime reschedule")
		if err != nil {
			return connector.Result{}, err
		}
		s.done(b, firstOf(r.AppointmentID, id))
	}
	return connector.Result{Correlation: s.correlation(), Pushed: s.pushed(events.AppointmentStatusRescheduled),
		Summary: "XTime appointment " + id + " moved to " + s.progress[keyDateTimeLocal]}, nil
}

// pushed is the state a booking or a move leaves the appointment in, as the change feed
// reads it back: its time (to the minute, as XTime keeps it) and status.
func (s *session) pushed(status string) map[string]string {
	return map[string]string{
		connector.PushedAppointmentTime:   s.a.AppointmentTime.Truncate(time.Minute).UTC().Format(time.RFC3339),
		connector.PushedAppointmentStatus: status,
	}
}

// done records in the progress the appointment XTime has and what was sent for it.
func (s *session) done(b *bookingRequest, id string) {
	delete(s.progress, keyUnconfirmed)
	s.progress[keyAppointmentID] = id
	s.progress[keyDateTimeLocal] = b.body.AppointmentDateTimeLocal
	s.progress[keyOpcode] = b.body.Services[0].Opcode
	if v := b.query.Get("vin"); v != "" {
		s.progress[keyVIN] = v
	}
}

// correlation is what is kept for the DealerAI appointment: XTime's id and what was sent
// (what two-way sync needs to recognize its own changes).
func (s *session) correlation() map[string]string {
	ids := map[string]string{}
	for _, k := range []string{keyAppointmentID, keyDateTimeLocal, keyOpcode, keyVIN} {
		if v := s.progress[k]; v != "" {
			ids[k] = v
		}
	}
	return ids
}

// bookingRequest is a booking to post: its query and body, and its time.
type bookingRequest struct {
	query url.Values
	body  booking
	at    time.Time
	loc   *time.Location
}

// booking builds the booking of the event's appointment.
func (s *session) booking(ctx context.Context) (*bookingRequest, error) {
	loc, err := time.LoadLocation(s.d.Settings["timezone"])
	if err != nil {
		return nil, permanent("XTime timezone setting is not a time zone")
	}
	if s.a.AppointmentTime.IsZero() {
		return nil, permanent("the event has no appointmentTime to book")
	}
	query, ok := vehicleQuery(s.a)
	if !ok {
		return nil, permanent("XTime needs the vehicle: its VIN, or its year, make and model; the appointment has neither")
	}
	opcode, err := s.opcode(ctx)
	if err != nil {
		return nil, err
	}
	first, last := connector.SplitName(s.a.Name)
	if first == "" {
		return nil, permanent("XTime needs the customer's name; the appointment has none")
	}
	return &bookingRequest{query: query, at: s.a.AppointmentTime, loc: loc, body: booking{
		AppointmentDateTimeLocal: LocalTime(s.a.AppointmentTime, loc),
		FirstName:                first,
		LastName:                 last,
		EmailAddress:             s.a.Email,
		PhoneNumber:              connector.PhoneDigits(s.a.Phone), // [CODE S20]: digits
		Comment:                  comment(s.a),
		Services:                 []service{{Opcode: opcode}},
	}}, nil
}

// vehicleQuery is the vehicle as the booking's query takes it: the VIN and whichever of
// year, make and model the event has; without a VIN, all three are needed.
func vehicleQuery(a *events.AppointmentCreated) (url.Values, bool) {
	q := url.Values{}
	for k, v := range map[string]string{"vin": a.VehicleVIN, "year": a.VehicleYear, "make": a.VehicleMake, "model": a.VehicleModel} {
		if v = strings.TrimSpace(v); v != "" {
			q.Set(k, v)
		}
	}
	return q, q.Has("vin") || (q.Has("year") && q.Has("make") && q.Has("model"))
}

// opcode is the opcode to book: defaultOpcode when serviceLookup is off, else the dealer's
// service named like the appointment's service type, else defaultOpcode if XTime lists it.
func (s *session) opcode(ctx context.Context) (string, error) {
	def := strings.TrimSpace(s.d.Settings["defaultOpcode"])
	if s.d.Settings["serviceLookup"] == LookupOff {
		return def, nil
	}
	key := serviceKey(s.d.Settings["baseUrl"], s.d.Settings["dealerCode"])
	services, ok := s.c.services.get(key)
	if !ok {
		// The dealer's standard services: a generic vehicle of this year, as the published
		// integration asks for them.
		q := url.Values{"year": {strconv.Itoa(time.Now().Year())}, "make": {"OTHER"}, "model": {"OTHER"}}
		resp, err := s.call(ctx, http.MethodGet, ServicesPath, q, nil, "XTime services")
		if err != nil {
			return "", err
		}
		var r Response
		if services, r, ok = ParseServices(resp.Body); !ok || !r.Success {
			return "", answerError("XTime services", resp, r, ok)
		}
		s.c.services.put(key, services)
	}
	op, why := ChooseOpcode(services, s.a.ServiceType, def)
	if op == "" {
		return "", permanent("XTime opcode: " + why)
	}
	return op, nil
}

// findBooked looks for the appointment in XTime: one of the vehicle's at the same time, other
// than the one replaced. Without a VIN XTime cannot be searched: a booking whose answer an
// earlier attempt lost then stops the delivery rather than risk booking twice.
func (s *session) findBooked(ctx context.Context, b *bookingRequest, replaced string) (string, error) {
	vin := b.query.Get("vin")
	if vin == "" {
		if s.progress[keyUnconfirmed] != "" {
			return "", permanent("the answer to an earlier XTime booking was lost and XTime cannot be searched without a VIN: " +
				"check the dealership's XTime schedule for " + s.progress[keyUnconfirmed] + " before retrying this delivery by hand")
		}
		return "", nil
	}
	resp, err := s.call(ctx, http.MethodGet, AppointmentsPath, url.Values{"vin": {vin}}, nil, "XTime appointments")
	if err != nil {
		return "", err
	}
	appts, r, ok := ParseAppointments(resp.Body)
	if !ok || !r.Success {
		return "", answerError("XTime appointments", resp, r, ok)
	}
	for _, a := range appts {
		if a.AppointmentID == replaced || (a.VIN != "" && !strings.EqualFold(a.VIN, vin)) {
			continue
		}
		if t, ok := ParseLocalTime(a.DateTimeLocal, b.loc); ok && t.Equal(b.at.Truncate(time.Minute)) {
			return a.AppointmentID, nil
		}
	}
	return "", nil
}

// post sends a booking (or a reschedule) and reads XTime's answer. An answer lost (no answer,
// or a 5xx) leaves a mark in the progress: XTime may have booked it.
func (s *session) post(ctx context.Context, b *bookingRequest, step string) (Response, error) {
	payload, err := json.Marshal(b.body)
	if err != nil {
		return Response{}, err
	}
	resp, err := s.call(ctx, http.MethodPost, BookingsPath, b.query, payload, step)
	if err != nil {
		var ae *connector.AttemptError
		if errors.As(err, &ae) && b.body.AppointmentID == "" &&
			(ae.Class == connector.ClassConnection || ae.Class == connector.ClassTimeout || ae.StatusCode >= 500) {
			s.progress[keyUnconfirmed] = b.body.AppointmentDateTimeLocal
		}
		return Response{}, err
	}
	r, ok := ParseResponse(resp.Body)
	if !ok || !r.Success {
		return Response{}, answerError(step, resp, r, ok)
	}
	return r, nil
}

// cancel cancels an XTime appointment through the configured call, unless an earlier attempt
// did. (A 404 is an error, not "already cancelled": with an unpublished path it more likely
// means a wrong cancelPath.)
func (s *session) cancel(ctx context.Context, id string) error {
	if s.progress[keyCancelled] == id {
		return nil
	}
	path := s.d.Settings["cancelPath"]
	if path == "" {
		return permanent("XTime cancel: no cancelPath is configured")
	}
	path = strings.ReplaceAll(path, "{appointmentId}", url.PathEscape(id))
	method := firstOf(s.d.Settings["cancelMethod"], http.MethodPost)
	var payload []byte
	if method != http.MethodDelete {
		payload, _ = json.Marshal(map[string]string{"appointmentId": id})
	}
	resp, err := s.call(ctx, method, path, nil, payload, "XTime cancel")
	if err != nil {
		return err
	}
	if r, ok := ParseResponse(resp.Body); ok && !r.Success {
		return answerError("XTime cancel", resp, r, ok)
	}
	s.progress[keyCancelled] = id
	return nil
}

// call sends one XTime call: the path under baseUrl with ?dealerCode= and query, the token,
// x-api-key and developerKey, a JSON body when payload is not nil. A non-2xx answer is an
// error, with XTime's code and message when it gives them.
func (s *session) call(ctx context.Context, method, path string, query url.Values, payload []byte, step string) (*connector.Response, error) {
	q := url.Values{"dealerCode": {s.d.Settings["dealerCode"]}}
	for k, vs := range query {
		q[k] = vs
	}
	target := strings.TrimRight(s.d.Settings["baseUrl"], "/") + path + "?" + q.Encode()
	contentType := ""
	if payload != nil {
		contentType = "application/json"
	}
	resp, err := s.c.Tokens.SendAuthorized(ctx, s.d.HTTP, s.grant, step, func(authorization string) (*http.Request, error) {
		req, err := connector.NewRequest(ctx, method, target, contentType, payload, step)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", authorization)
		req.Header.Set("x-api-key", s.d.Credentials["apiKey"])
		if k := s.d.Credentials["developerKey"]; k != "" {
			req.Header.Set("developerKey", k)
		}
		return req, nil
	}, oauth.Unauthorized)
	if err != nil {
		return nil, err
	}
	s.status = resp.StatusCode
	if !resp.OK() {
		e := connector.StatusError(resp, step)
		if r, ok := ParseResponse(resp.Body); ok && (r.Code != "" || r.Message != "") {
			e.Message = refusalMessage(step, r)
			if e.Class == connector.ClassHTTPStatus {
				e.Class = connector.ClassPlatform
			}
		}
		return nil, e
	}
	return resp, nil
}

// answerError is the error of a 2xx answer that is a refusal ({success: false}) or not
// XTime's answer at all.
func answerError(step string, resp *connector.Response, r Response, ok bool) *connector.AttemptError {
	if ok {
		return refusal(step, resp, r)
	}
	return &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
		Message: step + ": the answer is not XTime's {success, ...}", Snippet: connector.Snippet(resp.Body)}
}

func refusal(step string, resp *connector.Response, r Response) *connector.AttemptError {
	return &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
		Message: refusalMessage(step, r), Snippet: connector.Snippet(resp.Body)}
}

func refusalMessage(step string, r Response) string {
	msg := step + ": XTime refused"
	if r.Code != "" {
		msg += " (" + r.Code + ")"
	}
	if r.Message != "" {
		msg += ": " + r.Message
	}
	return msg
}

func permanent(msg string) *connector.AttemptError {
	return &connector.AttemptError{Class: connector.ClassInternal, Message: msg, Permanent: true}
}

func comment(a *events.AppointmentCreated) string {
	var parts []string
	if a.ServiceType != "" {
		parts = append(parts, a.ServiceType+".")
	}
	if v := connector.Vehicle(a.VehicleYear, a.VehicleMake, a.VehicleModel, a.VehicleVIN); v != "" {
		parts = append(parts, "Vehicle: "+v+".")
	}
	parts = append(parts, "Booked by DealerAI")
	if a.AppointmentID != "" {
		parts[len(parts)-1] += " (appointment " + a.AppointmentID + ")"
	}
	parts[len(parts)-1] += "."
	return strings.Join(parts, " ")
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
