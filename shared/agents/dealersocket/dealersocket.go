// Package dealersocket pushes DealerAI leads and appointments into the DealerSocket CRM.
//
// Leads go as ADF 1.0 XML to the OEM lead endpoint, POST <baseUrl>/DSOEMLead/US/DCP/ADF/1/
// SalesLead/<directLeadKey>, authenticated with "Authorization: <username>:<password>" (raw,
// not Basic). DealerSocket answers a LeadResponse: Success and DSLeadId, or an ErrorCode and
// ErrorMessage; DUPLICATE_LEAD means DealerSocket has the lead already (DSExistingLeadId) and
// counts as delivered.
//
// Appointments become activities on the DealerSocket lead, POST <activityUrl>, signed with
// "Authentication: <publicKey>:<base64 HMAC-SHA256(secretKey, body)>". An appointment whose
// lead DealerSocket does not have yet is first sent as an ADF lead (DealerSocket's duplicate
// detection makes that safe when the lead's own delivery arrives later).
package dealersocket

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

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

// New returns the connector.
func New() *Connector { return &Connector{} }

// Deliver implements connector.Connector.
func (c *Connector) Deliver(ctx context.Context, d *connector.Delivery) (connector.Result, error) {
	s := &session{d: d, progress: map[string]string{}}
	maps.Copy(s.progress, d.Progress)
	var res connector.Result
	var err error
	switch {
	case d.Event.Type == events.TypeLeadCreated:
		res, err = s.pushLead(ctx)
	case connector.IsAppointment(d.Event.Type):
		res, err = s.recordAppointment(ctx)
	default:
		return connector.Skip("DealerSocket does not take " + d.Event.Type), nil
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

type session struct {
	d        *connector.Delivery
	progress map[string]string
	status   int
}

func (s *session) pushLead(ctx context.Context) (connector.Result, error) {
	l, err := connector.Lead(s.d.Event)
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
	return connector.Result{
		Correlation: map[string]string{"leadId": s.progress["leadId"]},
		Summary:     s.leadSummary(),
	}, nil
}

func (s *session) recordAppointment(ctx context.Context) (connector.Result, error) {
	a, err := connector.Appointment(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	if s.d.Credentials["publicKey"] == "" || s.d.Credentials["secretKey"] == "" {
		return connector.Skip("DealerSocket appointments need the activity API keys (credentials publicKey and secretKey)"), nil
	}
	leadID := firstOf(s.d.Lead["leadId"], s.d.Known["leadId"])
	var leadCorrelation map[string]string
	if leadID == "" {
		if s.progress["leadId"] == "" {
			if err := s.sendLead(ctx, adf.FromAppointment(s.d.Event.Type, a, s.adfOptions())); err != nil {
				return connector.Result{}, err
			}
		}
		leadID = s.progress["leadId"]
		leadCorrelation = map[string]string{"leadId": leadID}
	}
	if s.progress["activity"] == "" {
		status := s.d.Settings["activityStatus"]
		if s.d.Event.Type == events.TypeAppointmentCancelled {
			status = s.d.Settings["cancelledActivityStatus"]
		}
		body := activity{
			DealerNumberID: s.d.Settings["dealerNumberId"],
			LeadID:         leadID,
			ActivityType:   s.d.Settings["activityType"],
			ActivityStatus: status,
			Notes:          connector.DescribeAppointment(s.d.Event.Type, a),
			ExternalID:     a.AppointmentID,
		}
		if !a.AppointmentTime.IsZero() {
			body.DueDate = a.AppointmentTime.UTC().Format(time.RFC3339)
		}
		id, err := s.sendActivity(ctx, body)
		if err != nil {
			return connector.Result{}, err
		}
		s.progress["activity"] = firstOf(id, "added")
	}
	ids := map[string]string{"leadId": leadID}
	if id := s.progress["activity"]; id != "added" {
		ids["activityId"] = id
	}
	summary := "appointment " + connector.Verb(s.d.Event.Type) + " added as an activity to DealerSocket lead " + leadID
	if leadCorrelation != nil {
		summary = s.leadSummary() + "; " + summary
	}
	return connector.Result{Correlation: ids, LeadCorrelation: leadCorrelation, Summary: summary}, nil
}

func (s *session) adfOptions() adf.Options {
	return adf.Options{
		VendorName: s.d.Settings["vendorName"],
		VendorIDs:  []adf.ID{{Source: "DealerSocket", Value: s.d.Settings["dealerNumberId"]}},
	}
}

func (s *session) leadSummary() string {
	if dup := s.progress["duplicateOf"]; dup != "" {
		return "DealerSocket already had this lead (" + dup + "): counted as delivered"
	}
	return "DealerSocket lead " + s.progress["leadId"]
}

// sendLead posts an ADF document and records the lead id DealerSocket answers.
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
	switch {
	case !ok && !resp.OK():
		return connector.StatusError(resp, step)
	case !ok:
		return &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
			Message: step + ": the answer is not a LeadResponse", Snippet: connector.Snippet(resp.Body)}
	case r.Success && r.DSLeadID != "":
		s.progress["leadId"] = r.DSLeadID
		return nil
	case r.ErrorCode == DuplicateLead && r.DSExistingLeadID != "":
		s.progress["leadId"] = r.DSExistingLeadID
		s.progress["duplicateOf"] = r.DSExistingLeadID
		return nil
	case r.Success:
		return &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
			Message: step + ": the answer holds no DSLeadId", Snippet: connector.Snippet(resp.Body)}
	}
	e := &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
		Message: step + ": DealerSocket refused the lead", Snippet: connector.Snippet(resp.Body)}
	if r.ErrorCode != "" {
		e.Message += " (" + r.ErrorCode + ")"
	}
	if r.ErrorMessage != "" {
		e.Message += ": " + r.ErrorMessage
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		e.Class = connector.ClassAuth
	}
	return e
}

