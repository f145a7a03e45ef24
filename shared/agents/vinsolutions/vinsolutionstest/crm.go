// Package vinsolutionstest is a fake VinSolutions Lead Management API that keeps what it is
// sent (contacts, leads with their notes, vehicles of interest) and refuses what the public
// record says the real one refuses: a missing api_key, a token it did not issue, the wrong
// media type for a resource, a body missing a required member or of the wrong shape, a user
// id that is not the token's. docs/agents.md#vinsolutions lists the sources of each shape.
//
// The connector's tests, the end-to-end tests (shared/agentstest) and the local demo
// (infra/local/cmd/fakeplatform) all run against it. It serves the API only: the token
// endpoint and the bearer check are the caller's (CRM.Authorized).
//
// The change feed: GET /leads?dealerId&limit&pagenumber&sortby=date answers the dealer's
// leads newest first (sortby=date; in the order made otherwise), a page of limit at a time,
// as {count (all of them), next, previous (hrefs, null at the ends), items[{href, leadId,
// contact, leadSource, leadType, leadStatus, leadStatusType, createdUtc}]} [CODE S12, S16]; no
// modified-since filter and no assignee [NOTE S13]. A test (or a person) changes a lead as the
// dealership would with SetStatus (leadStatusType and leadStatus) and adds one with AddLead;
// Fail answers chosen requests with a status and headers (a 429 with Retry-After).
package vinsolutionstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Media types of the resources.
const (
	gatewayMediaType  = "application/json"
	leadsMediaType    = "application/vnd.coxauto.v3+json"
	vehiclesMediaType = "application/vnd.coxauto.v1+json"
)

// HrefBase is the host VinSolutions names its resources by in hrefs, in production and in
// the sandbox alike.
const HrefBase = "https://api.vinsolutions.com"

// CRM is the fake. Set its fields before serving; the zero value of the state is ready.
type CRM struct {
	APIKey           string
	DealerID, UserID int64
	// LeadSourceIDs are the dealer's lead sources; a lead naming another is refused.
	LeadSourceIDs []int64
	// Authorized reports whether a request carries a token the token endpoint issued.
	Authorized func(*http.Request) bool
	// Now is the clock of createdUtc; time.Now when nil.
	Now func() time.Time

	once sync.Once
	mux  *http.ServeMux

	mu       sync.Mutex
	next     int64
	contacts []*contact
	leads    []*Lead
	vehicles []*Vehicle
	faults   []*Fault
}

// Contact is a contact as the fake keeps it.
type Contact struct {
	ID                  int64
	FirstName, LastName string
	Emails, Phones      []string
}

type contact struct {
	id   int64
	info map[string]any // ContactInformation as sent, Emails and Phones merged
}

// Lead is a lead as the fake keeps it.
type Lead struct {
	ID, ContactID, LeadSourceID int64
	LeadType                    string
	Notes                       string
	Created                     time.Time
	// Status and StatusType are its leadStatus and leadStatusType (ACTIVE_NEW_LEAD and
	// ACTIVE for a new lead).
	Status, StatusType string
}

// The leadStatus and leadStatusType of a new lead.
const (
	NewLeadStatus     = "ACTIVE_NEW_LEAD"
	NewLeadStatusType = "ACTIVE"
)

// Vehicle is a vehicle of interest as the fake keeps it.
type Vehicle struct {
	ID, LeadID int64
	Fields     map[string]any
}

// Fault makes matching requests fail.
type Fault struct {
	// Method and Path select the requests ("" matches any).
	Method, Path string
	// Status is answered instead, with {"message":"internal error"}.
	Status int
	// After: the request is carried out first (the platform did the work), then the answer
	// is replaced: a lost response.
	After bool
	// Drop closes the connection without an answer (with After: after carrying it out).
	Drop bool
	// Times is how many requests fail; a negative number: until ClearFaults.
	Times int
	// Header is set on the answer (e.g. Retry-After).
	Header map[string]string
}

// Fail adds a fault.
func (c *CRM) Fail(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, &f)
}

// ClearFaults removes every fault.
func (c *CRM) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = nil
}

func (c *CRM) fault(r *http.Request) *Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.faults {
		if (f.Method == "" || f.Method == r.Method) && (f.Path == "" || f.Path == r.URL.Path) {
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					c.faults = slices.Delete(c.faults, i, i+1)
				}
			}
			copied := *f
			return &copied
		}
	}
	return nil
}

