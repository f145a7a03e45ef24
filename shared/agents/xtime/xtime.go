// Package xtime books DealerAI's service appointments in XTime, Cox Automotive's service
// scheduler.
//
// Tokens come from an OAuth 2.0 client-credentials grant authenticated with HTTP Basic
// (scopes cai.scheduling.appointments.read and .write); every call carries the token and the
// x-api-key header. A booking is POST /service/appointments-bookings?dealerCode=..., its time
// in the dealership's time zone ("2006-01-02T15:04-0700"), its service the configured
// opcode; XTime answers {success, appointmentId}. Cancel and reschedule calls are not
// published: rescheduleStrategy cancel-and-rebook cancels through the configured cancelPath
// and books again; skip ends those events as skipped. Appointments that are not service
// appointments are skipped without a request.
package xtime

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // the dealership's zone must load on Lambda, whose image has no zoneinfo

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
)

const (
	// Scope of the token.
	Scope = "cai.scheduling.appointments.read cai.scheduling.appointments.write"
	// LocalTimeLayout is how XTime takes appointmentDateTimeLocal.
	LocalTimeLayout = "2006-01-02T15:04-0700"
	// BookingsPath is the booking endpoint, relative to baseUrl.
	BookingsPath = "/service/appointments-bookings"
)

// Connector is the XTime connector.
type Connector struct {
	Tokens *oauth.Cache
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
		tokens:   c.Tokens,
		d:        d,
		a:        a,
		progress: map[string]string{},
		grant: oauth.Grant{
			Platform:     "XTime",
			TokenURL:     d.Settings["tokenUrl"],
			ClientID:     d.Credentials["clientId"],
			ClientSecret: d.Credentials["clientSecret"],
			Scope:        Scope,
			BasicAuth:    true,
		},
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

type session struct {
	tokens   *oauth.Cache
	d        *connector.Delivery
	a        *events.AppointmentCreated
	grant    oauth.Grant
	progress map[string]string
	status   int
}

func (s *session) deliver(ctx context.Context) (connector.Result, error) {
	known := s.d.Known["appointmentId"]
	if s.d.Known["status"] == "cancelled" {
		known = ""
	}
	skipChanges := s.d.Settings["rescheduleStrategy"] == SkipReschedules
	switch s.d.Event.Type {
	case events.TypeAppointmentCreated:
		if known != "" && s.progress["appointmentId"] == "" {
			return connector.Skip("the appointment is already booked in XTime (appointment " + known + ")"), nil
		}
		return s.book(ctx, "booked")
	case events.TypeAppointmentRescheduled:
		if skipChanges {
			return connector.Skip("rescheduleStrategy is skip: XTime reschedules are not sent"), nil
		}
		if known == "" {
			return s.book(ctx, "booked (no earlier XTime appointment known)")
		}
		if err := s.cancel(ctx, known); err != nil {
			return connector.Result{}, err
		}
		return s.book(ctx, "rescheduled: cancelled "+known+", booked")
	default: // cancelled
		if skipChanges {
			return connector.Skip("rescheduleStrategy is skip: XTime cancellations are not sent"), nil
		}
		if known == "" {
			return connector.Skip("no XTime appointment is known for this appointment: nothing to cancel"), nil
		}
		if err := s.cancel(ctx, known); err != nil {
			return connector.Result{}, err
		}
		return connector.Result{
			Correlation: map[string]string{"appointmentId": known, "status": "cancelled"},
			Summary:     "XTime appointment " + known + " cancelled",
		}, nil
	}
}

// book creates the appointment, unless an earlier attempt did.
func (s *session) book(ctx context.Context, what string) (connector.Result, error) {
	if s.progress["appointmentId"] == "" {
		loc, err := time.LoadLocation(s.d.Settings["timezone"])
		if err != nil {
			return connector.Result{}, &connector.AttemptError{Class: connector.ClassInternal, Message: "XTime timezone setting is not a time zone", Permanent: true}
		}
		if s.a.AppointmentTime.IsZero() {
			return connector.Result{}, &connector.AttemptError{Class: connector.ClassInternal, Message: "the event has no appointmentTime to book", Permanent: true}
		}
		first, last := connector.SplitName(s.a.Name)
		body := booking{
			AppointmentDateTimeLocal: LocalTime(s.a.AppointmentTime, loc),
			FirstName:                first,
			LastName:                 last,
			EmailAddress:             s.a.Email,
			PhoneNumber:              s.a.Phone,
			Comment:                  comment(s.a),
			Services:                 []service{{Opcode: s.d.Settings["defaultOpcode"]}},
		}
		resp, err := s.call(ctx, BookingsPath, body, "XTime booking")
		if err != nil {
			return connector.Result{}, err
		}
		r, ok := ParseResponse(resp.Body)
		switch {
		case !ok:
			return connector.Result{}, &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
				Message: "XTime booking: the answer is not a booking response", Snippet: connector.Snippet(resp.Body)}
		case !r.Success:
			return connector.Result{}, r.refusal("XTime booking", resp)
		case r.AppointmentID == "":
			return connector.Result{}, &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
				Message: "XTime booking: the answer holds no appointmentId", Snippet: connector.Snippet(resp.Body)}
		}
		s.progress["appointmentId"] = r.AppointmentID
	}
	id := s.progress["appointmentId"]
	return connector.Result{
		Correlation: map[string]string{"appointmentId": id},
		Summary:     "XTime appointment " + id + " " + what,
	}, nil
}

