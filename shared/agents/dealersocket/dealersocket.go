// Package dealersocket pushes DealerAI leads, their lifecycle and their appointments into the
// DealerSocket CRM. DealerSocket publishes no API documentation; every call follows published
// integrations, and the parts they disagree on are settings (docs/agents.md#dealersocket).
//
// Leads go as ADF 1.0 XML to the OEM lead endpoint, POST <baseUrl>/DSOEMLead/US/DCP/ADF/1/
// SalesLead/<directLeadKey>, authenticated with "Authorization: <username>:<password>" (raw,
// not Basic). DealerSocket answers a LeadResponse: the new sales event's DSLeadId and its
// customer's DSCustomerId; or, for a lead it has already, DSExistingLeadId (with DSLeadId
// "0", as Success=true or as ErrorCode DUPLICATE_LEAD). Both ids are kept, as "leadId" (the
// sales event's EventId) and "customerId" (the customer's EntityId).
//
// Everything else goes through DealerSocket's signed APIs under apiUrl, XML signed with
// "Authentication: <publicKey>:<base64 HMAC-SHA256(secretKey, body)>": appointments are
// activities (POST /Activity to insert, PUT /Activity to update), a disposition sets the
// sales event's status (POST /eventsales, STAR ProcessSalesLead) and adds a work note
// (POST /WorkNote), a contact update rewrites the customer (PUT /Customer, STAR
// ProcessCustomerInformation UC, after reading it with POST /SearchEntity), a vehicle of
// interest goes on the sales event (POST /eventsales). Every one of them needs both ids; a
// customer DealerSocket did not name (a duplicate's DSCustomerId "0") is found with
// SearchEntity and confirmed with the event search (POST <eventSearchUrl>, signed JSON).
package dealersocket

import (
	"context"
	"encoding/xml"
	"maps"
	"net/http"
	"net/url"
	"strings"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/adf"
	"github.com/dealerai/integrations/shared/agents/connector"
)

// LeadPath is the OEM lead endpoint, relative to baseUrl; the direct lead key follows it.
const LeadPath = "/DSOEMLead/US/DCP/ADF/1/SalesLead/"

// DuplicateLead is the ErrorCode of a lead DealerSocket already has.
const DuplicateLead = "DUPLICATE_LEAD"

// Connector is the DealerSocket connector.
type Connector struct{}

var _ connector.Connector = (*Connector)(nil)

// New returns the connector.
func New() *Connector { return &Connector{} }

// Deliver implements connector.Connector.
func (c *Connector) Deliver(ctx context.Context, d *connector.Delivery) (connector.Result, error) {
	s := &session{d: d, progress: map[string]string{}}
	maps.Copy(s.progress, d.Progress)
	var res connector.Result
	var err error
	switch t := d.Event.Type; {
	case t == events.TypeLeadCreated:
		res, err = s.pushLead(ctx, func() (*events.LeadCreated, error) { return connector.Lead(d.Event) })
	case t == events.TypeLeadReceived:
		res, err = s.pushLead(ctx, func() (*events.LeadCreated, error) {
			l, err := connector.LeadReceived(d.Event)
			if err != nil {
				return nil, err
			}
			return &events.LeadCreated{Base: l.Base, LeadFields: l.LeadFields}, nil
		})
	case t == events.TypeLeadDispositionUpdated:
		res, err = s.disposition(ctx)
	case t == events.TypeContactBasicUpdated:
		res, err = s.contactUpdate(ctx)
	case t == events.TypeContactVehicleOfInterestUpdated:
		res, err = s.vehicleOfInterest(ctx)
	case connector.IsAppointment(t):
		res, err = s.appointment(ctx)
	default:
		return connector.Skip("DealerSocket does not take " + t), nil
	}
	if err != nil {
		return connector.Result{}, connector.WithProgress(err, s.progress)
	}
	if !res.Skipped {
		res.Progress = s.progress
		res.StatusCode = s.status
		if connector.KindOf(d.Event.Type) != connector.KindLead && s.leadChanged() {
			res.LeadCorrelation = s.leadIDs()
		}
	}
	return res, nil
}

// session is one attempt of one delivery.
type session struct {
	d        *connector.Delivery
	progress map[string]string
	status   int
}

// leadIDKeys are the ids kept for a DealerAI lead: its DealerSocket lead (the sales event's
// EventId, DSLeadId) and that lead's customer (EntityId, DSCustomerId).
var leadIDKeys = []string{"leadId", "customerId"}

// leadChanged reports whether this delivery (any of its attempts) created the DealerAI
// lead's DealerSocket lead or found one of its ids: they are saved for the DealerAI lead
// (Result.LeadCorrelation).
func (s *session) leadChanged() bool {
	for _, k := range leadIDKeys {
		if v := s.progress[k]; v != "" && v != s.d.Lead[k] {
			return true
		}
	}
	return false
}

