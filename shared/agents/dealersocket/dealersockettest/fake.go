// Package dealersockettest is a fake DealerSocket for tests: the OEM lead endpoint and the
// signed APIs, checking what published integrations show DealerSocket checks, keeping the
// customers, sales events, activities and work notes it was sent, and answering in
// DealerSocket's formats. Only tests import it (the connector's and shared/agentstest).
//
// What it enforces, and where each shape comes from (docs/agents.md#dealersocket; no
// vendor specification is public, the sources are production integrations):
//
//   - leads: POST /DSOEMLead/US/DCP/ADF/1/SalesLead/{directLeadKey}, "Authorization:
//     user:password" raw, application/xml, an ADF 1.0 document valid against the DTD; a new
//     customer and sales event answer <LeadResponse> Success=true with DSLeadId and
//     DSCustomerId; a lead whose email (else phone) DealerSocket has answers DSLeadId 0 and
//     DSExistingLeadId, as Success=true with DSCustomerId 0 (t2modus/dealersocket-client's
//     fixture) or as Success=false, ErrorCode DUPLICATE_LEAD (a CRM pusher's fixture).
//   - the signed APIs under /api/DealerSocket: "Authentication: publicKey:base64(HMAC-SHA256(
//     privateKey, exact body))", application/xml, the Vendor and dealer id configured;
//     ActivityInsert (POST inserts, PUT updates the ActivityId) with EntityId, an EventId of
//     that customer, ActivityType or ActivityTaskType and DueDateTime, answering
//     <ActivityResponse> with ActivityId ("0" and ErrorCode EVENTID_INVALID… when refused);
//     WorkNoteInsert (a Note of at most 255 characters); STAR ProcessSalesLead on /eventsales
//     (DocumentID the event, PartyID its customer, LeadStatus one of the sales statuses);
//     STAR ProcessCustomerInformation UC on PUT /Customer, which replaces the customer with
//     what it holds; STAR GetCustomerInformation on /SearchEntity, by PartyID, email or phone,
//     answering <ShowCustomerInformation> (none found: no CustomerInformation).
//   - the event search, POST /webapi/EventSearch, signed JSON {vendor, dealerId, entityId (a
//     number), eventCategory Sales|Service}, answering the customer's firstName, lastName and
//     sales events {eventId, eventCategory, eventType, status (the code: 220 Unqualified ...
//     225 Sold, 226 Lost, 227 Store Visit), insertDate, updateDate, primaryAssigned, year,
//     make, model, vin, stockNumber} (bakaphp/kanvas-ecosystem-api's EventSearchClient and its
//     status and event type enums); no paging (one customer a call), no date filter; a
//     customer it does not have is refused as ENTITYID_INVALID.
//
// A test (or a person) changes DealerSocket directly, as the dealership's users would:
// AddCustomer, AddEvent (a sales event entered in DealerSocket), ChangeEvent (a status set,
// a salesperson assigned); Faults answers chosen requests with a status and headers (a 429
// with Retry-After).
package dealersockettest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dealerai/integrations/shared/agents/dealersocket"
	"github.com/dealerai/integrations/shared/agents/internal/dtd"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// Paths the fake serves.
const (
	APIPath         = "/api/DealerSocket"
	EventSearchPath = "/webapi/EventSearch"
)

// SalesStatuses are the LeadStatus values a sales event takes (bakaphp/kanvas-ecosystem-api's
// DealerSocket LeadClient; "Sold" comes from the deal, not from this call).
var SalesStatuses = []string{"Unqualified", "Contacted", "Store Visit", "Demo", "Write-Up", "Pending F&I", "Lost"}

// The status codes of a sales event, as the event search answers them.
const (
	StatusUnqualified = 220
	StatusContacted   = 221 // "Up/Contacted"
	StatusDemo        = 222
	StatusWriteUp     = 223
	StatusPendingFI   = 224
	StatusSold        = 225
	StatusLost        = 226
	StatusStoreVisit  = 227
)

// statusCodes are the codes the SalesStatuses set.
var statusCodes = map[string]int{"Unqualified": StatusUnqualified, "Contacted": StatusContacted, "Store Visit": StatusStoreVisit,
	"Demo": StatusDemo, "Write-Up": StatusWriteUp, "Pending F&I": StatusPendingFI, "Lost": StatusLost}

// NewVehicle is the eventType of a new-vehicle sales event (S18's SalesEventTypeEnum).
const NewVehicle = 100050

// DefaultAssignee is who the fake assigns a new lead to (its LeadResponse's DSAssignedName).
const DefaultAssignee = "Ash Bhattari"

// Config is who the fake accepts.
type Config struct {
	DirectLeadKey, Username, Password string
	PublicKey, SecretKey              string
	// DealerID is the dealer's DealerSocket id; Vendor the vendor name of the signed APIs.
	DealerID, Vendor string
}

