package events

import (
	"crypto/sha256"
	"encoding/hex"
)

// The inbound event types: what changed in a dealer's CRM or service scheduler, read back by
// the two-way sync of the integration agents and published to the inbound queue for
// DealerAI's services (docs/agents.md#two-way-sync). They are a catalog of their own
// (InboundCatalog, ParseInbound): Parse, the router and GET /v1/event-types know only the 23
// outbound types.
const (
	TypeCRMLeadCreated            = "crm.lead.created"
	TypeCRMLeadUpdated            = "crm.lead.updated"
	TypeCRMAppointmentUpdated     = "crm.appointment.updated"
	TypeServiceAppointmentUpdated = "service.appointment.updated"
	// The dealer's vehicle inventory (Fortellis): a vehicle arrived, changed or left.
	TypeInventoryVehicleAdded   = "inventory.vehicle.added"
	TypeInventoryVehicleUpdated = "inventory.vehicle.updated"
	TypeInventoryVehicleRemoved = "inventory.vehicle.removed"
)

// The condition values of an inventory vehicle.
const (
	ConditionNew       = "new"
	ConditionUsed      = "used"
	ConditionCertified = "certified"
	ConditionDemo      = "demo"
)

// The appointmentStatus values of an inbound appointment event.
const (
	AppointmentStatusScheduled   = "scheduled"
	AppointmentStatusRescheduled = "rescheduled"
	AppointmentStatusCompleted   = "completed"
	AppointmentStatusNoShow      = "no_show"
	AppointmentStatusCancelled   = "cancelled"
)

// InboundIDPrefix starts every inbound event id (InboundEventID).
const InboundIDPrefix = "inb_"

// InboundEventID is the id of one change of one platform record: InboundIDPrefix and the first
// 26 hex digits of the SHA-256 of the platform, the record's kind, its id and the platform's
// version or change time of the record, separated by NUL bytes. A re-read of the same change
// gives the same id, so consumers deduplicate on it; a later change of the record (another
// version) gets another.
func InboundEventID(platform, recordKind, recordID, version string) string {
	h := sha256.New()
	for i, part := range []string{platform, recordKind, recordID, version} {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(part))
	}
	return InboundIDPrefix + hex.EncodeToString(h.Sum(nil)[:13])
}

// inboundIDPattern is the JSON Schema pattern of an inbound event id.
const inboundIDPattern = `^inb_[0-9a-f]{26}$`

