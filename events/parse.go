package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// MaxBodyBytes is the largest event body accepted.
const MaxBodyBytes = 256 * 1024

// Event is a validated event.
type Event struct {
	Type     string
	ID       string
	DealerID string
	// Timestamp is the event's time: timestamp for an outbound event, observedAt for an
	// inbound one.
	Timestamp time.Time
	// Body is the normalized body delivered to endpoints: eventType,
	// eventId, then the catalog fields in catalog order; unknown fields are
	// dropped at every level (except inside `contact`, passed as sent) and
	// so are nulls.
	Body json.RawMessage
}

// The codes of a ValidationError.
const (
	CodeNotJSON      = "not_json"
	CodeTooLarge     = "too_large"
	CodeUnknownType  = "unknown_type"
	CodeMissingField = "missing_field"
	CodeInvalidField = "invalid_field"
)

// ValidationError says why an event was refused. Such an event is poison:
// retrying it cannot succeed.
type ValidationError struct {
	Code    string // one of the Code constants
	Field   string // JSON path of the field at fault, e.g. "vehicleInterest.year"; empty for the body as a whole
	Message string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Code + ": " + e.Message
	}
	return e.Code + ": " + e.Field + ": " + e.Message
}

// NewEventID returns a new event id: "evt_" followed by a ULID.
func NewEventID() string { return "evt_" + ulid.Make().String() }

// hashEventID is the id of an event sent without one: "evt_" and the first
// 26 hex digits of the SHA-256 of the body, so a redelivery of the same
// message keeps its id.
func hashEventID(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "evt_" + hex.EncodeToString(sum[:13])
}

// Parse validates an event body against the outbound catalog and normalizes it.
// Any error it returns is a *ValidationError.
func Parse(raw []byte) (*Event, error) {
	return parse(outbound, raw, hashEventID)
}

// ParseInbound validates an inbound event body against the inbound catalog (InboundCatalog)
// and normalizes it, as Parse does outbound events. Its eventId is required. Any error it
// returns is a *ValidationError. DealerAI's services read inbound events with package
// events/inbound, which gives typed values.
func ParseInbound(raw []byte) (*Event, error) {
	return parse(inbound, raw, nil)
}

const maxEventIDLen = 128

// parse is Parse in catalog cat, with the id given to an event that has none (nil: the id
// is required).
func parse(cat *catalog, raw []byte, newID func(raw []byte) string) (*Event, error) {
	if len(raw) > MaxBodyBytes {
		return nil, tooLarge(len(raw))
	}
	if !json.Valid(raw) {
		return nil, &ValidationError{Code: CodeNotJSON, Message: "body is not valid JSON"}
	}
	data := raw
	if !utf8.Valid(data) { // invalid bytes can only be inside strings: replace them, as encoding/json does
		data = bytes.ToValidUTF8(data, []byte(string(utf8.RuneError)))
	}

	// One pass over the top-level members, keeping the raw value of every
	// catalog field name (the last one wins, as in encoding/json).
	var vals [maxSlots][]byte
	it, ok := newObjectIter(data)
	if !ok {
		return nil, &ValidationError{Code: CodeNotJSON, Message: "body is not a JSON object"}
	}
	for it.next() {
		if slot, ok := slotIndex[string(unquote(it.key))]; ok {
			vals[slot] = it.value
		}
	}

	ct, err := eventType(cat, vals[slotEventType])
	if err != nil {
		return nil, err
	}
	fs := ct.fields
	if ct.byAppointmentType != nil {
		if v := vals[slotAppointmentType]; len(v) > 0 && v[0] == '"' {
			if all, ok := ct.byAppointmentType[string(unquote(v))]; ok {
				fs = all
			}
		}
	}

	out := make([]byte, 0, len(data)+64)
	out = append(out, `{"eventType":`...)
	out = append(out, ct.quoted...)
	var id string
	switch v := vals[slotEventID]; {
	case !absent(v):
		if v[0] != '"' || !cat.validID(unquote(v)) {
			return nil, invalid(eventIDField.name, cat.idRule)
		}
		id = string(unquote(v))
	case newID == nil:
		return nil, &ValidationError{Code: CodeMissingField, Field: eventIDField.name, Message: "is required"}
	default:
		id = newID(raw)
	}
	out = append(out, `,"eventId":"`...)
	out = append(out, id...)
	out = append(out, '"')

	ev := &Event{Type: ct.def.Type, ID: id}
	for i := range fs {
		f := &fs[i]
		v := vals[f.slot]
		if absent(v) {
			if f.required {
				return nil, &ValidationError{Code: CodeMissingField, Field: f.path, Message: "is required"}
			}
			continue
		}
		out = append(out, ',')
		out = append(out, f.member...)
		if out, err = appendValue(out, f, v); err != nil {
			return nil, err
		}
		switch f.slot {
		case slotDealerID:
			ev.DealerID = string(unquote(v))
		case cat.timeSlot:
			_ = ev.Timestamp.UnmarshalText(unquote(v)) // checked by appendValue
		}
	}
	out = append(out, '}')
	if len(out) > MaxBodyBytes { // so that the body itself always parses again
		return nil, tooLarge(len(out))
	}
	ev.Body = out
	return ev, nil
}

