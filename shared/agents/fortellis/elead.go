package fortellis

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The Elead CRM's sales APIs on Fortellis: customers, opportunities, activities and the
// company's reference data. Paths are relative to baseUrl.
const (
	CustomersPath              = "/sales/v1/elead/customers"
	CustomerSearchPath         = CustomersPath + "/search"
	OpportunitiesPath          = "/sales/v2/elead/opportunities"
	OpportunitiesOfCustomer    = OpportunitiesPath + "/search-by-customerId/"
	SearchDeltaPath            = OpportunitiesPath + "/searchDelta"
	OpportunityCommentPath     = OpportunitiesPath + "/comment"
	VehicleSoughtPath          = OpportunitiesPath + "/vehicleSought"
	TradeInPath                = OpportunitiesPath + "/tradein"
	ActivitiesPath             = "/sales/v1/elead/activities"
	ActivityTypesPath          = ActivitiesPath + "/types"
	ScheduleActivityPath       = ActivitiesPath + "/schedule"
	ActivitiesOfOpportunity    = ActivitiesPath + "/history/byOpportunityId/"
	OpportunityStatusesPath    = "/sales/v1/elead/productreferencedata/companyOpportunityStatuses"
	subStatusUpdateSuffix      = "/subStatus/update"
	setInactiveSuffix          = "/set-inactive"
	MaxCommentLength           = 1500 // runes, of comment and of an opportunity's comments
	customerSearchPageSize     = 25
	opportunitySearchPageSize  = 50
	eleadActiveStatus          = "Active"
	inactiveDispositionsPrefix = "inactive:"
)

// SubStatusPath is the path of an opportunity's sub-status update.
func SubStatusPath(opportunityID string) string {
	return OpportunitiesPath + "/" + url.PathEscape(opportunityID) + subStatusUpdateSuffix
}

// SetInactivePath is the path that sets an opportunity inactive.
func SetInactivePath(opportunityID string) string {
	return OpportunitiesPath + "/" + url.PathEscape(opportunityID) + setInactiveSuffix
}

// Customer is an Elead customer: the body of a create or update (without ID) and an answer.
// Only the published request fields are kept, so a record read and sent back carries no
// read-only field (links, privacySettings, onDoNotCallRegistry).
type Customer struct {
	ID              string   `json:"id,omitempty"`
	IsBusiness      *bool    `json:"isBusiness,omitempty"`
	BusinessName    string   `json:"businessName,omitempty"`
	BusinessContact string   `json:"businessContact,omitempty"`
	Title           string   `json:"title,omitempty"`
	FirstName       string   `json:"firstName,omitempty"`
	MiddleName      string   `json:"middleName,omitempty"`
	LastName        string   `json:"lastName,omitempty"`
	Nickname        string   `json:"nickname,omitempty"`
	Birthday        string   `json:"birthday,omitempty"`
	Emails          []Email  `json:"emails,omitempty"`
	Phones          []Phone  `json:"phones,omitempty"`
	Address         *Address `json:"address,omitempty"`
}

// Email of a customer; EmailType is Unknown, Personal, Work, Pager or Alternate.
type Email struct {
	Address     string `json:"address"`
	EmailType   string `json:"emailType"`
	DoNotEmail  *bool  `json:"doNotEmail,omitempty"`
	IsPreferred *bool  `json:"isPreferred,omitempty"`
}

// Phone of a customer; PhoneType is Unknown, Home, Cellular or Work, PreferredTimeToContact
// (required) Unspecified, Day or Evening. A phone has no isPreferred.
type Phone struct {
	Number                 string `json:"number"`
	PhoneType              string `json:"phoneType"`
	PreferredTimeToContact string `json:"preferredTimeToContact"`
	DoNotCall              *bool  `json:"doNotCall,omitempty"`
	DoNotText              *bool  `json:"doNotText,omitempty"`
	PreferCall             *bool  `json:"preferCall,omitempty"`
	PreferText             *bool  `json:"preferText,omitempty"`
}

// Address of a customer (zip required).
type Address struct {
	AddressLine1 string `json:"addressLine1,omitempty"`
	AddressLine2 string `json:"addressLine2,omitempty"`
	City         string `json:"city,omitempty"`
	State        string `json:"state,omitempty"`
	Zip          string `json:"zip"`
	Country      string `json:"country,omitempty"`
	County       string `json:"county,omitempty"`
	DoNotMail    *bool  `json:"doNotMail,omitempty"`
	IsPreferred  *bool  `json:"isPreferred,omitempty"`
}

