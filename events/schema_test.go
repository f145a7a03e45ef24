package events

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compileSchemas compiles every type's schema as draft 2020-12, with
// formats asserted.
func compileSchemas(t testing.TB) map[string]*jsonschema.Schema {
	t.Helper()
	return compileDefinitions(t, Catalog())
}

// compileInboundSchemas is compileSchemas of the inbound catalog.
func compileInboundSchemas(t testing.TB) map[string]*jsonschema.Schema {
	t.Helper()
	return compileDefinitions(t, InboundCatalog())
}

func compileDefinitions(t testing.TB, defs []Definition) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	out := map[string]*jsonschema.Schema{}
	for _, d := range defs {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(d.Schema))
		if err != nil {
			t.Fatalf("%s: %v", d.Type, err)
		}
		url := "https://schemas.dealerai.test/events/" + d.Type + ".json"
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("%s: %v", d.Type, err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			t.Fatalf("%s: schema does not compile: %v", d.Type, err)
		}
		out[d.Type] = sch
	}
	return out
}

func validate(sch *jsonschema.Schema, body []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

func TestSchemasAreDraft2020(t *testing.T) {
	for _, d := range Catalog() {
		var s struct {
			Schema   string   `json:"$schema"`
			Title    string   `json:"title"`
			Type     string   `json:"type"`
			Required []string `json:"required"`
		}
		if err := json.Unmarshal(d.Schema, &s); err != nil {
			t.Fatalf("%s: %v", d.Type, err)
		}
		if s.Schema != "https://json-schema.org/draft/2020-12/schema" || s.Title != d.Type || s.Type != "object" {
			t.Errorf("%s: $schema %q title %q type %q", d.Type, s.Schema, s.Title, s.Type)
		}
		if want := []string{"eventType", "dealerId", "timestamp"}; !slices.Equal(s.Required, want) {
			t.Errorf("%s: required = %v, want %v", d.Type, s.Required, want)
		}
	}
	// The metaschema accepts them all.
	compileSchemas(t)
}

func TestSchemasAcceptExamples(t *testing.T) {
	schemas := compileSchemas(t)
	for name, b := range exampleFiles(t) {
		ev, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := validate(schemas[ev.Type], b); err != nil {
			t.Errorf("%s does not validate against its schema: %v", name, err)
		}
		if err := validate(schemas[ev.Type], ev.Body); err != nil {
			t.Errorf("%s: the parsed body does not validate: %v", name, err)
		}
	}
}

// The schemas refuse what Parse refuses: a wrong-typed field of every kind,
// of every type, and a missing required field.
func TestSchemasRefuseWhatParseRefuses(t *testing.T) {
	schemas := compileSchemas(t)
	for _, c := range wrongFieldCases(t) {
		var typ struct{ EventType string }
		_ = json.Unmarshal(c.body, &typ)
		if err := validate(schemas[typ.EventType], c.body); err == nil {
			t.Errorf("%s: the schema accepts %s", c.name, c.body)
		}
	}
	for _, d := range Catalog() {
		for _, name := range []string{"eventType", "dealerId", "timestamp"} {
			m := body(t, d.Type)
			delete(m, name)
			if err := validate(schemas[d.Type], encodeBody(t, m)); err == nil {
				t.Errorf("%s: the schema accepts a body without %s", d.Type, name)
			}
		}
		m := body(t, d.Type)
		m["eventType"] = "lead.other"
		if d.Type == TypeLeadCreated {
			m["eventType"] = TypeLeadReceived
		}
		if err := validate(schemas[d.Type], encodeBody(t, m)); err == nil {
			t.Errorf("%s: the schema accepts another eventType", d.Type)
		}
		m = body(t, d.Type)
		m["eventId"] = "evt 1"
		if err := validate(schemas[d.Type], encodeBody(t, m)); err == nil {
			t.Errorf("%s: the schema accepts an eventId with a space", d.Type)
		}
	}
}

// And they accept what Parse drops: unknown fields, and fields of another
// appointmentType.
func TestSchemasAcceptUnknownFields(t *testing.T) {
	schemas := compileSchemas(t)
	for _, d := range Catalog() {
		m := body(t, d.Type)
		m["internalScore"] = 97
		if err := validate(schemas[d.Type], encodeBody(t, m)); err != nil {
			t.Errorf("%s: %v", d.Type, err)
		}
	}
	m := body(t, TypeAppointmentRescheduled) // service
	m["vehicleStockNumber"] = 7
	if err := validate(schemas[TypeAppointmentRescheduled], encodeBody(t, m)); err != nil {
		t.Errorf("a stock number in a service appointment: %v", err)
	}
	if _, err := Parse(encodeBody(t, m)); err != nil {
		t.Errorf("a stock number in a service appointment: %v", err)
	}
}
