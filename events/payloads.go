package events

import (
	"encoding/json"
	"time"
)

// Payload is a typed event, ready to publish.
type Payload interface {
	EventType() string
}

// The typed events mirror the catalog: one struct per event type, built
// from the shared parts of its group. Build them as struct literals, e.g.
//
//	e := &events.LeadCreated{
//		Base:       events.Base{DealerID: "dlr_42", Timestamp: time.Now()},
//		LeadFields: events.LeadFields{FirstName: "Ana", Email: "ana@example.com"},
//		Source:     "AutoTrader",
//	}
//
// Zero values are left out of the JSON; numbers and the inSequence boolean
// are pointers so that 0 and false can be sent (new(3), new(false)).

// Base holds the fields common to every event. Timestamp and DealerID are
// required; EventID is stamped by the Publisher when empty.
type Base struct {
	EventID   string    `json:"eventId,omitempty"`
	DealerID  string    `json:"dealerId,omitempty"`
	LeadID    string    `json:"leadId,omitempty"`
	Timestamp time.Time `json:"timestamp,omitzero"`
}

// ---- Lead events ----

// LeadFields are the fields of every lead event.
type LeadFields struct {
	ConversationID string `json:"conversationId,omitempty"`
	ContactID      string `json:"contactId,omitempty"`
	FirstName      string `json:"firstName,omitempty"`
	LastName       string `json:"lastName,omitempty"`
	Email          string `json:"email,omitempty"`
	Phone          string `json:"phone,omitempty"`
}

// LeadCreated is lead.created: a new lead is created.
type LeadCreated struct {
	Base
	LeadFields
	Source       string `json:"source,omitempty"`
	VehicleYear  string `json:"vehicleYear,omitempty"`
	VehicleMake  string `json:"vehicleMake,omitempty"`
	VehicleModel string `json:"vehicleModel,omitempty"`
	VehicleVIN   string `json:"vehicleVin,omitempty"`
	Comments     string `json:"comments,omitempty"`
}

// LeadReceived is lead.received: a lead is received.
type LeadReceived struct {
	Base
	LeadFields
}

// LeadDispositionUpdated is lead.update.disposition: a lead's disposition is
// updated.
type LeadDispositionUpdated struct {
	Base
	LeadFields
	DispositionCode string `json:"dispositionCode,omitempty"`
	DispositionName string `json:"dispositionName,omitempty"`
	Notes           string `json:"notes,omitempty"`
}

// ---- Appointment events ----

// AppointmentFields are the fields of the three appointment events. The
// vehicle fields that apply depend on AppointmentType (see the Appointment
// constants): sales and testdrive carry VehicleYear, VehicleMake,
// VehicleModel, VehicleVIN and VehicleStockNumber; service carries
// ServiceType and the vehicle fields except the stock number; tradein the
// TradeIn and TradeFor fields; leasereturn the vehicle fields of a sales
// appointment except the stock number. Fields that do not apply to the type
// are dropped when the event is published.
type AppointmentFields struct {
	ConversationID  string    `json:"conversationId,omitempty"`
	AppointmentType string    `json:"appointmentType,omitempty"`
	ContactID       string    `json:"contactId,omitempty"`
	Name            string    `json:"name,omitempty"`
	Email           string    `json:"email,omitempty"`
	Phone           string    `json:"phone,omitempty"`
	AppointmentTime time.Time `json:"appointmentTime,omitzero"`
	// AppointmentID identifies the appointment across created, rescheduled
	// and cancelled (not in the product document; passed through).
	AppointmentID string `json:"appointmentId,omitempty"`

	VehicleYear        string `json:"vehicleYear,omitempty"`
	VehicleMake        string `json:"vehicleMake,omitempty"`
	VehicleModel       string `json:"vehicleModel,omitempty"`
	VehicleVIN         string `json:"vehicleVin,omitempty"`
	VehicleStockNumber string `json:"vehicleStockNumber,omitempty"`

	ServiceType string `json:"serviceType,omitempty"`

	TradeInVehicleModel     string `json:"tradeInVehicleModel,omitempty"`
	TradeInVehicleYear      string `json:"tradeInVehicleYear,omitempty"`
	TradeInVehicleMileage   string `json:"tradeInVehicleMileage,omitempty"`
	TradeInVehicleCondition string `json:"tradeInVehicleCondition,omitempty"`
	TradeForVehicleModel    string `json:"tradeForVehicleModel,omitempty"`
	TradeForVehicleYear     string `json:"tradeForVehicleYear,omitempty"`
	TradeForVehicleVIN      string `json:"tradeForVehicleVin,omitempty"`
}

// AppointmentCreated is appointment.created: an appointment is created.
type AppointmentCreated struct {
	Base
	AppointmentFields
}

// AppointmentRescheduled is appointment.rescheduled: an appointment is
// rescheduled.
type AppointmentRescheduled struct {
	Base
	AppointmentFields
}