// CustomerSearch is the body of a customer search.
type CustomerSearch struct {
	FirstName    string `json:"firstName,omitempty"`
	LastName     string `json:"lastName,omitempty"`
	PhoneNumber  string `json:"phoneNumber,omitempty"`
	EmailAddress string `json:"emailAddress,omitempty"`
}

// NewOpportunity is the body of an opportunity create.
type NewOpportunity struct {
	CustomerID     string          `json:"customerId"`
	DateIn         string          `json:"dateIn,omitempty"`
	Source         string          `json:"source"`
	SubSource      string          `json:"subSource,omitempty"`
	UpType         string          `json:"upType"`
	Comments       string          `json:"comments,omitempty"`
	SoughtVehicles []VehicleSought `json:"soughtVehicles,omitempty"`
}

// VehicleSought is a vehicle an opportunity seeks: in an opportunity (create and answers) and
// the body of an addition (with OpportunityID).
type VehicleSought struct {
	ID            string `json:"id,omitempty"`
	OpportunityID string `json:"opportunityId,omitempty"`
	IsNew         bool   `json:"isNew"`
	IsPrimary     bool   `json:"isPrimary"`
	YearFrom      int    `json:"yearFrom,omitempty"`
	YearTo        int    `json:"yearTo,omitempty"`
	Make          string `json:"make,omitempty"`
	Model         string `json:"model,omitempty"`
	Trim          string `json:"trim,omitempty"`
	VIN           string `json:"vin,omitempty"`
	StockNumber   string `json:"stockNumber,omitempty"`
}

// TradeIn is the body of a trade-in addition.
type TradeIn struct {
	OpportunityID    string `json:"opportunityId"`
	Year             int    `json:"year,omitempty"`
	Make             string `json:"make,omitempty"`
	Model            string `json:"model,omitempty"`
	Trim             string `json:"trim,omitempty"`
	VIN              string `json:"vin,omitempty"`
	EstimatedMileage int    `json:"estimatedMileage,omitempty"`
}

// Opportunity is an Elead opportunity as answered.
type Opportunity struct {
	ID       string `json:"id"`
	Customer struct {
		ID string `json:"id"`
	} `json:"customer"`
	DateIn         string          `json:"dateIn"`
	Source         string          `json:"source"`
	SubSource      string          `json:"subSource"`
	Status         string          `json:"status"`
	SubStatus      string          `json:"subStatus"`
	UpType         string          `json:"upType"`
	SoughtVehicles []VehicleSought `json:"soughtVehicles"`
	TradeIns       []struct {
		ID    string `json:"id"`
		Year  int    `json:"year"`
		Make  string `json:"make"`
		Model string `json:"model"`
		VIN   string `json:"vin"`
	} `json:"tradeIns"`
	SalesTeam []SalesTeamMember `json:"salesTeam"`
}

// SalesTeamMember is one of an opportunity's sales team.
type SalesTeamMember struct {
	ID           string `json:"id"`
	FirstName    string `json:"firstName"`
	LastName     string `json:"lastName"`
	IsPrimary    bool   `json:"isPrimary"`
	PositionName string `json:"positionName"`
}

// Primary is the opportunity's primary salesperson (the first of the team marked primary);
// nil when none is.
func (o *Opportunity) Primary() *SalesTeamMember {
	for i := range o.SalesTeam {
		if o.SalesTeam[i].IsPrimary && o.SalesTeam[i].ID != "" {
			return &o.SalesTeam[i]
		}
	}
	return nil
}

// Comment is the body of an opportunity comment.
type Comment struct {
	OpportunityID string `json:"opportunityId"`
	Comment       string `json:"comment"`
}

// SubStatusUpdate is the body of a sub-status update.
type SubStatusUpdate struct {
	SubStatus string `json:"subStatus"`
}

// SetInactive is the body that sets an opportunity inactive.
type SetInactive struct {
	OpportunityID     string `json:"opportunityId"`
	InactiveSubStatus string `json:"inactiveSubStatus"`
	Comments          string `json:"comments,omitempty"`
}

// ScheduledActivity is the body of a scheduled activity: ActivityType is the company's
// integer id of the activity type.
type ScheduledActivity struct {
	OpportunityID string `json:"opportunityId"`
	DueDate       string `json:"dueDate"`
	ActivityName  string `json:"activityName"`
	ActivityType  int    `json:"activityType"`
	Comments      string `json:"comments,omitempty"`
}

