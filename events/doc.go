// Package events is the catalog of DealerAI's webhook events: the 23 event
// types of the product document, their fields, Go types and JSON Schemas,
// the validation every event goes through, and the Publisher DealerAI
// services use to send events to the events queue.
//
// The contract (docs/events.md, generated from this catalog by go generate):
// an event is one flat JSON object of at most MaxBodyBytes with eventType (a
// catalog type), dealerId and timestamp (RFC 3339) required, and eventId
// optional. Every other field is optional but, when present, has the type
// the product document gives it; date-time fields are RFC 3339.
// appointmentType selects the extra fields of an appointment (sales,
// testdrive, service, tradein, leasereturn). null counts as absent.
//
// Parse validates a body and normalizes it into the body delivered to
// endpoints: eventType, eventId, then the catalog fields in catalog order,
// with unknown fields and nulls dropped at every level except inside the
// contact object, which passes as sent. An event sent without an eventId
// gets "evt_" + the first 26 hex digits of the SHA-256 of its body, so a
// redelivery keeps its id; the Publisher always stamps "evt_" + a ULID.
//
// One table of field specs drives Parse, the JSON Schemas (Definition.Schema)
// and the tests, so they cannot drift. Parse is on the router's hot path and
// does not run a JSON Schema validator.
//
// Subscription filters are exact types, "*" or prefix wildcards such as
// "lead.*"; ValidFilter checks one and MatchFilter is the one matcher of the
// API and the router.
//
// A second catalog, with the same machinery, holds the inbound events: what the integration
// agents' two-way sync reads back from the dealers' platforms and publishes to the inbound
// queue (InboundCatalog, ParseInbound, InboundEventID; typed values in package
// events/inbound). Its types are unknown to Parse, the router and the subscription filters.
package events

//go:generate go run ./internal/cmd/eventsdoc ../docs/events.md
