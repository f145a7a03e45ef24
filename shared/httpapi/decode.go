package httpapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/dealerai/integrations/shared/subscriptions"
	"github.com/dealerai/integrations/shared/validation"
)

// MaxBodyBytes is the largest request body accepted (413 beyond).
const MaxBodyBytes = 64 << 10

// Media types of request bodies.
const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

// readBody reads a JSON request body of one of the accepted media types. A request without a
// Content-Type is read as JSON (415 for any other type); the body is limited to MaxBodyBytes.
func readBody(r *http.Request, accepted ...string) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !slices.Contains(accepted, mt) {
			return nil, NewProblem(http.StatusUnsupportedMediaType, "Content-Type must be "+joinOr(accepted))
		}
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, NewProblem(http.StatusBadRequest, "the request body could not be read")
	}
	if len(body) > MaxBodyBytes {
		return nil, tooLarge()
	}
	if !utf8.Valid(body) {
		// JSON is UTF-8 (RFC 8259): decoding would silently replace the invalid bytes, and
		// store a URL or a setting other than the one sent.
		return nil, NewProblem(http.StatusBadRequest, "the request body is not valid UTF-8")
	}
	return body, nil
}

func tooLarge() *Problem {
	return NewProblem(http.StatusRequestEntityTooLarge, "the request body is larger than "+strconv.Itoa(MaxBodyBytes>>10)+" KiB")
}

func joinOr(items []string) string {
	s := ""
	for i, it := range items {
		switch {
		case i == 0:
		case i == len(items)-1:
			s += " or "
		default:
			s += ", "
		}
		s += it
	}
	return s
}

// decodeObject decodes body as exactly one JSON object whose member names are all among
// allowed (compared exactly). It returns the members' raw values; a body that is not such
// an object is a 400 problem.
func decodeObject(body []byte, allowed ...string) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, NewProblem(http.StatusBadRequest, "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	var members map[string]json.RawMessage
	if err := dec.Decode(&members); err != nil {
		return nil, NewProblem(http.StatusBadRequest, "the request body is not valid JSON: "+err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, NewProblem(http.StatusBadRequest, "the request body has data after the JSON object")
	}
	var unknown []validation.FieldError
	for name := range members {
		if !slices.Contains(allowed, name) {
			unknown = append(unknown, validation.FieldError{Field: name, Message: "is not a known field"})
		}
	}
	if unknown != nil {
		slices.SortFunc(unknown, func(a, b validation.FieldError) int { return cmp.Compare(a.Field, b.Field) })
		return nil, NewProblem(http.StatusBadRequest, "the request body has unknown fields", unknown...)
	}
	return members, nil
}

// fields reads typed members of a decoded object, collecting type errors: a well-formed body
// with a member of the wrong JSON type is answered 422 naming the field.
type fields struct {
	members map[string]json.RawMessage
	errs    []validation.FieldError
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// string returns a string member; nil when absent or null.
func (f *fields) string(name string) *string {
	raw, ok := f.members[name]
	if !ok || isNull(raw) {
		return nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		f.errs = append(f.errs, validation.FieldError{Field: name, Message: "must be a string"})
		return nil
	}
	return &s
}

// bool returns a boolean member; nil when absent or null.
func (f *fields) bool(name string) *bool {
	raw, ok := f.members[name]
	if !ok || isNull(raw) {
		return nil
	}
	var b bool
	if json.Unmarshal(raw, &b) != nil {
		f.errs = append(f.errs, validation.FieldError{Field: name, Message: "must be a boolean"})
		return nil
	}
	return &b
}

// strings returns an array-of-strings member (never nil when given, even empty); nil when
// absent or null.
func (f *fields) strings(name string) []string {
	raw, ok := f.members[name]
	if !ok || isNull(raw) {
		return nil
	}
	var elems []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		f.errs = append(f.errs, validation.FieldError{Field: name, Message: "must be an array of strings"})
		return nil
	}
	out := make([]string, 0, len(elems))
	for i, e := range elems {
		var s string
		if len(e) == 0 || e[0] != '"' || json.Unmarshal(e, &s) != nil {
			f.errs = append(f.errs, validation.FieldError{Field: name + "[" + strconv.Itoa(i) + "]", Message: "must be a string"})
			continue
		}
		out = append(out, s)
	}
	return out
}

// nullNotAllowed records that a member given as null cannot be removed.
func (f *fields) nullNotAllowed(name, message string) {
	if raw, ok := f.members[name]; ok && isNull(raw) {
		f.errs = append(f.errs, validation.FieldError{Field: name, Message: message})
	}
}

func (f *fields) err() error {
	if len(f.errs) == 0 {
		return nil
	}
	return NewProblem(http.StatusUnprocessableEntity, "the request has invalid fields", f.errs...)
}

var subscriptionFields = []string{"url", "events", "description", "enabled"}

// decodeCreate decodes the body of POST /v1/subscriptions: {url, events, description?,
// enabled?}. A null description or enabled counts as absent.
func decodeCreate(body []byte) (subscriptions.Fields, error) {
	members, err := decodeObject(body, subscriptionFields...)
	if err != nil {
		return subscriptions.Fields{}, err
	}
	f := fields{members: members}
	out := subscriptions.Fields{
		URL:         f.string("url"),
		Events:      f.strings("events"),
		Description: f.string("description"),
		Enabled:     f.bool("enabled"),
	}
	return out, f.err()
}

// decodePatch decodes a JSON merge patch (RFC 7396) of a subscription: the members given
// change, a null description clears it; url, events and enabled cannot be null.
func decodePatch(body []byte) (subscriptions.Fields, error) {
	members, err := decodeObject(body, subscriptionFields...)
	if err != nil {
		return subscriptions.Fields{}, err
	}
	f := fields{members: members}
	out := subscriptions.Fields{
		URL:         f.string("url"),
		Events:      f.strings("events"),
		Description: f.string("description"),
		Enabled:     f.bool("enabled"),
	}
	f.nullNotAllowed("url", "must be a string (a subscription always has a url)")
	f.nullNotAllowed("events", "must be an array of strings (a subscription always has events)")
	f.nullNotAllowed("enabled", "must be a boolean")
	if raw, ok := members["description"]; ok && isNull(raw) {
		empty := ""
		out.Description = &empty
	}
	return out, f.err()
}

// decodeTestSend decodes the body of POST .../test: {eventType}.
// decodeRotate reads the optional body of a secret rotation: {"revokePrevious": true} drops
// the old secret at once; no body (or {}) keeps it for the grace period.
func decodeRotate(r *http.Request) (revokePrevious bool, err error) {
	body, err := readBody(r, mediaJSON)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return false, err
	}
	members, err := decodeObject(body, "revokePrevious")
	if err != nil {
		return false, err
	}
	f := fields{members: members}
	revoke := f.bool("revokePrevious")
	f.nullNotAllowed("revokePrevious", "must be true or false")
	if err := f.err(); err != nil {
		return false, err
	}
	return revoke != nil && *revoke, nil
}

func decodeTestSend(body []byte) (string, error) {
	members, err := decodeObject(body, "eventType")
	if err != nil {
		return "", err
	}
	f := fields{members: members}
	eventType := f.string("eventType")
	if err := f.err(); err != nil {
		return "", err
	}
	if eventType == nil {
		return "", NewProblem(http.StatusUnprocessableEntity, "the request has invalid fields", validation.FieldError{Field: "eventType", Message: "is required"})
	}
	return *eventType, nil
}
