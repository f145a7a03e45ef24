// Package fortellistest is a fake Fortellis: the identity server, the API gateway, the Elead
// sales APIs (customers, opportunities, activities, reference data) and Appointments v3. It
// checks what the real ones check as far as the public record says — the token grant (HTTP
// Basic, scope anonymous), on every call the bearer token, the Subscription-Id and a fresh
// UUID Request-Id, JSON bodies against the documented schemas (schema.go), where ids come
// back, the gateway's and Elead's error bodies — keeps what it was sent, and can fail chosen
// calls before or after doing them. Only tests import it: the connector's
// (shared/agents/fortellis) and the end-to-end ones (shared/agentstest).
//
// The change feed: GET /sales/v2/elead/opportunities/searchDelta?dateFrom&page&pageSize
// answers the opportunities changed since dateFrom, oldest change first, in Elead's page
// shape {items, totalItems, totalPages, pageNumber, pageSize, links}; a dateFrom more than
// 7 days back is refused (400), a window with nothing changed, or a page past the last, is
// 404 [SPEC S1, CODE S8]. Every change the fake makes or is sent moves the opportunity's
// change time (its clock, SetClock): a status or sub-status, a comment, a vehicle, an
// activity scheduled or completed. The activity history answers each activity's category
// (Scheduled, Completed), completedDate, outcome and assignedTo. A test (or a person) changes
// Elead directly, as the dealership's users would: ChangeOpportunity (a sub-status set, a
// salesperson assigned), AddActivity (an appointment set in Elead), CompleteActivity; Faults
// answers chosen requests (a 429 with Retry-After), Issuer.ExpireAll expires the tokens.
package fortellistest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// TokenPath is the identity server's token path (the production one's).
const TokenPath = "/oauth2/aus1p1ixy7YL8cMq02p7/v1/token"

// Kinds of records the fake keeps (Records).
const (
	Customers      = "customers"
	Opportunities  = "opportunities"
	Comments       = "comments"
	SubStatuses    = "subStatuses"
	Inactivations  = "inactivations"
	Activities     = "activities"
	VehiclesSought = "vehiclesSought"
	TradeIns       = "tradeIns"
	Appointments   = "appointments"
)

// Status is one of the company's opportunity statuses and its sub-statuses.
type Status struct {
	Status      string
	SubStatuses []string
}

// Fake is a running fake Fortellis.
type Fake struct {
	*httptest.Server
	// Recorder holds the API requests (not the token grants).
	agenttest.Recorder
	Issuer         *agenttest.Issuer
	SubscriptionID string
	// Faults answers chosen requests instead of the API (nothing is done).
	Faults agenttest.Faults

	// The company's reference data; set before use (New sets a typical company).
	Sources       []string
	ActivityTypes map[int]string
	Statuses      []Status
	// DetectDuplicates: an opportunity created for a customer who has an Active one from the
	// same source is answered as that one, isDuplicate true (Elead's duplicate check).
	DetectDuplicates bool

	mu         sync.Mutex
	now        func() time.Time
	requestIDs map[string]bool
	after      map[string][]after
	refused    int
	next       int
	records    map[string][]map[string]any
	mux        *http.ServeMux
	inventory  *Inventory
}

