package dealersocket

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/dealerai/integrations/shared/agents/connector"
)

// The event search, POST <eventSearchUrl>: one customer's sales events, signed JSON
// {vendor, dealerId, entityId (a number), eventCategory}. The connector uses it to find the
// customer holding a lead, the change feed to read the customers DealerAI pushed
// (docs/agents.md#dealersocket).

const stepEventSearch = "DealerSocket event search"

// eventSearch is the body of the event search: one customer's sales events.
type eventSearch struct {
	Vendor        string      `json:"vendor"`
	DealerID      string      `json:"dealerId"`
	EntityID      json.Number `json:"entityId"`
	EventCategory string      `json:"eventCategory"`
}

// searchEvents reads the sales events of the customer entityID (digits only). resp is the
// answer when there was one; an answer in DealerSocket's format that refuses the search is
// no error (CustomerEvents.Refused).
func searchEvents(ctx context.Context, hc *http.Client, settings, creds map[string]string, entityID string) (found *CustomerEvents, resp *connector.Response, err error) {
	body, err := json.Marshal(eventSearch{Vendor: settings["apiVendor"], DealerID: settings["dealerNumberId"],
		EntityID: json.Number(entityID), EventCategory: "Sales"})
	if err != nil {
		return nil, nil, err
	}
	resp, err = sendSigned(ctx, hc, creds, http.MethodPost, settings["eventSearchUrl"], "application/json", body, stepEventSearch)
	if err != nil {
		return nil, nil, err
	}
	if !resp.OK() {
		return nil, resp, connector.StatusError(resp, stepEventSearch)
	}
	found, err = ParseEventSearch(resp.Body)
	if err != nil {
		return nil, resp, platformError(resp, stepEventSearch+": "+err.Error())
	}
	return found, resp, nil
}

// CustomerEvents is the event search's answer: the customer's name and sales events, or
// DealerSocket's refusal. Every value is as DealerSocket answered it, trimmed and bounded;
// numbers are their decimal text.
type CustomerEvents struct {
	FirstName, LastName string
	Events              []SalesEvent
	// ErrorCode and ErrorMessage are DealerSocket's refusal of the search.
	ErrorCode, ErrorMessage string
}

// SalesEvent is one event of the answer. EventID is "" for an answer without one.
type SalesEvent struct {
	EventID, EventCategory, EventType string
	// Status is the status code (SalesStatuses).
	Status                 string
	InsertDate, UpdateDate string
	// PrimaryAssigned is who the event is assigned to, as DealerSocket names them.
	PrimaryAssigned                     string
	Year, Make, Model, VIN, StockNumber string
}

// Refused reports whether DealerSocket refused the search.
func (c *CustomerEvents) Refused() bool { return c.ErrorCode != "" || c.ErrorMessage != "" }

// Event returns the event eventID, nil when the customer has none of that id.
func (c *CustomerEvents) Event(eventID string) *SalesEvent {
	for i := range c.Events {
		if c.Events[i].EventID == eventID && eventID != "" {
			return &c.Events[i]
		}
	}
	return nil
}

// ParseEventSearch reads the event search's answer. Values may be strings or numbers; the
// error says only that the answer is not a JSON object.
func ParseEventSearch(body []byte) (*CustomerEvents, error) {
	var raw struct {
		FirstName    scalar `json:"firstName"`
		LastName     scalar `json:"lastName"`
		ErrorCode    scalar `json:"errorCode"`
		ErrorMessage scalar `json:"errorMessage"`
		Events       []struct {
			EventID         scalar `json:"eventId"`
			EventCategory   scalar `json:"eventCategory"`
			EventType       scalar `json:"eventType"`
			Status          scalar `json:"status"`
			InsertDate      scalar `json:"insertDate"`
			UpdateDate      scalar `json:"updateDate"`
			PrimaryAssigned scalar `json:"primaryAssigned"`
			Year            scalar `json:"year"`
			Make            scalar `json:"make"`
			Model           scalar `json:"model"`
			VIN             scalar `json:"vin"`
			StockNumber     scalar `json:"stockNumber"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || !strings.HasPrefix(strings.TrimSpace(string(body)), "{") {
		return nil, errors.New("the answer is not a JSON object")
	}
	out := &CustomerEvents{
		FirstName: clean(string(raw.FirstName), 100), LastName: clean(string(raw.LastName), 100),
		ErrorCode: clean(string(raw.ErrorCode), 64), ErrorMessage: clean(string(raw.ErrorMessage), 200),
	}
	for _, e := range raw.Events {
		out.Events = append(out.Events, SalesEvent{
			EventID: id(string(e.EventID)), EventCategory: clean(string(e.EventCategory), 32), EventType: clean(string(e.EventType), 64),
			Status: clean(string(e.Status), 32), InsertDate: clean(string(e.InsertDate), 40), UpdateDate: clean(string(e.UpdateDate), 40),
			PrimaryAssigned: clean(string(e.PrimaryAssigned), 100),
			Year:            clean(string(e.Year), 8), Make: clean(string(e.Make), 64), Model: clean(string(e.Model), 100),
			VIN: clean(string(e.VIN), 32), StockNumber: clean(string(e.StockNumber), 32),
		})
	}
	return out, nil
}

// scalar is a JSON value DealerSocket answers as a string or a number: its text; "" for
// null or anything else.
type scalar string

func (v *scalar) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*v = scalar(s)
		return nil
	}
	var n json.Number
	if json.Unmarshal(b, &n) == nil {
		*v = scalar(n.String())
		return nil
	}
	*v = ""
	return nil
}

// ---- sales statuses ----

// SalesStatuses names the sales events' status codes, as the event search answers them
// (status) and as DealerSocket's own labels name them.
var SalesStatuses = map[string]string{
	"220": "Unqualified", "221": "Up/Contacted", "227": "Store Visit", "222": "Demo",
	"223": "Write Up", "224": "Pending F&I", "225": "Sold", "226": "Lost",
}

// StatusName is the name of a sales status code; a code SalesStatuses does not have is
// itself.
func StatusName(code string) string {
	if n, ok := SalesStatuses[code]; ok {
		return n
	}
	return code
}

// statusAliases are the LeadStatus values published integrations set, as statusKey has
// them, by code.
var statusAliases = map[string]string{
	"unqualified": "220", "upcontacted": "221", "contacted": "221", "up": "221", "storevisit": "227",
	"demo": "222", "demovehicle": "222", "writeup": "223", "pendingfi": "224", "pendingfandi": "224",
	"sold": "225", "lost": "226",
}

// LeadStatusName is the status name a LeadStatus value set through the sales event call
// reads back as in the event search: a name (any case, spacing or punctuation: "Write-Up"),
// a published alias ("Contacted") or a code; the value itself when it names none.
func LeadStatusName(v string) string {
	k := statusKey(v)
	if n, ok := SalesStatuses[k]; ok {
		return n
	}
	if code, ok := statusAliases[k]; ok {
		return SalesStatuses[code]
	}
	return v
}

// statusKey is a status name in lower case, letters and digits only ("Pending F&I" →
// "pendingfi").
func statusKey(v string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(v) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func digitsOnly(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
