package events

import "github.com/dealerai/integrations/testdata"

// Example returns the catalog's example body of an event type (the file
// testdata/events/<type>.json), e.g. for a test send. The caller owns the
// returned bytes.
func Example(eventType string) ([]byte, bool) {
	if _, ok := compiledTypes[eventType]; !ok {
		return nil, false
	}
	b, err := testdata.Events.ReadFile("events/" + eventType + ".json")
	return b, err == nil
}