type after struct {
	status int // 0: drop the connection
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// New starts a fake whose solution has apiKey and apiSecret, and whose dealer subscription is
// subscriptionID. It stops at the test's end.
func New(t testing.TB, apiKey, apiSecret, subscriptionID string) *Fake {
	f := &Fake{
		Issuer:         &agenttest.Issuer{ClientID: apiKey, ClientSecret: apiSecret, Scope: "anonymous", Basic: true},
		SubscriptionID: subscriptionID,
		Sources:        []string{"DealerAI", "Internet Lead", "Walk-in"},
		// As observed for one rooftop [CODE S8]; ids differ per company.
		ActivityTypes: map[int]string{3: "Send Email", 7: "Appointment", 14: "Send Email/Letter", 20: "Read Email", 37: "Note"},
		Statuses: []Status{
			{Status: "Active", SubStatuses: []string{"New", "Contacted", "Appointment Set", "Working"}},
			{Status: "Inactive", SubStatuses: []string{"Not In Market", "Purchased Elsewhere", "Bad Lead"}},
			{Status: "Sold", SubStatuses: []string{"CRM Sold"}},
		},
		now:        time.Now,
		requestIDs: map[string]bool{},
		after:      map[string][]after{},
		records:    map[string][]map[string]any{},
	}
	f.routes()
	outer := http.NewServeMux()
	outer.Handle("POST "+TokenPath, f.Issuer)
	outer.HandleFunc("/", f.serveAPI)
	f.Server = httptest.NewServer(outer)
	t.Cleanup(f.Close)
	return f
}

// Settings are an agent's settings that point at the fake.
func (f *Fake) Settings() map[string]string {
	return map[string]string{"baseUrl": f.URL, "tokenUrl": f.URL + TokenPath, "subscriptionId": f.SubscriptionID}
}

// FailAfter makes the next request of method to path be done, and then answered with status
// and an Elead error body (the answer of a platform that failed after doing the work).
func (f *Fake) FailAfter(method, path string, status int) {
	f.addAfter(method, path, after{status: status})
}

// DropAfter makes the next request of method to path be done, and then the connection closed
// without an answer (a lost response).
func (f *Fake) DropAfter(method, path string) { f.addAfter(method, path, after{}) }

func (f *Fake) addAfter(method, path string, a after) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.after[method+" "+path] = append(f.after[method+" "+path], a)
}

// Refused is how many API calls the gateway refused for their token (401).
func (f *Fake) Refused() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

// Records returns copies of the records of a kind, in the order they were made.
func (f *Fake) Records(kind string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]map[string]any, len(f.records[kind]))
	for i, r := range f.records[kind] {
		out[i] = clone(r)
	}
	return out
}

// Add stores a record of a kind as if the platform had it already (a customer the dealer
// entered in Elead, say) and returns its id.
func (f *Fake) Add(kind string, r map[string]any) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	r = clone(r)
	id, _ := r["id"].(string)
	if id == "" {
		id = f.newID()
		r["id"] = id
	}
	if kind == Opportunities {
		for k, v := range map[string]any{"status": "Active", "subStatus": "New", "soughtVehicles": []any{}, "tradeIns": []any{}} {
			if _, ok := r[k]; !ok {
				r[k] = v
			}
		}
		f.touch(r)
	}
	f.records[kind] = append(f.records[kind], r)
	return id
}

// SetClock makes the fake time the changes it makes and is sent by now.
func (f *Fake) SetClock(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// touch records that opportunity o changed now (f.mu held): searchDelta answers it for a
// dateFrom up to then.
func (f *Fake) touch(o map[string]any) { o[changedKey] = f.now().UTC() }

// changedKey holds an opportunity's change time in the fake (never answered).
const changedKey = "\x00changed"

// ChangeOpportunity changes an opportunity as Elead's users would (change gets the stored
// record: "status", "subStatus", "salesTeam" [{id, firstName, lastName, isPrimary,
// positionName}]) and moves its change time; false when there is no such opportunity.
func (f *Fake) ChangeOpportunity(id string, change func(o map[string]any)) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.find(Opportunities, id)
	if o == nil {
		return false
	}
	change(o)
	f.touch(o)
	return true
}

// Salesperson is a salesTeam entry, the opportunity's primary salesperson.
func Salesperson(id, first, last string) []any {
	return []any{map[string]any{"id": id, "firstName": first, "lastName": last, "isPrimary": true,
		"positionName": "Salesperson", "positionCode": "S"}}
}

// AddActivity schedules an activity on an opportunity as Elead's users would (an appointment
// a BDC agent set): activityType is the company's type id, due its time. It returns the
// activity's id ("" when there is no such opportunity).
func (f *Fake) AddActivity(opportunityID string, activityType int, name string, due time.Time) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.find(Opportunities, opportunityID)
	if o == nil {
		return ""
	}
	id := f.newID()
	f.records[Activities] = append(f.records[Activities], map[string]any{"id": id, "opportunityId": opportunityID,
		"activityType": float64(activityType), "activityName": name, "dueDate": due.UTC().Format(time.RFC3339)})
	f.touch(o)
	return id
}

