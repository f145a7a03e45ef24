package eventsdoc_test

import (
	"strings"
	"testing"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/internal/eventsdoc"
)

// The page documents every catalog type with its own heading and field table, the fields
// every type shares once, subfields, and the fields an appointmentType adds.
func TestRender(t *testing.T) {
	b, err := eventsdoc.Render()
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, def := range events.Catalog() {
		if !strings.Contains(page, "\n#### "+def.Type+"\n\n"+def.Description+". ") {
			t.Errorf("no section for %s with its description", def.Type)
		}
		if !strings.Contains(page, "| `eventType` | `\""+def.Type+"\"` | yes |") {
			t.Errorf("%s: no eventType row", def.Type)
		}
		if ex, ok := events.Example(def.Type); !ok || !strings.Contains(page, "```json\n"+strings.TrimSpace(string(ex))+"\n```") {
			t.Errorf("%s: no example", def.Type)
		}
	}
	for _, want := range []string{
		"### Fields common to all outbound events\n\n| field | type | required | description |\n|---|---|---|---|\n| `eventId` |",
		"| `dealerId` | string (not empty) | yes | The dealer this event belongs to |",
		"| `timestamp` | string (RFC 3339 date-time) | yes |",
		"| `vehicleInterest.year` | string |  | Vehicle year |",
		"| `contact` | object (delivered as sent) |  | Full updated contact record |",
		"| `enrollmentCount` | number |  |",
		"| `inSequence` | boolean |  |",
		"With `appointmentType` `sales` or `testdrive`, also:",
		"With `appointmentType` `leasereturn`, also: _",
		"### Sequence events\n\n| type | sent when |",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// dealerId is common to every type of a section: it is not repeated in a type's table.
	if n := strings.Count(page, "| `dealerId` |"); n != 2 {
		t.Errorf("dealerId rows: %d, want 2 (common fields are listed once per section)", n)
	}
}

// The inbound section documents its own types, after the outbound ones, with their
// examples, its common fields once, the id form, the platform ids map and the enum values.
func TestRenderInbound(t *testing.T) {
	b, err := eventsdoc.Render()
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	outbound, inbound, ok := strings.Cut(page, "\n## Inbound events\n")
	if !ok || !strings.Contains(outbound, "\n## Outbound events\n") {
		t.Fatal("no inbound section after the outbound one")
	}
	for _, def := range events.InboundCatalog() {
		if !strings.Contains(inbound, "\n#### "+def.Type+"\n\n"+def.Description+". ") || strings.Contains(outbound, "#### "+def.Type+"\n") {
			t.Errorf("%s: not in the inbound section alone", def.Type)
		}
		if ex, ok := events.InboundExample(def.Type); !ok || !strings.Contains(inbound, "```json\n"+strings.TrimSpace(string(ex))+"\n```") {
			t.Errorf("%s: no example", def.Type)
		}
	}
	for _, want := range []string{
		"### Fields common to all inbound events\n\n| field | type | required | description |\n|---|---|---|---|\n| `eventId` | string (`inb_` + 26 hex digits) | yes |",
		"| `platformIds` | object of strings, by name | yes |",
		"| `observedAt` | string (RFC 3339 date-time) | yes |",
		"| `appointmentStatus` | string: `scheduled`, `rescheduled`, `completed`, `no_show` or `cancelled` |  |",
		"| `assignee.name` | string |  |",
		"### CRM events\n\n| type | sent when |",
		"### Service events\n\n| type | sent when |",
	} {
		if !strings.Contains(inbound, want) {
			t.Errorf("the inbound section lacks %q", want)
		}
	}
}
