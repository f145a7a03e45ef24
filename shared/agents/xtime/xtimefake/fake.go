// Package xtimefake is a fake XTime for tests: the connector's own (package xtime) and the
// agents' end-to-end tests (shared/agentstest). It checks what the published record says
// XTime takes (docs/agents.md#xtime) — the token grant, "Authorization: <token_type>
// <token>", x-api-key, dealerCode, the booking's query, body, time format, digits-only phone
// and known opcodes — refuses the rest in XTime's own error format ({success: false, code,
// message}, HTTP 200 for a refused booking), and keeps the appointments it booked.
//
// GET /service/appointments?dealerCode&vin= answers the vehicle's open appointments
// {success, appointments[{appointmentId, vin, appointmentDateTimeLocal, comment, firstName,
// lastName, emailAddress, phoneNumber, services[{opcode, serviceName}]}]}, without a status
// (the published record shows none): a cancelled or completed appointment is no longer
// listed. A test changes XTime directly, as the service desk would: BookDirect (a booking
// made in XTime), Move, CancelDirect, Complete. Faults answers chosen requests with a status
// and headers (a 429 with Retry-After); Issuer.ExpireAll expires the tokens. Only tests
// import it.
package xtimefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// TokenPath is where the fake serves its token endpoint (Cox's is https://auth.coxautoinc.com/token).
const TokenPath = "/token"

// Scope is the scope the token grant must ask for.
const Scope = "cai.scheduling.appointments.read cai.scheduling.appointments.write"

// Service is one of the dealer's services.
type Service struct {
	Opcode      string `json:"opcode"`
	ServiceName string `json:"serviceName"`
}

// Appointment is an appointment the fake holds.
type Appointment struct {
	ID            string
	DealerCode    string
	VIN           string
	Year          string
	Make          string
	Model         string
	DateTimeLocal string
	FirstName     string
	LastName      string
	Email         string
	Phone         string
	Comment       string
	Opcodes       []string
	Cancelled     bool
	// Completed: the vehicle was served; the appointment is no longer listed.
	Completed bool
}

// Loss is how the answer to a request the fake performed is lost.
type Loss int

// Losses.
const (
	// DropConnection closes the connection without an answer.
	DropConnection Loss = iota + 1
	// Answer500 answers 500 instead.
	Answer500
)

// Config is what the fake's dealer looks like and which calls it accepts.
type Config struct {
	ClientID, ClientSecret, APIKey string
	// DeveloperKey, when set, must come in the developerKey header.
	DeveloperKey string
	// TokenType is the token_type the token endpoint answers (and expects back); "Bearer"
	// when "".
	TokenType  string
	DealerCode string
	Services   []Service
	// CancelRoute, when set, is a cancel call for the configured cancelPath (XTime publishes
	// none), as a ServeMux pattern with {appointmentId}, e.g.
	// "POST /service/appointments/{appointmentId}/cancel".
	CancelRoute string
}

// Server is a running fake XTime.
type Server struct {
	*httptest.Server
	// Recorder holds the API requests (not the token grants).
	agenttest.Recorder
	Issuer *agenttest.Issuer
	// Faults answer chosen requests instead of the fake (before anything is done).
	Faults agenttest.Faults

	cfg Config

	mu     sync.Mutex
	appts  []*Appointment
	next   int
	losses map[string][]Loss
	denied int
}

// New starts a fake XTime with cfg; it stops at the test's end.
func New(t testing.TB, cfg Config) *Server {
	f := &Server{cfg: cfg, Issuer: &agenttest.Issuer{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Scope: Scope, Basic: true, TokenType: cfg.TokenType}}
	mux := http.NewServeMux()
	mux.Handle("POST "+TokenPath, f.Issuer)
	mux.HandleFunc("POST /service/appointments-bookings", f.api(f.book))
	mux.HandleFunc("GET /service/appointments", f.api(f.list))
	mux.HandleFunc("GET /service/services", f.api(f.services))
	if cfg.CancelRoute != "" {
		mux.HandleFunc(cfg.CancelRoute, f.api(f.cancel))
	}
	mux.HandleFunc("/", f.api(func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		answer(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint")
	}))
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// LoseNext makes the next request to path be performed and its answer lost as loss says.
func (f *Server) LoseNext(path string, loss Loss) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.losses == nil {
		f.losses = map[string][]Loss{}
	}
	f.losses[path] = append(f.losses[path], loss)
}

// Appointments returns copies of the appointments the fake holds, in booking order.
func (f *Server) Appointments() []Appointment {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Appointment, len(f.appts))
	for i, a := range f.appts {
		out[i] = *a
		out[i].Opcodes = append([]string(nil), a.Opcodes...)
	}
	return out
}