// CompleteActivity completes an activity with an outcome ("Showed", "No Show", ...), as
// Elead's users would; false when there is no such activity.
func (f *Fake) CompleteActivity(activityID, outcome string) bool {
	return f.changeActivity(activityID, func(a map[string]any) {
		a["category"], a["outcome"], a["completedDate"] = "Completed", outcome, f.now().UTC().Format(time.RFC3339)
	})
}

// MoveActivity moves a scheduled activity to another time, as Elead's users would.
func (f *Fake) MoveActivity(activityID string, due time.Time) bool {
	return f.changeActivity(activityID, func(a map[string]any) { a["dueDate"] = due.UTC().Format(time.RFC3339) })
}

func (f *Fake) changeActivity(activityID string, change func(a map[string]any)) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.find(Activities, activityID)
	if a == nil {
		return false
	}
	change(a)
	if o := f.find(Opportunities, str(a["opportunityId"])); o != nil {
		f.touch(o)
	}
	return true
}

// newID is a UUID-shaped id, in sequence (f.mu held).
func (f *Fake) newID() string {
	f.next++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", f.next)
}

// ---- the gateway ----

func (f *Fake) serveAPI(w http.ResponseWriter, r *http.Request) {
	req := f.Record(r)
	r.Body = io.NopCloser(bytes.NewReader(req.Body))
	if id := r.Header.Get("Request-Id"); id != "" {
		w.Header().Set("Request-Id", id) // echoed [SPEC S6]
	}
	if !f.gatewayAccepts(w, r, req.Body) {
		return
	}
	if f.Faults.Serve(w, r) {
		return
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, r)
	f.mu.Lock()
	key := r.Method + " " + r.URL.Path
	var a *after
	if q := f.after[key]; len(q) > 0 {
		a, f.after[key] = &q[0], q[1:]
	}
	f.mu.Unlock()
	switch {
	case a != nil && a.status == 0:
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = buf.Flush()
			conn.Close()
		}
	case a != nil:
		eleadError(w, a.status, "INTERNAL-ERROR", "the platform failed after doing the work")
	default:
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
}

// gatewayAccepts checks what the Fortellis gateway checks on every call [SPEC S6]: a valid
// bearer token (TOKEN-EXPIRED otherwise), the subscription (MISSING-SUBSCRIPTION-ID,
// SUBSCRIPTION-MISMATCH), a Request-Id that is a UUID and not reused, and a JSON body.
func (f *Fake) gatewayAccepts(w http.ResponseWriter, r *http.Request, body []byte) bool {
	reqID := r.Header.Get("Request-Id")
	f.mu.Lock()
	reused := f.requestIDs[reqID]
	f.requestIDs[reqID] = true
	f.mu.Unlock()
	switch {
	case !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "):
		gatewayError(w, http.StatusUnauthorized, "MISSING-AUTHORIZATION", "the Authorization header is missing")
	case !f.Issuer.Authorized(r):
		f.mu.Lock()
		f.refused++
		f.mu.Unlock()
		gatewayError(w, http.StatusUnauthorized, "TOKEN-EXPIRED", "The access token has expired")
	case r.Header.Get("Subscription-Id") == "":
		gatewayError(w, http.StatusBadRequest, "MISSING-SUBSCRIPTION-ID", "the Subscription-Id header is missing")
	case r.Header.Get("Subscription-Id") != f.SubscriptionID:
		gatewayError(w, http.StatusForbidden, "SUBSCRIPTION-MISMATCH", "the Subscription-Id is not subscribed to this API")
	case !uuidPattern.MatchString(reqID) || reused:
		gatewayError(w, http.StatusBadRequest, "INVALID-REQUEST-ID", "Request-Id must be a new GUID")
	case len(body) > 0 && r.Header.Get("Content-Type") != "application/json":
		gatewayError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED-MEDIA-TYPE", "the body must be application/json")
	case r.Header.Get("Accept") != "" && !strings.Contains(r.Header.Get("Accept"), "application/json") && !strings.Contains(r.Header.Get("Accept"), "*/*"):
		gatewayError(w, http.StatusNotAcceptable, "NOT-ACCEPTABLE", "the APIs answer application/json")
	default:
		return true
	}
	return false
}

func gatewayError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg})
}

