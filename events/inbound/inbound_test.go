package inbound_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
)

// Every catalog example parses into an Event that encodes back to the same body.
func TestParseEncodeExamples(t *testing.T) {
	for _, d := range events.InboundCatalog() {
		raw, ok := events.InboundExample(d.Type)
		if !ok {
			t.Fatalf("no example of %s", d.Type)
		}
		ev, err := inbound.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", d.Type, err)
		}
		if ev.Type != d.Type || ev.DealerID != "dlr_42" || ev.ObservedAt.IsZero() || len(ev.PlatformIDs) == 0 || !strings.HasPrefix(ev.ID, "inb_") {
			t.Errorf("%s: parsed %+v", d.Type, ev)
		}
		again, err := inbound.Encode(ev)
		if err != nil {
			t.Fatalf("%s: encode: %v", d.Type, err)
		}
		norm, _ := events.ParseInbound(raw)
		if string(again.Body) != string(norm.Body) {
			t.Errorf("%s: encodes to\n%s\nwant\n%s", d.Type, again.Body, norm.Body)
		}
	}
}

// Encode drops the state fields a type does not carry and refuses what the catalog refuses.
func TestEncode(t *testing.T) {
	e := &inbound.Event{
		Type: inbound.TypeCRMLeadUpdated, ID: events.InboundEventID("vinsolutions", "lead", "1", "v1"), DealerID: "d1",
		Platform: "vinsolutions", ObservedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		PlatformIDs: map[string]string{"leadId": "1"},
		State:       inbound.State{Status: "SOLD", Services: "not a lead field", AppointmentTime: time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)},
	}
	got, err := inbound.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"eventType":"crm.lead.updated","eventId":"` + e.ID + `","dealerId":"d1","platform":"vinsolutions","observedAt":"2026-01-02T03:04:05Z","platformIds":{"leadId":"1"},"status":"SOLD"}`
	if string(got.Body) != want {
		t.Errorf("body\n%s\nwant\n%s", got.Body, want)
	}

	for name, mutate := range map[string]func(e *inbound.Event){
		"no id":             func(e *inbound.Event) { e.ID = "" },
		"an outbound id":    func(e *inbound.Event) { e.ID = "evt_01JDQ7Z4X8M2K9V6T3R5N1P0AB" },
		"no platform":       func(e *inbound.Event) { e.Platform = "" },
		"no platform ids":   func(e *inbound.Event) { e.PlatformIDs = nil },
		"an outbound type":  func(e *inbound.Event) { e.Type = events.TypeLeadCreated },
		"an unknown status": func(e *inbound.Event) { e.Type, e.AppointmentStatus = inbound.TypeCRMAppointmentUpdated, "postponed" },
	} {
		bad := *e
		mutate(&bad)
		var ve *events.ValidationError
		if _, err := inbound.Encode(&bad); !errors.As(err, &ve) {
			t.Errorf("%s: Encode = %v, want a validation error", name, err)
		}
	}
}

// The Go type carries exactly the fields of the inbound catalog, with types that fit.
func TestEventMatchesCatalog(t *testing.T) {
	inCatalog := map[string]string{} // field → JSON Schema type
	for _, d := range events.InboundCatalog() {
		var s struct {
			Properties map[string]struct {
				Type   string `json:"type"`
				Format string `json:"format"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(d.Schema, &s); err != nil {
			t.Fatal(err)
		}
		for name, p := range s.Properties {
			typ := p.Type
			if p.Format == "date-time" {
				typ = "date-time"
			}
			inCatalog[name] = typ
		}
	}
	inGo := map[string]reflect.Type{}
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		for i := range rt.NumField() {
			f := rt.Field(i)
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			inGo[strings.Split(f.Tag.Get("json"), ",")[0]] = f.Type
		}
	}
	walk(reflect.TypeFor[inbound.Event]())
	fits := map[string][]reflect.Type{
		"string":    {reflect.TypeFor[string]()},
		"date-time": {reflect.TypeFor[time.Time]()},
		"number":    {reflect.TypeFor[int](), reflect.TypeFor[float64]()},
		"object":    {reflect.TypeFor[map[string]string](), reflect.TypeFor[*inbound.Person](), reflect.TypeFor[*inbound.Vehicle]()},
	}
	for name, typ := range inCatalog {
		gt, ok := inGo[name]
		if name == "eventType" {
			typ = "string" // a const
		}
		if !ok {
			t.Errorf("inbound.Event has no field %s", name)
		} else if !contains(fits[typ], gt) {
			t.Errorf("inbound.Event.%s is a %v, which does not fit %s", name, gt, typ)
		}
	}
	for name := range inGo {
		if _, ok := inCatalog[name]; !ok {
			t.Errorf("inbound.Event has field %s, not in the catalog", name)
		}
	}
}

func contains(ts []reflect.Type, t reflect.Type) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}