// activity is the activity insert's body (field names ours: the API is not published).
type activity struct {
	DealerNumberID string `json:"DealerNumberId"`
	LeadID         string `json:"LeadId"`
	ActivityType   string `json:"ActivityType"`
	ActivityStatus string `json:"ActivityStatus"`
	DueDate        string `json:"DueDate,omitempty"`
	Notes          string `json:"Notes"`
	ExternalID     string `json:"ExternalId,omitempty"`
}

func (s *session) sendActivity(ctx context.Context, a activity) (string, error) {
	const step = "DealerSocket activity"
	body, err := json.Marshal(a)
	if err != nil {
		return "", err
	}
	req, err := connector.NewRequest(ctx, http.MethodPost, s.d.Settings["activityUrl"], "application/json", body, step)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authentication", Sign(s.d.Credentials["publicKey"], s.d.Credentials["secretKey"], body))
	resp, err := connector.Send(s.d.HTTP, req, step)
	if err != nil {
		return "", err
	}
	s.status = resp.StatusCode
	if !resp.OK() {
		return "", connector.StatusError(resp, step)
	}
	return ParseActivityID(resp.Body), nil
}

// Sign is the Authentication header of an activity request: the public key and the base64
// HMAC-SHA256 of the body under the secret key.
func Sign(publicKey, secretKey string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write(body)
	return publicKey + ":" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// LeadResponse is DealerSocket's answer to a lead.
type LeadResponse struct {
	Success          bool
	DSLeadID         string
	DSExistingLeadID string
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
		ErrorCode        string   `xml:"ErrorCode"`
		ErrorMessage     string   `xml:"ErrorMessage"`
	}
	if xml.Unmarshal(body, &raw) != nil {
		return LeadResponse{}, false
	}
	return LeadResponse{
		Success:          strings.EqualFold(strings.TrimSpace(raw.Success), "true"),
		DSLeadID:         clean(raw.DSLeadID, 64),
		DSExistingLeadID: clean(raw.DSExistingLeadID, 64),
		ErrorCode:        clean(raw.ErrorCode, 64),
		ErrorMessage:     clean(raw.ErrorMessage, 200),
	}, true
}

// ParseActivityID reads ActivityId (a string or a number) from a JSON answer; "" when absent.
func ParseActivityID(body []byte) string {
	var r struct {
		ActivityID json.RawMessage `json:"ActivityId"`
	}
	if json.Unmarshal(body, &r) != nil || len(r.ActivityID) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(r.ActivityID, &s) == nil {
		return clean(s, 64)
	}
	var n json.Number
	if json.Unmarshal(r.ActivityID, &n) == nil {
		return clean(n.String(), 64)
	}
	return ""
}

// clean trims a value from the platform and bounds its length.
func clean(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "..."
	}
	return s
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