// eleadError is an Elead API's error body {code, message, referenceId} [SPEC S1].
func eleadError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg, "referenceId": "9e88d251-9b50-3dfb-00ef-00c5009b003d"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads the request body as a JSON object valid against s; on failure it answers 400
// with an Elead error naming the field.
func decode(w http.ResponseWriter, r *http.Request, s schema) (map[string]any, bool) {
	var m map[string]any
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&m); err != nil || m == nil {
		eleadError(w, http.StatusBadRequest, "INVALID-REQUEST", "the body is not a JSON object")
		return nil, false
	}
	if err := s.check(m, ""); err != nil {
		eleadError(w, http.StatusBadRequest, "VALIDATION-ERROR", err.Error())
		return nil, false
	}
	return m, true
}

// ---- the APIs ----

func (f *Fake) routes() {
	m := http.NewServeMux()
	// Elead customers [SPEC S2]
	m.HandleFunc("POST /sales/v1/elead/customers/search", f.searchCustomers)
	m.HandleFunc("POST /sales/v1/elead/customers", f.createCustomer)
	m.HandleFunc("GET /sales/v1/elead/customers/{id}", f.getCustomer)
	m.HandleFunc("POST /sales/v1/elead/customers/{id}", f.updateCustomer)
	// Elead opportunities [SPEC S1; v2 paths CODE S7, S8]
	m.HandleFunc("POST /sales/v2/elead/opportunities", f.createOpportunity)
	m.HandleFunc("GET /sales/v2/elead/opportunities/{id}", f.getOpportunity)
	m.HandleFunc("GET /sales/v2/elead/opportunities/searchDelta", f.searchDelta)
	m.HandleFunc("GET /sales/v2/elead/opportunities/search-by-customerId/{customerId}", f.opportunitiesOfCustomer)
	m.HandleFunc("POST /sales/v2/elead/opportunities/comment", f.comment)
	m.HandleFunc("POST /sales/v2/elead/opportunities/vehicleSought", f.addVehicleSought)
	m.HandleFunc("POST /sales/v2/elead/opportunities/tradein", f.addTradeIn)
	m.HandleFunc("POST /sales/v2/elead/opportunities/{id}/subStatus/update", f.updateSubStatus)
	m.HandleFunc("POST /sales/v2/elead/opportunities/{id}/set-inactive", f.setInactive)
	// Elead activities and reference data [CODE S7; SPEC S3]
	m.HandleFunc("GET /sales/v1/elead/activities/types", f.activityTypes)
	m.HandleFunc("POST /sales/v1/elead/activities/schedule", f.schedule)
	m.HandleFunc("GET /sales/v1/elead/activities/history/byOpportunityId/{id}", f.activitiesOfOpportunity)
	m.HandleFunc("GET /sales/v1/elead/productreferencedata/companyOpportunityStatuses", f.opportunityStatuses)
	// Appointments v3 [SPEC S11]
	m.HandleFunc("POST /service/v3/appointments", f.createAppointment)
	m.HandleFunc("GET /service/v3/appointments", f.listAppointments)
	m.HandleFunc("POST /service/v3/appointments/{id}", f.updateAppointment)
	m.HandleFunc("DELETE /service/v3/appointments/{id}", f.cancelAppointment)
	// Merchandisable Vehicles v2 [NOTE S9] (inventory.go)
	m.HandleFunc("GET "+InventoryPath+"{$}", f.merchandisableVehicles)
	m.HandleFunc("GET "+TestInventoryPath+"{$}", f.merchandisableVehicles)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		gatewayError(w, http.StatusNotFound, "API-DOES-NOT-EXIST", "no API at "+r.Method+" "+r.URL.Path)
	})
	f.mux = m
}

// find returns the record of kind with id (f.mu held).
func (f *Fake) find(kind, id string) map[string]any {
	for _, r := range f.records[kind] {
		if r["id"] == id {
			return r
		}
	}
	return nil
}

