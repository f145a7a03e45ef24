package events

import "embed"

// examples holds examples/<type>.json: the catalogs' example body of each event type, outbound
// and inbound.
//
//go:embed examples/*.json
var examples embed.FS

// Example returns the catalog's example body of an outbound event type
// (events/examples/<type>.json), e.g. for a test send. The caller owns the returned bytes.
func Example(eventType string) ([]byte, bool) {
	if _, ok := compiledTypes[eventType]; !ok {
		return nil, false
	}
	return exampleFile(eventType)
}

func exampleFile(eventType string) ([]byte, bool) {
	b, err := examples.ReadFile("examples/" + eventType + ".json")
	return b, err == nil
}
