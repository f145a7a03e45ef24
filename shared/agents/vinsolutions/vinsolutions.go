// Package vinsolutions pushes DealerAI leads, their updates and their appointments into the
// VinSolutions CRM through its Lead Management API (docs/agents.md#vinsolutions, which names
// the published source of every call).
//
// Every call carries an OAuth 2.0 client-credentials token (form-authenticated, scope
// PublicAPI) as "Authorization: Bearer" and the dealer's key in an api_key header, with the
// media type of its resource: application/json for /gateway/v1, v3 for /leads, v1 for
// /vehicles. A lead is a contact (found by email or phone before one is created), a lead, a
// vehicle of interest and a note; a retry resumes from the step that failed and looks for
// what a lost answer may have created before creating it again. Notes are appended: the lead
// is read and written back with the new note after the CRM's own. VinSolutions publishes no
// appointment call: an appointment is a note on its lead, created first from the
// appointment's own fields when VinSolutions does not have it.
package vinsolutions

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
)

// Media types of the resources [CODE S12, S14; NOTE S13, S15].
const (
	GatewayMediaType  = "application/json"                // /gateway/v1/*
	LeadsMediaType    = "application/vnd.coxauto.v3+json" // /leads
	VehiclesMediaType = "application/vnd.coxauto.v1+json" // /vehicles/*
	// Scope of the token.
	Scope = "PublicAPI"
	// HrefBase is the host VinSolutions names its resources by in hrefs, in production and
	// in the sandbox alike [NOTE S13]; request bodies name resources the same way.
	HrefBase = "https://api.vinsolutions.com"
)

// leadSearchSkew is how much earlier than our create request a lead found for the contact may
// have been created and still be the one a lost answer created (clocks differ).
const leadSearchSkew = 5 * time.Minute

// Connector is the VinSolutions connector.
type Connector struct {
	Tokens *oauth.Cache
}

// New returns a connector that caches tokens in tokens.
func New(tokens *oauth.Cache) *Connector { return &Connector{Tokens: tokens} }

// Deliver implements connector.Connector.
func (c *Connector) Deliver(ctx context.Context, d *connector.Delivery) (connector.Result, error) {
	s := &session{
		tokens:   c.Tokens,
		d:        d,
		settings: d.Settings,
		progress: map[string]string{},
		grant:    grantOf(d.Settings, d.Credentials),
	}
	maps.Copy(s.progress, d.Progress)
	var res connector.Result
	var err error
	switch {
	case connector.KindOf(d.Event.Type) == connector.KindLead:
		res, err = s.pushLead(ctx)
	case connector.IsAppointment(d.Event.Type):
		res, err = s.noteAppointment(ctx)
	case d.Event.Type == events.TypeLeadDispositionUpdated:
		res, err = s.noteDisposition(ctx)
	case d.Event.Type == events.TypeContactBasicUpdated:
		res, err = s.updateContact(ctx)
	case d.Event.Type == events.TypeContactVehicleOfInterestUpdated:
		res, err = s.addVehicleOfInterest(ctx)
	default:
		return connector.Skip("VinSolutions does not take " + d.Event.Type), nil
	}
	if err != nil {
		return connector.Result{}, connector.WithProgress(err, s.progress)
	}
	if !res.Skipped {
		res.Progress = s.progress
		res.StatusCode = s.status
	}
	return res, nil
}

// session is one delivery attempt.
type session struct {
	tokens   *oauth.Cache
	d        *connector.Delivery
	settings map[string]string
	grant    oauth.Grant
	// progress holds the ids obtained and the steps done, this attempt's and earlier ones'.
	progress map[string]string
	status   int
	// createdLead: this attempt created the lead, so it has no vehicles or notes yet.
	createdLead bool
	// leadState is the lead's status as the last read of it answered (nil: not read).
	leadState map[string]string
}

// person is who a contact is created for.
type person struct {
	first, last, email, phone string
}

// adopt takes the contact and lead ids VinSolutions already has for the DealerAI lead.
func (s *session) adopt(ids map[string]string) {
	for _, k := range []string{"contactId", "leadId"} {
		if s.progress[k] == "" && ids[k] != "" {
			s.progress[k] = ids[k]
		}
	}
}