// DuplicateStyle is how the fake answers a lead it has already.
type DuplicateStyle int

// The two published answers to a duplicate lead.
const (
	// DuplicateSuccess: Success=true, DSLeadId 0, DSCustomerId 0, DSExistingLeadId n.
	DuplicateSuccess DuplicateStyle = iota
	// DuplicateError: Success=false, ErrorCode DUPLICATE_LEAD, DSLeadId 0, DSExistingLeadId n.
	DuplicateError
)

// Customer is a DealerSocket customer (an entity).
type Customer struct {
	EntityID, GivenName, FamilyName string
	Emails                          []string
	Phones                          []Phone
	Address                         Address
}

// Phone is a customer's phone: digits and Home, Cell or Work.
type Phone struct{ Number, UseCode string }

// Address is a customer's address.
type Address struct{ LineOne, CityName, Postcode, State string }

// Event is a sales event (a lead).
type Event struct {
	EventID, EntityID string
	// Status is the status code; LeadStatus the value the sales event call last set.
	Status     int
	LeadStatus string
	// PrimaryAssigned is who the event is assigned to.
	PrimaryAssigned string
	EventType       int
	Vehicle         Vehicle
	// InsertDate and UpdateDate: when the event was created and last changed.
	InsertDate, UpdateDate time.Time
	// StatusChanges counts the eventsales calls that set LeadStatus.
	StatusChanges int
}

// Vehicle is a sales event's vehicle of interest.
type Vehicle struct{ Year, Make, Model, VIN, Stock string }

// Activity is an activity on a sales event.
type Activity struct {
	ActivityID, EntityID, EventID string
	Type, Status, DueDateTime     string
	Note                          string
	Updates                       int
}

// WorkNote is a note on a sales event.
type WorkNote struct{ EntityID, EventID, Note string }

// Server is the fake. Requests are recorded (Recorder); Faults answers chosen requests
// instead of serving them.
type Server struct {
	*httptest.Server
	agenttest.Recorder
	Faults agenttest.Faults
	// Duplicates is how a duplicate lead is answered.
	Duplicates DuplicateStyle

	cfg Config
	adf *dtd.DTD

	mu         sync.Mutex
	now        func() time.Time
	staleDates bool
	next       int
	customers  map[string]*Customer
	events     map[string]*Event
	activities map[string]*Activity
	notes      []WorkNote
	lose       map[string][]int // path → statuses of answers to lose after serving (0: drop the connection)
}

// New starts a fake DealerSocket accepting cfg, closed when the test ends.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(agenttest.Testdata(), "agents", "adf-1.0.dtd"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := dtd.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: cfg, adf: d, now: time.Now, customers: map[string]*Customer{}, events: map[string]*Event{},
		activities: map[string]*Activity{}, lose: map[string][]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Settings are the agent settings that point at the fake and match its configuration.
func (s *Server) Settings() map[string]string {
	return map[string]string{
		"baseUrl": s.URL, "apiUrl": s.URL + APIPath, "eventSearchUrl": s.URL + EventSearchPath,
		"vendorName": "Austin Toyota", "dealerNumberId": s.cfg.DealerID, "apiVendor": s.cfg.Vendor,
	}
}

// LoseAnswer makes the next request to path be carried out with its answer lost: the
// connection is closed without one (status 0) or the answer replaced by status.
func (s *Server) LoseAnswer(path string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose[path] = append(s.lose[path], status)
}

// AddCustomer adds a customer DealerSocket has from elsewhere, with one sales event; it
// returns the event's id.
func (s *Server) AddCustomer(c Customer) (eventID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := c
	cp.EntityID = s.id()
	s.customers[cp.EntityID] = &cp
	return s.newEvent(Event{EntityID: cp.EntityID}).EventID
}

// AddEvent adds a sales event entered in DealerSocket (not sent to it) to the customer
// e.EntityID, Unqualified and assigned to DefaultAssignee unless e says otherwise; it
// returns the event's id ("" for a customer the fake does not have).
func (s *Server) AddEvent(e Event) (eventID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.customers[e.EntityID] == nil {
		return ""
	}
	return s.newEvent(e).EventID
}

// newEvent stores a new sales event with the next id, now as its dates, and the defaults of
// a new lead. s.mu is held.
func (s *Server) newEvent(e Event) *Event {
	e.EventID = s.id()
	e.InsertDate = s.now().UTC()
	e.UpdateDate = e.InsertDate
	if e.Status == 0 {
		e.Status = StatusUnqualified
	}
	if e.PrimaryAssigned == "" {
		e.PrimaryAssigned = DefaultAssignee
	}
	if e.EventType == 0 {
		e.EventType = NewVehicle
	}
	s.events[e.EventID] = &e
	return &e
}

