package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, refuses with a
// *ValidationError, and that an accepted body parses again to itself.
func FuzzParse(f *testing.F) {
	for _, b := range exampleFiles(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"eventType":"contact.vehicleofinterest.updated","dealerId":"d","timestamp":"2026-11-27T15:04:05Z","vehicleInterest":{"year":"2024","x":[{"}":"]"}]},"contact":{"a":[1,{"b":null}]}}`))
	f.Add([]byte(`{"event\u0054ype":"lead.created","dealerId":"d\"","timestamp":"2026-11-27T15:04:05.5+01:00","eventId":null,"firstName":"\ud800"}`))
	f.Add([]byte("{\"eventType\":\"lead.created\",\"dealerId\":\"\xff\",\"timestamp\":\"2026-11-27T15:04:05Z\"}"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := Parse(raw)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ev != nil {
				t.Fatalf("Parse(%q) = %v, %v", raw, ev, err)
			}
			return
		}
		if !json.Valid(ev.Body) || !utf8.Valid(ev.Body) || len(ev.Body) > MaxBodyBytes {
			t.Fatalf("Parse(%q): invalid body %q", raw, ev.Body)
		}
		again, err := Parse(ev.Body)
		if err != nil {
			t.Fatalf("Parse(%q): the body %q does not parse: %v", raw, ev.Body, err)
		}
		if !bytes.Equal(again.Body, ev.Body) || again.ID != ev.ID || again.Type != ev.Type || again.DealerID != ev.DealerID || !again.Timestamp.Equal(ev.Timestamp) {
			t.Fatalf("Parse(%q): the body %q parses to %q", raw, ev.Body, again.Body)
		}
	})
}

// FuzzParseInbound is FuzzParse for the inbound catalog.
func FuzzParseInbound(f *testing.F) {
	for _, d := range InboundCatalog() {
		b, _ := InboundExample(d.Type)
		f.Add(b)
	}
	f.Add([]byte(`{"eventType":"crm.lead.updated","eventId":"inb_0123456789abcdef0123456789","dealerId":"d","platform":"p","observedAt":"2026-11-27T15:04:05Z","platformIds":{"b":"2","a":"1","a":"3","c":null},"assignee":{"id":7}}`))
	f.Add([]byte(`{"eventType":"service.appointment.updated","eventId":"inb_0123456789abcdef0123456789","dealerId":"d","platform":"p","observedAt":"2026-11-27T15:04:05Z","platformIds":{"x\u0041":"1"},"appointmentStatus":"no_show"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := ParseInbound(raw)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ev != nil {
				t.Fatalf("ParseInbound(%q) = %v, %v", raw, ev, err)
			}
			return
		}
		if !json.Valid(ev.Body) || !utf8.Valid(ev.Body) || !validInboundID([]byte(ev.ID)) {
			t.Fatalf("ParseInbound(%q): invalid body %q or id %q", raw, ev.Body, ev.ID)
		}
		again, err := ParseInbound(ev.Body)
		if err != nil || !bytes.Equal(again.Body, ev.Body) || again.ID != ev.ID || !again.Timestamp.Equal(ev.Timestamp) {
			t.Fatalf("ParseInbound(%q): the body %q parses to %v, %v", raw, ev.Body, again, err)
		}
	})
}