func tooLarge(n int) *ValidationError {
	return &ValidationError{Code: CodeTooLarge, Message: "body is " + strconv.Itoa(n) + " bytes; the limit is " + strconv.Itoa(MaxBodyBytes)}
}

func invalid(path, msg string) *ValidationError {
	return &ValidationError{Code: CodeInvalidField, Field: path, Message: msg}
}

func eventType(cat *catalog, v []byte) (*compiledType, error) {
	switch {
	case absent(v):
		return nil, &ValidationError{Code: CodeMissingField, Field: eventTypeField.name, Message: "is required"}
	case v[0] != '"':
		return nil, invalid(eventTypeField.name, "must be a string")
	}
	name := unquote(v)
	ct, ok := cat.types[string(name)]
	if !ok {
		return nil, &ValidationError{Code: CodeUnknownType, Field: eventTypeField.name, Message: "unknown event type " + strconv.Quote(truncate(name, 100))}
	}
	return ct, nil
}

// truncate keeps error messages short whatever the body holds.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}

// eventID returns id when it is a valid outbound event id (the content of the JSON string).
func eventID(id []byte) ([]byte, bool) {
	if len(id) == 0 || len(id) > maxEventIDLen {
		return nil, false
	}
	for _, c := range id {
		if c < '!' || c > '~' || c == '"' || c == '\\' {
			return nil, false
		}
	}
	return id, true
}

// absent reports whether a raw value counts as absent: missing or null.
func absent(v []byte) bool { return len(v) == 0 || v[0] == 'n' }

// appendValue checks a present, non-null raw value against its field and
// appends its normalized form.
func appendValue(out []byte, f *compiledField, v []byte) ([]byte, error) {
	switch f.kind {
	case kindString:
		if v[0] != '"' {
			return nil, invalid(f.path, "must be a string")
		}
		if f.required && len(v) == 2 {
			return nil, invalid(f.path, "must be a non-empty string")
		}
		if f.enum != nil && !slices.Contains(f.enum, string(unquote(v))) {
			return nil, invalid(f.path, "must be one of "+strings.Join(f.enum, ", "))
		}
		return append(out, v...), nil
	case kindDateTime:
		var t time.Time
		if v[0] != '"' || t.UnmarshalText(unquote(v)) != nil {
			return nil, invalid(f.path, "must be an RFC 3339 date-time string")
		}
		return append(out, v...), nil
	case kindNumber:
		if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
			return nil, invalid(f.path, "must be a number")
		}
		return append(out, v...), nil
	case kindBool:
		if v[0] != 't' && v[0] != 'f' {
			return nil, invalid(f.path, "must be a boolean")
		}
		return append(out, v...), nil
	case kindPassthrough:
		if v[0] != '{' {
			return nil, invalid(f.path, "must be an object")
		}
		return appendCompact(out, v), nil
	case kindObject:
		return appendObject(out, f, v)
	case kindStringMap:
		return appendStringMap(out, f, v)
	}
	panic("events: unknown field kind")
}