// answer answers 200 with what view makes of the record of kind with id (f.mu held while it
// runs), or 404 in Elead's format when there is none or view returns nil.
func (f *Fake) answer(w http.ResponseWriter, kind, id string, view func(stored map[string]any) map[string]any) {
	f.mu.Lock()
	var out map[string]any
	if stored := f.find(kind, id); stored != nil {
		out = view(stored)
	}
	f.mu.Unlock()
	if out == nil {
		eleadError(w, http.StatusNotFound, "NOT-FOUND", "no such record")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *Fake) searchCustomers(w http.ResponseWriter, r *http.Request) {
	q, ok := decode(w, r, customerSearchSchema)
	if !ok {
		return
	}
	if len(q) == 0 {
		eleadError(w, http.StatusBadRequest, "VALIDATION-ERROR", "give at least one search field")
		return
	}
	email, _ := q["emailAddress"].(string)
	phone, _ := q["phoneNumber"].(string)
	first, _ := q["firstName"].(string)
	last, _ := q["lastName"].(string)
	f.mu.Lock()
	items := []any{}
	for _, c := range f.records[Customers] {
		rank := 0
		for _, e := range list(c["emails"]) {
			if email != "" && strings.EqualFold(str(e["address"]), email) {
				rank += 2
			}
		}
		for _, p := range list(c["phones"]) {
			if phone != "" && onlyDigits(str(p["number"])) == onlyDigits(phone) {
				rank++
			}
		}
		if email == "" && phone == "" && strings.EqualFold(str(c["firstName"]), first) && strings.EqualFold(str(c["lastName"]), last) {
			rank++
		}
		if rank > 0 {
			item := clone(c)
			item["rank"] = rank
			items = append(items, item)
		}
	}
	f.mu.Unlock()
	slices.SortStableFunc(items, func(a, b any) int { return b.(map[string]any)["rank"].(int) - a.(map[string]any)["rank"].(int) })
	writeJSON(w, http.StatusOK, page(items))
}

func page(items []any) map[string]any {
	return map[string]any{"items": items, "totalItems": len(items), "totalPages": 1, "pageNumber": 1, "pageSize": max(len(items), 10), "links": []any{}}
}

func (f *Fake) createCustomer(w http.ResponseWriter, r *http.Request) {
	c, ok := decode(w, r, customerSchema)
	if !ok {
		return
	}
	f.mu.Lock()
	c["id"] = f.newID()
	f.records[Customers] = append(f.records[Customers], c)
	out := clone(c)
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, out) // the Customer, id at the top level
}

func (f *Fake) getCustomer(w http.ResponseWriter, r *http.Request) {
	f.answer(w, Customers, r.PathValue("id"), func(c map[string]any) map[string]any {
		out := clone(c)
		// read-only fields a live record carries [CODE S8]
		out["privacySettings"] = []any{}
		out["links"] = []any{}
		for _, p := range list(out["phones"]) {
			p["onDoNotCallRegistry"] = false
		}
		return out
	})
}

func (f *Fake) updateCustomer(w http.ResponseWriter, r *http.Request) {
	c, ok := decode(w, r, customerSchema)
	if !ok {
		return
	}
	f.answer(w, Customers, r.PathValue("id"), func(stored map[string]any) map[string]any {
		clear(stored)
		maps.Copy(stored, c)
		stored["id"] = r.PathValue("id")
		return clone(stored)
	})
}

func (f *Fake) createOpportunity(w http.ResponseWriter, r *http.Request) {
	o, ok := decode(w, r, opportunitySchema)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	customerID := str(o["customerId"])
	if f.find(Customers, customerID) == nil {
		eleadError(w, http.StatusBadRequest, "VALIDATION-ERROR", "customerId is not a customer")
		return
	}
	if !slices.Contains(f.Sources, str(o["source"])) {
		eleadError(w, http.StatusBadRequest, "VALIDATION-ERROR", "source is not one of the company's opportunity sources")
		return
	}
	if f.DetectDuplicates {
		for _, existing := range f.records[Opportunities] {
			if existing["customerId"] == customerID && existing["source"] == o["source"] && existing["status"] == "Active" {
				writeJSON(w, http.StatusOK, map[string]any{"opportunity": opportunityView(existing), "isDuplicate": true, "opportunityActivityId": f.newID()})
				return
			}
		}
	}
	o["id"] = f.newID()
	o["status"], o["subStatus"] = "Active", "New"
	f.touch(o)
	for _, v := range list(o["soughtVehicles"]) {
		v["id"] = f.newID()
	}
	if o["soughtVehicles"] == nil {
		o["soughtVehicles"] = []any{}
	}
	if o["tradeIns"] == nil {
		o["tradeIns"] = []any{}
	}
	f.records[Opportunities] = append(f.records[Opportunities], o)
	// 200 {opportunity, isDuplicate, opportunityActivityId}: the id is at opportunity.id
	writeJSON(w, http.StatusOK, map[string]any{"opportunity": opportunityView(o), "isDuplicate": false, "opportunityActivityId": f.newID()})
}