// ChangeEvent changes a sales event as DealerSocket's users would (a status set, another
// salesperson assigned), moving its UpdateDate unless StaleUpdateDates; false when the fake
// has no such event.
func (s *Server) ChangeEvent(eventID string, change func(*Event)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil {
		return false
	}
	change(e)
	s.touch(e)
	return true
}

// touch records that e changed. s.mu is held.
func (s *Server) touch(e *Event) {
	if !s.staleDates {
		e.UpdateDate = s.now().UTC()
	}
}

// StaleUpdateDates makes changes leave the events' updateDate as it was (an API whose
// updateDate does not follow every change), or move it again.
func (s *Server) StaleUpdateDates(stale bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.staleDates = stale
}

// SetClock makes the fake date what it creates and changes by now.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// UpdateCustomer changes a customer as DealerSocket's own users would.
func (s *Server) UpdateCustomer(entityID string, change func(*Customer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.customers[entityID]; c != nil {
		change(c)
	}
}

// Customers, Events, Activities and WorkNotes are snapshots of what the fake holds.
func (s *Server) Customers() []Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return values(s.customers, func(c *Customer) string { return c.EntityID })
}

// Events are the sales events.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return values(s.events, func(e *Event) string { return e.EventID })
}

// Activities are the activities.
func (s *Server) Activities() []Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return values(s.activities, func(a *Activity) string { return a.ActivityID })
}

// WorkNotes are the work notes, in order.
func (s *Server) WorkNotes() []WorkNote {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.notes)
}

func values[T any](m map[string]*T, key func(*T) string) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b T) int { return numeric(key(&a)) - numeric(key(&b)) })
	return out
}

func numeric(v string) int { n, _ := strconv.Atoi(v); return n }

// id is the next DealerSocket id (numbers, as DealerSocket's are). s.mu is held.
func (s *Server) id() string {
	s.next++
	return strconv.Itoa(2215700 + s.next)
}

