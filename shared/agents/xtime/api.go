package xtime

import (
	"encoding/json"
	"strings"
	"time"
)

// XTime's calls and shapes, as a published production integration makes them
// (docs/agents.md#xtime). Every path is relative to baseUrl and takes ?dealerCode=.
const (
	// Scope of the token.
	Scope = "cai.scheduling.appointments.read cai.scheduling.appointments.write"
	// BookingsPath books an appointment (POST), or moves one when the body names its
	// appointmentId.
	BookingsPath = "/service/appointments-bookings"
	// AppointmentsPath lists a vehicle's appointments (GET ?vin=).
	AppointmentsPath = "/service/appointments"
	// ServicesPath lists the dealer's services and their opcodes (GET ?year&make&model).
	ServicesPath = "/service/services"
	// LocalTimeLayout is how XTime takes appointmentDateTimeLocal: the dealership's wall
	// clock and its UTC offset.
	LocalTimeLayout = "2006-01-02T15:04-0700"
)

// LocalTime is t in the dealership's zone, as XTime takes it.
func LocalTime(t time.Time, loc *time.Location) string { return t.In(loc).Format(LocalTimeLayout) }

// localTimeLayouts are the forms an appointmentDateTimeLocal XTime answers is read in: ours,
// with seconds, RFC 3339, and without an offset (the dealership's wall clock).
var localTimeLayouts = []string{LocalTimeLayout, "2006-01-02T15:04:05-0700", time.RFC3339, "2006-01-02T15:04Z07:00"}
var wallClockLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04"}

// ParseLocalTime reads an appointmentDateTimeLocal XTime answered; one without an offset is
// in loc.
func ParseLocalTime(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range localTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	for _, l := range wallClockLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// booking is the body of POST /service/appointments-bookings.
type booking struct {
	AppointmentID            string    `json:"appointmentId,omitempty"` // a reschedule: the booking moved
	AppointmentDateTimeLocal string    `json:"appointmentDateTimeLocal"`
	FirstName                string    `json:"firstName"`
	LastName                 string    `json:"lastName,omitempty"`
	EmailAddress             string    `json:"emailAddress,omitempty"`
	PhoneNumber              string    `json:"phoneNumber,omitempty"`
	Comment                  string    `json:"comment,omitempty"`
	Services                 []service `json:"services"`
}

type service struct {
	Opcode string `json:"opcode"`
}

// Response is XTime's answer to a booking or a cancel: {success, appointmentId} or
// {success: false, code, message} — the latter also with HTTP 200.
type Response struct {
	Success       bool
	AppointmentID string
	Code          string
	Message       string
}

// ParseResponse reads {success, appointmentId, code, message}; appointmentId and code may be
// strings or numbers. ok is false when the body is not such an object.
func ParseResponse(body []byte) (r Response, ok bool) {
	var raw struct {
		Success       *bool           `json:"success"`
		AppointmentID json.RawMessage `json:"appointmentId"`
		Code          json.RawMessage `json:"code"`
		Message       json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &raw) != nil || raw.Success == nil {
		return Response{}, false
	}
	return Response{Success: *raw.Success, AppointmentID: scalar(raw.AppointmentID), Code: scalar(raw.Code),
		Message: truncate(text(raw.Message), 200)}, true
}

// BookedAppointment is one appointment of GET /service/appointments.
type BookedAppointment struct {
	AppointmentID string
	VIN           string
	DateTimeLocal string
	FirstName     string
	LastName      string
	Services      []Service
	// Status is the appointment's status when the answer gives one (the published record
	// shows none); "" otherwise.
	Status string
}

// ParseAppointments reads {success, appointments[{appointmentId, vin,
// appointmentDateTimeLocal, firstName, lastName, services[{opcode, serviceName}], ...}]}
// (appointments absent or null: none). ok is false when the body is not such an object; a
// refusal (success false) comes back as r.
func ParseAppointments(body []byte) (appts []BookedAppointment, r Response, ok bool) {
	var items []struct {
		AppointmentID            json.RawMessage `json:"appointmentId"`
		VIN                      json.RawMessage `json:"vin"`
		AppointmentDateTimeLocal json.RawMessage `json:"appointmentDateTimeLocal"`
		FirstName                json.RawMessage `json:"firstName"`
		LastName                 json.RawMessage `json:"lastName"`
		Status                   json.RawMessage `json:"status"`
		Services                 []struct {
			Opcode      json.RawMessage `json:"opcode"`
			ServiceName json.RawMessage `json:"serviceName"`
		} `json:"services"`
	}
	if r, ok = parseList(body, "appointments", &items); !ok || !r.Success {
		return nil, r, ok
	}
	for _, a := range items {
		id := scalar(a.AppointmentID)
		if id == "" {
			continue
		}
		b := BookedAppointment{AppointmentID: id, VIN: truncate(text(a.VIN), 64),
			DateTimeLocal: truncate(text(a.AppointmentDateTimeLocal), 64),
			FirstName:     truncate(text(a.FirstName), 100), LastName: truncate(text(a.LastName), 100),
			Status: truncate(text(a.Status), 64)}
		for _, s := range a.Services {
			if op := scalar(s.Opcode); op != "" {
				b.Services = append(b.Services, Service{Opcode: op, Name: truncate(text(s.ServiceName), 200)})
			}
		}
		appts = append(appts, b)
	}
	return appts, r, true
}

// Service is one of the dealer's services of GET /service/services.
type Service struct {
	Opcode string
	Name   string
}

// ParseServices reads {success, services[{opcode, serviceName}]}. ok is false when the body
// is not such an object; a refusal comes back as r.
func ParseServices(body []byte) (services []Service, r Response, ok bool) {
	var items []struct {
		Opcode      json.RawMessage `json:"opcode"`
		ServiceName json.RawMessage `json:"serviceName"`
	}
	if r, ok = parseList(body, "services", &items); !ok || !r.Success {
		return nil, r, ok
	}
	for _, s := range items {
		if op := scalar(s.Opcode); op != "" {
			services = append(services, Service{Opcode: op, Name: truncate(text(s.ServiceName), 200)})
		}
	}
	return services, r, true
}

// parseList reads XTime's answer and, when it is a success, its member key (absent or null:
// none) into items.
func parseList(body []byte, key string, items any) (Response, bool) {
	r, ok := ParseResponse(body)
	if !ok || !r.Success {
		return r, ok
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil {
		return r, false
	}
	if list, found := members[key]; found && json.Unmarshal(list, items) != nil {
		return r, false
	}
	return r, true
}

// scalar is a JSON string or number as text, at most 128 bytes; "" otherwise.
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

// text is a JSON string; "" otherwise.
func text(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