// opportunityView is an opportunity as the API answers it [SPEC S1].
func opportunityView(o map[string]any) map[string]any {
	v := map[string]any{"customer": map[string]any{"id": o["customerId"], "links": []any{}}, "salesTeam": []any{}, "links": []any{}}
	if team, ok := o["salesTeam"].([]any); ok {
		v["salesTeam"] = cloneValue(team)
	}
	for _, k := range []string{"id", "dateIn", "source", "subSource", "status", "subStatus", "upType", "soughtVehicles", "tradeIns"} {
		if val, ok := o[k]; ok {
			v[k] = cloneValue(val)
		}
	}
	return v
}

func (f *Fake) getOpportunity(w http.ResponseWriter, r *http.Request) {
	f.answer(w, Opportunities, r.PathValue("id"), opportunityView)
}

func (f *Fake) opportunitiesOfCustomer(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	items := []any{}
	for _, o := range f.records[Opportunities] {
		if o["customerId"] == r.PathValue("customerId") {
			items = append(items, opportunityView(o))
		}
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, page(items))
}

// withOpportunity decodes a body against s and runs do with the opportunity it names (404
// when there is none), f.mu held.
func (f *Fake) withOpportunity(w http.ResponseWriter, r *http.Request, s schema, id func(map[string]any) string,
	do func(body, opp map[string]any)) {
	body, ok := decode(w, r, s)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	opp := f.find(Opportunities, id(body))
	if opp == nil {
		eleadError(w, http.StatusNotFound, "NOT-FOUND", "no such opportunity")
		return
	}
	do(body, opp)
}

func bodyOpportunity(b map[string]any) string { return str(b["opportunityId"]) }

func (f *Fake) comment(w http.ResponseWriter, r *http.Request) {
	f.withOpportunity(w, r, commentSchema, bodyOpportunity, func(b, opp map[string]any) {
		f.records[Comments] = append(f.records[Comments], b)
		f.touch(opp)
		w.WriteHeader(http.StatusNoContent) // 204, no body
	})
}

func (f *Fake) addVehicleSought(w http.ResponseWriter, r *http.Request) {
	f.withOpportunity(w, r, vehicleSoughtSchema, bodyOpportunity, func(b, opp map[string]any) {
		b["id"] = f.newID()
		f.records[VehiclesSought] = append(f.records[VehiclesSought], b)
		v := clone(b)
		delete(v, "opportunityId")
		opp["soughtVehicles"] = append(opp["soughtVehicles"].([]any), v)
		f.touch(opp)
		writeJSON(w, http.StatusCreated, v) // the created item {id, …}
	})
}

func (f *Fake) addTradeIn(w http.ResponseWriter, r *http.Request) {
	f.withOpportunity(w, r, tradeInSchema, bodyOpportunity, func(b, opp map[string]any) {
		b["id"] = f.newID()
		f.records[TradeIns] = append(f.records[TradeIns], b)
		v := clone(b)
		delete(v, "opportunityId")
		opp["tradeIns"] = append(opp["tradeIns"].([]any), v)
		f.touch(opp)
		writeJSON(w, http.StatusCreated, v)
	})
}

func (f *Fake) updateSubStatus(w http.ResponseWriter, r *http.Request) {
	pathID := func(map[string]any) string { return r.PathValue("id") }
	f.withOpportunity(w, r, subStatusSchema, pathID, func(b, opp map[string]any) {
		if status := f.statusOf(str(b["subStatus"])); status != "Active" {
			eleadError(w, http.StatusBadRequest, "VALIDATION-ERROR", "subStatus is not an Active sub-status of the company")
			return
		}
		opp["subStatus"] = b["subStatus"]
		f.touch(opp)
		f.records[SubStatuses] = append(f.records[SubStatuses], map[string]any{"opportunityId": r.PathValue("id"), "subStatus": b["subStatus"]})
		w.WriteHeader(http.StatusNoContent)
	})
}