// ---- serving ----

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	req := s.Record(r)
	if s.Faults.Serve(w, r) {
		return
	}
	s.mu.Lock()
	var lost []int
	if q := s.lose[r.URL.Path]; len(q) > 0 {
		lost, s.lose[r.URL.Path] = q[:1], q[1:]
	}
	s.mu.Unlock()
	if lost == nil {
		s.route(w, r, req.Body)
		return
	}
	s.route(httptest.NewRecorder(), r, req.Body) // carried out; the answer is lost
	if lost[0] != 0 {
		w.WriteHeader(lost[0])
		io.WriteString(w, "upstream error")
		return
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(p, dealersocket.LeadPath):
		s.lead(w, r, body)
	case p == EventSearchPath && r.Method == http.MethodPost:
		s.signed(w, r, body, "application/json", s.eventSearch)
	case p == APIPath+dealersocket.PathActivity && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		s.signed(w, r, body, "application/xml", s.activity)
	case p == APIPath+dealersocket.PathWorkNote && r.Method == http.MethodPost:
		s.signed(w, r, body, "application/xml", s.workNote)
	case strings.EqualFold(p, APIPath+dealersocket.PathEventSales) && r.Method == http.MethodPost:
		s.signed(w, r, body, "application/xml", s.eventSales)
	case p == APIPath+dealersocket.PathCustomer && r.Method == http.MethodPut:
		s.signed(w, r, body, "application/xml", s.customerUpdate)
	case p == APIPath+dealersocket.PathSearchEntity && r.Method == http.MethodPost:
		s.signed(w, r, body, "application/xml", s.searchEntity)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// ---- the OEM lead endpoint ----

func leadResponse(w http.ResponseWriter, status int, inner string) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<LeadResponse xmlns:i="http://www.w3.org/2001/XMLSchema-instance">%s<StackTrace i:nil="true" /></LeadResponse>`, inner)
}

func (s *Server) lead(w http.ResponseWriter, r *http.Request, body []byte) {
	refuse := func(status int, code, msg string) {
		leadResponse(w, status, fmt.Sprintf(`<DSExistingLeadId>0</DSExistingLeadId><DSLeadId>0</DSLeadId><ErrorCode>%s</ErrorCode><ErrorMessage>%s</ErrorMessage><Success>false</Success>`, code, msg))
	}
	switch {
	case strings.TrimPrefix(r.URL.Path, dealersocket.LeadPath) != s.cfg.DirectLeadKey:
		refuse(http.StatusNotFound, "INVALID_LEAD_KEY", "unknown direct lead key")
		return
	case r.Header.Get("Authorization") != s.cfg.Username+":"+s.cfg.Password:
		refuse(http.StatusUnauthorized, "UNAUTHORIZED", "bad credentials")
		return
	case r.Header.Get("Content-Type") != "application/xml":
		refuse(http.StatusUnsupportedMediaType, "BAD_CONTENT_TYPE", "application/xml expected")
		return
	case !strings.Contains(string(body), `<?adf version="1.0"?>`):
		refuse(http.StatusBadRequest, "INVALID_ADF", "not ADF 1.0")
		return
	}
	if err := s.adf.Validate(body, "adf"); err != nil {
		refuse(http.StatusBadRequest, "INVALID_ADF", xmlText(err.Error()))
		return
	}
	var doc struct {
		Prospect struct {
			Vehicles []struct {
				Interest string `xml:"interest,attr"`
				Year     string `xml:"year"`
				Make     string `xml:"make"`
				Model    string `xml:"model"`
				VIN      string `xml:"vin"`
				Stock    string `xml:"stock"`
			} `xml:"vehicle"`
			Contact struct {
				Names []struct {
					Part  string `xml:"part,attr"`
					Value string `xml:",chardata"`
				} `xml:"name"`
				Email  string   `xml:"email"`
				Phones []string `xml:"phone"`
			} `xml:"customer>contact"`
		} `xml:"prospect"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		refuse(http.StatusBadRequest, "INVALID_ADF", xmlText(err.Error()))
		return
	}
	var c Customer
	if e := strings.TrimSpace(doc.Prospect.Contact.Email); e != "" {
		c.Emails = []string{e}
	}
	for _, n := range doc.Prospect.Contact.Names {
		switch n.Part {
		case "first":
			c.GivenName = n.Value
		case "last":
			c.FamilyName = n.Value
		case "full":
			c.GivenName, c.FamilyName, _ = strings.Cut(n.Value, " ")
		}
	}
	for _, p := range doc.Prospect.Contact.Phones {
		if d := dealersocket.PhoneDigits(p); d != "" {
			c.Phones = append(c.Phones, Phone{Number: d, UseCode: "Home"})
		}
	}
	var v Vehicle
	for _, veh := range doc.Prospect.Vehicles {
		if veh.Interest != "trade-in" {
			v = Vehicle{Year: veh.Year, Make: veh.Make, Model: veh.Model, VIN: veh.VIN, Stock: veh.Stock}
			break
		}
	}

	s.mu.Lock()
	existing := s.findEvent(c)
	var e *Event
	if existing == nil {
		c.EntityID = s.id()
		s.customers[c.EntityID] = &c
		e = s.newEvent(Event{EntityID: c.EntityID, Vehicle: v})
	}
	style := s.Duplicates
	s.mu.Unlock()

	ids := fmt.Sprintf(`<DSDealerId>%s</DSDealerId><DSAssignedId>DCPqa</DSAssignedId><DSAssignedName>%s</DSAssignedName>`, s.cfg.DealerID, DefaultAssignee)
	switch {
	case existing == nil:
		leadResponse(w, http.StatusOK, `<DSExistingLeadId>0</DSExistingLeadId><DSLeadId>`+e.EventID+`</DSLeadId><DSCustomerId>`+e.EntityID+`</DSCustomerId>`+
			ids+`<ErrorCode i:nil="true" /><ErrorMessage i:nil="true" /><Success>true</Success>`)
	case style == DuplicateSuccess:
		leadResponse(w, http.StatusOK, `<DSExistingLeadId>`+existing.EventID+`</DSExistingLeadId><DSLeadId>0</DSLeadId><DSCustomerId>0</DSCustomerId>`+
			ids+`<ErrorCode i:nil="true" /><ErrorMessage i:nil="true" /><Success>true</Success>`)
	default:
		leadResponse(w, http.StatusOK, `<DSExistingLeadId>`+existing.EventID+`</DSExistingLeadId><DSLeadId>0</DSLeadId>`+
			`<ErrorCode>DUPLICATE_LEAD</ErrorCode><ErrorMessage>Duplicate Lead submitted earlier</ErrorMessage><Success>false</Success>`)
	}
}

// findEvent is the oldest sales event of a customer with c's email (else phone), as a
// CRM's duplicate check finds the lead it already has (in id order: map order would make
// the answer random when two customers share an email). s.mu is held.
func (s *Server) findEvent(c Customer) *Event {
	ids := slices.SortedFunc(maps.Keys(s.events), func(a, b string) int { return numeric(a) - numeric(b) })
	for _, id := range ids {
		e := s.events[id]
		have := s.customers[e.EntityID]
		if have == nil {
			continue
		}
		if len(c.Emails) > 0 && slices.ContainsFunc(have.Emails, func(v string) bool { return strings.EqualFold(v, c.Emails[0]) }) {
			return e
		}
		if len(c.Emails) == 0 && len(c.Phones) > 0 && slices.ContainsFunc(have.Phones, func(p Phone) bool { return p.Number == c.Phones[0].Number }) {
			return e
		}
	}
	return nil
}

