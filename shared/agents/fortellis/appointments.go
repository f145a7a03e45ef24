package fortellis

import (
	"context"
	"strings"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
)

// Progress and correlation keys of appointments.
const (
	keyActivityID   = "activityId"
	keyActivitySent = "activitySent" // a schedule was sent whose answer may have been lost
	keyDueDate      = "dueDate"
)

// appointment delivers appointment.*: service appointments are booked through Appointments
// v3 (service.go), the others are scheduled activities on the lead's Elead opportunity.
func (s *session) appointment(ctx context.Context) (connector.Result, error) {
	a, err := connector.Appointment(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	if a.AppointmentType == events.AppointmentService {
		return s.serviceAppointment(ctx, a)
	}
	if s.d.Event.Type == events.TypeAppointmentCancelled {
		return s.cancelSalesAppointment(ctx, a)
	}
	return s.scheduleSalesAppointment(ctx, a)
}

// scheduleSalesAppointment schedules an activity of the activityType setting on the lead's
// opportunity, at the appointment's time. The opportunity (and its customer) are created
// from the appointment's own fields when Elead does not have the lead yet. Elead publishes no
// call that moves a scheduled activity, so a reschedule schedules a new one whose comments
// name the activity it replaces.
func (s *session) scheduleSalesAppointment(ctx context.Context, a *events.AppointmentCreated) (connector.Result, error) {
	ev := s.d.Event
	if a.AppointmentTime.IsZero() {
		return connector.Result{}, &connector.AttemptError{Class: connector.ClassInternal, Message: "the event has no appointmentTime to schedule", Permanent: true}
	}
	due := a.AppointmentTime.UTC().Format(time.RFC3339)
	if id := s.d.Known[keyActivityID]; id != "" && s.d.Known[keyDueDate] == due && s.progress[keyActivityID] == "" {
		return connector.Skip("already scheduled in Elead as activity " + id + " for " + due), nil
	}
	lead, created, err := s.leadOf(ctx, s.leadInputOfAppointment(a))
	if err != nil {
		return connector.Result{}, err
	}
	oppID := lead[keyOpportunityID]
	if s.progress[keyActivityID] == "" {
		activityType, err := s.activityType(ctx)
		if err != nil {
			return connector.Result{}, err
		}
		name := "DealerAI " + appointmentKind(a.AppointmentType) + " appointment"
		comments := connector.DescribeAppointment(ev.Type, a)
		if previous := s.d.Known[keyActivityID]; previous != "" {
			name += " (rescheduled)"
			comments += " It replaces Elead activity " + previous + "."
		}
		if s.progress[keyActivitySent] != "" || s.d.Attempt > 1 && s.progress[keyOpportunity] != "created" {
			// The answer to a schedule may have been lost: look for the activity first (an
			// opportunity this delivery created has none of its own yet).
			id, err := s.findActivity(ctx, oppID, name, a.AppointmentTime)
			if err != nil {
				return connector.Result{}, err
			}
			s.progress[keyActivityID] = id
		}
		if s.progress[keyActivityID] == "" {
			s.progress[keyActivitySent] = "true"
			id, err := s.scheduleActivity(ctx, ScheduledActivity{OpportunityID: oppID, DueDate: due,
				ActivityName: name, ActivityType: activityType, Comments: comments})
			if err != nil {
				return connector.Result{}, err
			}
			s.progress[keyActivityID] = id
		}
	}
	res := connector.Result{
		Correlation: map[string]string{keyOpportunityID: oppID, keyActivityID: s.progress[keyActivityID], keyDueDate: due},
		// What the change feed reports of the activity: not sent back.
		Pushed:  map[string]string{connector.PushedAppointmentTime: due, connector.PushedAppointmentStatus: events.AppointmentStatusScheduled},
		Summary: "Elead activity " + s.progress[keyActivityID] + " scheduled on opportunity " + oppID + " for " + due,
	}
	if created {
		res.LeadCorrelation = lead
		res.Summary = s.leadSummary() + "; " + res.Summary
	}
	return res, nil
}

// cancelSalesAppointment notes the cancellation as a comment on the opportunity (Elead
// publishes no call that closes a scheduled activity). An appointment whose lead Elead does
// not have is skipped: there is nothing to cancel.
func (s *session) cancelSalesAppointment(ctx context.Context, a *events.AppointmentCreated) (connector.Result, error) {
	oppID := firstOf(s.d.Lead[keyOpportunityID], s.d.Known[keyOpportunityID])
	switch {
	case oppID == "":
		return connector.Skip("Elead has no opportunity for this appointment's lead: nothing to cancel"), nil
	case s.d.Known[keyStatus] == "cancelled" && s.progress[keyNote] == "":
		return connector.Skip("the cancellation is noted on Elead opportunity " + oppID + " already"), nil
	}
	if s.progress[keyNote] == "" {
		note := connector.DescribeAppointment(s.d.Event.Type, a)
		if id := s.d.Known[keyActivityID]; id != "" {
			note += " Elead activity " + id + " was scheduled for it."
		}
		if err := s.addComment(ctx, oppID, note); err != nil {
			return connector.Result{}, err
		}
		s.progress[keyNote] = "added"
	}
	return connector.Result{
		Correlation: map[string]string{keyOpportunityID: oppID, keyActivityID: s.d.Known[keyActivityID], keyStatus: "cancelled"},
		Summary:     "appointment cancellation noted on Elead opportunity " + oppID,
	}, nil
}

// findActivity is the scheduled activity of the opportunity with this name and due time;
// "" when there is none.
func (s *session) findActivity(ctx context.Context, opportunityID, name string, due time.Time) (string, error) {
	acts, err := s.activitiesOf(ctx, opportunityID)
	if err != nil {
		return "", err
	}
	for _, a := range acts {
		t, err := time.Parse(time.RFC3339, a.DueDate)
		if a.ID != "" && err == nil && t.Equal(due) && a.Name == name && !strings.EqualFold(a.Category, "Completed") {
			return truncate(a.ID, 128), nil
		}
	}
	return "", nil
}

// leadInputOfAppointment is the lead an appointment makes when Elead has none: its contact,
// and the vehicle it is about (the one traded for, for a trade-in).
func (s *session) leadInputOfAppointment(a *events.AppointmentCreated) leadInput {
	ev := s.d.Event
	first, last := connector.SplitName(a.Name)
	in := leadInput{firstName: first, lastName: last, email: a.Email, phone: a.Phone, dateIn: ev.Timestamp, origin: ev.Type,
		comments: "DealerAI lead (created for its " + appointmentKind(a.AppointmentType) + " appointment)."}
	if a.AppointmentType == events.AppointmentTradeIn {
		in.vehicle = soughtVehicle("", a.TradeForVehicleYear, "", a.TradeForVehicleModel, "", a.TradeForVehicleVIN, "", ev.Timestamp)
	} else {
		in.vehicle = soughtVehicle("", a.VehicleYear, a.VehicleMake, a.VehicleModel, "", a.VehicleVIN, a.VehicleStockNumber, ev.Timestamp)
	}
	return in
}

// appointmentKind names an appointment type for people.
func appointmentKind(t string) string {
	switch t {
	case events.AppointmentTestDrive:
		return "test drive"
	case events.AppointmentTradeIn:
		return "trade-in"
	case events.AppointmentLeaseReturn:
		return "lease return"
	case "":
		return "sales"
	}
	return t
}