// ---- leads ----

func (s *session) pushLead(ctx context.Context, decode func() (*events.LeadCreated, error)) (connector.Result, error) {
	l, err := decode()
	if err != nil {
		return connector.Result{}, err
	}
	if id := s.d.Known["leadId"]; id != "" && s.progress["leadId"] == "" {
		return connector.Skip("the lead is already in DealerSocket (lead " + id + ")"), nil
	}
	if s.progress["leadId"] == "" {
		if err := s.sendLead(ctx, adf.FromLead(l, s.adfOptions())); err != nil {
			return connector.Result{}, err
		}
	}
	return connector.Result{Correlation: s.leadIDs(), Summary: s.leadSummary()}, nil
}

// ensureLead returns the DealerSocket lead of the event's DealerAI lead, sending it as an
// ADF lead (built by doc) when DealerSocket does not have it yet.
func (s *session) ensureLead(ctx context.Context, doc func() *adf.Document) (string, error) {
	if id := s.leadID(); id != "" {
		return id, nil
	}
	if err := s.sendLead(ctx, doc()); err != nil {
		return "", err
	}
	return s.progress["leadId"], nil
}

// leadID is the DealerSocket lead (sales event) of the event's DealerAI lead: saved, or
// obtained by this delivery.
func (s *session) leadID() string { return firstOf(s.progress["leadId"], s.d.Lead["leadId"]) }

// leadIDs are the DealerSocket ids of the event's DealerAI lead, as saved for it.
func (s *session) leadIDs() map[string]string {
	ids := maps.Clone(s.d.Lead)
	if ids == nil {
		ids = map[string]string{}
	}
	for _, k := range leadIDKeys {
		if v := s.progress[k]; v != "" {
			ids[k] = v
		}
	}
	return ids
}

func (s *session) adfOptions() adf.Options {
	return adf.Options{
		VendorName: s.d.Settings["vendorName"],
		VendorIDs:  []adf.ID{{Source: "DealerSocket", Value: s.d.Settings["dealerNumberId"]}},
	}
}

func (s *session) leadSummary() string {
	if dup := s.progress["duplicateOf"]; dup != "" {
		return "DealerSocket already had this lead (" + dup + "): resolved to it"
	}
	return "DealerSocket lead " + s.progress["leadId"]
}

// sendLead posts an ADF document and records the ids DealerSocket answers: the lead
// (DSLeadId, or DSExistingLeadId for a duplicate; never "0") and its customer (DSCustomerId,
// when not "0").
func (s *session) sendLead(ctx context.Context, doc *adf.Document) error {
	const step = "DealerSocket lead"
	body, err := doc.Marshal()
	if err != nil {
		return err
	}
	// The direct lead key is a credential: it is in the URL, so errors never show the URL.
	target := strings.TrimRight(s.d.Settings["baseUrl"], "/") + LeadPath + url.PathEscape(s.d.Credentials["directLeadKey"])
	req, err := connector.NewRequest(ctx, http.MethodPost, target, "application/xml", body, step)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/xml")
	req.Header.Set("Authorization", s.d.Credentials["username"]+":"+s.d.Credentials["password"])
	resp, err := connector.Send(s.d.HTTP, req, step)
	if err != nil {
		return err
	}
	s.status = resp.StatusCode
	r, ok := ParseLeadResponse(resp.Body)
	duplicate := r.DSExistingLeadID != "" && r.DSLeadID == "" && (r.Success || r.ErrorCode == DuplicateLead)
	switch {
	case !ok && !resp.OK():
		return connector.StatusError(resp, step)
	case !ok:
		return platformError(resp, step+": the answer is not a LeadResponse")
	case r.Success && r.DSLeadID != "":
		s.progress["leadId"] = r.DSLeadID
	case duplicate:
		s.progress["leadId"] = r.DSExistingLeadID
		s.progress["duplicateOf"] = r.DSExistingLeadID
	case r.Success || r.ErrorCode == DuplicateLead:
		return platformError(resp, step+": the answer names no lead (DSLeadId and DSExistingLeadId are 0)")
	default:
		return refused(resp, step, r.ErrorCode, r.ErrorMessage)
	}
	if r.DSCustomerID != "" {
		s.progress["customerId"] = r.DSCustomerID
	}
	return nil
}

// LeadResponse is DealerSocket's answer to a lead. Ids DealerSocket answers as "0" are "".
type LeadResponse struct {
	Success          bool
	DSLeadID         string
	DSExistingLeadID string
	DSCustomerID     string
	ErrorCode        string
	ErrorMessage     string
}