// ---- the signed APIs ----

// answer writes a DealerSocket response document: root with its namespace and fields.
func answer(w http.ResponseWriter, status int, root, ns string, fields ...string) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="utf-8"?><%s xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="%s">`, root, ns)
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&b, "<%s>%s</%s>", fields[i], xmlText(fields[i+1]), fields[i])
	}
	fmt.Fprintf(&b, "</%s>", root)
	io.WriteString(w, b.String())
}

const dsNamespace = "http://www.dealersocket.com"

// failure is a refusal in DealerSocket's format (HTTP 200, Success=false).
type failure struct{ code, msg string }

func (f *failure) Error() string { return f.code + ": " + f.msg }

func fail(code, format string, args ...any) *failure {
	return &failure{code: code, msg: fmt.Sprintf(format, args...)}
}

// signed checks the signature and the media type, then serves.
func (s *Server) signed(w http.ResponseWriter, r *http.Request, body []byte, mediaType string, serve func(http.ResponseWriter, *http.Request, []byte)) {
	if r.Header.Get("Authentication") != dealersocket.Sign(s.cfg.PublicKey, s.cfg.SecretKey, body) {
		answer(w, http.StatusUnauthorized, "Response", dsNamespace, "Success", "false", "ErrorCode", "UNAUTHORIZED",
			"ErrorMessage", "The Authentication signature does not match the request body")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != mediaType {
		answer(w, http.StatusUnsupportedMediaType, "Response", dsNamespace, "Success", "false", "ErrorCode", "UNSUPPORTED_MEDIA_TYPE",
			"ErrorMessage", "Content-Type must be "+mediaType)
		return
	}
	serve(w, r, body)
}

// decodeRoot decodes body into v when its root element is root in namespace ns.
func decodeRoot(body []byte, root, ns string, v any) *failure {
	var probe struct{ XMLName xml.Name }
	if err := xml.Unmarshal(body, &probe); err != nil {
		return fail("INVALID_XML", "%s", err.Error())
	}
	if probe.XMLName.Local != root || probe.XMLName.Space != ns {
		return fail("INVALID_XML", "the root element must be %s in namespace %q, not %s in %q", root, ns, probe.XMLName.Local, probe.XMLName.Space)
	}
	if err := xml.Unmarshal(body, v); err != nil {
		return fail("INVALID_XML", "%s", err.Error())
	}
	return nil
}

// eventOf checks that eventID is a sales event of customer entityID. s.mu is held.
func (s *Server) eventOf(entityID, eventID string) (*Event, *failure) {
	if s.customers[entityID] == nil {
		return nil, fail("ENTITYID_INVALID", "EntityId does not exist.")
	}
	e := s.events[eventID]
	if e == nil || e.EntityID != entityID {
		return nil, fail("EVENTID_INVALID", "EventId does not exist.")
	}
	return e, nil
}

func (s *Server) checkSender(vendor, dealerID string) *failure {
	switch {
	case vendor != s.cfg.Vendor:
		return fail("VENDOR_INVALID", "invalid vendor: %s", vendor)
	case dealerID != s.cfg.DealerID:
		return fail("DEALERID_INVALID", "invalid dealer id: %s", dealerID)
	}
	return nil
}

func (s *Server) activity(w http.ResponseWriter, r *http.Request, body []byte) {
	var a struct {
		Vendor, DealerId, EntityId, EventId string
		ActivityType, ActivityTaskType      string
		DueDateTime, Status, ActivityId     string
		Note                                string
	}
	respond := func(f *failure, id string) {
		if f != nil {
			answer(w, http.StatusOK, "ActivityResponse", dsNamespace, "Success", "false", "ErrorCode", f.code, "ErrorMessage", f.msg, "ActivityId", "0")
			return
		}
		answer(w, http.StatusOK, "ActivityResponse", dsNamespace, "Success", "true", "ActivityId", id)
	}
	if f := decodeRoot(body, "ActivityInsert", "", &a); f != nil {
		respond(f, "")
		return
	}
	if f := s.checkSender(a.Vendor, a.DealerId); f != nil {
		respond(f, "")
		return
	}
	typ := a.ActivityTaskType + a.ActivityType
	if (a.ActivityTaskType == "") == (a.ActivityType == "") {
		respond(fail("ACTIVITYTYPE_INVALID", "exactly one of ActivityType and ActivityTaskType is required"), "")
		return
	}
	if _, err := time.Parse(time.RFC3339, a.DueDateTime); err != nil {
		respond(fail("DUEDATETIME_INVALID", "DueDateTime is not a date and time"), "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, f := s.eventOf(a.EntityId, a.EventId); f != nil {
		respond(f, "")
		return
	}
	if r.Method == http.MethodPost {
		if a.ActivityId != "" {
			respond(fail("ACTIVITYID_INVALID", "an insert has no ActivityId (PUT updates)"), "")
			return
		}
		act := &Activity{ActivityID: s.id(), EntityID: a.EntityId, EventID: a.EventId, Type: typ, Status: a.Status, DueDateTime: a.DueDateTime, Note: a.Note}
		s.activities[act.ActivityID] = act
		respond(nil, act.ActivityID)
		return
	}
	act := s.activities[a.ActivityId]
	if act == nil || act.EventID != a.EventId {
		respond(fail("ACTIVITYID_INVALID", "ActivityId does not exist."), "")
		return
	}
	act.Type, act.Status, act.DueDateTime, act.Note = typ, a.Status, a.DueDateTime, a.Note
	act.Updates++
	respond(nil, act.ActivityID)
}

func (s *Server) workNote(w http.ResponseWriter, r *http.Request, body []byte) {
	var n struct{ Vendor, DealerId, EntityId, EventId, BatchId, Note string }
	f := decodeRoot(body, "WorkNoteInsert", "", &n)
	if f == nil {
		f = s.checkSender(n.Vendor, n.DealerId)
	}
	if f == nil && (strings.TrimSpace(n.Note) == "" || utf8.RuneCountInString(n.Note) > dealersocket.MaxWorkNote) {
		f = fail("NOTE_INVALID", "Note is required, at most %d characters", dealersocket.MaxWorkNote)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		_, f = s.eventOf(n.EntityId, n.EventId)
	}
	if f != nil {
		answer(w, http.StatusOK, "Response", dsNamespace, "Success", "false", "ErrorCode", f.code, "ErrorMessage", f.msg)
		return
	}
	s.notes = append(s.notes, WorkNote{EntityID: n.EntityId, EventID: n.EventId, Note: n.Note})
	answer(w, http.StatusOK, "Response", dsNamespace, "Success", "true")
}

// starSender is a STAR document's ApplicationArea/Sender.
type starSender struct {
	CreatorNameCode string `xml:"ApplicationArea>Sender>CreatorNameCode"`
	DealerNumberID  string `xml:"ApplicationArea>Sender>DealerNumberID"`
}

func (s *Server) eventSales(w http.ResponseWriter, r *http.Request, body []byte) {
	var doc struct {
		starSender
		DocumentID string `xml:"ProcessSalesLeadDataArea>SalesLead>SalesLeadHeader>DocumentIdentificationGroup>DocumentIdentification>DocumentID"`
		PartyID    string `xml:"ProcessSalesLeadDataArea>SalesLead>SalesLeadHeader>CustomerProspect>ProspectParty>PartyID"`
		LeadStatus string `xml:"ProcessSalesLeadDataArea>SalesLead>SalesLeadDetail>LeadStatus"`
		Vehicle    *struct {
			ManufacturerName, ModelYear, ModelDescription, VehicleID, VehicleStockString string
		} `xml:"ProcessSalesLeadDataArea>SalesLead>SalesLeadDetail>SalesActivity>Vehicle"`
	}
	f := decodeRoot(body, "ProcessSalesLead", dealersocket.StarNamespace, &doc)
	if f == nil {
		f = s.checkSender(doc.CreatorNameCode, doc.DealerNumberID)
	}
	if f == nil && doc.LeadStatus != "" && !slices.Contains(SalesStatuses, doc.LeadStatus) {
		f = fail("SAVE_DATA", "invalid LeadStatus: %s", doc.LeadStatus)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var e *Event
	if f == nil {
		e, f = s.eventOf(doc.PartyID, doc.DocumentID)
	}
	if f != nil {
		answer(w, http.StatusOK, "Response", dsNamespace, "Success", "false", "ErrorCode", f.code, "ErrorMessage", f.msg)
		return
	}
	if doc.LeadStatus != "" {
		e.LeadStatus, e.Status = doc.LeadStatus, statusCodes[doc.LeadStatus]
		e.StatusChanges++
	}
	if v := doc.Vehicle; v != nil {
		e.Vehicle = Vehicle{Year: v.ModelYear, Make: v.ManufacturerName, Model: v.ModelDescription, VIN: v.VehicleID, Stock: v.VehicleStockString}
	}
	s.touch(e)
	answer(w, http.StatusOK, "Response", dsNamespace, "Success", "true")
}

// starPerson is a STAR SpecifiedPerson, as sent.
type starPerson struct {
	ID         string `xml:"ID"`
	GivenName  string `xml:"GivenName"`
	FamilyName string `xml:"FamilyName"`
	Address    *struct {
		LineOne  string `xml:"LineOne"`
		CityName string `xml:"CityName"`
		Postcode string `xml:"Postcode"`
		State    string `xml:"StateOrProvinceCountrySub-DivisionID"`
	} `xml:"ResidenceAddress"`
	Phones []struct {
		CompleteNumber string `xml:"CompleteNumber"`
		UseCode        string `xml:"UseCode"`
	} `xml:"TelephoneCommunication"`
	Emails []struct {
		URIID string `xml:"URIID"`
	} `xml:"URICommunication"`
}

func (s *Server) customerUpdate(w http.ResponseWriter, r *http.Request, body []byte) {
	var doc struct {
		starSender
		TransactionTypeCode string     `xml:"ProcessCustomerInformationDataArea>CustomerInformation>CustomerInformationHeader>TransactionTypeCode"`
		Person              starPerson `xml:"ProcessCustomerInformationDataArea>CustomerInformation>CustomerInformationDetail>CustomerParty>SpecifiedPerson"`
	}
	f := decodeRoot(body, "ProcessCustomerInformation", dealersocket.StarNamespace, &doc)
	if f == nil {
		f = s.checkSender(doc.CreatorNameCode, doc.DealerNumberID)
	}
	p := doc.Person
	switch {
	case f != nil:
	case doc.TransactionTypeCode != "UC":
		f = fail("SAVE_DATA", "PUT /Customer updates: TransactionTypeCode must be UC")
	case p.GivenName == "" || p.FamilyName == "":
		f = fail("SAVE_DATA", "GivenName and FamilyName are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[p.ID]
	if f == nil && c == nil {
		f = fail("SAVE_DATA", "no customer %s", p.ID)
	}
	if f != nil {
		answer(w, http.StatusOK, "Response", dsNamespace, "Success", "false", "Message", "Could not update customer: "+f.msg, "EntityId", "0")
		return
	}
	// An update replaces the customer with what it holds.
	*c = Customer{EntityID: c.EntityID, GivenName: p.GivenName, FamilyName: p.FamilyName}
	if a := p.Address; a != nil {
		c.Address = Address{LineOne: a.LineOne, CityName: a.CityName, Postcode: a.Postcode, State: a.State}
	}
	for _, ph := range p.Phones {
		c.Phones = append(c.Phones, Phone{Number: ph.CompleteNumber, UseCode: ph.UseCode})
	}
	for _, e := range p.Emails {
		c.Emails = append(c.Emails, e.URIID)
	}
	answer(w, http.StatusOK, "Response", dsNamespace, "Success", "true", "Message", "Updated customer successfully, EntityId: "+c.EntityID, "EntityId", c.EntityID)
}

func (s *Server) searchEntity(w http.ResponseWriter, r *http.Request, body []byte) {
	var doc struct {
		starSender
		PartyID string     `xml:"GetCustomerInformationDataArea>CustomerInformation>CustomerInformationDetail>CustomerParty>PartyID"`
		Person  starPerson `xml:"GetCustomerInformationDataArea>CustomerInformation>CustomerInformationDetail>CustomerParty>SpecifiedPerson"`
	}
	f := decodeRoot(body, "GetCustomerInformation", dealersocket.StarNamespace, &doc)
	if f == nil {
		f = s.checkSender(doc.CreatorNameCode, doc.DealerNumberID)
	}
	var email, phone string
	if len(doc.Person.Emails) > 0 {
		email = doc.Person.Emails[0].URIID
	}
	if len(doc.Person.Phones) > 0 {
		phone = doc.Person.Phones[0].CompleteNumber
	}
	if f == nil && doc.PartyID == "" && email == "" && phone == "" {
		f = fail("SEARCH_INVALID", "a PartyID, an email or a phone is required")
	}
	if f != nil {
		answer(w, http.StatusOK, "Response", dsNamespace, "Success", "false", "ErrorCode", f.code, "ErrorMessage", f.msg)
		return
	}
	s.mu.Lock()
	var found []Customer
	for _, c := range values(s.customers, func(c *Customer) string { return c.EntityID }) {
		switch {
		case doc.PartyID != "" && c.EntityID == doc.PartyID,
			email != "" && slices.ContainsFunc(c.Emails, func(v string) bool { return strings.EqualFold(v, email) }),
			phone != "" && slices.ContainsFunc(c.Phones, func(p Phone) bool { return p.Number == phone }):
			found = append(found, c)
		}
	}
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><ShowCustomerInformation xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://www.starstandard.org/STAR/5">`)
	b.WriteString(`<ShowCustomerInformationDataArea><Show><ResponseCriteria xmlns="http://www.openapplications.org/oagis/9"><ResponseExpression>success</ResponseExpression></ResponseCriteria></Show>`)
	for _, c := range found {
		fmt.Fprintf(&b, `<CustomerInformation><CustomerInformationHeader><SecondaryDealerNumberID>DCP QA</SecondaryDealerNumberID></CustomerInformationHeader><CustomerInformationDetail><CustomerParty><PartyID>%s</PartyID><SpecifiedPerson><GivenName>%s</GivenName><FamilyName>%s</FamilyName>`,
			c.EntityID, xmlText(c.GivenName), xmlText(c.FamilyName))
		for _, p := range c.Phones {
			use := p.UseCode
			if use == "Cell" {
				use = "Mobile" // reads name the cell phone Mobile
			}
			fmt.Fprintf(&b, `<TelephoneCommunication><CompleteNumber>%s</CompleteNumber><UseCode>%s</UseCode></TelephoneCommunication>`, xmlText(p.Number), use)
		}
		for _, e := range c.Emails {
			fmt.Fprintf(&b, `<URICommunication><URIID>%s</URIID><ChannelCode>email address</ChannelCode></URICommunication>`, xmlText(e))
		}
		if a := c.Address; a != (Address{}) {
			fmt.Fprintf(&b, `<PostalAddress><LineOne>%s</LineOne><CityName>%s</CityName><Postcode>%s</Postcode><StateOrProvinceCountrySub-DivisionID>%s  </StateOrProvinceCountrySub-DivisionID></PostalAddress>`,
				xmlText(a.LineOne), xmlText(a.CityName), xmlText(a.Postcode), xmlText(a.State))
		}
		b.WriteString(`</SpecifiedPerson></CustomerParty></CustomerInformationDetail></CustomerInformation>`)
	}
	b.WriteString(`</ShowCustomerInformationDataArea></ShowCustomerInformation>`)
	io.WriteString(w, b.String())
}

