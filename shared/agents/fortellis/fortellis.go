// Package fortellis pushes DealerAI leads and appointments through CDK's Fortellis
// marketplace: leads into the Elead CRM, service appointments into the service appointments
// API.
//
// Tokens come from the Fortellis identity server (client credentials with HTTP Basic
// apiKey:apiSecret, scope anonymous); every call carries the token, the dealer's
// Subscription-Id and a fresh Request-Id. A lead is an Elead customer, then an opportunity
// with the vehicle sought, then (when the lead has comments) a comment; a retry resumes from
// the step that failed. Sales, test-drive, trade-in and lease-return appointments are
// scheduled activities on the lead's opportunity (pending_dependency while the opportunity
// does not exist); service appointments are booked. Gateway errors arrive as {"code": ...}:
// TOKEN-EXPIRED refreshes the token once within the attempt, SUBSCRIPTION-MISMATCH and
// QUOTA-EXCEEDED become auth and rate-limit errors.
package fortellis

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
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

// Paths, relative to baseUrl.
const (
	CustomersPath           = "/sales/v1/elead/customers"
	OpportunitiesPath       = "/sales/v2/elead/opportunities"
	OpportunityCommentPath  = "/sales/v1/elead/opportunities/{opportunityId}/comments"
	ScheduleActivityPath    = "/sales/v1/elead/activities/schedule"
	ServiceAppointmentsPath = "/service/v3/appointments"
	// Scope of the token.
	Scope = "anonymous"
)

// Gateway error codes.
const (
	TokenExpired         = "TOKEN-EXPIRED"
	SubscriptionMismatch = "SUBSCRIPTION-MISMATCH"
	QuotaExceeded        = "QUOTA-EXCEEDED"
)

// Connector is the Fortellis connector.
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
		progress: map[string]string{},
		grant: oauth.Grant{
			Platform:     "Fortellis",
			TokenURL:     d.Settings["tokenUrl"],
			ClientID:     d.Credentials["apiKey"],
			ClientSecret: d.Credentials["apiSecret"],
			Scope:        Scope,
			BasicAuth:    true,
		},
	}
	maps.Copy(s.progress, d.Progress)
	var res connector.Result
	var err error
	switch {
	case d.Event.Type == events.TypeLeadCreated:
		res, err = s.pushLead(ctx)
	case connector.IsAppointment(d.Event.Type):
		res, err = s.appointment(ctx)
	default:
		return connector.Skip("Fortellis does not take " + d.Event.Type), nil
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
	tokens   *oauth.Cache
	d        *connector.Delivery
	grant    oauth.Grant
	progress map[string]string
	status   int
}

