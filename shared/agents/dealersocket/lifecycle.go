package dealersocket

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/adf"
	"github.com/dealerai/integrations/shared/agents/connector"
)

// needsKeys is the skip of an event the signed APIs take when the agent has no keys.
func needsKeys(what string) connector.Result {
	return connector.Skip("DealerSocket " + what + " need the signed API keys (credentials publicKey and secretKey)")
}

// ---- appointments: activities ----

// appointment records an appointment as an activity on its lead: created inserts one;
// rescheduled and cancelled update the activity an earlier event of the appointment
// inserted (a rescheduled one never inserted is inserted; a cancelled one is a work note).
func (s *session) appointment(ctx context.Context) (connector.Result, error) {
	a, err := connector.Appointment(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	if !s.hasKeys() {
		return needsKeys("appointments"), nil
	}
	eventID, err := s.ensureLead(ctx, func() *adf.Document { return adf.FromAppointment(s.d.Event.Type, a, s.adfOptions()) })
	if err != nil {
		return connector.Result{}, err
	}
	entityID, err := s.ensureCustomer(ctx, eventID, a.Email, a.Phone)
	if err != nil {
		return connector.Result{}, err
	}
	note := connector.DescribeAppointment(s.d.Event.Type, a)
	// Progress says which step an earlier attempt of this delivery finished: the activity
	// inserted (activityId), updated (activityUpdated) or the work note added (note).
	activityID := firstOf(s.progress["activityId"], s.d.Known["activityId"])
	switch {
	case s.progress["activityId"] != "" || s.progress["activityUpdated"] != "" || s.progress["note"] != "":
		// done by an earlier attempt
	case activityID == "" && s.d.Event.Type == events.TypeAppointmentCancelled:
		if err := s.workNote(ctx, eventID, entityID, note); err != nil {
			return connector.Result{}, err
		}
		s.progress["note"] = "added"
	case activityID == "":
		if activityID, err = s.saveActivity(ctx, http.MethodPost, s.activity(eventID, entityID, a, "", note)); err != nil {
			return connector.Result{}, err
		}
		s.progress["activityId"] = activityID
	default:
		if _, err = s.saveActivity(ctx, http.MethodPut, s.activity(eventID, entityID, a, activityID, note)); err != nil {
			return connector.Result{}, err
		}
		s.progress["activityUpdated"] = activityID
	}
	did := "updated activity " + activityID
	switch {
	case s.progress["note"] != "":
		did = "added as a work note (no activity of it to cancel)"
	case s.progress["activityId"] != "":
		did = "added as activity " + activityID
	}
	ids := map[string]string{"leadId": eventID, "customerId": entityID}
	if activityID != "" {
		ids["activityId"] = activityID
	}
	summary := "appointment " + connector.Verb(s.d.Event.Type) + " " + did + " on DealerSocket lead " + eventID
	if s.progress["duplicateOf"] != "" || s.d.Lead == nil {
		summary = s.leadSummary() + "; " + summary
	}
	return connector.Result{Correlation: ids, Summary: summary}, nil
}

// activity is the ActivityInsert of an appointment; activityID "" inserts.
func (s *session) activity(eventID, entityID string, a *events.AppointmentCreated, activityID, note string) *activityInsert {
	body := &activityInsert{
		Vendor: s.d.Settings["apiVendor"], DealerID: s.d.Settings["dealerNumberId"],
		EntityID: entityID, EventID: eventID,
		Status: s.d.Settings["activityStatus"], ActivityID: activityID, Note: note,
	}
	if s.d.Settings["activityTypeElement"] == ElementActivityType {
		body.ActivityType = s.d.Settings["activityType"]
	} else {
		body.ActivityTaskType = s.d.Settings["activityType"]
	}
	if s.d.Event.Type == events.TypeAppointmentCancelled {
		body.Status = s.d.Settings["cancelledActivityStatus"]
	}
	due := a.AppointmentTime
	if due.IsZero() {
		due = s.d.Event.Timestamp
	}
	body.DueDateTime = due.UTC().Format(time.RFC3339)
	return body
}

// saveActivity is POST /Activity (insert) or PUT /Activity (update): the activity's id,
// which DealerSocket answers "0" when it did not save it.
func (s *session) saveActivity(ctx context.Context, method string, body *activityInsert) (string, error) {
	step := "DealerSocket activity"
	if method == http.MethodPut {
		step = "DealerSocket activity update"
	}
	r, err := s.signedXML(ctx, method, PathActivity, body, step)
	if err != nil {
		return "", err
	}
	id := firstOf(r.ActivityID, body.ActivityID)
	if id == "" {
		return "", &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: s.status,
			Message: step + ": the answer holds no ActivityId (DealerSocket answers 0 for an activity it did not save)"}
	}
	return id, nil
}