// AddContact stores a contact, as if the dealership had entered it; it returns its id.
func (c *CRM) AddContact(first, last, email, phone string) int64 {
	info := map[string]any{"FirstName": first, "LastName": last, "Emails": []any{}, "Phones": []any{}}
	if email != "" {
		info["Emails"] = []any{map[string]any{"EmailAddress": email, "EmailType": "primary"}}
	}
	if phone != "" {
		info["Phones"] = []any{map[string]any{"Number": phone, "PhoneType": "Home"}}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := &contact{id: c.id(), info: info}
	c.contacts = append(c.contacts, ct)
	return ct.id
}

// AddLead stores a lead of contactID with notes of the dealership's own; it returns its id.
func (c *CRM) AddLead(contactID, leadSourceID int64, notes string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := &Lead{ID: c.id(), ContactID: contactID, LeadSourceID: leadSourceID, LeadType: "INTERNET", Notes: notes, Created: c.now(),
		Status: NewLeadStatus, StatusType: NewLeadStatusType}
	c.leads = append(c.leads, l)
	return l.ID
}

// SetStatus sets a lead's leadStatusType and leadStatus, as a salesperson working it in
// VinSolutions (e.g. "SOLD", "SOLD_DELIVERED"); false when there is no such lead.
func (c *CRM) SetStatus(leadID int64, statusType, status string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.leads {
		if l.ID == leadID {
			l.StatusType, l.Status = statusType, status
			return true
		}
	}
	return false
}

// SetNotes replaces a lead's notes, as a salesperson editing them in VinSolutions; false when
// there is no such lead.
func (c *CRM) SetNotes(leadID int64, notes string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.leads {
		if l.ID == leadID {
			l.Notes = notes
			return true
		}
	}
	return false
}

// Contacts returns the contacts kept.
func (c *CRM) Contacts() []Contact {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Contact, len(c.contacts))
	for i, ct := range c.contacts {
		out[i] = Contact{ID: ct.id, FirstName: str(ct.info["FirstName"]), LastName: str(ct.info["LastName"]),
			Emails: values(ct.info["Emails"], "EmailAddress"), Phones: values(ct.info["Phones"], "Number")}
	}
	return out
}

// Leads returns the leads kept.
func (c *CRM) Leads() []Lead {
	c.mu.Lock()
	defer c.mu.Unlock()
	return copies(c.leads)
}

// Vehicles returns the vehicles of interest kept.
func (c *CRM) Vehicles() []Vehicle {
	c.mu.Lock()
	defer c.mu.Unlock()
	return copies(c.vehicles)
}

func copies[T any](items []*T) []T {
	out := make([]T, len(items))
	for i, x := range items {
		out[i] = *x
	}
	return out
}

// id is the next id (c.mu held).
func (c *CRM) id() int64 {
	c.next++
	return 1000 + c.next
}

func (c *CRM) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// ServeHTTP is the API: auth, faults, then the resource.
func (c *CRM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.once.Do(c.routes)
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		answer(w, http.StatusBadRequest, msg("the body could not be read"))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if c.Authorized == nil || !c.Authorized(r) {
		answer(w, http.StatusUnauthorized, msg("Authorization has been denied for this request."))
		return
	}
	// The Lead Management gateway takes the key in api_key; x-api-key is refused [NOTE S13].
	if key := r.Header.Get("api_key"); key == "" || key != c.APIKey {
		answer(w, http.StatusForbidden, msg("Invalid or inactive api_key"))
		return
	}
	f := c.fault(r)
	switch {
	case f == nil:
		c.mux.ServeHTTP(w, r)
	case !f.After && f.Drop:
		drop(w)
	case !f.After:
		for k, v := range f.Header {
			w.Header().Set(k, v)
		}
		answer(w, f.Status, msg("internal error"))
	default:
		c.mux.ServeHTTP(httptest.NewRecorder(), r) // carried out, the answer lost
		if f.Drop {
			drop(w)
			return
		}
		answer(w, f.Status, msg("internal error"))
	}
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("vinsolutionstest: the server does not support hijacking")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

// A route's media type: the gateway's plain JSON, or a versioned Cox media type; a versioned
// resource asked in another version is 400 UnsupportedApiVersion, without one 400
// ApiVersionUnspecified [CODE S12, S14; NOTE S13, S15].
func (c *CRM) routes() {
	m := http.NewServeMux()
	handle := func(pattern, mediaType string, h func(w http.ResponseWriter, r *http.Request, body map[string]any)) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if !mediaTypeOK(w, r, mediaType) {
				return
			}
			var body map[string]any
			if r.Method == http.MethodPost || r.Method == http.MethodPut {
				d := json.NewDecoder(r.Body)
				d.UseNumber()
				if err := d.Decode(&body); err != nil || body == nil {
					answer(w, http.StatusBadRequest, msg("the body must be a JSON object"))
					return
				}
			}
			h(w, r, body)
		})
	}
	handle("POST /gateway/v1/contact", gatewayMediaType, c.createContact)
	handle("GET /gateway/v1/contact", gatewayMediaType, c.searchContacts)
	handle("GET /gateway/v1/contact/{id}", gatewayMediaType, c.getContact)
	handle("PUT /gateway/v1/contact/{id}", gatewayMediaType, c.updateContact)
	handle("POST /leads", leadsMediaType, c.createLead)
	handle("GET /leads", leadsMediaType, c.searchLeads)
	handle("GET /leads/id/{id}", leadsMediaType, c.getLead)
	handle("PUT /leads/id/{id}", leadsMediaType, c.updateLead)
	handle("POST /vehicles/interest", vehiclesMediaType, c.addVehicles)
	handle("GET /vehicles/interest", vehiclesMediaType, c.searchVehicles)
	// Anything else: the gateway's "596 Service Not Found" [NOTE S13, S15].
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 596, msg("Service Not Found"))
	})
	c.mux = m
}