func (s *session) pushLead(ctx context.Context) (connector.Result, error) {
	l, err := connector.Lead(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	if id := s.d.Known["opportunityId"]; id != "" && s.progress["opportunityId"] == "" {
		return connector.Skip("the lead is already an Elead opportunity (" + id + ")"), nil
	}
	if s.progress["customerId"] == "" {
		c := customer{FirstName: l.FirstName, LastName: l.LastName}
		if l.Email != "" {
			c.Emails = []customerEmail{{Address: l.Email, EmailType: "Personal", IsPreferred: true}}
		}
		if l.Phone != "" {
			c.Phones = []customerPhone{{Number: l.Phone, PhoneType: "Cellular", IsPreferred: true}}
		}
		id, err := s.create(ctx, CustomersPath, c, "Fortellis customer")
		if err != nil {
			return connector.Result{}, err
		}
		s.progress["customerId"] = id
	}
	if s.progress["opportunityId"] == "" {
		o := opportunity{
			CustomerID: s.progress["customerId"],
			DateIn:     l.Timestamp.UTC().Format(time.RFC3339),
			Source:     s.d.Settings["leadSource"],
			SubSource:  l.Source,
			UpType:     s.d.Settings["upType"],
			SoughtVehicles: []soughtVehicle{{
				IsPrimary: true, YearFrom: year(l.VehicleYear), YearTo: year(l.VehicleYear),
				Make: l.VehicleMake, Model: l.VehicleModel, VIN: l.VehicleVIN,
			}},
		}
		id, err := s.create(ctx, OpportunitiesPath, o, "Fortellis opportunity")
		if err != nil {
			return connector.Result{}, err
		}
		s.progress["opportunityId"] = id
	}
	summary := "Elead customer " + s.progress["customerId"] + ", opportunity " + s.progress["opportunityId"]
	if l.Comments != "" && s.progress["comment"] == "" {
		if err := s.comment(ctx, "DealerAI lead comments: "+l.Comments); err != nil {
			return connector.Result{}, err
		}
		summary += ", comment"
	}
	return connector.Result{
		Correlation: map[string]string{"customerId": s.progress["customerId"], "opportunityId": s.progress["opportunityId"]},
		Summary:     summary,
	}, nil
}

func (s *session) appointment(ctx context.Context) (connector.Result, error) {
	a, err := connector.Appointment(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	if a.AppointmentType == events.AppointmentService {
		return s.serviceAppointment(ctx, a)
	}
	oppID := firstOf(s.d.Lead["opportunityId"], s.d.Known["opportunityId"])
	if oppID == "" {
		return connector.Result{}, connector.PendingDependency("Elead has no opportunity for DealerAI lead/contact " +
			firstOf(a.LeadID, a.ContactID) + " yet: the appointment waits for the lead's delivery")
	}
	s.progress["opportunityId"] = oppID
	note := connector.DescribeAppointment(s.d.Event.Type, a)
	if s.d.Event.Type == events.TypeAppointmentCancelled {
		if s.progress["comment"] == "" {
			if err := s.comment(ctx, note); err != nil {
				return connector.Result{}, err
			}
		}
		return connector.Result{
			Correlation: map[string]string{"opportunityId": oppID, "status": "cancelled"},
			Summary:     "appointment cancellation noted on Elead opportunity " + oppID,
		}, nil
	}
	if s.progress["activityId"] == "" {
		act := scheduledActivity{OpportunityID: oppID, Comments: note}
		if v := s.d.Settings["activityTypeId"]; v != "" {
			act.ActivityTypeID = numberOrString(v)
		}
		if !a.AppointmentTime.IsZero() {
			act.DueDate = a.AppointmentTime.UTC().Format(time.RFC3339)
		}
		id, err := s.create(ctx, ScheduleActivityPath, act, "Fortellis scheduled activity")
		if err != nil {
			return connector.Result{}, err
		}
		s.progress["activityId"] = id
	}
	return connector.Result{
		Correlation: map[string]string{"opportunityId": oppID, "activityId": s.progress["activityId"]},
		Summary:     "Elead activity " + s.progress["activityId"] + " scheduled on opportunity " + oppID,
	}, nil
}

// serviceAppointment books a service appointment. Changing or cancelling one has no
// published API: those events are skipped, except a reschedule of an appointment never
// booked, which books it.
func (s *session) serviceAppointment(ctx context.Context, a *events.AppointmentCreated) (connector.Result, error) {
	known := s.d.Known["appointmentId"]
	switch {
	case s.d.Event.Type == events.TypeAppointmentCancelled:
		return connector.Skip("Fortellis service appointments cannot be cancelled through a published API"), nil
	case known != "" && s.progress["appointmentId"] == "":
		return connector.Skip("Fortellis service appointment " + known + " exists; it cannot be changed through a published API"), nil
	}
	if s.progress["appointmentId"] == "" {
		if a.AppointmentTime.IsZero() {
			return connector.Result{}, &connector.AttemptError{Class: connector.ClassInternal, Message: "the event has no appointmentTime to book", Permanent: true}
		}
		first, last := connector.SplitName(a.Name)
		body := serviceAppointment{
			AppointmentDateTime: a.AppointmentTime.UTC().Format(time.RFC3339),
			Customer:            serviceCustomer{FirstName: first, LastName: last, Email: a.Email, Phone: a.Phone},
			Vehicle:             serviceVehicle{VIN: a.VehicleVIN, Year: year(a.VehicleYear), Make: a.VehicleMake, Model: a.VehicleModel},
			Comments:            connector.DescribeAppointment(s.d.Event.Type, a),
		}
		if a.ServiceType != "" {
			body.Services = []serviceRequest{{Description: a.ServiceType}}
		}
		id, err := s.create(ctx, ServiceAppointmentsPath, body, "Fortellis service appointment")
		if err != nil {
			return connector.Result{}, err
		}
		s.progress["appointmentId"] = id
	}
	return connector.Result{
		Correlation: map[string]string{"appointmentId": s.progress["appointmentId"]},
		Summary:     "Fortellis service appointment " + s.progress["appointmentId"] + " booked",
	}, nil
}

func (s *session) comment(ctx context.Context, text string) error {
	path := strings.ReplaceAll(OpportunityCommentPath, "{opportunityId}", url.PathEscape(s.progress["opportunityId"]))
	if _, err := s.call(ctx, path, map[string]string{"comment": text}, "Fortellis opportunity comment"); err != nil {
		return err
	}
	s.progress["comment"] = "added"
	return nil
}

// create POSTs body and returns the id of what was created.
func (s *session) create(ctx context.Context, path string, body any, step string) (string, error) {
	resp, err := s.call(ctx, path, body, step)
	if err != nil {
		return "", err
	}
	id := ParseID(resp.Body)
	if id == "" {
		return "", &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
			Message: step + ": the answer holds no id", Snippet: connector.Snippet(resp.Body)}
	}
	return id, nil
}

// call POSTs a JSON body with the token, the Subscription-Id and a new Request-Id. A token
// the gateway refuses (TOKEN-EXPIRED) is refreshed once; other gateway errors are mapped.
func (s *session) call(ctx context.Context, path string, body any, step string) (*connector.Response, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	target := strings.TrimRight(s.d.Settings["baseUrl"], "/") + path
	resp, err := s.tokens.Send(ctx, s.d.HTTP, s.grant, step, func(token string) (*http.Request, error) {
		req, err := connector.NewRequest(ctx, http.MethodPost, target, "application/json", payload, step)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Subscription-Id", s.d.Settings["subscriptionId"])
		req.Header.Set("Request-Id", NewRequestID())
		return req, nil
	}, tokenRefused)
	if err != nil {
		return nil, err
	}
	s.status = resp.StatusCode
	if resp.OK() {
		return resp, nil
	}
	e := connector.StatusError(resp, step)
	g := ParseGatewayError(resp.Body)
	switch g.Code {
	case "":
	case SubscriptionMismatch:
		e.Class = connector.ClassAuth
		e.Message = step + ": the subscriptionId setting is not a subscription of this Fortellis solution (" + g.Code + ")"
	case QuotaExceeded:
		e.Message = step + ": Fortellis quota exceeded (" + g.Code + ")"
		if e.RetryAfter == 0 {
			e.RetryAfter = connector.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	case TokenExpired:
		e.Class = connector.ClassAuth
		e.Message = step + ": Fortellis refused a freshly issued token (" + g.Code + ")"
	default:
		e.Message += " (" + g.Code + ")"
		if g.Message != "" {
			e.Message += ": " + g.Message
		}
	}
	return nil, e
}

// tokenRefused: the gateway answers 401 (TOKEN-EXPIRED, or another 401) to a token it no
// longer takes.
func tokenRefused(resp *connector.Response) bool { return resp.StatusCode == http.StatusUnauthorized }

// NewRequestID is a random (version 4) UUID.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// GatewayError is the body of a Fortellis gateway error.
type GatewayError struct {
	Code    string
	Message string
}

// ParseGatewayError reads {"code": ..., "message": ...}; zero when the body is not one.
func ParseGatewayError(body []byte) GatewayError {
	var raw struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return GatewayError{}
	}
	var g GatewayError
	switch c := raw.Code.(type) {
	case string:
		g.Code = truncate(c, 64)
	case float64:
		g.Code = strconv.FormatFloat(c, 'f', -1, 64)
	}
	g.Message = truncate(raw.Message, 200)
	return g
}

// ParseID reads the id of a created resource: "id", else "customerId", "opportunityId",
// "activityId" or "appointmentId" (a string or a number); "" when none.
func ParseID(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	for _, k := range []string{"id", "customerId", "opportunityId", "activityId", "appointmentId"} {
		raw, ok := m[k]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			return truncate(s, 128)
		}
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return truncate(n.String(), 128)
		}
	}
	return ""
}