// AppointmentCancelled is appointment.cancelled: an appointment is
// cancelled.
type AppointmentCancelled struct {
	Base
	AppointmentFields
}

// ---- Contact events ----

// ContactFields are the fields of every contact event.
type ContactFields struct {
	ContactID string `json:"contactId,omitempty"`
	Name      string `json:"name,omitempty"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone,omitempty"`
}

// VehicleInterest is a contact's vehicle of interest.
type VehicleInterest struct {
	Year      string `json:"year,omitempty"`
	Make      string `json:"make,omitempty"`
	Model     string `json:"model,omitempty"`
	Trim      string `json:"trim,omitempty"`
	VIN       string `json:"vin,omitempty"`
	Stock     string `json:"stock,omitempty"`
	BodyStyle string `json:"bodyStyle,omitempty"`
	Interest  string `json:"interest,omitempty"` // buy, lease, sell, trade-in, test-drive
	Status    string `json:"status,omitempty"`   // new, used
}

// ContactCreated is contact.created: a new contact is created.
type ContactCreated struct {
	Base
	ContactFields
	CreatedAtUTC time.Time `json:"createdAtUtc,omitzero"`
}

// ContactBasicUpdated is contact.basic.updated: a contact's basic
// information is updated.
type ContactBasicUpdated struct {
	Base
	ContactFields
	UpdatedAtUTC time.Time `json:"updatedAtUtc,omitzero"`
}

// ContactVehicleOfInterestUpdated is contact.vehicleofinterest.updated: a
// contact's vehicle of interest is updated.
type ContactVehicleOfInterestUpdated struct {
	Base
	ContactFields
	UpdatedAtUTC    time.Time        `json:"updatedAtUtc,omitzero"`
	VehicleInterest *VehicleInterest `json:"vehicleInterest,omitempty"`
	// Contact is the full updated contact record, any JSON object, passed
	// through as sent.
	Contact json.RawMessage `json:"contact,omitempty"`
}

// ContactSequenceEnrollmentUpdated is contact.sequence_enrollment.updated: a
// contact is enrolled or unenrolled from a sequence.
type ContactSequenceEnrollmentUpdated struct {
	Base
	ContactFields
	InSequence   *bool     `json:"inSequence,omitempty"`
	UpdatedAtUTC time.Time `json:"updatedAtUtc,omitzero"`
	// Contact is the full updated contact record, any JSON object, passed
	// through as sent.
	Contact json.RawMessage `json:"contact,omitempty"`
}

// ---- Conversation events ----

// ConversationFields are the fields of every conversation event.
type ConversationFields struct {
	ConversationID string `json:"conversationId,omitempty"`
	Channel        string `json:"channel,omitempty"`
}

// ConversationStarted is conversation.started: a conversation is started.
type ConversationStarted struct {
	Base
	ConversationFields
	FirstMessage string `json:"firstMessage,omitempty"`
	Name         string `json:"name,omitempty"`
	Email        string `json:"email,omitempty"`
	Phone        string `json:"phone,omitempty"`
}

// ConversationReplied is conversation.replied: a conversation is replied to.
type ConversationReplied struct {
	Base
	ConversationFields
	Message string `json:"message,omitempty"`
}

// ConversationFlagged is conversation.flagged: a conversation is flagged
// (e.g., marked as priority).
type ConversationFlagged struct {
	Base
	ConversationFields
	Flag                              string    `json:"flag,omitempty"`
	ContactID                         string    `json:"contactId,omitempty"`
	Name                              string    `json:"name,omitempty"`
	Email                             string    `json:"email,omitempty"`
	Phone                             string    `json:"phone,omitempty"`
	Notes                             string    `json:"notes,omitempty"`
	ConversationSummary               string    `json:"conversationSummary,omitempty"`
	ConversationSummaryGeneratedAtUTC time.Time `json:"conversationSummaryGeneratedAtUtc,omitzero"`
	FlaggedAtUTC                      time.Time `json:"flaggedAtUtc,omitzero"`
}

// ConversationTakenOver is conversation.takenover: a conversation is taken
// over by an agent.
type ConversationTakenOver struct {
	Base
	ConversationFields
	AgentUserID string `json:"agentUserId,omitempty"`
	AgentName   string `json:"agentName,omitempty"`
}

// ---- Sequence events ----

// SequenceEnrollmentFields are the fields of the enrollment events
// (sequence.enrollment.* and sequence.reply.received).
type SequenceEnrollmentFields struct {
	SequenceID         string    `json:"sequenceId,omitempty"`
	SequenceName       string    `json:"sequenceName,omitempty"`
	EnrollmentCount    *int      `json:"enrollmentCount,omitempty"`
	Channel            string    `json:"channel,omitempty"`
	StartDate          time.Time `json:"startDate,omitzero"`
	FileName           string    `json:"fileName,omitempty"`
	ContactID          string    `json:"contactId,omitempty"`
	ContactEmail       string    `json:"contactEmail,omitempty"`
	ContactPhoneNumber string    `json:"contactPhoneNumber,omitempty"`
	ContactFirstName   string    `json:"contactFirstName,omitempty"`
	ContactLastName    string    `json:"contactLastName,omitempty"`
	ConversationID     string    `json:"conversationId,omitempty"` // reply events
	Message            string    `json:"message,omitempty"`        // reply events
}

