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
	// dealerId is common to every type: it is not repeated in a type's table.
	if n := strings.Count(page, "| `dealerId` |"); n != 1 {
		t.Errorf("dealerId rows: %d, want 1 (common fields are listed once)", n)
	}
}