// leadIDs are the ids kept for the DealerAI lead.
func (s *session) leadIDs() map[string]string {
	ids := map[string]string{}
	for _, k := range []string{"contactId", "leadId"} {
		if v := s.progress[k]; v != "" {
			ids[k] = v
		}
	}
	return ids
}

// pushLead: lead.created and lead.received (whose fields are a subset of lead.created's). A
// lead VinSolutions has already (created by an appointment, or by the other lead event) gets
// only what it lacks: the vehicle of interest and the note.
func (s *session) pushLead(ctx context.Context) (connector.Result, error) {
	l, err := connector.Lead(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	s.adopt(s.d.Known)
	if err := s.ensureLead(ctx, person{l.FirstName, l.LastName, l.Email, l.Phone}); err != nil {
		return connector.Result{}, err
	}
	summary := "VinSolutions contact " + s.progress["contactId"] + ", lead " + s.progress["leadId"]
	v := vehicle{VIN: l.VehicleVIN, Year: l.VehicleYear, Make: l.VehicleMake, Model: l.VehicleModel}
	if !v.empty() {
		added, err := s.ensureVehicle(ctx, v, "vehicleInterest")
		if err != nil {
			return connector.Result{}, err
		}
		summary += ", vehicle of interest " + added
	}
	var parts []string
	if l.Source != "" {
		parts = append(parts, "DealerAI lead from "+l.Source+".")
	}
	if l.Comments != "" {
		parts = append(parts, "Comments: "+l.Comments)
	}
	if l.Phone != "" && TenDigits(l.Phone) == "" {
		parts = append(parts, "Phone: "+l.Phone+" (not a 10-digit number, so not on the contact).")
	}
	if len(parts) > 0 {
		added, err := s.appendNote(ctx, strings.Join(parts, " "), "leadNote")
		if err != nil {
			return connector.Result{}, err
		}
		summary += ", note " + added
	}
	res := connector.Result{Correlation: s.leadIDs(), Summary: summary}
	if s.progress["leadRequested"] != "" && s.leadState != nil {
		// A lead DealerAI created, as VinSolutions read it back for the note: its first
		// state is not sent back by the two-way sync.
		res.Pushed = s.leadState
	}
	return res, nil
}

// noteAppointment: an appointment is a note on its lead (Lead Management has no appointment
// call [NOTE S13, S15]). A created or rescheduled sales-side appointment whose lead
// VinSolutions does not have creates the contact and the lead from its own fields; a
// cancellation, or a service appointment (the service scheduler's, not a sales lead), of such
// a lead is skipped.
func (s *session) noteAppointment(ctx context.Context) (connector.Result, error) {
	a, err := connector.Appointment(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	s.adopt(s.d.Lead)
	s.adopt(s.d.Known)
	var created map[string]string
	if s.d.Lead["leadId"] == "" {
		if s.progress["leadId"] == "" { // nor did an earlier attempt create it
			switch {
			case a.AppointmentType == events.AppointmentService:
				return connector.Skip("VinSolutions has no lead for this customer, and a service appointment does not make one: nothing to note it on"), nil
			case s.d.Event.Type == events.TypeAppointmentCancelled:
				return connector.Skip("VinSolutions has no lead for this customer: nothing to note the cancellation on"), nil
			}
			first, last := connector.SplitName(a.Name)
			if err := s.ensureLead(ctx, person{first, last, a.Email, a.Phone}); err != nil {
				return connector.Result{}, err
			}
		}
		created = s.leadIDs()
	}
	added, err := s.appendNote(ctx, connector.DescribeAppointment(s.d.Event.Type, a), "note")
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{
		Correlation:     map[string]string{"leadId": s.progress["leadId"]},
		LeadCorrelation: created,
		Summary:         "appointment " + connector.Verb(s.d.Event.Type) + " noted on VinSolutions lead " + s.progress["leadId"] + " (" + added + ")",
	}, nil
}

// noteDisposition: the public record has no call that sets a lead's status, so a disposition
// is a note. What was noted last is kept in the correlation.
func (s *session) noteDisposition(ctx context.Context) (connector.Result, error) {
	dd, err := connector.Disposition(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	s.adopt(s.d.Lead)
	if s.progress["leadId"] == "" {
		return connector.Skip(noLead("the disposition")), nil
	}
	text := "DealerAI disposition: " + strings.TrimSpace(dd.DispositionName)
	if dd.DispositionCode != "" {
		text += " (" + dd.DispositionCode + ")"
	}
	text += "."
	if dd.Notes != "" {
		text += " Notes: " + dd.Notes
	}
	added, err := s.appendNote(ctx, text, "note")
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{
		Correlation: map[string]string{"leadId": s.progress["leadId"], "dispositionCode": dd.DispositionCode, "dispositionName": dd.DispositionName},
		Summary:     "disposition noted on VinSolutions lead " + s.progress["leadId"] + " (" + added + ")",
	}, nil
}

func noLead(what string) string {
	return "VinSolutions has no lead for this DealerAI lead (it was not pushed to VinSolutions): " + what + " is not sent"
}

// ---- contacts: /gateway/v1/contact, application/json [CODE S12, S14; NOTE S15] ----

// contactRequest is POST /gateway/v1/contact's body. LeadInformation is sent empty, as S12
// does: its members (S15: CurrentSalesRepUserId) are not needed, and the lead's source and
// type go on the lead.
type contactRequest struct {
	DealerID           int64              `json:"DealerId"`
	UserID             int64              `json:"UserId"`
	ContactInformation contactInformation `json:"ContactInformation"`
	LeadInformation    struct{}           `json:"LeadInformation"`
}

type contactInformation struct {
	FirstName string  `json:"FirstName"`
	LastName  string  `json:"LastName"`
	Emails    []email `json:"Emails"`
	Phones    []phone `json:"Phones"`
}

type email struct {
	EmailAddress string `json:"EmailAddress"`
	EmailType    string `json:"EmailType"`
}

type phone struct {
	Number    string `json:"Number"`
	PhoneType string `json:"PhoneType"`
}

// EmailType and PhoneType of the entries DealerAI adds [CODE S12, S14].
const (
	emailType = "primary"
	phoneType = "Cell"
	// noLastName stands in for a last name DealerAI does not have: the contact needs one
	// (S12 fills the same).
	noLastName = "Customer"
)

// TenDigits is a phone number as VinSolutions keeps it: its 10 digits, without a leading US
// country code 1 [CODE S12, S14]; "" when it is not a 10-digit (NANP) number.
func TenDigits(p string) string {
	d := connector.PhoneDigits(p)
	if len(d) != 10 {
		return ""
	}
	return d
}

// foundContact is a contact as GET /gateway/v1/contact answers it (an array of these).
type foundContact struct {
	ContactID          json.RawMessage `json:"ContactId"`
	ContactInformation struct {
		Emails []struct {
			EmailAddress string `json:"EmailAddress"`
		} `json:"Emails"`
		Phones []struct {
			Number string `json:"Number"`
		} `json:"Phones"`
	} `json:"ContactInformation"`
}

// findContact looks the person up by email, then by phone; "" when VinSolutions has no such
// contact. A contact counts only when it really has the email or phone (not merely because
// the search returned it).
func (s *session) findContact(ctx context.Context, p person) (string, error) {
	searches := []struct{ param, value string }{{"email", p.email}, {"phone", TenDigits(p.phone)}}
	for _, q := range searches {
		if q.value == "" {
			continue
		}
		query := s.dealerAndUser()
		query.Set(q.param, q.value)
		resp, err := s.call(ctx, http.MethodGet, "/gateway/v1/contact", query, GatewayMediaType, nil, "VinSolutions contact search")
		if err != nil {
			return "", err
		}
		var found []foundContact
		if err := json.Unmarshal(resp.Body, &found); err != nil {
			return "", unreadable(resp, "VinSolutions contact search", "an array of contacts")
		}
		for _, c := range found {
			match := false
			for _, e := range c.ContactInformation.Emails {
				match = match || q.param == "email" && strings.EqualFold(strings.TrimSpace(e.EmailAddress), q.value)
			}
			for _, ph := range c.ContactInformation.Phones {
				match = match || q.param == "phone" && TenDigits(ph.Number) == q.value
			}
			if id := idValue(c.ContactID); match && id != "" {
				return id, nil
			}
		}
	}
	return "", nil
}

func (s *session) createContact(ctx context.Context, p person) (string, error) {
	info := contactInformation{FirstName: p.first, LastName: firstOf(p.last, noLastName), Emails: []email{}, Phones: []phone{}}
	if p.email != "" {
		info.Emails = append(info.Emails, email{EmailAddress: p.email, EmailType: emailType})
	}
	if n := TenDigits(p.phone); n != "" {
		info.Phones = append(info.Phones, phone{Number: n, PhoneType: phoneType})
	}
	body := contactRequest{DealerID: s.number("dealerId"), UserID: s.number("userId"), ContactInformation: info}
	resp, err := s.call(ctx, http.MethodPost, "/gateway/v1/contact", nil, GatewayMediaType, body, "VinSolutions contact")
	if err != nil {
		return "", err
	}
	// {ContactId}; S12 also reads ContactInformation.ContactId.
	id := ParseID(resp.Body, "ContactId")
	if id == "" {
		var nested struct {
			ContactInformation json.RawMessage `json:"ContactInformation"`
		}
		if json.Unmarshal(resp.Body, &nested) == nil {
			id = ParseID(nested.ContactInformation, "ContactId")
		}
	}
	if id == "" {
		return "", noID(resp, "VinSolutions contact", "ContactId")
	}
	return id, nil
}

// updateContact: contact.basic.updated. The contact is read, then written with its own
// ContactInformation, the new names, and only the email and phone it lacks (S14 sends only
// what changed, Emails and Phones left out when they did not): nothing of the CRM's is removed.
func (s *session) updateContact(ctx context.Context) (connector.Result, error) {
	u, err := connector.ContactUpdate(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	s.adopt(s.d.Lead)
	id := s.progress["contactId"]
	if id == "" {
		return connector.Skip("VinSolutions has no contact for this DealerAI contact (its lead was not pushed): the update is not sent"), nil
	}
	if s.progress["contactUpdate"] != "" {
		return connector.Result{Correlation: map[string]string{"contactId": id}, Summary: "VinSolutions contact " + id + " updated"}, nil
	}
	resp, err := s.call(ctx, http.MethodGet, "/gateway/v1/contact/"+url.PathEscape(id), s.dealerAndUser(), GatewayMediaType, nil, "VinSolutions contact read")
	if err != nil {
		return connector.Result{}, err
	}
	info, err := contactInfoOf(resp)
	if err != nil {
		return connector.Result{}, err
	}
	first, last := u.FirstName, u.LastName
	if first == "" && last == "" {
		first, last = connector.SplitName(u.Name)
	}
	var changed []string
	for key, v := range map[string]string{"FirstName": first, "LastName": last} {
		if k, cur := member(info, key); v != "" && jsonString(cur) != v {
			info[k] = v
			changed = append(changed, key)
		}
	}
	emails, phones := lacking(info, u.Email, TenDigits(u.Phone))
	deleteMember(info, "Emails")
	deleteMember(info, "Phones")
	if len(emails) > 0 {
		info["Emails"] = emails
		changed = append(changed, "Emails")
	}
	if len(phones) > 0 {
		info["Phones"] = phones
		changed = append(changed, "Phones")
	}
	if len(changed) == 0 {
		return connector.Result{Correlation: map[string]string{"contactId": id}, Summary: "VinSolutions contact " + id + " is up to date"}, nil
	}
	body := map[string]any{"DealerId": s.number("dealerId"), "UserId": s.number("userId"), "ContactInformation": info}
	if _, err := s.call(ctx, http.MethodPut, "/gateway/v1/contact/"+url.PathEscape(id), nil, GatewayMediaType, body, "VinSolutions contact update"); err != nil {
		return connector.Result{}, err
	}
	s.progress["contactUpdate"] = "done"
	return connector.Result{Correlation: map[string]string{"contactId": id}, Summary: "VinSolutions contact " + id + " updated"}, nil
}

// contactInfoOf reads ContactInformation from GET /gateway/v1/contact/{id}'s answer, an array
// of one contact [CODE S14], keeping every member as sent (numbers exactly).
func contactInfoOf(resp *connector.Response) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(resp.Body))
	d.UseNumber()
	var found []map[string]any
	if err := d.Decode(&found); err != nil || len(found) == 0 {
		return nil, unreadable(resp, "VinSolutions contact read", "an array of one contact")
	}
	_, v := member(found[0], "ContactInformation")
	info, ok := v.(map[string]any)
	if !ok {
		return nil, unreadable(resp, "VinSolutions contact read", "the contact's ContactInformation")
	}
	return info, nil
}

// lacking are the email and phone entries to add: those the contact does not have yet.
func lacking(info map[string]any, newEmail, newPhone string) (emails []email, phones []phone) {
	has := func(list, key string, same func(string) bool) bool {
		_, v := member(info, list)
		entries, _ := v.([]any)
		for _, e := range entries {
			m, _ := e.(map[string]any)
			if _, x := member(m, key); same(jsonString(x)) {
				return true
			}
		}
		return false
	}
	if newEmail != "" && !has("Emails", "EmailAddress", func(x string) bool { return strings.EqualFold(strings.TrimSpace(x), newEmail) }) {
		emails = append(emails, email{EmailAddress: newEmail, EmailType: emailType})
	}
	if newPhone != "" && !has("Phones", "Number", func(x string) bool { return TenDigits(x) == newPhone }) {
		phones = append(phones, phone{Number: newPhone, PhoneType: phoneType})
	}
	return emails, phones
}

// member finds an object's member, its name matched case-insensitively (.NET APIs answer
// either case); it returns the name as the object spells it ("" and nil when absent).
func member(m map[string]any, name string) (string, any) {
	if v, ok := m[name]; ok {
		return name, v
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return k, v
		}
	}
	return name, nil
}

func deleteMember(m map[string]any, name string) {
	for k := range m {
		if strings.EqualFold(k, name) {
			delete(m, k)
		}
	}
}

func jsonString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

// ---- leads: /leads, v3 [CODE S12, S14, S16; NOTE S15] ----

// ensureLead finds or creates the contact, then creates the lead, unless the progress has
// them. A create whose answer was lost (the attempt failed after it was sent) is looked for
// before creating again: the contact by email or phone, the lead among the contact's leads.
func (s *session) ensureLead(ctx context.Context, p person) error {
	if s.progress["leadId"] != "" {
		return nil
	}
	if s.progress["contactId"] == "" {
		id, err := s.findContact(ctx, p)
		if err != nil {
			return err
		}
		if id == "" {
			if id, err = s.createContact(ctx, p); err != nil {
				return err
			}
		}
		s.progress["contactId"] = id
	}
	if since := s.progress["leadRequested"]; since != "" {
		id, err := s.findLead(ctx, since)
		if err != nil {
			return err
		}
		if id != "" {
			s.progress["leadId"] = id
			return nil
		}
	}
	s.progress["leadRequested"] = time.Now().UTC().Format(time.RFC3339)
	body := leadRequest{
		LeadSource: HrefBase + "/leadSources/id/" + s.settings["leadSourceId"] + "?dealerId=" + url.QueryEscape(s.settings["dealerId"]),
		LeadType:   s.settings["leadType"],
		Contact: HrefBase + "/contacts/id/" + s.progress["contactId"] + "?dealerid=" + url.QueryEscape(s.settings["dealerId"]) +
			"&userid=" + url.QueryEscape(s.settings["userId"]),
	}
	resp, err := s.call(ctx, http.MethodPost, "/leads", s.dealerAndUser(), LeadsMediaType, body, "VinSolutions lead")
	if err != nil {
		return err
	}
	id := ParseID(resp.Body, "leadId")
	if id == "" {
		return noID(resp, "VinSolutions lead", "leadId")
	}
	s.progress["leadId"] = id
	s.createdLead = true
	return nil
}

// leadRequest is POST /leads' body: the lead source and the contact as hrefs.
type leadRequest struct {
	LeadSource string `json:"leadSource"`
	LeadType   string `json:"leadType"`
	Contact    string `json:"contact"`
}

// findLead looks among the contact's leads (GET /leads?dealerId&contactId; no userId, which
// the search refuses [NOTE S15]) for one of our lead source created since our create request
// (give or take leadSearchSkew); "" when there is none.
func (s *session) findLead(ctx context.Context, since string) (string, error) {
	requested, err := time.Parse(time.RFC3339, since)
	if err != nil {
		return "", nil // not ours: create
	}
	q := url.Values{"dealerId": {s.settings["dealerId"]}, "contactId": {s.progress["contactId"]}, "limit": {"50"}}
	resp, err := s.call(ctx, http.MethodGet, "/leads", q, LeadsMediaType, nil, "VinSolutions lead search")
	if err != nil {
		return "", err
	}
	var page struct {
		Items   []json.RawMessage `json:"items"`
		Results []json.RawMessage `json:"results"` // some versions [NOTE S15]
	}
	if err := json.Unmarshal(resp.Body, &page); err != nil {
		return "", unreadable(resp, "VinSolutions lead search", "a page of leads")
	}
	for _, raw := range append(page.Items, page.Results...) {
		var l struct {
			LeadID     json.RawMessage `json:"leadId"`
			LeadSource json.RawMessage `json:"leadSource"` // an href (v3), or an object
			CreatedUTC string          `json:"createdUtc"`
		}
		if json.Unmarshal(raw, &l) != nil || leadSourceID(l.LeadSource) != s.settings["leadSourceId"] {
			continue
		}
		if created, ok := parseUTC(l.CreatedUTC); ok && !created.Before(requested.Add(-leadSearchSkew)) {
			if id := idValue(l.LeadID); id != "" {
				return id, nil
			}
		}
	}
	return "", nil
}

// leadSourceID reads a lead's leadSource: an href, or an object with leadSourceId, id or href.
func leadSourceID(raw json.RawMessage) string {
	var obj struct {
		LeadSourceID json.RawMessage `json:"leadSourceId"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		if id := scalarID(obj.LeadSourceID); id != "" {
			return id
		}
	}
	return idValue(raw)
}

// parseUTC reads createdUtc: RFC 3339, or without a zone (UTC).
func parseUTC(v string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true
	}
	t, err := time.Parse("2006-01-02T15:04:05.999999999", v)
	return t, err == nil
}

// appendNote appends text, stamped with the event's time, to the lead's notes: PUT
// /leads/id/{id} with notes REPLACES them [CODE S12, S14], so the lead is read first (GET, as
// S12 does) and written back with the note after the CRM's own. A note already there (a retry
// after a lost answer) is not added again. It returns "added" or "already there"; key marks
// the step done in the progress.
func (s *session) appendNote(ctx context.Context, text, key string) (string, error) {
	if done := s.progress[key]; done != "" {
		return done, nil
	}
	text = "[" + s.d.Event.Timestamp.UTC().Format("2006-01-02 15:04 UTC") + "] " + text
	path := "/leads/id/" + url.PathEscape(s.progress["leadId"])
	resp, err := s.call(ctx, http.MethodGet, path, s.dealerAndUser(), LeadsMediaType, nil, "VinSolutions lead read")
	if err != nil {
		return "", err
	}
	if len(resp.Body) >= connector.MaxResponseBytes {
		// Writing back what could not be read whole would cut the CRM's notes.
		return "", &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode, Permanent: true,
			Message: "VinSolutions lead read: the lead is larger than we read, so its notes cannot be appended to without losing some"}
	}
	var lead struct {
		Notes          *string `json:"notes"`
		LeadStatus     string  `json:"leadStatus"`
		LeadStatusType string  `json:"leadStatusType"`
	}
	if err := json.Unmarshal(resp.Body, &lead); err != nil {
		return "", unreadable(resp, "VinSolutions lead read", "a lead")
	}
	if lead.LeadStatusType != "" || lead.LeadStatus != "" {
		s.leadState = map[string]string{connector.PushedStatus: lead.LeadStatusType, connector.PushedSubStatus: lead.LeadStatus}
	}
	notes := ""
	if lead.Notes != nil {
		notes = *lead.Notes
	}
	if strings.Contains(notes, text) {
		s.progress[key] = "already there"
		return s.progress[key], nil
	}
	if strings.TrimSpace(notes) != "" {
		text = strings.TrimRight(notes, "\n") + "\n\n" + text
	}
	if _, err := s.call(ctx, http.MethodPut, path, nil, LeadsMediaType, map[string]string{"notes": text}, "VinSolutions lead note"); err != nil {
		return "", err
	}
	s.progress[key] = "added"
	return s.progress[key], nil
}

// ---- vehicles of interest: /vehicles/interest, v1 [CODE S14; NOTE S13, S15] ----

// vehicle is one entry of vehicles[] [CODE S14].
type vehicle struct {
	VIN, Year, Make, Model, Trim, StockNumber string
}

func (v vehicle) empty() bool { return v.VIN == "" && v.Year == "" && v.Make == "" && v.Model == "" }

// MarshalJSON sends the fields present, a numeric year as a number.
func (v vehicle) MarshalJSON() ([]byte, error) {
	var year any
	if n, err := strconv.Atoi(v.Year); err == nil {
		year = n
	} else if v.Year != "" {
		year = v.Year
	}
	return json.Marshal(struct {
		VIN         string `json:"vin,omitempty"`
		Year        any    `json:"year,omitempty"`
		Make        string `json:"make,omitempty"`
		Model       string `json:"model,omitempty"`
		Trim        string `json:"trim,omitempty"`
		StockNumber string `json:"stockNumber,omitempty"`
	}{v.VIN, year, v.Make, v.Model, v.Trim, v.StockNumber})
}

// same: the same VIN, or without one the same year, make, model (and trim when both have one).
func (v vehicle) same(o vehicle) bool {
	if v.VIN != "" || o.VIN != "" {
		return strings.EqualFold(v.VIN, o.VIN)
	}
	eq := strings.EqualFold
	return eq(v.Year, o.Year) && eq(v.Make, o.Make) && eq(v.Model, o.Model) && (v.Trim == "" || o.Trim == "" || eq(v.Trim, o.Trim))
}

// addVehicleOfInterest: contact.vehicleofinterest.updated adds the vehicle to the lead,
// unless the lead has it (the CRM's vehicles are kept).
func (s *session) addVehicleOfInterest(ctx context.Context) (connector.Result, error) {
	u, err := connector.VehicleOfInterest(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	s.adopt(s.d.Lead)
	if u.VehicleInterest == nil {
		return connector.Skip("the event names no vehicle"), nil
	}
	vi := u.VehicleInterest
	v := vehicle{VIN: vi.VIN, Year: vi.Year, Make: vi.Make, Model: vi.Model, Trim: vi.Trim, StockNumber: vi.Stock}
	switch {
	case v.empty():
		return connector.Skip("the event names no vehicle"), nil
	case s.progress["leadId"] == "":
		return connector.Skip(noLead("the vehicle of interest")), nil
	}
	added, err := s.ensureVehicle(ctx, v, "vehicleInterest")
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{
		Correlation: map[string]string{"leadId": s.progress["leadId"], "vin": v.VIN},
		Summary:     "vehicle of interest on VinSolutions lead " + s.progress["leadId"] + " (" + added + ")",
	}, nil
}

// ensureVehicle adds v to the lead (POST /vehicles/interest {lead, vehicles:[…]}) unless the
// lead has it: a lead this attempt did not create is searched first (GET
// /vehicles/interest?leadId). It returns "added" or "already there".
func (s *session) ensureVehicle(ctx context.Context, v vehicle, key string) (string, error) {
	if done := s.progress[key]; done != "" {
		return done, nil
	}
	leadID := s.progress["leadId"]
	q := url.Values{"leadId": {leadID}, "dealerId": {s.settings["dealerId"]}}
	if !s.createdLead {
		resp, err := s.call(ctx, http.MethodGet, "/vehicles/interest", q, VehiclesMediaType, nil, "VinSolutions vehicle of interest search")
		if err != nil {
			return "", err
		}
		var page struct {
			Items []struct {
				VIN   string          `json:"vin"`
				Year  json.RawMessage `json:"year"`
				Make  string          `json:"make"`
				Model string          `json:"model"`
				Trim  string          `json:"trim"`
			} `json:"items"`
		}
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			return "", unreadable(resp, "VinSolutions vehicle of interest search", "a page of vehicles")
		}
		for _, it := range page.Items {
			if v.same(vehicle{VIN: it.VIN, Year: idValue(it.Year), Make: it.Make, Model: it.Model, Trim: it.Trim}) {
				s.progress[key] = "already there"
				return s.progress[key], nil
			}
		}
	}
	body := struct {
		Lead     string    `json:"lead"`
		Vehicles []vehicle `json:"vehicles"`
	}{Lead: HrefBase + "/leads/id/" + leadID, Vehicles: []vehicle{v}}
	if _, err := s.call(ctx, http.MethodPost, "/vehicles/interest", q, VehiclesMediaType, body, "VinSolutions vehicle of interest"); err != nil {
		return "", err
	}
	s.progress[key] = "added"
	return s.progress[key], nil
}

// ---- HTTP ----

// call sends one API request (body nil: none) with the token, the api_key and the resource's
// media type as Accept (and Content-Type with a body), refreshing the token once when it is
// refused, and fails on a non-2xx answer.
func (s *session) call(ctx context.Context, method, path string, query url.Values, mediaType string, body any, step string) (*connector.Response, error) {
	var payload []byte
	contentType := ""
	if body != nil {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false) // hrefs keep their "&"
		if err := e.Encode(body); err != nil {
			return nil, err
		}
		payload, contentType = bytes.TrimRight(b.Bytes(), "\n"), mediaType
	}
	target := strings.TrimRight(s.settings["baseUrl"], "/") + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	resp, err := s.tokens.Send(ctx, s.d.HTTP, s.grant, step, func(token string) (*http.Request, error) {
		req, err := connector.NewRequest(ctx, method, target, contentType, payload, step)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", mediaType)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("api_key", s.d.Credentials["apiKey"])
		return req, nil
	}, oauth.Unauthorized)
	if err != nil {
		return nil, err
	}
	s.status = resp.StatusCode
	if !resp.OK() {
		return nil, connector.StatusError(resp, step)
	}
	return resp, nil
}

// dealerAndUser is the ?dealerId&userId the gateway's reads take [CODE S12, S14].
func (s *session) dealerAndUser() url.Values {
	return url.Values{"dealerId": {s.settings["dealerId"]}, "userId": {s.settings["userId"]}}
}

func (s *session) number(key string) int64 {
	n, _ := strconv.ParseInt(s.settings[key], 10, 64) // validated on PUT
	return n
}

// ParseID reads an id from a JSON object's member (its name matched case-insensitively, as
// .NET APIs answer either case): see idValue. "" when absent.
func ParseID(body []byte, field string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	raw, ok := m[field]
	if !ok {
		for k, v := range m {
			if strings.EqualFold(k, field) {
				raw, ok = v, true
				break
			}
		}
	}
	if !ok {
		return ""
	}
	return idValue(raw)
}

// idValue reads an id: a number, a string, an href whose last path segment is the id, or an
// object (v4 nests {href, id}) with an id or an href. "" when none (or longer than 128 bytes).
func idValue(raw json.RawMessage) string {
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return short(n.String())
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		if u, err := url.Parse(str); err == nil && strings.Contains(str, "/") {
			segments := strings.Split(strings.TrimRight(u.Path, "/"), "/")
			str = segments[len(segments)-1]
		}
		return short(str)
	}
	var obj struct {
		ID   json.RawMessage `json:"id"`
		Href json.RawMessage `json:"href"`
	}
	if json.Unmarshal(raw, &obj) != nil {
		return ""
	}
	if id := scalarID(obj.ID); id != "" {
		return id
	}
	return scalarID(obj.Href)
}

// scalarID is idValue of a number or a string only (no nesting).
func scalarID(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] == '{' {
		return ""
	}
	return idValue(raw)
}

func short(id string) string {
	if len(id) > 128 {
		return ""
	}
	return id
}

func noID(resp *connector.Response, step, field string) *connector.AttemptError {
	return &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
		Message: step + ": the answer holds no " + field, Snippet: connector.Snippet(resp.Body)}
}

func unreadable(resp *connector.Response, step, want string) *connector.AttemptError {
	return &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
		Message: step + ": the answer is not " + want, Snippet: connector.Snippet(resp.Body)}
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
