package events

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestInboundCatalog(t *testing.T) {
	want := []struct{ typ, group string }{
		{TypeCRMLeadCreated, "crm"}, {TypeCRMLeadUpdated, "crm"}, {TypeCRMAppointmentUpdated, "crm"}, {TypeServiceAppointmentUpdated, "service"},
		{TypeInventoryVehicleAdded, "inventory"}, {TypeInventoryVehicleUpdated, "inventory"}, {TypeInventoryVehicleRemoved, "inventory"},
	}
	got := InboundCatalog()
	if len(got) != len(want) {
		t.Fatalf("%d inbound types, want %d", len(got), len(want))
	}
	for i, w := range want {
		d := got[i]
		if d.Type != w.typ || d.Group != w.group || d.Description == "" || !strings.HasPrefix(d.Type, d.Group+".") {
			t.Errorf("InboundCatalog()[%d] = %q %q %q", i, d.Type, d.Group, d.Description)
		}
		if l, ok := LookupInbound(d.Type); !ok || string(l.Schema) != string(d.Schema) {
			t.Errorf("LookupInbound(%q) = %v", d.Type, ok)
		}
		// The two catalogs are separate: the router, the API's event types and the
		// subscription filters know only the outbound ones.
		if _, ok := Lookup(d.Type); ok {
			t.Errorf("Lookup(%q) found an inbound type", d.Type)
		}
		if _, ok := Example(d.Type); ok {
			t.Errorf("Example(%q) found an inbound type", d.Type)
		}
		if ValidFilter(d.Type) || ValidFilter(d.Group+".*") {
			t.Errorf("%s is a valid subscription filter", d.Type)
		}
		raw, ok := InboundExample(d.Type)
		if !ok {
			t.Fatalf("InboundExample(%q): none", d.Type)
		}
		if _, err := Parse(raw); err == nil || err.(*ValidationError).Code != CodeUnknownType {
			t.Errorf("Parse of the %s example = %v, want unknown_type", d.Type, err)
		}
		ev, err := ParseInbound(raw)
		if err != nil || ev.Type != d.Type {
			t.Fatalf("ParseInbound of the %s example = %v, %v", d.Type, ev, err)
		}
		var m struct {
			ObservedAt time.Time `json:"observedAt"`
			EventID    string    `json:"eventId"`
		}
		_ = json.Unmarshal(raw, &m)
		if !ev.Timestamp.Equal(m.ObservedAt) || ev.ID != m.EventID || ev.DealerID != "dlr_42" {
			t.Errorf("%s: Event %+v, want the example's observedAt, id and dealer", d.Type, ev)
		}
	}
	for _, d := range Catalog() {
		raw, _ := Example(d.Type)
		if _, err := ParseInbound(raw); err == nil {
			t.Errorf("ParseInbound accepted the outbound %s", d.Type)
		}
		if _, ok := InboundExample(d.Type); ok {
			t.Errorf("InboundExample(%q) found an outbound type", d.Type)
		}
	}
}

func TestInboundSchemas(t *testing.T) {
	schemas := compileInboundSchemas(t)
	for _, d := range InboundCatalog() {
		var s struct {
			Required []string `json:"required"`
		}
		_ = json.Unmarshal(d.Schema, &s)
		if want := []string{"eventType", "eventId", "dealerId", "platform", "observedAt", "platformIds"}; !slices.Equal(s.Required, want) {
			t.Errorf("%s: required = %v, want %v", d.Type, s.Required, want)
		}
		raw, _ := InboundExample(d.Type)
		ev, _ := ParseInbound(raw)
		for name, b := range map[string][]byte{"example": raw, "parsed": ev.Body} {
			if err := validate(schemas[d.Type], b); err != nil {
				t.Errorf("%s %s: %v", d.Type, name, err)
			}
		}
		// What ParseInbound refuses, the schema refuses.
		for _, c := range inboundBadCases() {
			if !hasField(inbound.types[d.Type], c.field) {
				continue
			}
			name, change := c.name, c.change
			m := inboundBody(t, d.Type)
			change(m)
			body := encodeBody(t, m)
			if _, err := ParseInbound(body); err == nil {
				t.Errorf("%s, %s: ParseInbound accepted %s", d.Type, name, body)
			}
			if err := validate(schemas[d.Type], body); err == nil {
				t.Errorf("%s, %s: the schema accepts %s", d.Type, name, body)
			}
		}
	}
}