// Denied is how many API calls were refused for their token (401).
func (f *Server) Denied() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.denied
}

// answer writes XTime's error format.
func answer(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"success": false, "code": code, "message": message})
}

func ok(w http.ResponseWriter, body map[string]any) {
	body["success"] = true
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// api wraps an endpoint: it records the request, checks what every call needs, serves the
// faults, and loses the answer when told to.
func (f *Server) api(h func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body := f.Record(r).Body
		switch {
		case !f.Issuer.Authorized(r):
			f.mu.Lock()
			f.denied++
			f.mu.Unlock()
			answer(w, http.StatusUnauthorized, "UNAUTHORIZED", "missing, invalid or expired token")
			return
		case r.Header.Get("x-api-key") != f.cfg.APIKey:
			answer(w, http.StatusForbidden, "FORBIDDEN", "invalid x-api-key")
			return
		case f.cfg.DeveloperKey != "" && r.Header.Get("developerKey") != f.cfg.DeveloperKey:
			answer(w, http.StatusForbidden, "FORBIDDEN", "invalid developerKey")
			return
		case r.URL.Query().Get("dealerCode") != f.cfg.DealerCode:
			answer(w, http.StatusOK, "x-000001", "unknown dealerCode")
			return
		}
		if f.Faults.Serve(w, r) {
			return
		}
		f.mu.Lock()
		var loss Loss
		if q := f.losses[r.URL.Path]; len(q) > 0 {
			loss, f.losses[r.URL.Path] = q[0], q[1:]
		}
		f.mu.Unlock()
		if loss == 0 {
			h(w, r, body)
			return
		}
		h(httptest.NewRecorder(), r, body) // performed; the answer goes nowhere
		if loss == Answer500 {
			answer(w, http.StatusInternalServerError, "x-999999", "internal error")
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}
}

var (
	localTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}[+-]\d{4}$`)
	digits    = regexp.MustCompile(`^\d+$`)
)

// bookingBody is every field a booking may have; any other is refused.
type bookingBody struct {
	AppointmentID            *string  `json:"appointmentId"`
	AppointmentDateTimeLocal *string  `json:"appointmentDateTimeLocal"`
	FirstName                *string  `json:"firstName"`
	LastName                 *string  `json:"lastName"`
	EmailAddress             *string  `json:"emailAddress"`
	PhoneNumber              *string  `json:"phoneNumber"`
	Comment                  *string  `json:"comment"`
	Services                 []svcRef `json:"services"`
	Label                    *label   `json:"label"`
	ReportingLabel           *label   `json:"reportingLabel"`
}

type svcRef struct {
	Opcode *string `json:"opcode"`
}

type label struct {
	Value   string `json:"value"`
	Context string `json:"context"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// book is POST /service/appointments-bookings: a new appointment, or (with appointmentId) a
// move of one.
func (f *Server) book(w http.ResponseWriter, r *http.Request, raw []byte) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		answer(w, http.StatusUnsupportedMediaType, "x-000415", "Content-Type must be application/json")
		return
	}
	var b bookingBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		answer(w, http.StatusBadRequest, "x-000400", "the body is not a booking: "+err.Error())
		return
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		answer(w, http.StatusBadRequest, "x-000400", "the body is more than one JSON value")
		return
	}
	q := r.URL.Query()
	refuse := func(msg string) { answer(w, http.StatusOK, "x-000422", msg) } // a refused booking is a 200
	switch {
	case q.Get("vin") == "" && (q.Get("year") == "" || q.Get("make") == "" || q.Get("model") == ""):
		refuse("vin, or year, make and model, are required")
	case !localTime.MatchString(str(b.AppointmentDateTimeLocal)):
		refuse("appointmentDateTimeLocal must be yyyy-MM-ddTHH:mm±hhmm")
	case str(b.FirstName) == "":
		refuse("firstName is required")
	case b.PhoneNumber != nil && !digits.MatchString(*b.PhoneNumber):
		refuse("phoneNumber must be digits")
	case b.EmailAddress != nil && !strings.Contains(*b.EmailAddress, "@"):
		refuse("emailAddress is invalid")
	case len(b.Services) == 0:
		refuse("services is required")
	default:
		var ops []string
		for _, s := range b.Services {
			if !f.knows(str(s.Opcode)) {
				refuse(fmt.Sprintf("opcode %q is not a service of dealer %s", str(s.Opcode), f.cfg.DealerCode))
				return
			}
			ops = append(ops, str(s.Opcode))
		}
		a := Appointment{DealerCode: q.Get("dealerCode"), VIN: q.Get("vin"), Year: q.Get("year"), Make: q.Get("make"), Model: q.Get("model"),
			DateTimeLocal: *b.AppointmentDateTimeLocal, FirstName: *b.FirstName, LastName: str(b.LastName),
			Email: str(b.EmailAddress), Phone: str(b.PhoneNumber), Comment: str(b.Comment), Opcodes: ops}
		f.mu.Lock()
		defer f.mu.Unlock()
		if b.AppointmentID != nil {
			old := f.find(*b.AppointmentID)
			if old == nil || old.Cancelled {
				refuse("no appointment " + *b.AppointmentID)
				return
			}
			a.ID = old.ID
			*old = a
		} else {
			f.next++
			a.ID = fmt.Sprintf("XT-%d", f.next)
			f.appts = append(f.appts, &a)
		}
		ok(w, map[string]any{"appointmentId": a.ID})
	}
}