// ParseLeadResponse reads a <LeadResponse> document; ok is false for anything else.
func ParseLeadResponse(body []byte) (r LeadResponse, ok bool) {
	var raw struct {
		XMLName          xml.Name `xml:"LeadResponse"`
		Success          string   `xml:"Success"`
		DSLeadID         string   `xml:"DSLeadId"`
		DSExistingLeadID string   `xml:"DSExistingLeadId"`
		DSCustomerID     string   `xml:"DSCustomerId"`
		ErrorCode        string   `xml:"ErrorCode"`
		ErrorMessage     string   `xml:"ErrorMessage"`
	}
	if xml.Unmarshal(body, &raw) != nil {
		return LeadResponse{}, false
	}
	return LeadResponse{
		Success:          isTrue(raw.Success),
		DSLeadID:         id(raw.DSLeadID),
		DSExistingLeadID: id(raw.DSExistingLeadID),
		DSCustomerID:     id(raw.DSCustomerID),
		ErrorCode:        clean(raw.ErrorCode, 64),
		ErrorMessage:     clean(raw.ErrorMessage, 200),
	}, true
}

// ---- the customer of a lead ----

// MaxCandidates bounds the customers a search may check for the one holding a lead.
const MaxCandidates = 5

// ensureCustomer returns the customer (EntityId) of the DealerSocket lead eventID: saved,
// answered with the lead, or found: the customers SearchEntity finds by the event's email
// (else its phone), the first whose sales events include the lead.
func (s *session) ensureCustomer(ctx context.Context, eventID, email, phone string) (string, error) {
	if id := firstOf(s.progress["customerId"], s.d.Lead["customerId"]); id != "" {
		return id, nil
	}
	checked := map[string]bool{}
	for _, by := range []*starPerson{emailSearch(email), phoneSearch(phone)} {
		if by == nil {
			continue
		}
		found, err := s.searchCustomers(ctx, "", by)
		if err != nil {
			return "", err
		}
		for _, c := range found {
			if checked[c.EntityID] || len(checked) == MaxCandidates {
				continue
			}
			checked[c.EntityID] = true
			ok, err := s.holdsEvent(ctx, c.EntityID, eventID)
			if err != nil {
				return "", err
			}
			if ok {
				s.progress["customerId"] = c.EntityID
				return c.EntityID, nil
			}
		}
	}
	return "", &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: s.status,
		Message: "DealerSocket customer search: no customer found by the event's email or phone holds DealerSocket lead " + eventID}
}

func emailSearch(email string) *starPerson {
	if email = strings.TrimSpace(email); email == "" {
		return nil
	}
	return &starPerson{Emails: []starEmailAddr{{URIID: email, ChannelCode: "Email Address"}}}
}

func phoneSearch(phone string) *starPerson {
	if d := PhoneDigits(phone); d != "" {
		return &starPerson{Phones: []starPhone{{CompleteNumber: d}}}
	}
	return nil
}

// searchCustomers is POST /SearchEntity: the customer partyID, or those matching person.
func (s *session) searchCustomers(ctx context.Context, partyID string, person *starPerson) ([]Customer, error) {
	const step = "DealerSocket customer search"
	doc := &getCustomerInformation{ApplicationArea: s.applicationArea()}
	doc.Party.PartyID, doc.Party.Person = partyID, person
	body, err := marshalXML(doc)
	if err != nil {
		return nil, err
	}
	resp, err := s.call(ctx, http.MethodPost, s.apiURL(PathSearchEntity), "application/xml", body, step)
	if err != nil {
		return nil, err
	}
	if r, ok := ParseResult(resp.Body); ok && !r.Success {
		return nil, refused(resp, step, r.ErrorCode, r.ErrorMessage)
	}
	if !resp.OK() {
		return nil, connector.StatusError(resp, step)
	}
	found, ok := ParseCustomers(resp.Body)
	if !ok {
		return nil, platformError(resp, step+": the answer is not a ShowCustomerInformation")
	}
	return found, nil
}

// holdsEvent reports whether the customer entityID's sales events include eventID.
func (s *session) holdsEvent(ctx context.Context, entityID, eventID string) (bool, error) {
	if !digitsOnly(entityID) {
		return false, nil // the event search takes numeric entity ids only
	}
	found, resp, err := searchEvents(ctx, s.d.HTTP, s.d.Settings, s.d.Credentials, entityID)
	if resp != nil {
		s.status = resp.StatusCode
	}
	if err != nil {
		return false, err
	}
	if found.Refused() {
		return false, refused(resp, stepEventSearch, found.ErrorCode, found.ErrorMessage)
	}
	return found.Event(eventID) != nil, nil
}
