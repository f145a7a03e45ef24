package fortellis

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
)

// Service appointments go to Fortellis's Appointments v3 API (the DMS's service
// appointments): create, update and cancel. Its record links to the customer and vehicle the
// DMS already has (customerHref, vehicleHref); DealerAI knows neither record, so the customer
// travels in contact and remarks, and vehicleHref is sent only when the vehicleHrefTemplate
// setting says how the dealer's vehicles are addressed.

// ServiceAppointmentsPath is the Appointments v3 collection, relative to baseUrl.
const ServiceAppointmentsPath = "/service/v3/appointments"

// Progress and correlation keys of service appointments.
const (
	keyAppointmentID   = "appointmentId"
	keyAppointmentSent = "appointmentSent" // a create was sent whose answer may have been lost
	keyDateTime        = "dateTime"
	keyUpdated         = "updated"
	keyCancelled       = "cancelled"
)

// ServiceAppointment is an Appointments v3 record: the body of a create or update, and an
// answer (with AppointmentID).
type ServiceAppointment struct {
	AppointmentID     string             `json:"appointmentId,omitempty"`
	DateTime          string             `json:"dateTime"`
	RequestedServices []RequestedService `json:"requestedServices"`
	VehicleHref       string             `json:"vehicleHref,omitempty"`
	CustomerHref      string             `json:"customerHref,omitempty"`
	Contact           *ContactPoint      `json:"contact,omitempty"`
	Concerns          string             `json:"concerns,omitempty"`
	Remarks           string             `json:"remarks,omitempty"`
}

// RequestedService is a service the appointment is for (sourceHref, a link to the service
// catalogue, is not known to DealerAI).
type RequestedService struct {
	Description string `json:"description"`
}

// ContactPoint is how to reach the customer: a label and a tel: or mailto: URI.
type ContactPoint struct {
	Label string `json:"label"`
	URI   string `json:"uri"`
}

// serviceAppointment books, updates or cancels a service appointment. A reschedule of an
// appointment never booked books it; a cancellation of one is skipped.
func (s *session) serviceAppointment(ctx context.Context, a *events.AppointmentCreated) (connector.Result, error) {
	ev := s.d.Event
	// The appointment booked for this DealerAI appointment, unless it was cancelled since.
	known := s.d.Known[keyAppointmentID]
	if s.d.Known[keyStatus] == "cancelled" {
		if ev.Type == events.TypeAppointmentCancelled {
			return connector.Skip("Fortellis service appointment " + known + " is cancelled already"), nil
		}
		known = ""
	}
	id := firstOf(s.progress[keyAppointmentID], known)
	switch {
	case ev.Type == events.TypeAppointmentCancelled:
		return s.cancelServiceAppointment(ctx, id)
	case ev.Type == events.TypeAppointmentCreated && known != "":
		return connector.Skip("already booked as Fortellis service appointment " + known), nil
	}
	if a.AppointmentTime.IsZero() {
		return connector.Result{}, &connector.AttemptError{Class: connector.ClassInternal, Message: "the event has no appointmentTime to book", Permanent: true}
	}
	body := s.serviceRecord(a)
	if id != "" && ev.Type == events.TypeAppointmentRescheduled && known != "" {
		if s.d.Known[keyDateTime] == body.DateTime && s.progress[keyUpdated] == "" {
			return connector.Skip("Fortellis service appointment " + id + " is already at " + body.DateTime), nil
		}
		if s.progress[keyUpdated] == "" {
			p := strings.ReplaceAll(s.d.Settings["appointmentUpdatePath"], "{appointmentId}", url.PathEscape(id))
			if _, err := s.send(ctx, call{method: http.MethodPost, path: p, body: body, step: "Fortellis service appointment update"}); err != nil {
				return connector.Result{}, err
			}
			s.progress[keyUpdated] = "true"
		}
		return connector.Result{
			Correlation: map[string]string{keyAppointmentID: id, keyDateTime: body.DateTime},
			Summary:     "Fortellis service appointment " + id + " moved to " + body.DateTime,
		}, nil
	}
	if s.progress[keyAppointmentID] == "" {
		if s.progress[keyAppointmentSent] != "" || s.d.Attempt > 1 {
			found, err := s.findServiceAppointment(ctx, a, body.DateTime)
			if err != nil {
				return connector.Result{}, err
			}
			s.progress[keyAppointmentID] = found
		}
		if s.progress[keyAppointmentID] == "" {
			s.progress[keyAppointmentSent] = "true"
			created, err := s.createServiceAppointment(ctx, body)
			if err != nil {
				return connector.Result{}, err
			}
			s.progress[keyAppointmentID] = created
		}
	}
	return connector.Result{
		Correlation: map[string]string{keyAppointmentID: s.progress[keyAppointmentID], keyDateTime: body.DateTime},
		Summary:     "Fortellis service appointment " + s.progress[keyAppointmentID] + " booked for " + body.DateTime,
	}, nil
}

