package events

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
)

// The 23 event types of the product document.
const (
	TypeLeadCreated            = "lead.created"
	TypeLeadReceived           = "lead.received"
	TypeLeadDispositionUpdated = "lead.update.disposition"

	TypeAppointmentCreated     = "appointment.created"
	TypeAppointmentRescheduled = "appointment.rescheduled"
	TypeAppointmentCancelled   = "appointment.cancelled"

	TypeContactCreated                   = "contact.created"
	TypeContactBasicUpdated              = "contact.basic.updated"
	TypeContactVehicleOfInterestUpdated  = "contact.vehicleofinterest.updated"
	TypeContactSequenceEnrollmentUpdated = "contact.sequence_enrollment.updated"

	TypeConversationStarted   = "conversation.started"
	TypeConversationReplied   = "conversation.replied"
	TypeConversationFlagged   = "conversation.flagged"
	TypeConversationTakenOver = "conversation.takenover"

	TypeSequenceEnrollmentCreated    = "sequence.enrollment.created"
	TypeSequenceEnrollmentCompleted  = "sequence.enrollment.completed"
	TypeSequenceEnrollmentPaused     = "sequence.enrollment.paused"
	TypeSequenceEnrollmentUnenrolled = "sequence.enrollment.unenrolled"
	TypeSequenceReplyReceived        = "sequence.reply.received"
	TypeSequenceStepExecuting        = "sequence.step.executing"
	TypeSequenceStepExecuted         = "sequence.step.executed"
	TypeSequenceStepFailed           = "sequence.step.failed"
	TypeSequenceStepSkipped          = "sequence.step.skipped"
)

// The appointmentType values that select extra appointment fields. Any other
// value is accepted and carries the common appointment fields only.
const (
	AppointmentSales       = "sales"
	AppointmentTestDrive   = "testdrive"
	AppointmentService     = "service"
	AppointmentTradeIn     = "tradein"
	AppointmentLeaseReturn = "leasereturn"
)

// Definition describes one event type of the catalog.
type Definition struct {
	Type        string // e.g. "lead.created"
	Group       string // lead, appointment, contact, conversation or sequence; inbound: crm or service
	Description string // when the event is triggered, as the product document says
	// Schema is the JSON Schema (draft 2020-12) of the event body. It is
	// shared by every caller: do not modify it.
	Schema json.RawMessage
}

// Catalog returns the 23 event types in the product document's order: the outbound events
// DealerAI's services publish and DealerAI delivers. The inbound events are InboundCatalog's.
func Catalog() []Definition { return outbound.definitions() }

// Lookup returns the definition of an outbound event type.
func Lookup(eventType string) (Definition, bool) { return outbound.lookup(eventType) }

// catalog is one list of event types sharing an envelope and common fields: the outbound
// events (Catalog, Parse) or the inbound events (InboundCatalog, ParseInbound). The two are
// separate, so an inbound type is unknown to Parse and to the router.
type catalog struct {
	specs  []eventSpec
	common []field // the fields of every type, after eventType and eventId
	// id is the eventId field. Outbound: optional, any id of eventIDPattern (a body without
	// one gets a hash of itself). Inbound: required, of the form inboundIDPattern.
	id        field
	idPattern string
	validID   func(id []byte) bool
	idRule    string // what a valid id is, for the error of an invalid one
	// timeField is the field whose value is Event.Timestamp.
	timeField string

	// compiled at init
	defs     []Definition
	types    map[string]*compiledType
	timeSlot int
	// schemas builds the JSON Schemas on first use, not at init: only the API serves them,
	// and the router's and the delivery function's cold starts should not pay for them.
	schemas func() map[string]json.RawMessage
}

func (c *catalog) definitions() []Definition {
	schemas := c.schemas()
	defs := slices.Clone(c.defs)
	for i := range defs {
		defs[i].Schema = schemas[defs[i].Type]
	}
	return defs
}

func (c *catalog) lookup(eventType string) (Definition, bool) {
	ct, ok := c.types[eventType]
	if !ok {
		return Definition{}, false
	}
	def := ct.def
	def.Schema = c.schemas()[eventType]
	return def, true
}

// ---- The field table: the one source of Parse, the schemas and the tests. ----

