// Package vinsolutions pushes DealerAI leads and appointments into the VinSolutions CRM.
//
// Every call carries an OAuth 2.0 client-credentials token (form-authenticated, scope
// PublicAPI) as "Authorization: Bearer" and the dealer's key in an api_key header. A lead is
// three calls — the contact, the lead, the vehicle of interest — and a retry resumes from
// the one that failed. An appointment becomes a note on the VinSolutions lead (there is no
// public appointment API); when that lead does not exist yet, the attempt fails as
// pending_dependency so the retry comes after the lead's delivery.
package vinsolutions

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
)

// Media types of the VinSolutions APIs.
const (
	LeadsMediaType    = "application/vnd.coxauto.v3+json"
	VehiclesMediaType = "application/vnd.coxauto.v1+json"
	// Scope of the token.
	Scope = "PublicAPI"
)

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
		grant: oauth.Grant{
			Platform:     "VinSolutions",
			TokenURL:     d.Settings["tokenUrl"],
			ClientID:     d.Credentials["clientId"],
			ClientSecret: d.Credentials["clientSecret"],
			Scope:        Scope,
		},
	}
	maps.Copy(s.progress, d.Progress)
	var res connector.Result
	var err error
	switch {
	case d.Event.Type == events.TypeLeadCreated:
		res, err = s.pushLead(ctx)
	case connector.IsAppointment(d.Event.Type):
		res, err = s.noteAppointment(ctx)
	default:
		return connector.Skip("VinSolutions does not take " + d.Event.Type), nil
	}
	if err != nil {
		return connector.Result{}, connector.WithProgress(err, s.progress)
	}
	res.Progress = s.progress
	res.StatusCode = s.status
	return res, nil
}

// session is one delivery attempt.
type session struct {
	tokens   *oauth.Cache
	d        *connector.Delivery
	settings map[string]string
	grant    oauth.Grant
	progress map[string]string
	status   int
}