var versioned = regexp.MustCompile(`^application/vnd\.coxauto\.v(\d+)\+json$`)

func mediaTypeOK(w http.ResponseWriter, r *http.Request, want string) bool {
	headers := []string{"Accept"}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		headers = append(headers, "Content-Type")
	}
	for _, h := range headers {
		got := strings.TrimSpace(strings.Split(r.Header.Get(h), ";")[0])
		if got == want {
			continue
		}
		if want == gatewayMediaType {
			code := map[string]int{"Accept": http.StatusNotAcceptable, "Content-Type": http.StatusUnsupportedMediaType}[h]
			answer(w, code, msg("the gateway takes and answers application/json"))
			return false
		}
		code, text := "ApiVersionUnspecified", "an API version is required, but was not specified"
		if v := versioned.FindStringSubmatch(got); v != nil {
			code, text = "UnsupportedApiVersion", "the resource does not support the API version '"+v[1]+"'"
		}
		answer(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": code, "message": text}})
		return false
	}
	return true
}

// ---- contacts: /gateway/v1/contact [CODE S12, S14; NOTE S15] ----

// dealerAndUser checks DealerId and UserId (numbers; the user must be the token's [NOTE S13]).
func (c *CRM) dealerAndUser(w http.ResponseWriter, dealer, user any) bool {
	d, okD := number(dealer)
	u, okU := number(user)
	switch {
	case !okD || !okU:
		answer(w, http.StatusBadRequest, msg("DealerId and UserId are required numbers"))
		return false
	case d != c.DealerID:
		answer(w, http.StatusForbidden, msg("the dealer has not enabled this partner"))
		return false
	case u != c.UserID:
		answer(w, http.StatusForbidden, msg("Supplied user id is not associated with your authorization token"))
		return false
	}
	return true
}

func (c *CRM) dealerAndUserQuery(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	return c.dealerAndUser(w, json.Number(q.Get("dealerId")), json.Number(q.Get("userId")))
}

var tenDigitsOrFewer = regexp.MustCompile(`^[0-9]{1,10}$`)

// contactInformation checks ContactInformation: names, Emails[{EmailAddress*, EmailType}],
// Phones[{Number* (digits, at most 10), PhoneType* Cell|Home|Work}].
func contactInformation(w http.ResponseWriter, v any, create bool) (map[string]any, bool) {
	info, ok := v.(map[string]any)
	if !ok {
		answer(w, http.StatusBadRequest, msg("ContactInformation is required"))
		return nil, false
	}
	// S12 fills LastName when the caller has none: the contact needs one.
	if create && str(info["LastName"]) == "" {
		answer(w, http.StatusBadRequest, msg("ContactInformation.LastName is required"))
		return nil, false
	}
	for _, e := range list(info["Emails"]) {
		if str(field(e, "EmailAddress")) == "" {
			answer(w, http.StatusBadRequest, msg("Emails[].EmailAddress is required"))
			return nil, false
		}
	}
	for _, p := range list(info["Phones"]) {
		if !tenDigitsOrFewer.MatchString(str(field(p, "Number"))) {
			answer(w, http.StatusBadRequest, msg("Phones[].Number must be digits only, at most 10"))
			return nil, false
		}
		if t := str(field(p, "PhoneType")); t != "Cell" && t != "Home" && t != "Work" {
			answer(w, http.StatusBadRequest, msg("Phones[].PhoneType must be Cell, Home or Work"))
			return nil, false
		}
	}
	if info["Emails"] != nil && !isList(info["Emails"]) || info["Phones"] != nil && !isList(info["Phones"]) {
		answer(w, http.StatusBadRequest, msg("Emails and Phones are arrays"))
		return nil, false
	}
	return info, true
}