type kind uint8

const (
	kindString      kind = iota
	kindDateTime         // a string holding an RFC 3339 date-time
	kindNumber           // any JSON number
	kindBool             // true or false
	kindObject           // an object of string subfields; other subfields are dropped
	kindPassthrough      // any JSON object, delivered as sent
	kindStringMap        // an object of string values under any names (nulls dropped)
)

type field struct {
	name     string
	kind     kind
	desc     string
	required bool
	sub      []field  // kindObject: the subfields (all strings)
	enum     []string // kindString: the values allowed; nil for any
}

func str(name, desc string) field { return field{name: name, kind: kindString, desc: desc} }
func enum(name, desc string, values ...string) field {
	return field{name: name, kind: kindString, desc: desc, enum: values}
}
func stringMap(name, desc string) field { return field{name: name, kind: kindStringMap, desc: desc} }
func dateTime(name, desc string) field  { return field{name: name, kind: kindDateTime, desc: desc} }
func number(name, desc string) field    { return field{name: name, kind: kindNumber, desc: desc} }
func boolean(name, desc string) field   { return field{name: name, kind: kindBool, desc: desc} }
func passthrough(name, desc string) field {
	return field{name: name, kind: kindPassthrough, desc: desc}
}
func object(name, desc string, sub ...field) field {
	return field{name: name, kind: kindObject, desc: desc, sub: sub}
}
func required(f field) field { f.required = true; return f }

// Envelope fields, in every body ahead of the catalog fields.
var (
	eventTypeField = required(str("eventType", "The event type"))
	eventIDField   = str("eventId", "The event's unique id, the same for every delivery of the event (webhook-id)")
)

// outbound is the catalog of the 23 event types of the product document.
var outbound = &catalog{
	specs:     catalogSpecs,
	common:    commonFields,
	id:        eventIDField,
	idPattern: eventIDPattern,
	validID:   func(id []byte) bool { _, ok := eventID(id); return ok },
	idRule:    "must be 1 to 128 visible ASCII characters, without \" or \\",
	timeField: "timestamp",
}

// Common fields (all events).
var commonFields = []field{
	required(str("dealerId", "The dealer this event belongs to")),
	str("leadId", "The originating lead document ID (Cosmos), when applicable"),
	required(dateTime("timestamp", "UTC timestamp of when the event was fired")),
}

var leadFields = []field{
	str("conversationId", "The associated conversation ID"),
	str("contactId", "The contact's ID"),
	str("firstName", "Customer first name"),
	str("lastName", "Customer last name"),
	str("email", "Customer email"),
	str("phone", "Customer phone number"),
}

var appointmentFields = []field{
	str("conversationId", "The associated conversation ID"),
	str("appointmentType", "Type of appointment (e.g., sales, service, testdrive, tradein, leasereturn)"),
	str("contactId", "The contact's ID"),
	str("name", "Contact full name"),
	str("email", "Contact email"),
	str("phone", "Contact phone number"),
	dateTime("appointmentTime", "Scheduled appointment date and time (UTC)"),
	// Not in the product document: identifies an appointment across
	// created/rescheduled/cancelled. Passed through.
	str("appointmentId", "The appointment's ID, the same across created, rescheduled and cancelled"),
}

var salesVehicleFields = []field{
	str("vehicleYear", "Vehicle year"),
	str("vehicleMake", "Vehicle make"),
	str("vehicleModel", "Vehicle model"),
	str("vehicleVin", "Vehicle VIN"),
}