func (f *Server) knows(opcode string) bool {
	for _, s := range f.cfg.Services {
		if s.Opcode == opcode {
			return true
		}
	}
	return false
}

func (f *Server) find(id string) *Appointment {
	for _, a := range f.appts {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// list is GET /service/appointments?vin=: the vehicle's appointments that are neither
// cancelled nor completed.
func (f *Server) list(w http.ResponseWriter, r *http.Request, _ []byte) {
	vin := r.URL.Query().Get("vin")
	if vin == "" {
		answer(w, http.StatusOK, "x-000422", "vin is required")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	appts := []map[string]any{}
	for _, a := range f.appts {
		if a.VIN != vin || a.Cancelled || a.Completed {
			continue
		}
		var services []map[string]string
		for _, op := range a.Opcodes {
			services = append(services, map[string]string{"opcode": op, "serviceName": f.name(op)})
		}
		appts = append(appts, map[string]any{"appointmentId": a.ID, "vin": a.VIN, "appointmentDateTimeLocal": a.DateTimeLocal,
			"comment": a.Comment, "firstName": a.FirstName, "lastName": a.LastName, "emailAddress": a.Email,
			"phoneNumber": a.Phone, "services": services})
	}
	ok(w, map[string]any{"appointments": appts})
}

func (f *Server) name(opcode string) string {
	for _, s := range f.cfg.Services {
		if s.Opcode == opcode {
			return s.ServiceName
		}
	}
	return ""
}

// services is GET /service/services?year&make&model: the dealer's services.
func (f *Server) services(w http.ResponseWriter, r *http.Request, _ []byte) {
	q := r.URL.Query()
	if q.Get("year") == "" || q.Get("make") == "" || q.Get("model") == "" {
		answer(w, http.StatusOK, "x-000422", "year, make and model are required")
		return
	}
	ok(w, map[string]any{"services": f.cfg.Services})
}

// cancel is the configured cancel call.
func (f *Server) cancel(w http.ResponseWriter, r *http.Request, _ []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.find(r.PathValue("appointmentId"))
	if a == nil || a.Cancelled {
		answer(w, http.StatusNotFound, "x-000404", "no appointment "+r.PathValue("appointmentId"))
		return
	}
	a.Cancelled = true
	ok(w, map[string]any{})
}

// BookDirect books an appointment in XTime directly (not through the API), as the service
// desk would, and returns its id.
func (f *Server) BookDirect(a Appointment) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	a.ID = fmt.Sprintf("XT-%d", f.next)
	a.DealerCode = f.cfg.DealerCode
	a.Opcodes = append([]string(nil), a.Opcodes...)
	f.appts = append(f.appts, &a)
	return a.ID
}

// Move moves appointment id to dateTimeLocal ("2006-01-02T15:04-0700") in XTime directly;
// false when the fake has no such open appointment.
func (f *Server) Move(id, dateTimeLocal string) bool {
	return f.change(id, func(a *Appointment) { a.DateTimeLocal = dateTimeLocal })
}

// CancelDirect cancels appointment id in XTime directly; false when the fake has no such open
// appointment.
func (f *Server) CancelDirect(id string) bool {
	return f.change(id, func(a *Appointment) { a.Cancelled = true })
}

// Complete marks appointment id served (its repair order closed); false when the fake has no
// such open appointment.
func (f *Server) Complete(id string) bool {
	return f.change(id, func(a *Appointment) { a.Completed = true })
}

func (f *Server) change(id string, fn func(*Appointment)) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.find(id)
	if a == nil || a.Cancelled || a.Completed {
		return false
	}
	fn(a)
	return true
}