// ---- the event search ----

func (s *Server) eventSearch(w http.ResponseWriter, r *http.Request, body []byte) {
	jsonAnswer := func(v any) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(v)
	}
	refuse := func(code, msg string) { jsonAnswer(map[string]string{"errorCode": code, "errorMessage": msg}) }
	var q struct {
		Vendor        string          `json:"vendor"`
		DealerID      string          `json:"dealerId"`
		EntityID      json.RawMessage `json:"entityId"`
		EventCategory string          `json:"eventCategory"`
	}
	if json.Unmarshal(body, &q) != nil {
		refuse("INVALID_REQUEST", "the body is not a JSON object")
		return
	}
	var entityID json.Number
	if f := s.checkSender(q.Vendor, q.DealerID); f != nil {
		refuse(f.code, f.msg)
		return
	}
	if err := json.Unmarshal(q.EntityID, &entityID); err != nil || len(q.EntityID) == 0 || q.EntityID[0] == '"' {
		refuse("INVALID_REQUEST", "entityId must be a number")
		return
	}
	if q.EventCategory != "Sales" && q.EventCategory != "Service" {
		refuse("INVALID_REQUEST", "eventCategory must be Sales or Service")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[entityID.String()]
	if c == nil {
		refuse("ENTITYID_INVALID", "EntityId does not exist.")
		return
	}
	type event struct {
		EventID         int    `json:"eventId"`
		EventCategory   string `json:"eventCategory"`
		EventType       int    `json:"eventType"`
		Status          int    `json:"status"`
		InsertDate      string `json:"insertDate"`
		UpdateDate      string `json:"updateDate"`
		PrimaryAssigned string `json:"primaryAssigned"`
		Year            string `json:"year"`
		Make            string `json:"make"`
		Model           string `json:"model"`
		VIN             string `json:"vin"`
		StockNumber     string `json:"stockNumber"`
	}
	out := struct {
		FirstName string  `json:"firstName"`
		LastName  string  `json:"lastName"`
		Events    []event `json:"events"`
	}{FirstName: c.GivenName, LastName: c.FamilyName, Events: []event{}}
	if q.EventCategory == "Sales" {
		for _, e := range values(s.events, func(e *Event) string { return e.EventID }) {
			if e.EntityID == c.EntityID {
				out.Events = append(out.Events, event{EventID: numeric(e.EventID), EventCategory: "Sales", EventType: e.EventType, Status: e.Status,
					InsertDate: date(e.InsertDate), UpdateDate: date(e.UpdateDate), PrimaryAssigned: e.PrimaryAssigned,
					Year: e.Vehicle.Year, Make: e.Vehicle.Make, Model: e.Vehicle.Model, VIN: e.Vehicle.VIN, StockNumber: e.Vehicle.Stock})
			}
		}
	}
	jsonAnswer(out)
}

// date is a date as the event search answers it: without a zone, to the millisecond.
func date(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000") }

func xmlText(v string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(v))
	return b.String()
}