// appointmentVariants are the extra fields an appointmentType selects.
var appointmentVariants = []variant{
	{values: []string{AppointmentSales, AppointmentTestDrive},
		fields: append(slices.Clip(salesVehicleFields), str("vehicleStockNumber", "Stock number (test drive only)"))},
	{values: []string{AppointmentService}, fields: []field{
		str("serviceType", "Type of service requested"),
		str("vehicleVin", "Vehicle VIN"),
		str("vehicleMake", "Vehicle make"),
		str("vehicleModel", "Vehicle model"),
		str("vehicleYear", "Vehicle year"),
	}},
	{values: []string{AppointmentTradeIn}, fields: []field{
		str("tradeInVehicleModel", "Trade-in vehicle model"),
		str("tradeInVehicleYear", "Trade-in vehicle year"),
		str("tradeInVehicleMileage", "Trade-in vehicle mileage"),
		str("tradeInVehicleCondition", "Trade-in vehicle condition"),
		str("tradeForVehicleModel", "Desired vehicle model"),
		str("tradeForVehicleYear", "Desired vehicle year"),
		str("tradeForVehicleVin", "Desired vehicle VIN"),
	}},
	// The product document lists no extra fields for lease return; the
	// vehicle fields of a sales appointment (the vehicle being returned) are
	// used.
	{values: []string{AppointmentLeaseReturn}, fields: salesVehicleFields,
		comment: "A lease return has no fields of its own: it carries the sales vehicle fields (the vehicle being returned)."},
}

type variant struct {
	values  []string // the appointmentType values selecting it
	fields  []field
	comment string
}

var contactFields = []field{
	str("contactId", "The contact's ID"),
	str("name", "Contact full name"),
	str("firstName", "Contact first name"),
	str("lastName", "Contact last name"),
	str("email", "Contact email"),
	str("phone", "Contact phone number"),
}

var fullContact = passthrough("contact", "Full updated contact record")

var conversationFields = []field{
	str("conversationId", "The conversation ID"),
	str("channel", "The channel (e.g., sms, email, webchat)"),
}

var sequenceFields = []field{
	str("sequenceId", "The sequence ID"),
}

var sequenceEnrollmentFields = []field{
	str("sequenceName", "Name of the sequence"),
	number("enrollmentCount", "Number of contacts in this enrollment batch"),
	str("channel", "Channel(s) used by the sequence"),
	dateTime("startDate", "Enrollment start date"),
	str("fileName", "CSV filename, if enrolled via file upload"),
	str("contactId", "Contact ID (single-contact enrollments)"),
	str("contactEmail", "Contact email (single-contact enrollments)"),
	str("contactPhoneNumber", "Contact phone (single-contact enrollments)"),
	str("contactFirstName", "Contact first name (single-contact enrollments)"),
	str("contactLastName", "Contact last name (single-contact enrollments)"),
	str("conversationId", "Conversation ID (reply events)"),
	str("message", "Reply message content (reply events)"),
}

var sequenceStepFields = []field{
	str("sequenceName", "Name of the sequence"),
	str("enrollmentId", "The enrollment ID"),
	str("contactId", "The contact's ID"),
	number("stepOrder", "The step's position in the sequence"),
	str("stepAction", "Step action type (e.g., StaticMessage, AIMessage, AgentTakeover)"),
	str("channel", "Step delivery channel (sms, email, telephony)"),
	str("conversationId", "Associated conversation ID (when applicable)"),
	str("message", "Message sent for this step (when applicable)"),
	str("errorMessage", "Error details (failed steps only)"),
	str("reason", "Skip reason (skipped steps only)"),
}

// eventSpec is one catalog entry: its fields after the common ones (the
// group's, then its own), and for appointments the appointmentType variants.
type eventSpec struct {
	typ, group, desc string
	fields           []field
	variants         []variant
}

func fields(lists ...[]field) []field { return slices.Concat(lists...) }