// Request bodies (Elead and service appointment field names).

type customer struct {
	FirstName string          `json:"firstName,omitempty"`
	LastName  string          `json:"lastName,omitempty"`
	Emails    []customerEmail `json:"emails,omitempty"`
	Phones    []customerPhone `json:"phones,omitempty"`
}

type customerEmail struct {
	Address     string `json:"address"`
	EmailType   string `json:"emailType"`
	IsPreferred bool   `json:"isPreferred"`
}

type customerPhone struct {
	Number      string `json:"number"`
	PhoneType   string `json:"phoneType"`
	IsPreferred bool   `json:"isPreferred"`
}

type opportunity struct {
	CustomerID     string          `json:"customerId"`
	DateIn         string          `json:"dateIn"`
	Source         string          `json:"source"`
	SubSource      string          `json:"subSource,omitempty"`
	UpType         string          `json:"upType"`
	SoughtVehicles []soughtVehicle `json:"soughtVehicles"`
}

type soughtVehicle struct {
	IsPrimary bool   `json:"isPrimary"`
	YearFrom  any    `json:"yearFrom,omitempty"`
	YearTo    any    `json:"yearTo,omitempty"`
	Make      string `json:"make,omitempty"`
	Model     string `json:"model,omitempty"`
	VIN       string `json:"vin,omitempty"`
}

type scheduledActivity struct {
	OpportunityID  string `json:"opportunityId"`
	ActivityTypeID any    `json:"activityTypeId,omitempty"`
	DueDate        string `json:"dueDate,omitempty"`
	Comments       string `json:"comments"`
}

type serviceAppointment struct {
	AppointmentDateTime string           `json:"appointmentDateTime"`
	Customer            serviceCustomer  `json:"customer"`
	Vehicle             serviceVehicle   `json:"vehicle"`
	Services            []serviceRequest `json:"services,omitempty"`
	Comments            string           `json:"comments,omitempty"`
}

type serviceCustomer struct {
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone,omitempty"`
}

type serviceVehicle struct {
	VIN   string `json:"vin,omitempty"`
	Year  any    `json:"year,omitempty"`
	Make  string `json:"make,omitempty"`
	Model string `json:"model,omitempty"`
}

type serviceRequest struct {
	Description string `json:"description"`
}

// year is a numeric year as a number; nil (omitted) otherwise.
func year(y string) any {
	if n, err := strconv.Atoi(strings.TrimSpace(y)); err == nil && n > 0 {
		return n
	}
	return nil
}

func numberOrString(v string) any {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	return v
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
