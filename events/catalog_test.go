package events

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The product document's order, groups and "Triggered when" texts.
var wantCatalog = []struct{ typ, group, desc string }{
	{"lead.created", "lead", "A new lead is created"},
	{"lead.received", "lead", "A lead is received"},
	{"lead.update.disposition", "lead", "A lead's disposition is updated"},
	{"appointment.created", "appointment", "An appointment is created"},
	{"appointment.rescheduled", "appointment", "An appointment is rescheduled"},
	{"appointment.cancelled", "appointment", "An appointment is cancelled"},
	{"contact.created", "contact", "A new contact is created"},
	{"contact.basic.updated", "contact", "A contact's basic information is updated"},
	{"contact.vehicleofinterest.updated", "contact", "A contact's vehicle of interest is updated"},
	{"contact.sequence_enrollment.updated", "contact", "A contact is enrolled or unenrolled from a sequence"},
	{"conversation.started", "conversation", "A conversation is started"},
	{"conversation.replied", "conversation", "A conversation is replied to"},
	{"conversation.flagged", "conversation", "A conversation is flagged (e.g., marked as priority)"},
	{"conversation.takenover", "conversation", "A conversation is taken over by an agent"},
	{"sequence.enrollment.created", "sequence", "A contact is enrolled in a sequence"},
	{"sequence.enrollment.completed", "sequence", "A contact completes all steps in a sequence"},
	{"sequence.enrollment.paused", "sequence", "A sequence enrollment is paused"},
	{"sequence.enrollment.unenrolled", "sequence", "A contact is unenrolled from a sequence"},
	{"sequence.reply.received", "sequence", "A contact replies to a sequence message"},
	{"sequence.step.executing", "sequence", "A sequence step is about to execute"},
	{"sequence.step.executed", "sequence", "A sequence step executes successfully"},
	{"sequence.step.failed", "sequence", "A sequence step execution fails"},
	{"sequence.step.skipped", "sequence", "A sequence step is skipped"},
}

func TestCatalog(t *testing.T) {
	got := Catalog()
	if len(got) != len(wantCatalog) {
		t.Fatalf("Catalog() has %d types, want %d", len(got), len(wantCatalog))
	}
	for i, w := range wantCatalog {
		d := got[i]
		if d.Type != w.typ || d.Group != w.group || d.Description != w.desc {
			t.Errorf("Catalog()[%d] = %q %q %q, want %q %q %q", i, d.Type, d.Group, d.Description, w.typ, w.group, w.desc)
		}
		if !strings.HasPrefix(d.Type, d.Group+".") {
			t.Errorf("%s: group %q is not its prefix", d.Type, d.Group)
		}
		if !json.Valid(d.Schema) {
			t.Errorf("%s: schema is not valid JSON", d.Type)
		}
		l, ok := Lookup(d.Type)
		if !ok || l.Type != d.Type || !bytes.Equal(l.Schema, d.Schema) {
			t.Errorf("Lookup(%q) = %v, %v", d.Type, l.Type, ok)
		}
	}
	for _, bad := range []string{"", "lead", "lead.*", "*", "Lead.Created", "lead.created "} {
		if _, ok := Lookup(bad); ok {
			t.Errorf("Lookup(%q) found a type", bad)
		}
	}
	// Catalog returns a copy.
	got[0].Type = "changed"
	if Catalog()[0].Type != TypeLeadCreated {
		t.Error("Catalog() shares its slice with the caller")
	}
}