var catalogSpecs = []eventSpec{
	{TypeLeadCreated, "lead", "A new lead is created", fields(leadFields, []field{
		str("source", "Lead source (e.g., AutoTrader, dealer website)"),
		str("vehicleYear", "Vehicle year of interest"),
		str("vehicleMake", "Vehicle make of interest"),
		str("vehicleModel", "Vehicle model of interest"),
		str("vehicleVin", "Vehicle VIN"),
		str("comments", "Additional comments from the lead"),
	}), nil},
	{TypeLeadReceived, "lead", "A lead is received", leadFields, nil},
	{TypeLeadDispositionUpdated, "lead", "A lead's disposition is updated", fields(leadFields, []field{
		str("dispositionCode", "The disposition code"),
		str("dispositionName", "Human-readable disposition name"),
		str("notes", "Additional notes"),
	}), nil},

	{TypeAppointmentCreated, "appointment", "An appointment is created", appointmentFields, appointmentVariants},
	{TypeAppointmentRescheduled, "appointment", "An appointment is rescheduled", appointmentFields, appointmentVariants},
	{TypeAppointmentCancelled, "appointment", "An appointment is cancelled", appointmentFields, appointmentVariants},

	{TypeContactCreated, "contact", "A new contact is created", fields(contactFields, []field{
		dateTime("createdAtUtc", "When the contact was created"),
	}), nil},
	{TypeContactBasicUpdated, "contact", "A contact's basic information is updated", fields(contactFields, []field{
		dateTime("updatedAtUtc", "When the contact was updated"),
	}), nil},
	{TypeContactVehicleOfInterestUpdated, "contact", "A contact's vehicle of interest is updated", fields(contactFields, []field{
		dateTime("updatedAtUtc", "When the vehicle of interest was updated"),
		object("vehicleInterest", "The vehicle of interest",
			str("year", "Vehicle year"),
			str("make", "Vehicle make"),
			str("model", "Vehicle model"),
			str("trim", "Vehicle trim"),
			str("vin", "Vehicle VIN"),
			str("stock", "Stock number"),
			str("bodyStyle", "Body style"),
			str("interest", "Interest type (buy, lease, sell, trade-in, test-drive)"),
			str("status", "Vehicle status (new, used)"),
		),
		fullContact,
	}), nil},
	{TypeContactSequenceEnrollmentUpdated, "contact", "A contact is enrolled or unenrolled from a sequence", fields(contactFields, []field{
		boolean("inSequence", "Whether the contact is currently enrolled in a sequence"),
		dateTime("updatedAtUtc", "When the enrollment status changed"),
		fullContact,
	}), nil},

	{TypeConversationStarted, "conversation", "A conversation is started", fields(conversationFields, []field{
		str("firstMessage", "The opening message of the conversation"),
		str("name", "Customer name"),
		str("email", "Customer email"),
		str("phone", "Customer phone number"),
	}), nil},
	{TypeConversationReplied, "conversation", "A conversation is replied to", fields(conversationFields, []field{
		str("message", "The reply message content"),
	}), nil},
	{TypeConversationFlagged, "conversation", "A conversation is flagged (e.g., marked as priority)", fields(conversationFields, []field{
		str("flag", "The flag label (e.g., Priority)"),
		str("contactId", "The contact's ID"),
		str("name", "Customer name"),
		str("email", "Customer email"),
		str("phone", "Customer phone number"),
		str("notes", "Optional free-form notes"),
		str("conversationSummary", "AI-generated summary of the conversation at the time of flagging"),
		dateTime("conversationSummaryGeneratedAtUtc", "When the summary was generated"),
		dateTime("flaggedAtUtc", "When the conversation was flagged"),
	}), nil},
	{TypeConversationTakenOver, "conversation", "A conversation is taken over by an agent", fields(conversationFields, []field{
		str("agentUserId", "User ID of the agent who took over"),
		str("agentName", "Name of the agent who took over"),
	}), nil},

	{TypeSequenceEnrollmentCreated, "sequence", "A contact is enrolled in a sequence", fields(sequenceFields, sequenceEnrollmentFields), nil},
	{TypeSequenceEnrollmentCompleted, "sequence", "A contact completes all steps in a sequence", fields(sequenceFields, sequenceEnrollmentFields), nil},
	{TypeSequenceEnrollmentPaused, "sequence", "A sequence enrollment is paused", fields(sequenceFields, sequenceEnrollmentFields), nil},
	{TypeSequenceEnrollmentUnenrolled, "sequence", "A contact is unenrolled from a sequence", fields(sequenceFields, sequenceEnrollmentFields), nil},
	{TypeSequenceReplyReceived, "sequence", "A contact replies to a sequence message", fields(sequenceFields, sequenceEnrollmentFields), nil},
	{TypeSequenceStepExecuting, "sequence", "A sequence step is about to execute", fields(sequenceFields, sequenceStepFields), nil},
	{TypeSequenceStepExecuted, "sequence", "A sequence step executes successfully", fields(sequenceFields, sequenceStepFields), nil},
	{TypeSequenceStepFailed, "sequence", "A sequence step execution fails", fields(sequenceFields, sequenceStepFields), nil},
	{TypeSequenceStepSkipped, "sequence", "A sequence step is skipped", fields(sequenceFields, sequenceStepFields), nil},
}