func (s *session) pushLead(ctx context.Context) (connector.Result, error) {
	l, err := connector.Lead(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	if id := s.d.Known["leadId"]; id != "" && s.progress["leadId"] == "" {
		return connector.Skip("the lead is already in VinSolutions (lead " + id + ")"), nil
	}
	if s.progress["contactId"] == "" {
		body := contactRequest{
			DealerID: s.number("dealerId"),
			UserID:   s.number("userId"),
			ContactInformation: contactInformation{
				FirstName: l.FirstName,
				LastName:  l.LastName,
				Emails:    []email{},
				Phones:    []phone{},
			},
			LeadInformation: leadInformation{LeadSourceID: s.number("leadSourceId"), LeadTypeID: s.settings["leadType"]},
		}
		if l.Email != "" {
			body.ContactInformation.Emails = append(body.ContactInformation.Emails, email{EmailAddress: l.Email, EmailType: "Primary"})
		}
		if l.Phone != "" {
			body.ContactInformation.Phones = append(body.ContactInformation.Phones, phone{Number: l.Phone, PhoneType: "Cell"})
		}
		resp, err := s.call(ctx, http.MethodPost, "/gateway/v1/contact", "application/json", body, "VinSolutions contact")
		if err != nil {
			return connector.Result{}, err
		}
		id := ParseID(resp.Body, "ContactId")
		if id == "" {
			return connector.Result{}, noID(resp, "VinSolutions contact", "ContactId")
		}
		s.progress["contactId"] = id
	}
	if s.progress["leadId"] == "" {
		body := leadRequest{
			LeadSource: s.href("/leadSources/id/" + s.settings["leadSourceId"]),
			LeadType:   s.settings["leadType"],
			Contact:    s.href("/contacts/id/" + s.progress["contactId"]),
		}
		resp, err := s.call(ctx, http.MethodPost, "/leads", LeadsMediaType, body, "VinSolutions lead")
		if err != nil {
			return connector.Result{}, err
		}
		id := ParseID(resp.Body, "leadId")
		if id == "" {
			return connector.Result{}, noID(resp, "VinSolutions lead", "leadId")
		}
		s.progress["leadId"] = id
	}
	summary := "VinSolutions contact " + s.progress["contactId"] + ", lead " + s.progress["leadId"]
	if (l.VehicleYear != "" || l.VehicleMake != "" || l.VehicleModel != "" || l.VehicleVIN != "") && s.progress["vehicleInterest"] == "" {
		body := vehicleInterest{
			Lead:  s.href("/leads/id/" + s.progress["leadId"]),
			Year:  yearNumber(l.VehicleYear),
			Make:  l.VehicleMake,
			Model: l.VehicleModel,
			VIN:   l.VehicleVIN,
		}
		resp, err := s.call(ctx, http.MethodPost, "/vehicles/interest", VehiclesMediaType, body, "VinSolutions vehicle of interest")
		if err != nil {
			return connector.Result{}, err
		}
		s.progress["vehicleInterest"] = firstOf(ParseID(resp.Body, "vehicleInterestId"), "added")
		summary += ", vehicle of interest"
	}
	if note := leadNoteText(l.Source, l.Comments); note != "" && s.progress["leadNote"] == "" {
		leadID := s.progress["leadId"]
		body := leadNote{LeadID: leadNumber(leadID), Notes: note}
		if _, err := s.call(ctx, http.MethodPut, "/leads/id/"+url.PathEscape(leadID), LeadsMediaType, body, "VinSolutions lead note"); err != nil {
			return connector.Result{}, err
		}
		s.progress["leadNote"] = "added"
		summary += ", note"
	}
	return connector.Result{
		Correlation: map[string]string{"contactId": s.progress["contactId"], "leadId": s.progress["leadId"]},
		Summary:     summary,
	}, nil
}

// leadNoteText is the note that carries what the lead calls have no field for.
func leadNoteText(source, comments string) string {
	var parts []string
	if source != "" {
		parts = append(parts, "DealerAI lead from "+source+".")
	}
	if comments != "" {
		parts = append(parts, "Comments: "+comments)
	}
	return strings.Join(parts, " ")
}

func (s *session) noteAppointment(ctx context.Context) (connector.Result, error) {
	a, err := connector.Appointment(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	leadID := firstOf(s.d.Lead["leadId"], s.d.Known["leadId"])
	if leadID == "" {
		who := firstOf(a.LeadID, a.ContactID)
		return connector.Result{}, connector.PendingDependency("VinSolutions has no lead for DealerAI lead/contact " + who +
			" yet: the appointment note waits for the lead's delivery")
	}
	if s.progress["note"] == "" {
		body := leadNote{LeadID: leadNumber(leadID), Notes: connector.DescribeAppointment(s.d.Event.Type, a)}
		if _, err := s.call(ctx, http.MethodPut, "/leads/id/"+url.PathEscape(leadID), LeadsMediaType, body, "VinSolutions lead note"); err != nil {
			return connector.Result{}, err
		}
		s.progress["note"] = "added"
	}
	return connector.Result{
		Correlation: map[string]string{"leadId": leadID},
		Summary:     "appointment " + connector.Verb(s.d.Event.Type) + " noted on VinSolutions lead " + leadID,
	}, nil
}

// call sends one API request with the token and the api_key, refreshing the token once when
// it is refused, and fails on a non-2xx answer.
func (s *session) call(ctx context.Context, method, path, mediaType string, body any, step string) (*connector.Response, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	q := url.Values{"dealerId": {s.settings["dealerId"]}, "userId": {s.settings["userId"]}}
	target := strings.TrimRight(s.settings["baseUrl"], "/") + path + "?" + q.Encode()
	resp, err := s.tokens.Send(ctx, s.d.HTTP, s.grant, step, func(token string) (*http.Request, error) {
		req, err := connector.NewRequest(ctx, method, target, mediaType, payload, step)
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

// href is the URL VinSolutions identifies a resource by.
func (s *session) href(path string) string {
	return strings.TrimRight(s.settings["baseUrl"], "/") + path + "?dealerId=" + url.QueryEscape(s.settings["dealerId"])
}

func (s *session) number(key string) int64 {
	n, _ := strconv.ParseInt(s.settings[key], 10, 64) // validated on PUT
	return n
}

// Request bodies (field names as VinSolutions spells them).

type contactRequest struct {
	DealerID           int64              `json:"DealerId"`
	UserID             int64              `json:"UserId"`
	ContactInformation contactInformation `json:"ContactInformation"`
	LeadInformation    leadInformation    `json:"LeadInformation"`
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

type leadInformation struct {
	LeadSourceID int64  `json:"LeadSourceId"`
	LeadTypeID   string `json:"LeadTypeId"`
}

type leadRequest struct {
	LeadSource string `json:"leadSource"`
	LeadType   string `json:"leadType"`
	Contact    string `json:"contact"`
}

type vehicleInterest struct {
	Lead  string `json:"lead"`
	Year  any    `json:"year,omitempty"`
	Make  string `json:"make,omitempty"`
	Model string `json:"model,omitempty"`
	VIN   string `json:"vin,omitempty"`
}

type leadNote struct {
	LeadID any    `json:"leadId"`
	Notes  string `json:"notes"`
}

// yearNumber sends a numeric year as a number, anything else as given.
func yearNumber(y string) any {
	if n, err := strconv.Atoi(y); err == nil {
		return n
	}
	if y == "" {
		return nil
	}
	return y
}

// leadNumber sends a numeric lead id as a number (as VinSolutions returns it).
func leadNumber(id string) any {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return n
	}
	return id
}

// ParseID reads an id from a JSON object's field: a number, a string, or an href whose last
// path segment is the id. "" when absent.
func ParseID(body []byte, field string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	raw, ok := m[field]
	if !ok {
		for k, v := range m { // field names are matched case-insensitively, as .NET APIs do
			if strings.EqualFold(k, field) {
				raw, ok = v, true
				break
			}
		}
	}
	if !ok {
		return ""
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		if len(n) > 128 {
			return ""
		}
		return n.String()
	}
	var str string
	if json.Unmarshal(raw, &str) != nil {
		return ""
	}
	if u, err := url.Parse(str); err == nil && strings.Contains(str, "/") {
		segments := strings.Split(strings.TrimRight(u.Path, "/"), "/")
		str = segments[len(segments)-1]
	}
	if len(str) > 128 {
		return ""
	}
	return str
}

func noID(resp *connector.Response, step, field string) *connector.AttemptError {
	return &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
		Message: step + ": the answer holds no " + field, Snippet: connector.Snippet(resp.Body)}
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