// cancel cancels an XTime appointment, unless an earlier attempt did. (A 404 is an error,
// not "already cancelled": with an unpublished path it more likely means a wrong cancelPath.)
func (s *session) cancel(ctx context.Context, id string) error {
	if s.progress["cancelled"] == id {
		return nil
	}
	path := strings.ReplaceAll(s.d.Settings["cancelPath"], "{appointmentId}", url.PathEscape(id))
	resp, err := s.call(ctx, path, struct{}{}, "XTime cancel")
	if err != nil {
		return err
	}
	if r, ok := ParseResponse(resp.Body); ok && !r.Success {
		return r.refusal("XTime cancel", resp)
	}
	s.progress["cancelled"] = id
	return nil
}

// call POSTs a JSON body to an XTime path with the token and the x-api-key. A non-2xx
// answer is an error, with XTime's code and message when it gives them.
func (s *session) call(ctx context.Context, path string, body any, step string) (*connector.Response, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	target := strings.TrimRight(s.d.Settings["baseUrl"], "/") + path + "?" + url.Values{"dealerCode": {s.d.Settings["dealerCode"]}}.Encode()
	resp, err := s.tokens.Send(ctx, s.d.HTTP, s.grant, step, func(token string) (*http.Request, error) {
		req, err := connector.NewRequest(ctx, http.MethodPost, target, "application/json", payload, step)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("x-api-key", s.d.Credentials["apiKey"])
		return req, nil
	}, oauth.Unauthorized)
	if err != nil {
		return nil, err
	}
	s.status = resp.StatusCode
	if !resp.OK() {
		if r, ok := ParseResponse(resp.Body); ok && r.Code != "" {
			return nil, r.refusal(step, resp)
		}
		return nil, connector.StatusError(resp, step)
	}
	return resp, nil
}

// LocalTime is t in the dealership's zone, as XTime takes it.
func LocalTime(t time.Time, loc *time.Location) string { return t.In(loc).Format(LocalTimeLayout) }

type booking struct {
	AppointmentDateTimeLocal string    `json:"appointmentDateTimeLocal"`
	FirstName                string    `json:"firstName"`
	LastName                 string    `json:"lastName"`
	EmailAddress             string    `json:"emailAddress,omitempty"`
	PhoneNumber              string    `json:"phoneNumber,omitempty"`
	Comment                  string    `json:"comment,omitempty"`
	Services                 []service `json:"services"`
}

type service struct {
	Opcode string `json:"opcode"`
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

// Response is XTime's answer to a booking or a cancel.
type Response struct {
	Success       bool
	AppointmentID string
	Code          string
	Message       string
}

// ParseResponse reads {success, appointmentId, code, message}; appointmentId may be a
// string or a number. ok is false when the body is not such an object.
func ParseResponse(body []byte) (r Response, ok bool) {
	var raw struct {
		Success       *bool           `json:"success"`
		AppointmentID json.RawMessage `json:"appointmentId"`
		Code          json.RawMessage `json:"code"`
		Message       string          `json:"message"`
	}
	if json.Unmarshal(body, &raw) != nil || raw.Success == nil {
		return Response{}, false
	}
	r = Response{Success: *raw.Success, AppointmentID: scalar(raw.AppointmentID), Code: scalar(raw.Code), Message: raw.Message}
	return r, true
}

func (r Response) refusal(step string, resp *connector.Response) *connector.AttemptError {
	msg := step + ": XTime refused"
	if r.Code != "" {
		msg += " (" + r.Code + ")"
	}
	if r.Message != "" {
		msg += ": " + truncate(r.Message, 200)
	}
	return &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode, Message: msg, Snippet: connector.Snippet(resp.Body)}
}

// scalar is a JSON string or number as text; "" otherwise.
func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return truncate(s, 128)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return truncate(n.String(), 128)
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
