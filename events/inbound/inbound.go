// Package inbound is how DealerAI's services read the inbound queue: what changed in a
// dealer's CRM or service scheduler (a lead sold, reassigned or entered in the CRM, an
// appointment completed, missed, rescheduled or cancelled), read back from the platform by the
// integration agents' two-way sync. Parse validates a message body against the inbound
// catalog (events.InboundCatalog, documented in docs/events.md#inbound-events) and returns
// typed values.
//
// Every message is one flat JSON object with the message attributes eventType, dealerId,
// platform and eventId. Delivery is at least once: the same change may arrive twice, always
// with the same eventId (a re-read of one change of one record gives the same id), so
// deduplicate on ID. Changes DealerAI itself made in the platform are not sent back.
//
// The sync builds its events with the same type: Event is both what is published and what
// Parse returns.
package inbound

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/dealerai/integrations/events"
)

// The inbound event types (the catalog's).
const (
	TypeCRMLeadCreated            = events.TypeCRMLeadCreated
	TypeCRMLeadUpdated            = events.TypeCRMLeadUpdated
	TypeCRMAppointmentUpdated     = events.TypeCRMAppointmentUpdated
	TypeServiceAppointmentUpdated = events.TypeServiceAppointmentUpdated
	TypeInventoryVehicleAdded     = events.TypeInventoryVehicleAdded
	TypeInventoryVehicleUpdated   = events.TypeInventoryVehicleUpdated
	TypeInventoryVehicleRemoved   = events.TypeInventoryVehicleRemoved
)

// Event is one inbound event. Which State fields a type carries is in docs/events.md; the
// others are zero.
type Event struct {
	Type     string `json:"eventType"`
	ID       string `json:"eventId"`
	DealerID string `json:"dealerId"`
	// Platform is the agent platform the change comes from ("vinsolutions", ...).
	Platform string `json:"platform"`
	// OccurredAt is the platform's change time; zero when the platform gives none.
	OccurredAt time.Time `json:"occurredAt,omitzero"`
	// ObservedAt is when DealerAI read the change.
	ObservedAt time.Time `json:"observedAt"`
	// LeadID, ContactID and AppointmentID are DealerAI's ids of the record, when it is one
	// DealerAI pushed; empty for a record created in the platform.
	LeadID        string `json:"leadId,omitempty"`
	ContactID     string `json:"contactId,omitempty"`
	AppointmentID string `json:"appointmentId,omitempty"`
	// PlatformIDs are the platform's ids of the record and of the records it belongs to, by
	// name ("leadId", "opportunityId", "customerId", "appointmentId", "vin", ...).
	PlatformIDs map[string]string `json:"platformIds"`
	State
}

// State is the record's new state, in named fields.
type State struct {
	// Leads (crm.lead.*).
	Status    string `json:"status,omitempty"`
	SubStatus string `json:"subStatus,omitempty"`
	Source    string `json:"source,omitempty"`
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone,omitempty"`
	// Leads and service appointments.
	FirstName string   `json:"firstName,omitempty"`
	LastName  string   `json:"lastName,omitempty"`
	Vehicle   *Vehicle `json:"vehicle,omitempty"`
	// Leads and CRM appointments.
	Assignee *Person `json:"assignee,omitempty"`
	// Appointments (crm.appointment.updated, service.appointment.updated).
	AppointmentStatus string    `json:"appointmentStatus,omitempty"` // events.AppointmentStatus*
	AppointmentTime   time.Time `json:"appointmentTime,omitzero"`
	// CRM appointments.
	ActivityType string `json:"activityType,omitempty"`
	Outcome      string `json:"outcome,omitempty"`
	// Service appointments.
	Services string `json:"services,omitempty"`
	// Inventory vehicles (inventory.vehicle.*).
	Stock
}

// Stock is a vehicle of the dealer's inventory, flat in an inventory.vehicle.* event: all of
// it in added, the VIN, stock number and changed fields in updated (ChangedFields names
// them), what it last had in removed. Its inventory status is State.Status.
type Stock struct {
	VIN           string  `json:"vin,omitempty"`
	StockNumber   string  `json:"stockNumber,omitempty"`
	Year          int     `json:"year,omitempty"`
	Make          string  `json:"make,omitempty"`
	Model         string  `json:"model,omitempty"`
	Trim          string  `json:"trim,omitempty"`
	BodyStyle     string  `json:"bodyStyle,omitempty"`
	ExteriorColor string  `json:"exteriorColor,omitempty"`
	InteriorColor string  `json:"interiorColor,omitempty"`
	Condition     string  `json:"condition,omitempty"` // events.Condition*
	Mileage       int     `json:"mileage,omitempty"`
	Price         float64 `json:"price,omitempty"`
	MSRP          float64 `json:"msrp,omitempty"`
	ChangedFields string  `json:"changedFields,omitempty"`
}

// Person is who a record is assigned to.
type Person struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Vehicle is the vehicle of a lead or a service appointment.
type Vehicle struct {
	Year        string `json:"year,omitempty"`
	Make        string `json:"make,omitempty"`
	Model       string `json:"model,omitempty"`
	Trim        string `json:"trim,omitempty"`
	VIN         string `json:"vin,omitempty"`
	StockNumber string `json:"stockNumber,omitempty"`
}

// Parse validates an inbound message body and decodes it. An invalid body's error is an
// *events.ValidationError naming the field (errors.As); such a message cannot become valid
// by retrying it.
func Parse(body []byte) (*Event, error) {
	ev, err := events.ParseInbound(body)
	if err != nil {
		return nil, err
	}
	return decode(ev)
}

// Encode validates e and returns its normalized body: the fields of e.Type's catalog entry
// in catalog order, the others dropped. The error is an *events.ValidationError.
func Encode(e *Event) (*events.Event, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("inbound: encode %s: %w", e.Type, err)
	}
	return events.ParseInbound(raw)
}

func decode(ev *events.Event) (*Event, error) {
	var e Event
	if err := json.Unmarshal(ev.Body, &e); err != nil { // cannot happen: the body was just validated
		return nil, fmt.Errorf("inbound: decode %s: %w", ev.Type, err)
	}
	return &e, nil
}
