package connector

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dealerai/integrations/events"
)

// Lead decodes a lead.created body.
func Lead(ev *events.Event) (*events.LeadCreated, error) { return decode[events.LeadCreated](ev) }

// LeadReceived decodes a lead.received body.
func LeadReceived(ev *events.Event) (*events.LeadReceived, error) {
	return decode[events.LeadReceived](ev)
}

// Disposition decodes a lead.update.disposition body.
func Disposition(ev *events.Event) (*events.LeadDispositionUpdated, error) {
	return decode[events.LeadDispositionUpdated](ev)
}

// ContactUpdate decodes a contact.basic.updated body.
func ContactUpdate(ev *events.Event) (*events.ContactBasicUpdated, error) {
	return decode[events.ContactBasicUpdated](ev)
}

// VehicleOfInterest decodes a contact.vehicleofinterest.updated body.
func VehicleOfInterest(ev *events.Event) (*events.ContactVehicleOfInterestUpdated, error) {
	return decode[events.ContactVehicleOfInterestUpdated](ev)
}

// Appointment decodes the body of an appointment.* event.
func Appointment(ev *events.Event) (*events.AppointmentCreated, error) {
	return decode[events.AppointmentCreated](ev)
}

// decode reads an event's body as T; a body that does not decode fails the attempt
// permanently (the router validated it, so it cannot get better).
func decode[T any](ev *events.Event) (*T, error) {
	var v T
	if err := json.Unmarshal(ev.Body, &v); err != nil {
		return nil, &AttemptError{Class: ClassInternal, Message: "decode " + ev.Type + ": " + err.Error(), Permanent: true}
	}
	return &v, nil
}

// Kind is what an event does to the platform's records, which decides the records its ids
// are kept for (docs/agents.md#correlation).
type Kind int

// Kinds of events.
const (
	// KindOther: an event the agents keep no ids for.
	KindOther Kind = iota
	// KindLead: a DealerAI lead arrives (lead.created, lead.received): its ids are the lead's.
	KindLead
	// KindLeadUpdate: a change to a DealerAI lead or its contact (lead.update.disposition,
	// contact.basic.updated, contact.vehicleofinterest.updated): it needs the lead's ids.
	KindLeadUpdate
	// KindAppointment: appointment.*; its ids are the appointment's, and it needs the lead's.
	KindAppointment
)

// KindOf is the kind of an event type.
func KindOf(eventType string) Kind {
	switch eventType {
	case events.TypeLeadCreated, events.TypeLeadReceived:
		return KindLead
	case events.TypeLeadDispositionUpdated, events.TypeContactBasicUpdated, events.TypeContactVehicleOfInterestUpdated:
		return KindLeadUpdate
	case events.TypeAppointmentCreated, events.TypeAppointmentRescheduled, events.TypeAppointmentCancelled:
		return KindAppointment
	}
	return KindOther
}

// IsAppointment reports whether an event type is one of appointment.*.
func IsAppointment(eventType string) bool { return KindOf(eventType) == KindAppointment }

// SplitName splits a full name into a first name (the first word) and a last name (the rest).
func SplitName(full string) (first, last string) {
	fields := strings.Fields(full)
	switch len(fields) {
	case 0:
		return "", ""
	case 1:
		return fields[0], ""
	}
	return fields[0], strings.Join(fields[1:], " ")
}

// Verb is what happened to an appointment: "created", "rescheduled" or "cancelled".
func Verb(eventType string) string {
	return strings.TrimPrefix(eventType, "appointment.")
}

// DescribeAppointment is a one-paragraph note of an appointment event, in English, for the
// platforms that record appointments as notes or activities.
func DescribeAppointment(eventType string, a *events.AppointmentCreated) string {
	var b strings.Builder
	kind := a.AppointmentType
	if kind == "" {
		kind = "unspecified"
	}
	fmt.Fprintf(&b, "DealerAI: %s appointment %s", kind, Verb(eventType))
	if !a.AppointmentTime.IsZero() {
		fmt.Fprintf(&b, " for %s", a.AppointmentTime.UTC().Format(time.RFC3339))
	}
	b.WriteString(".")
	if v := Vehicle(a.VehicleYear, a.VehicleMake, a.VehicleModel, a.VehicleVIN); v != "" {
		fmt.Fprintf(&b, " Vehicle: %s.", v)
	}
	if a.VehicleStockNumber != "" {
		fmt.Fprintf(&b, " Stock: %s.", a.VehicleStockNumber)
	}
	if a.ServiceType != "" {
		fmt.Fprintf(&b, " Service: %s.", a.ServiceType)
	}
	if v := Vehicle(a.TradeInVehicleYear, "", a.TradeInVehicleModel, ""); v != "" {
		fmt.Fprintf(&b, " Trade-in: %s", v)
		if a.TradeInVehicleMileage != "" {
			fmt.Fprintf(&b, ", %s miles", a.TradeInVehicleMileage)
		}
		if a.TradeInVehicleCondition != "" {
			fmt.Fprintf(&b, ", condition %s", a.TradeInVehicleCondition)
		}
		b.WriteString(".")
	}
	if v := Vehicle(a.TradeForVehicleYear, "", a.TradeForVehicleModel, a.TradeForVehicleVIN); v != "" {
		fmt.Fprintf(&b, " Trade for: %s.", v)
	}
	if contact := strings.Join(nonEmpty(a.Name, a.Email, a.Phone), ", "); contact != "" {
		fmt.Fprintf(&b, " Contact: %s.", contact)
	}
	if a.AppointmentID != "" {
		fmt.Fprintf(&b, " DealerAI appointment %s.", a.AppointmentID)
	}
	return b.String()
}

// Vehicle is "2024 Toyota RAV4 (VIN ...)", from the parts that are present.
func Vehicle(year, make, model, vin string) string {
	s := strings.Join(nonEmpty(year, make, model), " ")
	if vin != "" {
		if s != "" {
			s += " "
		}
		s += "(VIN " + vin + ")"
	}
	return s
}

func nonEmpty(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