// workNote is POST /WorkNote: a note appended to the sales event (DealerSocket keeps at most
// MaxWorkNote characters; a longer note is cut).
func (s *session) workNote(ctx context.Context, eventID, entityID, note string) error {
	if utf8.RuneCountInString(note) > MaxWorkNote {
		note = string([]rune(note)[:MaxWorkNote-1]) + "…"
	}
	_, err := s.signedXML(ctx, http.MethodPost, PathWorkNote, &workNoteInsert{
		Vendor: s.d.Settings["apiVendor"], DealerID: s.d.Settings["dealerNumberId"],
		EntityID: entityID, EventID: eventID, BatchID: "0", Note: note,
	}, "DealerSocket work note")
	return err
}

// ---- dispositions: the sales event's status, and a work note ----

// disposition sets the sales event's LeadStatus to the one dispositionStatuses maps the
// disposition code to (none when it maps none) and appends the disposition as a work note. A
// lead DealerSocket does not have yet is sent first, from the event's own fields.
func (s *session) disposition(ctx context.Context) (connector.Result, error) {
	ev, err := connector.Disposition(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	if !s.hasKeys() {
		return needsKeys("dispositions"), nil
	}
	statuses, err := ParseDispositionStatuses(s.d.Settings["dispositionStatuses"])
	if err != nil {
		return connector.Result{}, &connector.AttemptError{Class: connector.ClassInternal, Permanent: true, Message: "settings.dispositionStatuses: " + err.Error()}
	}
	note := describeDisposition(ev)
	eventID, err := s.ensureLead(ctx, func() *adf.Document {
		return adf.FromLead(&events.LeadCreated{Base: ev.Base, LeadFields: ev.LeadFields, Comments: note}, s.adfOptions())
	})
	if err != nil {
		return connector.Result{}, err
	}
	entityID, err := s.ensureCustomer(ctx, eventID, ev.Email, ev.Phone)
	if err != nil {
		return connector.Result{}, err
	}
	status := statuses[ev.DispositionCode]
	if status != "" && s.progress["leadStatus"] == "" {
		doc := s.salesLead(eventID, entityID)
		doc.SalesLead.Detail.LeadStatus = status
		if _, err := s.signedXML(ctx, http.MethodPost, PathEventSales, doc, "DealerSocket sales event status"); err != nil {
			return connector.Result{}, err
		}
		s.progress["leadStatus"] = status
	}
	if s.progress["note"] == "" {
		if err := s.workNote(ctx, eventID, entityID, note); err != nil {
			return connector.Result{}, err
		}
		s.progress["note"] = "added"
	}
	// What was set, for the next update of the kind; and the state it left the sales event
	// in, for recognizing it when the change feed reads it back.
	ids := map[string]string{"leadId": eventID, "dispositionCode": ev.DispositionCode}
	var pushed map[string]string
	summary := "disposition " + firstOf(ev.DispositionCode, ev.DispositionName, "(none)") + " added as a work note to DealerSocket lead " + eventID
	if status != "" {
		ids["leadStatus"] = status
		pushed = s.pushedState(ctx, eventID, entityID, status)
		summary = "DealerSocket lead " + eventID + " set to " + status + "; " + summary
	}
	if s.leadChanged() {
		summary = s.leadSummary() + "; " + summary
	}
	return connector.Result{Correlation: ids, Pushed: pushed, Summary: summary}, nil
}

// pushedState is the state setting leadStatus left sales event eventID in, as the change
// feed reads it: its status and assignee read back with the event search; the status's name
// alone when the read fails (the status is set: the delivery does not fail for it).
func (s *session) pushedState(ctx context.Context, eventID, entityID, leadStatus string) map[string]string {
	state := map[string]string{connector.PushedStatus: LeadStatusName(leadStatus)}
	if !digitsOnly(entityID) {
		return state
	}
	found, _, err := searchEvents(ctx, s.d.HTTP, s.d.Settings, s.d.Credentials, entityID)
	if err != nil || found.Refused() {
		return state
	}
	if e := found.Event(eventID); e != nil && e.Status != "" {
		state[connector.PushedStatus] = StatusName(e.Status)
		if e.PrimaryAssigned != "" {
			state[connector.PushedAssigneeID] = e.PrimaryAssigned
		}
	}
	return state
}

func describeDisposition(ev *events.LeadDispositionUpdated) string {
	var b strings.Builder
	b.WriteString("DealerAI disposition")
	switch {
	case ev.DispositionName != "" && ev.DispositionCode != "":
		fmt.Fprintf(&b, ": %s (%s).", ev.DispositionName, ev.DispositionCode)
	case ev.DispositionName+ev.DispositionCode != "":
		fmt.Fprintf(&b, ": %s.", ev.DispositionName+ev.DispositionCode)
	default:
		b.WriteString(" updated.")
	}
	if n := strings.TrimSpace(ev.Notes); n != "" {
		b.WriteString(" " + n)
	}
	return b.String()
}

// ParseDispositionStatuses reads the dispositionStatuses setting: comma-separated
// CODE=LeadStatus pairs.
func ParseDispositionStatuses(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		code, status, ok := strings.Cut(pair, "=")
		code, status = strings.TrimSpace(code), strings.TrimSpace(status)
		if !ok || code == "" || status == "" {
			return nil, fmt.Errorf("%q is not CODE=LeadStatus (pairs separated by commas, e.g. APPT_SET=Contacted,LOST=Lost)", strings.TrimSpace(pair))
		}
		if _, dup := out[code]; dup {
			return nil, fmt.Errorf("names %s twice", code)
		}
		out[code] = status
	}
	return out, nil
}