func validInboundID(id []byte) bool {
	if len(id) != len(InboundIDPrefix)+26 || string(id[:len(InboundIDPrefix)]) != InboundIDPrefix {
		return false
	}
	for _, c := range id[len(InboundIDPrefix):] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// InboundCatalog returns the inbound event types.
func InboundCatalog() []Definition { return inbound.definitions() }

// LookupInbound returns the definition of an inbound event type.
func LookupInbound(eventType string) (Definition, bool) { return inbound.lookup(eventType) }

// InboundExample returns the catalog's example body of an inbound event type
// (events/examples/<type>.json). The caller owns the returned bytes.
func InboundExample(eventType string) ([]byte, bool) {
	if _, ok := inbound.types[eventType]; !ok {
		return nil, false
	}
	return exampleFile(eventType)
}

var inbound = &catalog{
	specs:  inboundSpecs,
	common: inboundCommonFields,
	id: required(str("eventId", "The change's id: "+InboundIDPrefix+" and 26 hex digits of the SHA-256 of the platform, the record's kind, "+
		"its id and the platform's version or change time. A re-read of the same change has the same id: deduplicate on it")),
	idPattern: inboundIDPattern,
	validID:   validInboundID,
	idRule:    "must be " + InboundIDPrefix + " followed by 26 lower-case hex digits",
	timeField: "observedAt",
}

var inboundCommonFields = []field{
	required(str("dealerId", "The dealer whose platform reported the change")),
	required(str("platform", "The agent platform the change comes from, as in /v1/agents/{platform} (e.g. vinsolutions)")),
	dateTime("occurredAt", "When the change happened in the platform; absent when the platform gives no change time"),
	required(dateTime("observedAt", "When DealerAI read the change from the platform")),
	str("leadId", "DealerAI's lead ID, when the record is one DealerAI pushed"),
	str("contactId", "DealerAI's contact ID, when the record is one DealerAI pushed"),
	required(stringMap("platformIds", "The platform's ids of the record and of the records it belongs to, by name (e.g. leadId, contactId, opportunityId, customerId, activityId, appointmentId, vin)")),
}

var assigneeField = object("assignee", "The salesperson, BDC agent or advisor the record is assigned to",
	str("id", "The platform's id of the person"),
	str("name", "The person's name"),
)

var inboundVehicleField = object("vehicle", "The vehicle of the record",
	str("year", "Vehicle year"),
	str("make", "Vehicle make"),
	str("model", "Vehicle model"),
	str("trim", "Vehicle trim"),
	str("vin", "Vehicle VIN"),
	str("stockNumber", "Stock number"),
)

var crmLeadFields = []field{
	str("status", "The lead's status, as the CRM names it (e.g. Active, Sold, Lost)"),
	str("subStatus", "The lead's sub-status, as the CRM names it (e.g. Appointment Set)"),
	assigneeField,
	str("source", "The lead's source, as the CRM names it"),
	str("firstName", "Customer first name"),
	str("lastName", "Customer last name"),
	str("email", "Customer email"),
	str("phone", "Customer phone number"),
	inboundVehicleField,
}

var inboundAppointmentFields = []field{
	str("appointmentId", "DealerAI's appointment ID, when the appointment is one DealerAI pushed"),
	enum("appointmentStatus", "The appointment's status now",
		AppointmentStatusScheduled, AppointmentStatusRescheduled, AppointmentStatusCompleted, AppointmentStatusNoShow, AppointmentStatusCancelled),
	dateTime("appointmentTime", "The appointment's date and time (UTC)"),
}

// inventoryFields are a vehicle of the dealer's inventory, flat: an added vehicle carries
// all it has, an updated one its VIN, stock number and the fields that changed (named in
// changedFields), a removed one what it last had.
var inventoryFields = []field{
	required(str("vin", "The vehicle's VIN")),
	str("stockNumber", "The dealer's stock number"),
	number("year", "Model year"),
	str("make", "Make"),
	str("model", "Model"),
	str("trim", "Trim"),
	str("bodyStyle", "Body style, as the platform classifies it (e.g. SUV, Sedan)"),
	str("exteriorColor", "Exterior base color"),
	str("interiorColor", "Interior base color"),
	enum("condition", "New, used, certified pre-owned or demo", ConditionNew, ConditionUsed, ConditionCertified, ConditionDemo),
	number("mileage", "Odometer reading"),
	number("price", "The price the dealer asks (advertised, else selling, else base retail), in the dealer's currency"),
	number("msrp", "The manufacturer's suggested retail price"),
	str("status", "The vehicle's inventory status, as the platform names it (e.g. In Stock, In Transit)"),
	str("changedFields", "inventory.vehicle.updated: the names of the fields that changed, comma-separated; a named field that is absent was cleared"),
}

var inboundSpecs = []eventSpec{
	{TypeCRMLeadCreated, "crm", "A lead or opportunity is created in the CRM, not by DealerAI (entered by the dealership or another source)", crmLeadFields, nil},
	{TypeCRMLeadUpdated, "crm", "A lead's status, sub-status or assignee changes in the CRM (e.g. sold, lost, appointment set, reassigned)", crmLeadFields, nil},
	{TypeCRMAppointmentUpdated, "crm", "An appointment or activity on a CRM lead is completed, missed, rescheduled or cancelled in the CRM", fields(inboundAppointmentFields, []field{
		str("activityType", "The activity's type, as the CRM names it"),
		str("outcome", "The activity's outcome, as the CRM records it"),
		assigneeField,
	}), nil},
	{TypeServiceAppointmentUpdated, "service", "A service appointment is rescheduled, cancelled or completed in the service scheduler", fields(inboundAppointmentFields, []field{
		inboundVehicleField,
		str("services", "The services booked, as the scheduler names them, comma-separated"),
		str("firstName", "Customer first name"),
		str("lastName", "Customer last name"),
	}), nil},
	{TypeInventoryVehicleAdded, "inventory", "A vehicle arrives in the dealer's inventory (the first load of the inventory reports every vehicle)", inventoryFields, nil},
	{TypeInventoryVehicleUpdated, "inventory", "A vehicle of the dealer's inventory changes (price, status, mileage, colors, ...): the event carries the changed fields", inventoryFields, nil},
	{TypeInventoryVehicleRemoved, "inventory", "A vehicle leaves the dealer's inventory (sold or removed)", inventoryFields, nil},
}