// ---- Compiled once at init. ----

// compiledField is a field ready for Parse: its name quoted for output and
// its slot in the per-parse array of raw values.
type compiledField struct {
	field
	path   string // JSON path used in errors
	member string // `"name":`, written ahead of the value
	slot   int    // top-level fields: index into the raw values; subfields: index in the object
	sub    *compiledObject
}

type compiledObject struct {
	fields []compiledField
	index  map[string]int
}

type compiledType struct {
	def    Definition
	quoted string          // the type as a JSON string
	fields []compiledField // common, group and own fields (appointments: without variant fields)
	// byAppointmentType: appointment types only, the full field list for
	// each appointmentType value that selects extra fields.
	byAppointmentType map[string][]compiledField
}

const maxSlots = 128 // at least the distinct top-level field names of both catalogs (checked at init)

var (
	// catalogDefs and compiledTypes are the outbound catalog's.
	catalogDefs   []Definition
	compiledTypes map[string]*compiledType
	slotIndex     = map[string]int{} // top-level field name (of either catalog) → slot
	// validWildcards: "*" and every "<prefix>.*" matching an outbound type
	validWildcards = map[string]bool{"*": true}
)

// The slots of the fields Parse reads itself.
var slotEventType, slotEventID, slotDealerID, slotAppointmentType int

func init() {
	slotEventType = slotOf(eventTypeField.name)
	slotEventID = slotOf(eventIDField.name)
	slotDealerID = slotOf("dealerId")
	slotAppointmentType = slotOf("appointmentType")

	outbound.compile()
	inbound.compile()
	catalogDefs, compiledTypes = outbound.defs, outbound.types
	for _, spec := range outbound.specs {
		for i := strings.IndexByte(spec.typ, '.'); i >= 0; i = nextDot(spec.typ, i) {
			validWildcards[spec.typ[:i]+".*"] = true
		}
	}
	if len(slotIndex) > maxSlots {
		panic("events: more field names than maxSlots")
	}
}

func (c *catalog) compile() {
	c.types = map[string]*compiledType{}
	c.timeSlot = slotOf(c.timeField)
	for _, spec := range c.specs {
		ct := &compiledType{
			def:    Definition{Type: spec.typ, Group: spec.group, Description: spec.desc}, // Schema: see schemas
			quoted: quote(spec.typ),
			fields: compileFields(fields(c.common, spec.fields)),
		}
		if spec.variants != nil {
			ct.byAppointmentType = map[string][]compiledField{}
			for _, v := range spec.variants {
				all := compileFields(fields(c.common, spec.fields, v.fields))
				for _, value := range v.values {
					ct.byAppointmentType[value] = all
				}
			}
		}
		if _, dup := c.types[spec.typ]; dup {
			panic("events: " + spec.typ + " is listed twice")
		}
		c.defs = append(c.defs, ct.def)
		c.types[spec.typ] = ct
	}
	c.schemas = sync.OnceValue(func() map[string]json.RawMessage {
		m := make(map[string]json.RawMessage, len(c.specs))
		for _, spec := range c.specs {
			m[spec.typ] = buildSchema(c, spec)
		}
		return m
	})
}

func nextDot(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

func slotOf(name string) int {
	if i, ok := slotIndex[name]; ok {
		return i
	}
	slotIndex[name] = len(slotIndex)
	return slotIndex[name]
}

func compileFields(fs []field) []compiledField {
	out := make([]compiledField, len(fs))
	for i, f := range fs {
		out[i] = compileField(f, f.name, slotOf(f.name))
	}
	return out
}

func compileField(f field, path string, slot int) compiledField {
	cf := compiledField{field: f, path: path, member: quote(f.name) + ":", slot: slot}
	if f.kind == kindObject {
		if len(f.sub) > maxSubfields {
			panic("events: more subfields than maxSubfields in " + path)
		}
		cf.sub = &compiledObject{index: map[string]int{}}
		for i, s := range f.sub {
			cf.sub.fields = append(cf.sub.fields, compileField(s, path+"."+s.name, i))
			cf.sub.index[s.name] = i
		}
	}
	return cf
}

func quote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