// ---- contact updates: the customer, the vehicle of interest ----

// contactLead is the DealerSocket lead and customer of a contact event. A contact
// DealerSocket has no lead of yet is retried once (its lead's own delivery may be running),
// then skipped: contact events do not create leads.
func (s *session) contactLead(ctx context.Context, c events.ContactFields) (eventID, entityID string, skip *connector.Result, err error) {
	eventID = s.leadID()
	if eventID == "" {
		if s.d.Attempt <= 1 {
			return "", "", nil, connector.PendingDependency("DealerSocket has no lead of this contact yet (retried once, after the lead's own delivery)")
		}
		r := connector.Skip("DealerSocket has no lead of this contact: contact updates change existing DealerSocket customers only")
		return "", "", &r, nil
	}
	entityID, err = s.ensureCustomer(ctx, eventID, c.Email, c.Phone)
	return eventID, entityID, nil, err
}

// contactUpdate rewrites the customer's name, email and phone (PUT /Customer, UC). DealerSocket
// replaces the customer with what the update holds, so the record is read first
// (SearchEntity) and its address and other phones and emails are sent back unchanged.
func (s *session) contactUpdate(ctx context.Context) (connector.Result, error) {
	c, err := connector.ContactUpdate(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	if !s.hasKeys() {
		return needsKeys("contact updates"), nil
	}
	eventID, entityID, skip, err := s.contactLead(ctx, c.ContactFields)
	if skip != nil || err != nil {
		return deref(skip), err
	}
	found, err := s.searchCustomers(ctx, entityID, nil)
	if err != nil {
		return connector.Result{}, err
	}
	var current *Customer
	for i := range found {
		if found[i].EntityID == entityID {
			current = &found[i]
		}
	}
	if current == nil {
		return connector.Result{}, &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: s.status,
			Message: "DealerSocket customer search: customer " + entityID + " of lead " + eventID + " was not found"}
	}
	doc := &processCustomerInformation{ApplicationArea: s.applicationArea()}
	doc.Info.TransactionTypeCode = "UC"
	doc.Info.Person = updatedPerson(current, c.ContactFields)
	r, err := s.signedXML(ctx, http.MethodPut, PathCustomer, doc, "DealerSocket customer update")
	if err != nil {
		return connector.Result{}, err
	}
	if r.EntityID != "" && r.EntityID != entityID {
		return connector.Result{}, &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: s.status,
			Message: "DealerSocket customer update: the answer names customer " + r.EntityID + ", not " + entityID}
	}
	return connector.Result{Correlation: map[string]string{"leadId": eventID, "customerId": entityID},
		Summary: "DealerSocket customer " + entityID + " updated (name, email, phone)"}, nil
}