// ActivityType is one of the company's activity types.
type ActivityType struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// OpportunityStatus is one of the company's opportunity statuses with its sub-statuses.
type OpportunityStatus struct {
	Status      string `json:"status"`
	SubStatuses []struct {
		SubStatus string `json:"subStatus"`
	} `json:"subStatuses"`
}

// searchCustomers returns the customers Elead finds for q, in its order.
func (s *session) searchCustomers(ctx context.Context, q CustomerSearch) ([]Customer, error) {
	const step = "Fortellis customer search"
	resp, err := s.send(ctx, call{method: http.MethodPost, path: CustomerSearchPath + "?page=1&pageSize=" + strconv.Itoa(customerSearchPageSize),
		body: q, step: step, notFound: true})
	if err != nil || resp.StatusCode == http.StatusNotFound {
		return nil, err
	}
	var page struct {
		Items []Customer `json:"items"`
	}
	return page.Items, decodeAnswer(resp, &page, step)
}

// createCustomer creates c and returns its id (top-level id).
func (s *session) createCustomer(ctx context.Context, c Customer) (string, error) {
	return s.create(ctx, CustomersPath, c, "Fortellis customer", "id")
}

// getCustomer reads a customer.
func (s *session) getCustomer(ctx context.Context, id string) (*Customer, error) {
	var c Customer
	return &c, s.read(ctx, CustomersPath+"/"+url.PathEscape(id), "Fortellis customer read", &c)
}

// updateCustomer replaces customer id's record with c.
func (s *session) updateCustomer(ctx context.Context, id string, c Customer) error {
	c.ID = ""
	_, err := s.send(ctx, call{method: http.MethodPost, path: CustomersPath + "/" + url.PathEscape(id), body: c, step: "Fortellis customer update"})
	return err
}

// createOpportunity creates o: the opportunity (whose id is at opportunity.id) and whether
// Elead found it a duplicate (then it is the existing one).
func (s *session) createOpportunity(ctx context.Context, o NewOpportunity) (*Opportunity, bool, error) {
	const step = "Fortellis opportunity"
	resp, err := s.send(ctx, call{method: http.MethodPost, path: OpportunitiesPath, body: o, step: step})
	if err != nil {
		return nil, false, err
	}
	var created struct {
		Opportunity *Opportunity `json:"opportunity"`
		IsDuplicate bool         `json:"isDuplicate"`
	}
	if err := decodeAnswer(resp, &created, step); err != nil {
		return nil, false, err
	}
	if created.Opportunity == nil || created.Opportunity.ID == "" {
		return nil, false, noID(resp, step, "opportunity.id")
	}
	created.Opportunity.ID = truncate(created.Opportunity.ID, 128)
	return created.Opportunity, created.IsDuplicate, nil
}

// opportunitiesOf returns the opportunities of a customer (the first page; none on 404).
func (s *session) opportunitiesOf(ctx context.Context, customerID string) ([]Opportunity, error) {
	const step = "Fortellis opportunities of the customer"
	resp, err := s.send(ctx, call{method: http.MethodGet,
		path: OpportunitiesOfCustomer + url.PathEscape(customerID) + "?page=1&pageSize=" + strconv.Itoa(opportunitySearchPageSize),
		step: step, notFound: true})
	if err != nil || resp.StatusCode == http.StatusNotFound {
		return nil, err
	}
	var page struct {
		Items []Opportunity `json:"items"`
	}
	return page.Items, decodeAnswer(resp, &page, step)
}

// getOpportunity reads an opportunity.
func (s *session) getOpportunity(ctx context.Context, id string) (*Opportunity, error) {
	var o Opportunity
	return &o, s.read(ctx, OpportunitiesPath+"/"+url.PathEscape(id), "Fortellis opportunity read", &o)
}

// addComment appends a comment to an opportunity (Elead answers 204, no body).
func (s *session) addComment(ctx context.Context, opportunityID, text string) error {
	_, err := s.send(ctx, call{method: http.MethodPost, path: OpportunityCommentPath,
		body: Comment{OpportunityID: opportunityID, Comment: limitRunes(text, MaxCommentLength)}, step: "Fortellis opportunity comment"})
	return err
}

// addVehicleSought adds v to its opportunity and returns the new item's id.
func (s *session) addVehicleSought(ctx context.Context, v VehicleSought) (string, error) {
	return s.create(ctx, VehicleSoughtPath, v, "Fortellis vehicle sought", "id")
}

// addTradeIn adds a trade-in to its opportunity and returns the new item's id.
func (s *session) addTradeIn(ctx context.Context, t TradeIn) (string, error) {
	return s.create(ctx, TradeInPath, t, "Fortellis trade-in", "id")
}