// SequenceStepFields are the fields of the step events (sequence.step.*).
type SequenceStepFields struct {
	SequenceID     string `json:"sequenceId,omitempty"`
	SequenceName   string `json:"sequenceName,omitempty"`
	EnrollmentID   string `json:"enrollmentId,omitempty"`
	ContactID      string `json:"contactId,omitempty"`
	StepOrder      *int   `json:"stepOrder,omitempty"`
	StepAction     string `json:"stepAction,omitempty"`
	Channel        string `json:"channel,omitempty"`
	ConversationID string `json:"conversationId,omitempty"`
	Message        string `json:"message,omitempty"`
	ErrorMessage   string `json:"errorMessage,omitempty"` // failed steps
	Reason         string `json:"reason,omitempty"`       // skipped steps
}

// SequenceEnrollmentCreated is sequence.enrollment.created: a contact is
// enrolled in a sequence.
type SequenceEnrollmentCreated struct {
	Base
	SequenceEnrollmentFields
}

// SequenceEnrollmentCompleted is sequence.enrollment.completed: a contact
// completes all steps in a sequence.
type SequenceEnrollmentCompleted struct {
	Base
	SequenceEnrollmentFields
}

// SequenceEnrollmentPaused is sequence.enrollment.paused: a sequence
// enrollment is paused.
type SequenceEnrollmentPaused struct {
	Base
	SequenceEnrollmentFields
}

// SequenceEnrollmentUnenrolled is sequence.enrollment.unenrolled: a contact
// is unenrolled from a sequence.
type SequenceEnrollmentUnenrolled struct {
	Base
	SequenceEnrollmentFields
}

// SequenceReplyReceived is sequence.reply.received: a contact replies to a
// sequence message.
type SequenceReplyReceived struct {
	Base
	SequenceEnrollmentFields
}

// SequenceStepExecuting is sequence.step.executing: a sequence step is about
// to execute.
type SequenceStepExecuting struct {
	Base
	SequenceStepFields
}

// SequenceStepExecuted is sequence.step.executed: a sequence step executes
// successfully.
type SequenceStepExecuted struct {
	Base
	SequenceStepFields
}

// SequenceStepFailed is sequence.step.failed: a sequence step execution
// fails.
type SequenceStepFailed struct {
	Base
	SequenceStepFields
}

// SequenceStepSkipped is sequence.step.skipped: a sequence step is skipped.
type SequenceStepSkipped struct {
	Base
	SequenceStepFields
}

// EventType implements Payload.
func (LeadCreated) EventType() string                     { return TypeLeadCreated }
func (LeadReceived) EventType() string                    { return TypeLeadReceived }
func (LeadDispositionUpdated) EventType() string          { return TypeLeadDispositionUpdated }
func (AppointmentCreated) EventType() string              { return TypeAppointmentCreated }
func (AppointmentRescheduled) EventType() string          { return TypeAppointmentRescheduled }
func (AppointmentCancelled) EventType() string            { return TypeAppointmentCancelled }
func (ContactCreated) EventType() string                  { return TypeContactCreated }
func (ContactBasicUpdated) EventType() string             { return TypeContactBasicUpdated }
func (ContactVehicleOfInterestUpdated) EventType() string { return TypeContactVehicleOfInterestUpdated }
func (ContactSequenceEnrollmentUpdated) EventType() string {
	return TypeContactSequenceEnrollmentUpdated
}
func (ConversationStarted) EventType() string          { return TypeConversationStarted }
func (ConversationReplied) EventType() string          { return TypeConversationReplied }
func (ConversationFlagged) EventType() string          { return TypeConversationFlagged }
func (ConversationTakenOver) EventType() string        { return TypeConversationTakenOver }
func (SequenceEnrollmentCreated) EventType() string    { return TypeSequenceEnrollmentCreated }
func (SequenceEnrollmentCompleted) EventType() string  { return TypeSequenceEnrollmentCompleted }
func (SequenceEnrollmentPaused) EventType() string     { return TypeSequenceEnrollmentPaused }
func (SequenceEnrollmentUnenrolled) EventType() string { return TypeSequenceEnrollmentUnenrolled }
func (SequenceReplyReceived) EventType() string        { return TypeSequenceReplyReceived }
func (SequenceStepExecuting) EventType() string        { return TypeSequenceStepExecuting }
func (SequenceStepExecuted) EventType() string         { return TypeSequenceStepExecuted }
func (SequenceStepFailed) EventType() string           { return TypeSequenceStepFailed }
func (SequenceStepSkipped) EventType() string          { return TypeSequenceStepSkipped }