// updatedPerson is the customer current with the contact's name, email and phone: the
// contact's values first, the ones DealerSocket had after them, its address kept.
func updatedPerson(current *Customer, c events.ContactFields) starPerson {
	first, last := c.FirstName, c.LastName
	if first == "" && last == "" {
		first, last = connector.SplitName(c.Name)
	}
	p := starPerson{ID: current.EntityID, GivenName: firstOf(strings.TrimSpace(first), current.GivenName),
		FamilyName: firstOf(strings.TrimSpace(last), current.FamilyName)}
	if current.Address != (starAddress{}) {
		addr := current.Address
		p.Address = &addr
	}
	phone := PhoneDigits(c.Phone)
	if phone != "" {
		p.Phones = append(p.Phones, starPhone{CompleteNumber: phone, UseCode: "Cell"})
	}
	for _, ph := range current.Phones {
		if PhoneDigits(ph.CompleteNumber) != phone {
			p.Phones = append(p.Phones, starPhone{CompleteNumber: ph.CompleteNumber, UseCode: writableUseCode(ph.UseCode)})
		}
	}
	email := strings.TrimSpace(c.Email)
	if email != "" {
		p.Emails = append(p.Emails, starEmailAddr{URIID: email})
	}
	for _, e := range current.Emails {
		if !strings.EqualFold(e, email) {
			p.Emails = append(p.Emails, starEmailAddr{URIID: e})
		}
	}
	return p
}

// writableUseCode is a phone's UseCode as a customer update takes it: reads answer "Mobile"
// where writes send "Cell".
func writableUseCode(code string) string {
	if strings.EqualFold(code, "Mobile") {
		return "Cell"
	}
	return code
}

// vehicleOfInterest puts the contact's vehicle of interest on its sales event (POST
// /eventsales with the vehicle and no status).
func (s *session) vehicleOfInterest(ctx context.Context) (connector.Result, error) {
	v, err := connector.VehicleOfInterest(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	if v.VehicleInterest == nil || *v.VehicleInterest == (events.VehicleInterest{}) {
		return connector.Skip("the event holds no vehicle of interest"), nil
	}
	if !s.hasKeys() {
		return needsKeys("vehicles of interest"), nil
	}
	eventID, entityID, skip, err := s.contactLead(ctx, v.ContactFields)
	if skip != nil || err != nil {
		return deref(skip), err
	}
	vi := v.VehicleInterest
	doc := s.salesLead(eventID, entityID)
	doc.SalesLead.Detail.Vehicle = &starVehicle{ManufacturerName: vi.Make, ModelYear: vi.Year,
		ModelDescription: strings.TrimSpace(vi.Model + " " + vi.Trim), VehicleID: vi.VIN, VehicleStockString: vi.Stock}
	if _, err := s.signedXML(ctx, http.MethodPost, PathEventSales, doc, "DealerSocket sales event vehicle"); err != nil {
		return connector.Result{}, err
	}
	return connector.Result{Correlation: map[string]string{"leadId": eventID, "customerId": entityID},
		Summary: "vehicle of interest " + connector.Vehicle(vi.Year, vi.Make, vi.Model, vi.VIN) + " set on DealerSocket lead " + eventID}, nil
}

func deref(r *connector.Result) connector.Result {
	if r == nil {
		return connector.Result{}
	}
	return *r
}