func (c *CRM) createContact(w http.ResponseWriter, r *http.Request, body map[string]any) {
	if !c.dealerAndUser(w, body["DealerId"], body["UserId"]) {
		return
	}
	info, ok := contactInformation(w, body["ContactInformation"], true)
	if !ok {
		return
	}
	if li, present := body["LeadInformation"]; present && li != nil {
		if _, ok := li.(map[string]any); !ok {
			answer(w, http.StatusBadRequest, msg("LeadInformation is an object"))
			return
		}
	}
	c.mu.Lock()
	ct := &contact{id: c.id(), info: info}
	c.contacts = append(c.contacts, ct)
	c.mu.Unlock()
	answer(w, http.StatusCreated, map[string]any{"ContactId": ct.id})
}

// view is a contact as GET answers it: {ContactId, ContactInformation} [CODE S12, S14].
func (ct *contact) view() map[string]any {
	return map[string]any{"ContactId": ct.id, "ContactInformation": ct.info}
}

func (c *CRM) searchContacts(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	if !c.dealerAndUserQuery(w, r) {
		return
	}
	q := r.URL.Query()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []any{} // an array, empty when nothing matches [CODE S12]
	for _, ct := range c.contacts {
		switch {
		case q.Has("contactId") && q.Get("contactId") != strconv.FormatInt(ct.id, 10),
			q.Has("email") && !slices.ContainsFunc(values(ct.info["Emails"], "EmailAddress"), func(e string) bool { return strings.EqualFold(e, q.Get("email")) }),
			q.Has("phone") && !slices.Contains(values(ct.info["Phones"], "Number"), q.Get("phone")):
			continue
		}
		out = append(out, ct.view())
	}
	answer(w, http.StatusOK, out)
}

func (c *CRM) contact(id string) *contact {
	for _, ct := range c.contacts {
		if strconv.FormatInt(ct.id, 10) == id {
			return ct
		}
	}
	return nil
}

func (c *CRM) getContact(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	if !c.dealerAndUserQuery(w, r) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := c.contact(r.PathValue("id"))
	if ct == nil {
		answer(w, http.StatusNotFound, msg("no such contact"))
		return
	}
	answer(w, http.StatusOK, []any{ct.view()}) // an array of one [CODE S14]
}