// The fields of each type, as the product document lists them (common,
// group, own); appointments without their appointmentType fields.
func TestCatalogFields(t *testing.T) {
	common := []string{"dealerId", "leadId", "timestamp"}
	lead := []string{"conversationId", "contactId", "firstName", "lastName", "email", "phone"}
	appt := []string{"conversationId", "appointmentType", "contactId", "name", "email", "phone", "appointmentTime", "appointmentId"}
	contact := []string{"contactId", "name", "firstName", "lastName", "email", "phone"}
	conv := []string{"conversationId", "channel"}
	enroll := []string{"sequenceId", "sequenceName", "enrollmentCount", "channel", "startDate", "fileName", "contactId", "contactEmail", "contactPhoneNumber", "contactFirstName", "contactLastName", "conversationId", "message"}
	step := []string{"sequenceId", "sequenceName", "enrollmentId", "contactId", "stepOrder", "stepAction", "channel", "conversationId", "message", "errorMessage", "reason"}
	want := map[string][]string{
		"lead.created":                        slices.Concat(common, lead, []string{"source", "vehicleYear", "vehicleMake", "vehicleModel", "vehicleVin", "comments"}),
		"lead.received":                       slices.Concat(common, lead),
		"lead.update.disposition":             slices.Concat(common, lead, []string{"dispositionCode", "dispositionName", "notes"}),
		"appointment.created":                 slices.Concat(common, appt),
		"appointment.rescheduled":             slices.Concat(common, appt),
		"appointment.cancelled":               slices.Concat(common, appt),
		"contact.created":                     slices.Concat(common, contact, []string{"createdAtUtc"}),
		"contact.basic.updated":               slices.Concat(common, contact, []string{"updatedAtUtc"}),
		"contact.vehicleofinterest.updated":   slices.Concat(common, contact, []string{"updatedAtUtc", "vehicleInterest", "contact"}),
		"contact.sequence_enrollment.updated": slices.Concat(common, contact, []string{"inSequence", "updatedAtUtc", "contact"}),
		"conversation.started":                slices.Concat(common, conv, []string{"firstMessage", "name", "email", "phone"}),
		"conversation.replied":                slices.Concat(common, conv, []string{"message"}),
		"conversation.flagged":                slices.Concat(common, conv, []string{"flag", "contactId", "name", "email", "phone", "notes", "conversationSummary", "conversationSummaryGeneratedAtUtc", "flaggedAtUtc"}),
		"conversation.takenover":              slices.Concat(common, conv, []string{"agentUserId", "agentName"}),
	}
	for _, typ := range []string{"sequence.enrollment.created", "sequence.enrollment.completed", "sequence.enrollment.paused", "sequence.enrollment.unenrolled", "sequence.reply.received"} {
		want[typ] = slices.Concat(common, enroll)
	}
	for _, typ := range []string{"sequence.step.executing", "sequence.step.executed", "sequence.step.failed", "sequence.step.skipped"} {
		want[typ] = slices.Concat(common, step)
	}
	for typ, ct := range compiledTypes {
		if got := names(ct.fields); !slices.Equal(got, want[typ]) {
			t.Errorf("%s fields:\n got %v\nwant %v", typ, got, want[typ])
		}
	}

	variants := map[string][]string{
		"sales":       {"vehicleYear", "vehicleMake", "vehicleModel", "vehicleVin", "vehicleStockNumber"},
		"testdrive":   {"vehicleYear", "vehicleMake", "vehicleModel", "vehicleVin", "vehicleStockNumber"},
		"service":     {"serviceType", "vehicleVin", "vehicleMake", "vehicleModel", "vehicleYear"},
		"tradein":     {"tradeInVehicleModel", "tradeInVehicleYear", "tradeInVehicleMileage", "tradeInVehicleCondition", "tradeForVehicleModel", "tradeForVehicleYear", "tradeForVehicleVin"},
		"leasereturn": {"vehicleYear", "vehicleMake", "vehicleModel", "vehicleVin"},
	}
	for _, typ := range []string{TypeAppointmentCreated, TypeAppointmentRescheduled, TypeAppointmentCancelled} {
		ct := compiledTypes[typ]
		if len(ct.byAppointmentType) != len(variants) {
			t.Errorf("%s: %d appointmentType variants, want %d", typ, len(ct.byAppointmentType), len(variants))
		}
		for value, extra := range variants {
			if got, want := names(ct.byAppointmentType[value]), slices.Concat(common, appt, extra); !slices.Equal(got, want) {
				t.Errorf("%s %s fields:\n got %v\nwant %v", typ, value, got, want)
			}
		}
	}

	kinds := map[string]kind{
		"timestamp": kindDateTime, "appointmentTime": kindDateTime, "createdAtUtc": kindDateTime, "updatedAtUtc": kindDateTime,
		"startDate": kindDateTime, "flaggedAtUtc": kindDateTime, "conversationSummaryGeneratedAtUtc": kindDateTime,
		"enrollmentCount": kindNumber, "stepOrder": kindNumber, "inSequence": kindBool,
		"vehicleInterest": kindObject, "contact": kindPassthrough,
	}
	for _, c := range typeCases() {
		for _, f := range c.fields {
			if f.kind != kinds[f.name] { // kindString is the zero value
				t.Errorf("%s: field %s has kind %d, want %d", c.name, f.name, f.kind, kinds[f.name])
			}
		}
	}
	vi := compiledTypes[TypeContactVehicleOfInterestUpdated].fields
	i := slices.IndexFunc(vi, func(f compiledField) bool { return f.name == "vehicleInterest" })
	wantSub := []string{"year", "make", "model", "trim", "vin", "stock", "bodyStyle", "interest", "status"}
	if got := names(vi[i].sub.fields); !slices.Equal(got, wantSub) {
		t.Errorf("vehicleInterest subfields = %v, want %v", got, wantSub)
	}
	for _, s := range vi[i].sub.fields {
		if s.kind != kindString || s.path != "vehicleInterest."+s.name {
			t.Errorf("vehicleInterest.%s: kind %d path %q", s.name, s.kind, s.path)
		}
	}
}