func (f *Fake) setInactive(w http.ResponseWriter, r *http.Request) {
	pathID := func(map[string]any) string { return r.PathValue("id") }
	f.withOpportunity(w, r, setInactiveSchema, pathID, func(b, opp map[string]any) {
		if b["opportunityId"] != r.PathValue("id") {
			eleadError(w, http.StatusBadRequest, "VALIDATION-ERROR", "opportunityId differs from the path's")
			return
		}
		if status := f.statusOf(str(b["inactiveSubStatus"])); status == "" || status == "Active" || status == "Sold" {
			eleadError(w, http.StatusBadRequest, "VALIDATION-ERROR", "inactiveSubStatus is not an inactive sub-status of the company")
			return
		}
		opp["status"], opp["subStatus"] = "Inactive", b["inactiveSubStatus"]
		f.touch(opp)
		f.records[Inactivations] = append(f.records[Inactivations], b)
		w.WriteHeader(http.StatusNoContent)
	})
}

// statusOf is the status a sub-status belongs to; "" when none (f.mu held).
func (f *Fake) statusOf(sub string) string {
	for _, s := range f.Statuses {
		if slices.Contains(s.SubStatuses, sub) {
			return s.Status
		}
	}
	return ""
}

func (f *Fake) activityTypes(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	ids := slices.Sorted(maps.Keys(f.ActivityTypes))
	items := []any{}
	for _, id := range ids {
		items = append(items, map[string]any{"id": id, "name": f.ActivityTypes[id], "links": []any{}})
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "links": []any{}})
}

func (f *Fake) opportunityStatuses(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	items := []any{}
	for _, s := range f.Statuses {
		subs := []any{}
		for _, sub := range s.SubStatuses {
			subs = append(subs, map[string]any{"subStatus": sub})
		}
		items = append(items, map[string]any{"status": s.Status, "subStatuses": subs})
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (f *Fake) schedule(w http.ResponseWriter, r *http.Request) {
	f.withOpportunity(w, r, scheduleSchema, bodyOpportunity, func(b, opp map[string]any) {
		if _, ok := f.ActivityTypes[int(b["activityType"].(float64))]; !ok {
			eleadError(w, http.StatusBadRequest, "VALIDATION-ERROR", "activityType is not one of the company's activity types")
			return
		}
		b["id"] = f.newID()
		f.records[Activities] = append(f.records[Activities], b)
		f.touch(opp)
		writeJSON(w, http.StatusOK, map[string]any{"activityId": b["id"]})
	})
}

// activitiesOfOpportunity answers an opportunity's activity history [CODE S7, S8]:
// {items[{id, activityType (its name), category Scheduled|Completed, name, dueDate,
// completedDate, outcome, assignedTo, completedBy, opportunityId}]}.
func (f *Fake) activitiesOfOpportunity(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	items := []any{}
	for _, a := range f.records[Activities] {
		if a["opportunityId"] == r.PathValue("id") {
			category := str(a["category"])
			if category == "" {
				category = "Scheduled"
			}
			items = append(items, map[string]any{"id": a["id"], "activityType": f.ActivityTypes[int(a["activityType"].(float64))],
				"category": category, "name": a["activityName"], "dueDate": a["dueDate"], "completedDate": a["completedDate"],
				"outcome": a["outcome"], "assignedTo": a["assignedTo"], "completedBy": nil, "opportunityId": a["opportunityId"]})
		}
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "links": []any{}})
}

// DeltaWindow is how far back searchDelta reads [SPEC S1].
const DeltaWindow = 7 * 24 * time.Hour

// searchDelta answers the opportunities changed since dateFrom, oldest change first, a page
// at a time; 404 when none changed (or the page is past the last) [SPEC S1, CODE S8].
func (f *Fake) searchDelta(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err := parseDate(q.Get("dateFrom"))
	if err != nil {
		eleadError(w, http.StatusBadRequest, "VALIDATION-ERROR", "dateFrom must be a date and time")
		return
	}
	pageNumber, errP := strconv.Atoi(q.Get("page"))
	pageSize, errS := strconv.Atoi(q.Get("pageSize"))
	if errP != nil || errS != nil || pageNumber < 1 || pageSize < 1 || pageSize > 100 {
		eleadError(w, http.StatusBadRequest, "VALIDATION-ERROR", "page (from 1) and pageSize (1 to 100) are required")
		return
	}
	f.mu.Lock()
	now := f.now()
	if from.Before(now.Add(-DeltaWindow)) {
		f.mu.Unlock()
		eleadError(w, http.StatusBadRequest, "VALIDATION-ERROR", "dateFrom must be within the past 7 days")
		return
	}
	var changed []map[string]any
	for _, o := range f.records[Opportunities] {
		if at, ok := o[changedKey].(time.Time); ok && !at.Before(from) {
			changed = append(changed, o)
		}
	}
	slices.SortStableFunc(changed, func(a, b map[string]any) int { return a[changedKey].(time.Time).Compare(b[changedKey].(time.Time)) })
	items := []any{}
	for _, o := range changed[min((pageNumber-1)*pageSize, len(changed)):min(pageNumber*pageSize, len(changed))] {
		items = append(items, opportunityView(o))
	}
	f.mu.Unlock()
	if len(items) == 0 {
		eleadError(w, http.StatusNotFound, "NOT-FOUND", "No opportunities found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "totalItems": len(changed), "totalPages": (len(changed) + pageSize - 1) / pageSize,
		"pageNumber": pageNumber, "pageSize": pageSize, "links": []any{}})
}

// parseDate reads a query date: RFC 3339, or without a zone (UTC).
func parseDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05", v)
}