// updateSubStatus sets an opportunity's sub-status.
func (s *session) updateSubStatus(ctx context.Context, opportunityID, subStatus string) error {
	_, err := s.send(ctx, call{method: http.MethodPost, path: SubStatusPath(opportunityID),
		body: SubStatusUpdate{SubStatus: subStatus}, step: "Fortellis opportunity sub-status"})
	return err
}

// setInactive sets an opportunity inactive with the given inactive sub-status.
func (s *session) setInactive(ctx context.Context, opportunityID, subStatus, comments string) error {
	_, err := s.send(ctx, call{method: http.MethodPost, path: SetInactivePath(opportunityID),
		body: SetInactive{OpportunityID: opportunityID, InactiveSubStatus: subStatus, Comments: limitRunes(comments, MaxCommentLength)},
		step: "Fortellis opportunity set inactive"})
	return err
}

// scheduleActivity schedules a on its opportunity and returns the activity's id.
func (s *session) scheduleActivity(ctx context.Context, a ScheduledActivity) (string, error) {
	a.Comments = limitRunes(a.Comments, MaxCommentLength)
	return s.create(ctx, ScheduleActivityPath, a, "Fortellis scheduled activity", "activityId")
}

// Activity is an activity of an opportunity's history.
type Activity struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	ActivityType  json.RawMessage `json:"activityType"` // the type's name (or its id)
	Category      string          `json:"category"`     // Scheduled or Completed
	DueDate       string          `json:"dueDate"`
	CompletedDate string          `json:"completedDate"`
	Outcome       string          `json:"outcome"`
	// AssignedTo names who the activity is assigned to (a string; anything else is ignored).
	AssignedTo json.RawMessage `json:"assignedTo"`
}

// scalar is a JSON string or number as a string; "" for anything else.
func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// activitiesOf returns an opportunity's activities (none on 404).
func (s *session) activitiesOf(ctx context.Context, opportunityID string) ([]Activity, error) {
	const step = "Fortellis activities of the opportunity"
	resp, err := s.send(ctx, call{method: http.MethodGet, path: ActivitiesOfOpportunity + url.PathEscape(opportunityID), step: step, notFound: true})
	if err != nil || resp.StatusCode == http.StatusNotFound {
		return nil, err
	}
	var page struct {
		Items []Activity `json:"items"`
	}
	return page.Items, decodeAnswer(resp, &page, step)
}

// fetchActivityTypes reads the company's activity types.
func (s *session) fetchActivityTypes(ctx context.Context) ([]ActivityType, error) {
	var page struct {
		Items []struct {
			ID   json.Number `json:"id"` // a number; a numeric string is taken too
			Name string      `json:"name"`
		} `json:"items"`
	}
	if err := s.read(ctx, ActivityTypesPath, "Fortellis activity types", &page); err != nil {
		return nil, err
	}
	types := make([]ActivityType, 0, len(page.Items))
	for _, it := range page.Items {
		if id, err := strconv.Atoi(it.ID.String()); err == nil {
			types = append(types, ActivityType{ID: id, Name: strings.TrimSpace(it.Name)})
		}
	}
	return types, nil
}

// fetchOpportunityStatuses reads the company's opportunity statuses and sub-statuses.
func (s *session) fetchOpportunityStatuses(ctx context.Context) ([]OpportunityStatus, error) {
	var page struct {
		Items []OpportunityStatus `json:"items"`
	}
	return page.Items, s.read(ctx, OpportunityStatusesPath, "Fortellis opportunity statuses", &page)
}

// create POSTs body and returns the id its answer holds at the top-level key idKey.
func (s *session) create(ctx context.Context, path string, body any, step, idKey string) (string, error) {
	resp, err := s.send(ctx, call{method: http.MethodPost, path: path, body: body, step: step})
	if err != nil {
		return "", err
	}
	var answer map[string]any
	if err := decodeAnswer(resp, &answer, step); err != nil {
		return "", err
	}
	id, _ := answer[idKey].(string)
	if id == "" {
		return "", noID(resp, step, idKey)
	}
	return truncate(id, 128), nil
}

// read GETs path and decodes its JSON answer into v.
func (s *session) read(ctx context.Context, path, step string, v any) error {
	resp, err := s.send(ctx, call{method: http.MethodGet, path: path, step: step})
	if err != nil {
		return err
	}
	return decodeAnswer(resp, v, step)
}

// limitRunes cuts s to at most n characters (Elead's limits count characters).
func limitRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