func (s *session) cancelServiceAppointment(ctx context.Context, id string) (connector.Result, error) {
	if id == "" {
		return connector.Skip("the service appointment was never booked in Fortellis: nothing to cancel"), nil
	}
	summary := "Fortellis service appointment " + id + " cancelled"
	if s.progress[keyCancelled] == "" {
		p := strings.ReplaceAll(s.d.Settings["appointmentCancelPath"], "{appointmentId}", url.PathEscape(id))
		resp, err := s.send(ctx, call{method: http.MethodDelete, path: p, step: "Fortellis service appointment cancel", notFound: true})
		if err != nil {
			return connector.Result{}, err
		}
		s.progress[keyCancelled] = "true"
		if resp.StatusCode == http.StatusNotFound {
			summary = "Fortellis service appointment " + id + " was gone already"
		}
	}
	return connector.Result{Correlation: map[string]string{keyAppointmentID: id, keyStatus: "cancelled"}, Summary: summary}, nil
}

// serviceRecord is the Appointments v3 record of an appointment event.
func (s *session) serviceRecord(a *events.AppointmentCreated) ServiceAppointment {
	r := ServiceAppointment{
		DateTime: a.AppointmentTime.UTC().Format(time.RFC3339),
		Concerns: a.ServiceType,
		Remarks:  limitRunes(connector.DescribeAppointment(s.d.Event.Type, a), MaxCommentLength),
	}
	description := a.ServiceType
	if description == "" {
		description = "Service appointment booked by DealerAI"
	}
	r.RequestedServices = []RequestedService{{Description: description}}
	if t := s.d.Settings["vehicleHrefTemplate"]; t != "" && a.VehicleVIN != "" {
		r.VehicleHref = strings.ReplaceAll(t, "{vin}", url.PathEscape(a.VehicleVIN))
	}
	switch {
	case a.Phone != "":
		r.Contact = &ContactPoint{Label: "mobile", URI: "tel:" + a.Phone}
	case a.Email != "":
		r.Contact = &ContactPoint{Label: "email", URI: "mailto:" + a.Email}
	}
	return r
}

// createServiceAppointment books r and returns the appointment's id: appointmentId in the
// answer, else the last segment of its Location.
func (s *session) createServiceAppointment(ctx context.Context, r ServiceAppointment) (string, error) {
	const step = "Fortellis service appointment"
	resp, err := s.send(ctx, call{method: http.MethodPost, path: ServiceAppointmentsPath, body: r, step: step})
	if err != nil {
		return "", err
	}
	var created ServiceAppointment
	if len(resp.Body) > 0 {
		if err := decodeAnswer(resp, &created, step); err != nil {
			return "", err
		}
	}
	id := created.AppointmentID
	if id == "" {
		if loc, err := url.Parse(resp.Header.Get("Location")); err == nil && loc.Path != "" {
			if last := path.Base(loc.Path); last != "/" && last != "." && last != "appointments" {
				id = last
			}
		}
	}
	if id == "" {
		return "", noID(resp, step, "appointmentId")
	}
	return truncate(id, 128), nil
}

// findServiceAppointment looks, after a create whose answer may have been lost, for the
// appointment among the ones the API lists (its first page): the one at dateTime whose
// remarks name the DealerAI appointment. "" when none is, or the event names no appointment.
func (s *session) findServiceAppointment(ctx context.Context, a *events.AppointmentCreated, dateTime string) (string, error) {
	if a.AppointmentID == "" {
		return "", nil
	}
	const step = "Fortellis service appointments"
	resp, err := s.send(ctx, call{method: http.MethodGet, path: ServiceAppointmentsPath, step: step, notFound: true})
	if err != nil || resp.StatusCode == http.StatusNotFound {
		return "", err
	}
	var page struct {
		Items []ServiceAppointment `json:"items"`
	}
	if err := decodeAnswer(resp, &page, step); err != nil {
		return "", err
	}
	want, _ := time.Parse(time.RFC3339, dateTime)
	marker := "DealerAI appointment " + a.AppointmentID + "."
	for _, it := range page.Items {
		t, err := time.Parse(time.RFC3339, it.DateTime)
		if it.AppointmentID != "" && err == nil && t.Equal(want) && strings.Contains(it.Remarks, marker) {
			return truncate(it.AppointmentID, 128), nil
		}
	}
	return "", nil
}
