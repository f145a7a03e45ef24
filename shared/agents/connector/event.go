package connector

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dealerai/integrations/events"
)

// Lead decodes a lead.created body.
func Lead(ev *events.Event) (*events.LeadCreated, error) {
	var l events.LeadCreated
	if err := json.Unmarshal(ev.Body, &l); err != nil {
		return nil, &AttemptError{Class: ClassInternal, Message: "decode lead.created: " + err.Error(), Permanent: true}
	}
	return &l, nil
}

// Appointment decodes the body of an appointment.* event.
func Appointment(ev *events.Event) (*events.AppointmentCreated, error) {
	var a events.AppointmentCreated
	if err := json.Unmarshal(ev.Body, &a); err != nil {
		return nil, &AttemptError{Class: ClassInternal, Message: "decode " + ev.Type + ": " + err.Error(), Permanent: true}
	}
	return &a, nil
}

// IsAppointment reports whether an event type is one of appointment.*.
func IsAppointment(eventType string) bool {
	switch eventType {
	case events.TypeAppointmentCreated, events.TypeAppointmentRescheduled, events.TypeAppointmentCancelled:
		return true
	}
	return false
}

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