type inboundBadCase struct {
	name, field string // field: the field changed, which the type must have
	change      func(m map[string]any)
}

func inboundBadCases() []inboundBadCase {
	return []inboundBadCase{
		{"no eventId", "", func(m map[string]any) { delete(m, "eventId") }},
		{"an outbound eventId", "", func(m map[string]any) { m["eventId"] = "evt_01JDQ7Z4X8M2K9V6T3R5N1P0AB" }},
		{"an upper-case eventId", "", func(m map[string]any) { m["eventId"] = strings.ToUpper(m["eventId"].(string)) }},
		{"no platform", "platform", func(m map[string]any) { delete(m, "platform") }},
		{"no observedAt", "observedAt", func(m map[string]any) { delete(m, "observedAt") }},
		{"a bad occurredAt", "occurredAt", func(m map[string]any) { m["occurredAt"] = "yesterday" }},
		{"no platformIds", "platformIds", func(m map[string]any) { delete(m, "platformIds") }},
		{"a number in platformIds", "platformIds", func(m map[string]any) { m["platformIds"] = map[string]any{"leadId": 7} }},
		{"platformIds a string", "platformIds", func(m map[string]any) { m["platformIds"] = "7" }},
		{"a number assignee", "assignee", func(m map[string]any) { m["assignee"] = 7 }},
		{"a number vehicle year", "vehicle", func(m map[string]any) { m["vehicle"] = map[string]any{"year": 2024} }},
		{"an unknown appointmentStatus", "appointmentStatus", func(m map[string]any) { m["appointmentStatus"] = "postponed" }},
	}
}

// hasField reports whether the type has the field ("" stands for the envelope: every type).
func hasField(ct *compiledType, name string) bool {
	return name == "" || slices.ContainsFunc(ct.fields, func(f compiledField) bool { return f.name == name })
}

// inboundBody is the example of typ as a map, with every optional field a type may carry.
func inboundBody(t testing.TB, typ string) map[string]any {
	t.Helper()
	raw, _ := InboundExample(typ)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseInboundFields(t *testing.T) {
	m := inboundBody(t, TypeCRMAppointmentUpdated)
	m["platformIds"] = map[string]any{"activityId": "A1", "gone": nil, "opportunityId": "O1"}
	m["internalScore"] = 97
	m["appointmentStatus"] = AppointmentStatusNoShow
	ev, err := ParseInbound(encodeBody(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ev.Body), `"platformIds":{"activityId":"A1","opportunityId":"O1"}`) || strings.Contains(string(ev.Body), "internalScore") ||
		!strings.Contains(string(ev.Body), `"appointmentStatus":"no_show"`) {
		t.Errorf("body %s", ev.Body)
	}
	ids := map[string]any{}
	for i := range maxMapEntries + 1 {
		ids["k"+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	m["platformIds"] = ids
	if _, err := ParseInbound(encodeBody(t, m)); err == nil || err.(*ValidationError).Field != "platformIds" {
		t.Errorf("%d platform ids: %v", len(ids), err)
	}
}

func TestInboundEventID(t *testing.T) {
	id := InboundEventID("vinsolutions", "lead", "48213377", "2026-11-28T18:02:40Z")
	if id != InboundEventID("vinsolutions", "lead", "48213377", "2026-11-28T18:02:40Z") || !validInboundID([]byte(id)) {
		t.Fatalf("id %q is not stable or not valid", id)
	}
	for _, other := range []string{
		InboundEventID("dealersocket", "lead", "48213377", "2026-11-28T18:02:40Z"),
		InboundEventID("vinsolutions", "contact", "48213377", "2026-11-28T18:02:40Z"),
		InboundEventID("vinsolutions", "lead", "48213378", "2026-11-28T18:02:40Z"),
		InboundEventID("vinsolutions", "lead", "48213377", "2026-11-28T18:02:41Z"),
		InboundEventID("vinsolutions", "lead4", "8213377", "2026-11-28T18:02:40Z"), // the parts are separated
	} {
		if other == id {
			t.Errorf("another change has the id %s", id)
		}
	}
}