func names(fs []compiledField) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.name)
	}
	return out
}

// typeCase is one field list of the catalog: a type, or for appointments a
// type with one appointmentType value, with a valid body to start from.
type typeCase struct {
	name            string // e.g. "appointment.created/service"
	typ             string
	appointmentType string // set in the body when not empty
	fields          []compiledField
}

func typeCases() []typeCase {
	var cases []typeCase
	for _, d := range catalogDefs {
		ct := compiledTypes[d.Type]
		if ct.byAppointmentType == nil {
			cases = append(cases, typeCase{name: d.Type, typ: d.Type, fields: ct.fields})
			continue
		}
		cases = append(cases, typeCase{name: d.Type + "/other", typ: d.Type, appointmentType: "bodywork", fields: ct.fields})
		for _, value := range []string{AppointmentSales, AppointmentTestDrive, AppointmentService, AppointmentTradeIn, AppointmentLeaseReturn} {
			cases = append(cases, typeCase{name: d.Type + "/" + value, typ: d.Type, appointmentType: value, fields: ct.byAppointmentType[value]})
		}
	}
	return cases
}

// exampleFiles returns every outbound example body by file name: the catalog's (examples/) and
// the tests' variants (testdata/events). The inbound examples are inboundExampleFiles'.
func exampleFiles(t testing.TB) map[string][]byte {
	t.Helper()
	catalog, _ := filepath.Glob(filepath.Join("examples", "*.json"))
	variants, _ := filepath.Glob(filepath.Join("..", "testdata", "events", "*.json"))
	if len(catalog) == 0 || len(variants) == 0 {
		t.Fatal("no examples")
	}
	out := map[string][]byte{}
	for _, f := range append(catalog, variants...) {
		if _, ok := inbound.types[strings.TrimSuffix(filepath.Base(f), ".json")]; ok {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func TestExamples(t *testing.T) {
	files := exampleFiles(t)
	for _, d := range Catalog() {
		b, ok := Example(d.Type)
		if !ok {
			t.Errorf("Example(%q): none", d.Type)
			continue
		}
		if !bytes.Equal(b, files[d.Type+".json"]) {
			t.Errorf("Example(%q) is not examples/%s.json", d.Type, d.Type)
		}
		ev, err := Parse(b)
		if err != nil {
			t.Errorf("Example(%q): %v", d.Type, err)
			continue
		}
		if ev.Type != d.Type {
			t.Errorf("Example(%q) is a %s", d.Type, ev.Type)
		}
	}
	// Extra examples are named <type>.<variant>.json.
	for name, b := range files {
		ev, err := Parse(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !strings.HasPrefix(name, ev.Type+".") {
			t.Errorf("%s holds a %s", name, ev.Type)
		}
	}
	// The appointment examples cover every appointmentType.
	seen := map[string]bool{}
	for name, b := range files {
		if strings.HasPrefix(name, "appointment.") {
			var v struct{ AppointmentType string }
			_ = json.Unmarshal(b, &v)
			seen[v.AppointmentType] = true
		}
	}
	for _, at := range []string{AppointmentSales, AppointmentTestDrive, AppointmentService, AppointmentTradeIn, AppointmentLeaseReturn} {
		if !seen[at] {
			t.Errorf("no appointment example has appointmentType %q", at)
		}
	}
	for _, bad := range []string{"", "lead.*", "../embed.go", "events/lead.created"} {
		if _, ok := Example(bad); ok {
			t.Errorf("Example(%q) found something", bad)
		}
	}
}

// payloadTypes maps each event type to its Go type.
var payloadTypes = map[string]Payload{
	TypeLeadCreated:                      LeadCreated{},
	TypeLeadReceived:                     LeadReceived{},
	TypeLeadDispositionUpdated:           LeadDispositionUpdated{},
	TypeAppointmentCreated:               AppointmentCreated{},
	TypeAppointmentRescheduled:           AppointmentRescheduled{},
	TypeAppointmentCancelled:             AppointmentCancelled{},
	TypeContactCreated:                   ContactCreated{},
	TypeContactBasicUpdated:              ContactBasicUpdated{},
	TypeContactVehicleOfInterestUpdated:  ContactVehicleOfInterestUpdated{},
	TypeContactSequenceEnrollmentUpdated: ContactSequenceEnrollmentUpdated{},
	TypeConversationStarted:              ConversationStarted{},
	TypeConversationReplied:              ConversationReplied{},
	TypeConversationFlagged:              ConversationFlagged{},
	TypeConversationTakenOver:            ConversationTakenOver{},
	TypeSequenceEnrollmentCreated:        SequenceEnrollmentCreated{},
	TypeSequenceEnrollmentCompleted:      SequenceEnrollmentCompleted{},
	TypeSequenceEnrollmentPaused:         SequenceEnrollmentPaused{},
	TypeSequenceEnrollmentUnenrolled:     SequenceEnrollmentUnenrolled{},
	TypeSequenceReplyReceived:            SequenceReplyReceived{},
	TypeSequenceStepExecuting:            SequenceStepExecuting{},
	TypeSequenceStepExecuted:             SequenceStepExecuted{},
	TypeSequenceStepFailed:               SequenceStepFailed{},
	TypeSequenceStepSkipped:              SequenceStepSkipped{},
}

// The Go types carry exactly the catalog's fields, with matching kinds.
func TestPayloadTypesMatchCatalog(t *testing.T) {
	if len(payloadTypes) != len(catalogDefs) {
		t.Fatalf("%d Go types for %d event types", len(payloadTypes), len(catalogDefs))
	}
	goKind := map[reflect.Type]kind{
		reflect.TypeFor[string]():           kindString,
		reflect.TypeFor[time.Time]():        kindDateTime,
		reflect.TypeFor[*int]():             kindNumber,
		reflect.TypeFor[*bool]():            kindBool,
		reflect.TypeFor[*VehicleInterest](): kindObject,
		reflect.TypeFor[json.RawMessage]():  kindPassthrough,
	}
	for typ, p := range payloadTypes {
		if p.EventType() != typ {
			t.Errorf("%T.EventType() = %q, want %q", p, p.EventType(), typ)
		}
		want := map[string]kind{"eventId": kindString}
		ct := compiledTypes[typ]
		for _, fs := range append([][]compiledField{ct.fields}, mapsValues(ct.byAppointmentType)...) {
			for _, f := range fs {
				want[f.name] = f.kind
			}
		}
		got := jsonFields(reflect.TypeOf(p))
		for name, k := range want {
			gt, ok := got[name]
			if !ok {
				t.Errorf("%T has no field %s", p, name)
			} else if goKind[gt] != k || (k == kindString && gt != reflect.TypeFor[string]()) {
				t.Errorf("%T.%s is a %v, which does not fit kind %d", p, name, gt, k)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%T has field %s, not in the catalog", p, name)
			}
		}
	}
	vi := jsonFields(reflect.TypeFor[VehicleInterest]())
	for _, f := range compiledTypes[TypeContactVehicleOfInterestUpdated].fields {
		if f.kind != kindObject {
			continue
		}
		if len(vi) != len(f.sub.fields) {
			t.Errorf("VehicleInterest has %d fields, want %d", len(vi), len(f.sub.fields))
		}
		for _, s := range f.sub.fields {
			if vi[s.name] != reflect.TypeFor[string]() {
				t.Errorf("VehicleInterest.%s missing or not a string", s.name)
			}
		}
	}
}

func mapsValues[K comparable, V any](m map[K]V) []V {
	var out []V
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// jsonFields returns the JSON names of a struct's fields (embedded structs
// flattened) and their Go types.
func jsonFields(rt reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range rt.NumField() {
		f := rt.Field(i)
		if f.Anonymous {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[name] = f.Type
	}
	return out
}

// Every example decodes into its Go type with no field left over, and the
// Go value publishes as the very body Parse makes of the example.
func TestPayloadRoundTrip(t *testing.T) {
	for name, b := range exampleFiles(t) {
		want, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// eventType is not a field of the Go types: decode without it.
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		delete(m, "eventType")
		rest, _ := json.Marshal(m)
		p := reflect.New(reflect.TypeOf(payloadTypes[want.Type]))
		dec := json.NewDecoder(bytes.NewReader(rest))
		dec.DisallowUnknownFields()
		if err := dec.Decode(p.Interface()); err != nil {
			t.Errorf("%s: decode into %v: %v", name, p.Type(), err)
			continue
		}
		got, err := prepare(p.Interface().(Payload))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got.Body, want.Body) {
			t.Errorf("%s: published body\n got %s\nwant %s", name, got.Body, want.Body)
		}
	}
}