// maxMapEntries bounds the members of a map field (platformIds).
const maxMapEntries = 32

// appendStringMap checks an object of string values and appends it compacted, its members
// sorted by name (so the body is canonical: Go's encoding/json writes maps so), nulls dropped;
// of a name given twice the last value is kept, as in encoding/json.
func appendStringMap(out []byte, f *compiledField, v []byte) ([]byte, error) {
	it, ok := newObjectIter(v)
	if !ok {
		return nil, invalid(f.path, "must be an object")
	}
	type member struct {
		name       string
		key, value []byte
	}
	var members []member
	for it.next() {
		if absent(it.value) {
			continue
		}
		name := string(unquote(it.key))
		if it.value[0] != '"' {
			return nil, invalid(f.path+"."+name, "must be a string")
		}
		m := member{name, it.key, it.value}
		if i := slices.IndexFunc(members, func(o member) bool { return o.name == name }); i >= 0 {
			members[i] = m
			continue
		}
		if len(members) == maxMapEntries {
			return nil, invalid(f.path, "must have at most "+strconv.Itoa(maxMapEntries)+" members")
		}
		members = append(members, m)
	}
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.name, b.name) })
	out = append(out, '{')
	for i, m := range members {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(append(append(out, m.key...), ':'), m.value...)
	}
	return append(out, '}'), nil
}

const maxSubfields = 16

func appendObject(out []byte, f *compiledField, v []byte) ([]byte, error) {
	it, ok := newObjectIter(v)
	if !ok {
		return nil, invalid(f.path, "must be an object")
	}
	var vals [maxSubfields][]byte
	for it.next() {
		if i, ok := f.sub.index[string(unquote(it.key))]; ok {
			vals[i] = it.value
		}
	}
	out = append(out, '{')
	first := true
	for i := range f.sub.fields {
		sf := &f.sub.fields[i]
		sv := vals[i]
		if absent(sv) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, sf.member...)
		var err error
		if out, err = appendValue(out, sf, sv); err != nil {
			return nil, err
		}
	}
	return append(out, '}'), nil
}

// ---- A minimal scanner over JSON that json.Valid has accepted. ----

// objectIter walks the members of a JSON object, yielding each raw key
// (quoted) and raw value.
type objectIter struct {
	b          []byte
	i          int
	key, value []byte
}

func newObjectIter(b []byte) (objectIter, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return objectIter{}, false
	}
	return objectIter{b: b, i: i + 1}, true
}

func (it *objectIter) next() bool {
	b := it.b
	i := skipSpace(b, it.i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return false // '}'
	}
	start := i
	i = endOfString(b, i)
	it.key = b[start:i]
	i = skipSpace(b, i)
	i = skipSpace(b, i+1) // ':'
	start = i
	i = endOfValue(b, i)
	it.value = b[start:i]
	it.i = i
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// endOfString returns the index just past the string starting at b[i].
func endOfString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// endOfValue returns the index just past the value starting at b[i].
func endOfValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return endOfString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = endOfString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default: // number, true, false, null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && !isSpace(b[i]) {
			i++
		}
		return i
	}
}

// unquote returns the content of a raw JSON string. It allocates only when
// the string holds escapes.
func unquote(q []byte) []byte {
	s := q[1 : len(q)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s
	}
	var u string
	if err := json.Unmarshal(q, &u); err != nil {
		return s // cannot happen: the body is valid JSON
	}
	return []byte(u)
}

// appendCompact appends a valid JSON value without its insignificant
// whitespace.
func appendCompact(out, v []byte) []byte {
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == '"':
			j := endOfString(v, i)
			out = append(out, v[i:j]...)
			i = j
		case isSpace(c):
			i++
		default:
			out = append(out, c)
			i++
		}
	}
	return out
}
