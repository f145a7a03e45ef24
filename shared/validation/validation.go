// Package validation is the one shape of a request's invalid fields, shared by the domain
// packages that validate (subscriptions, agents) and the REST API that answers them as the
// "errors" of a problem document.
package validation

import "strings"

// FieldError names one invalid part of a request: Field is a path into the request body
// ("url", "events[1]", "settings.dealerCode"), or a query parameter or header name.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error lists every invalid field of a request. Subject names what was validated, for the
// error's text ("subscription", "agent").
type Error struct {
	Subject string
	Fields  []FieldError
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid " + e.Subject + ": " + strings.Join(parts, "; ")
}