func (f *Fake) createAppointment(w http.ResponseWriter, r *http.Request) {
	a, ok := decode(w, r, serviceAppointmentSchema)
	if !ok {
		return
	}
	f.mu.Lock()
	a["appointmentId"] = f.newID()
	a["id"] = a["appointmentId"]
	f.records[Appointments] = append(f.records[Appointments], a)
	out := appointmentView(a)
	f.mu.Unlock()
	w.Header().Set("Location", "/service/v3/appointments/"+str(a["appointmentId"]))
	writeJSON(w, http.StatusCreated, out)
}

func appointmentView(a map[string]any) map[string]any {
	v := clone(a)
	delete(v, "id")
	delete(v, "cancelled")
	v["links"] = map[string]any{"self": map[string]any{"href": "/service/v3/appointments/" + str(a["appointmentId"])}}
	return v
}

func (f *Fake) listAppointments(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	items := []any{}
	for _, a := range f.records[Appointments] {
		if a["cancelled"] != true {
			items = append(items, appointmentView(a))
		}
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (f *Fake) updateAppointment(w http.ResponseWriter, r *http.Request) {
	a, ok := decode(w, r, serviceAppointmentSchema)
	if !ok {
		return
	}
	f.answer(w, Appointments, r.PathValue("id"), func(stored map[string]any) map[string]any {
		if stored["cancelled"] == true {
			return nil
		}
		maps.Copy(stored, a)
		stored["updates"] = toInt(stored["updates"]) + 1
		return appointmentView(stored)
	})
}

func (f *Fake) cancelAppointment(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	stored := f.find(Appointments, r.PathValue("id"))
	found := stored != nil && stored["cancelled"] != true
	if found {
		stored["cancelled"] = true
	}
	f.mu.Unlock()
	if !found {
		eleadError(w, http.StatusNotFound, "NOT-FOUND", "no such appointment")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- helpers ----

func str(v any) string {
	s, _ := v.(string)
	return s
}

func toInt(v any) int {
	n, _ := v.(int)
	return n
}

// list is a JSON array of objects.
func list(v any) []map[string]any {
	a, _ := v.([]any)
	out := make([]map[string]any, 0, len(a))
	for _, it := range a {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func clone(m map[string]any) map[string]any {
	return cloneValue(m).(map[string]any)
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = cloneValue(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = cloneValue(x)
		}
		return out
	}
	return v
}