// updateContact: the members of ContactInformation given replace the stored ones, except
// Emails and Phones, whose entries are added to the contact's (S14 sends only the entries
// that changed, and no Emails or Phones when none did).
func (c *CRM) updateContact(w http.ResponseWriter, r *http.Request, body map[string]any) {
	if !c.dealerAndUser(w, body["DealerId"], body["UserId"]) {
		return
	}
	info, ok := contactInformation(w, body["ContactInformation"], false)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := c.contact(r.PathValue("id"))
	if ct == nil {
		answer(w, http.StatusNotFound, msg("no such contact"))
		return
	}
	for k, v := range info {
		switch k {
		case "Emails", "Phones":
			key := map[string]string{"Emails": "EmailAddress", "Phones": "Number"}[k]
			have := list(ct.info[k])
			for _, e := range list(v) {
				if !slices.ContainsFunc(values(have, key), func(x string) bool { return strings.EqualFold(x, str(field(e, key))) }) {
					have = append(have, e)
				}
			}
			ct.info[k] = have
		default:
			ct.info[k] = v
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- leads: /leads, v3 [CODE S12, S14, S16; NOTE S15] ----

var (
	leadSourceHref = regexp.MustCompile(`(?i)^https://[^/]+/leadSources/id/([0-9]+)(\?.*)?$`)
	contactHref    = regexp.MustCompile(`(?i)^https://[^/]+/contacts/id/([0-9]+)(\?.*)?$`)
	leadHref       = regexp.MustCompile(`(?i)^https://[^/]+/leads/id/([0-9]+)(\?.*)?$`)
)

func hrefID(re *regexp.Regexp, v any) (int64, bool) {
	m := re.FindStringSubmatch(str(v))
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil
}

func (c *CRM) dealerQuery(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Query().Get("dealerId") != strconv.FormatInt(c.DealerID, 10) {
		answer(w, http.StatusBadRequest, msg("dealerId is required"))
		return false
	}
	return true
}

func (c *CRM) createLead(w http.ResponseWriter, r *http.Request, body map[string]any) {
	if !c.dealerQuery(w, r) {
		return
	}
	source, ok := hrefID(leadSourceHref, body["leadSource"])
	if !ok {
		answer(w, http.StatusBadRequest, msg("leadSource must be a lead source href"))
		return
	}
	contactID, ok := hrefID(contactHref, body["contact"])
	if !ok {
		answer(w, http.StatusBadRequest, msg("contact must be a contact href"))
		return
	}
	leadType := str(body["leadType"])
	if leadType == "" {
		answer(w, http.StatusBadRequest, msg("leadType is required"))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.sources(), source) {
		answer(w, http.StatusBadRequest, msg(fmt.Sprintf("lead source %d is not the dealer's", source)))
		return
	}
	if c.contact(strconv.FormatInt(contactID, 10)) == nil {
		answer(w, http.StatusBadRequest, msg(fmt.Sprintf("contact %d does not exist", contactID)))
		return
	}
	l := &Lead{ID: c.id(), ContactID: contactID, LeadSourceID: source, LeadType: leadType, Created: c.now(),
		Status: NewLeadStatus, StatusType: NewLeadStatusType}
	c.leads = append(c.leads, l)
	answer(w, http.StatusCreated, map[string]any{"leadId": l.ID, "href": fmt.Sprintf("%s/leads/id/%d", HrefBase, l.ID)})
}

func (c *CRM) sources() []int64 {
	if len(c.LeadSourceIDs) == 0 {
		return []int64{9001}
	}
	return c.LeadSourceIDs
}

func (c *CRM) leadView(l *Lead) map[string]any {
	return map[string]any{
		"href":           fmt.Sprintf("%s/leads/id/%d", HrefBase, l.ID),
		"leadId":         l.ID,
		"contact":        fmt.Sprintf("%s/contacts/id/%d?dealerid=%d", HrefBase, l.ContactID, c.DealerID),
		"leadSource":     fmt.Sprintf("%s/leadSources/id/%d?dealerId=%d", HrefBase, l.LeadSourceID, c.DealerID),
		"leadType":       l.LeadType,
		"leadStatus":     l.Status,
		"leadStatusType": l.StatusType,
		"createdUtc":     l.Created.UTC().Format("2006-01-02T15:04:05.0000000Z"),
	}
}

// searchLeads: ?dealerId* [&contactId][&limit][&pagenumber][&sortby=date] → {count, next,
// previous, items}, newest first with sortby=date; a userId filter is 404 [NOTE S15].
func (c *CRM) searchLeads(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	if !c.dealerQuery(w, r) {
		return
	}
	q := r.URL.Query()
	if q.Has("userId") {
		answer(w, http.StatusNotFound, msg("Not Found"))
		return
	}
	limit, pageNumber := 25, 1
	for name, v := range map[string]*int{"limit": &limit, "pagenumber": &pageNumber} {
		if !q.Has(name) {
			continue
		}
		n, err := strconv.Atoi(q.Get(name))
		if err != nil || n < 1 {
			answer(w, http.StatusBadRequest, msg(name+" must be a positive number"))
			return
		}
		*v = n
	}
	if sort := q.Get("sortby"); sort != "" && sort != "date" {
		answer(w, http.StatusBadRequest, msg("sortby must be date"))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var matched []*Lead
	for _, l := range c.leads {
		if !q.Has("contactId") || q.Get("contactId") == strconv.FormatInt(l.ContactID, 10) {
			matched = append(matched, l)
		}
	}
	if q.Get("sortby") == "date" {
		slices.SortStableFunc(matched, func(a, b *Lead) int { return b.Created.Compare(a.Created) })
	}
	items := []any{}
	for _, l := range matched[min((pageNumber-1)*limit, len(matched)):min(pageNumber*limit, len(matched))] {
		items = append(items, c.leadView(l))
	}
	link := func(n int) any {
		if n < 1 || (n-1)*limit >= len(matched) {
			return nil
		}
		p := url.Values{}
		for k, v := range q {
			p[k] = v
		}
		p.Set("pagenumber", strconv.Itoa(n))
		return HrefBase + "/leads?" + p.Encode()
	}
	answer(w, http.StatusOK, map[string]any{"count": len(matched), "next": link(pageNumber + 1), "previous": link(pageNumber - 1), "items": items})
}

func (c *CRM) lead(id string) *Lead {
	for _, l := range c.leads {
		if strconv.FormatInt(l.ID, 10) == id {
			return l
		}
	}
	return nil
}

func (c *CRM) getLead(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lead(r.PathValue("id"))
	if l == nil {
		answer(w, http.StatusNotFound, msg("no such lead"))
		return
	}
	v := c.leadView(l)
	v["notes"] = l.Notes
	v["isHot"] = false
	answer(w, http.StatusOK, v)
}

// updateLead takes a partial body of the members the published integrations send; notes
// REPLACES the lead's notes [CODE S12, S14].
func (c *CRM) updateLead(w http.ResponseWriter, r *http.Request, body map[string]any) {
	for k := range body {
		if !slices.Contains([]string{"isHot", "coBuyerContact", "trades", "vehiclesOfInterest", "notes"}, k) {
			answer(w, http.StatusBadRequest, msg(k+" is not a member of a lead update"))
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lead(r.PathValue("id"))
	if l == nil {
		answer(w, http.StatusNotFound, msg("no such lead"))
		return
	}
	if v, ok := body["notes"]; ok {
		if _, isString := v.(string); v != nil && !isString {
			answer(w, http.StatusBadRequest, msg("notes is a string"))
			return
		}
		l.Notes = str(v)
	}
	w.WriteHeader(http.StatusOK)
}

// ---- vehicles of interest: /vehicles/interest, v1 [CODE S14; NOTE S13, S15] ----

func (c *CRM) addVehicles(w http.ResponseWriter, r *http.Request, body map[string]any) {
	leadID, ok := hrefID(leadHref, body["lead"])
	if !ok {
		answer(w, http.StatusBadRequest, msg("lead must be a lead href"))
		return
	}
	vehicles, ok := body["vehicles"].([]any)
	if !ok || len(vehicles) == 0 {
		answer(w, http.StatusBadRequest, msg("vehicles is required: an array of vehicles"))
		return
	}
	for k := range body {
		if k != "lead" && k != "vehicles" {
			answer(w, http.StatusBadRequest, msg(k+" is not a member: vehicle fields go in vehicles[]"))
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lead(strconv.FormatInt(leadID, 10)) == nil {
		answer(w, http.StatusBadRequest, msg("the lead does not exist"))
		return
	}
	for _, v := range vehicles {
		fields, ok := v.(map[string]any)
		if !ok {
			answer(w, http.StatusBadRequest, msg("vehicles[] are objects"))
			return
		}
		c.vehicles = append(c.vehicles, &Vehicle{ID: c.id(), LeadID: leadID, Fields: fields})
	}
	w.WriteHeader(http.StatusCreated)
}

func (c *CRM) searchVehicles(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	leadID := r.URL.Query().Get("leadId")
	if leadID == "" {
		answer(w, http.StatusBadRequest, msg("leadId is required"))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	items := []any{}
	for _, v := range c.vehicles {
		if strconv.FormatInt(v.LeadID, 10) != leadID {
			continue
		}
		item := map[string]any{"href": fmt.Sprintf("%s/vehicles/interest/id/%d", HrefBase, v.ID), "lead": fmt.Sprintf("%s/leads/id/%d", HrefBase, v.LeadID)}
		for k, f := range v.Fields {
			item[k] = f
		}
		items = append(items, item)
	}
	answer(w, http.StatusOK, map[string]any{"href": HrefBase + "/vehicles/interest?leadId=" + leadID, "count": len(items), "items": items})
}

// ---- JSON helpers ----

func answer(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

func msg(text string) map[string]any { return map[string]any{"message": text} }

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func number(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func isList(v any) bool { _, ok := v.([]any); return ok }

func list(v any) []any { l, _ := v.([]any); return l }

// field is a member of an object, its name matched case-insensitively.
func field(v any, name string) any {
	m, _ := v.(map[string]any)
	if x, ok := m[name]; ok {
		return x
	}
	for k, x := range m {
		if strings.EqualFold(k, name) {
			return x
		}
	}
	return nil
}

func values(v any, name string) []string {
	var out []string
	for _, e := range list(v) {
		out = append(out, str(field(e, name)))
	}
	return out
}
