package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/safeurl"
)

// MaxDescriptionLength is the longest description, in characters.
const MaxDescriptionLength = 500

// Fields are the fields a dealer sets: all of them on create (URL and Events required), or
// the ones a PATCH changes (nil = unchanged; a Description pointing to "" clears it).
type Fields struct {
	URL         *string
	Events      []string
	Description *string
	Enabled     *bool
}

// Empty reports whether f changes nothing.
func (f Fields) Empty() bool {
	return f.URL == nil && f.Events == nil && f.Description == nil && f.Enabled == nil
}

// FieldError is one invalid field: Field is a path into the request body ("url", "events[1]").
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every invalid field of a request.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid subscription: " + strings.Join(parts, "; ")
}

// URLChecker checks a webhook URL: safeurl.Policy, the same checker the delivery client uses.
type URLChecker interface {
	Check(ctx context.Context, rawURL string) error
}

// ValidateCreate checks the fields of a new subscription. It returns a *ValidationError for
// invalid fields, or another error when the URL could not be checked at all.
func ValidateCreate(ctx context.Context, urls URLChecker, f Fields) error {
	var errs []FieldError
	if f.URL == nil {
		errs = append(errs, FieldError{"url", "is required"})
	}
	if f.Events == nil {
		errs = append(errs, FieldError{"events", "is required"})
	}
	return validate(ctx, urls, f, errs)
}

// ValidateUpdate checks the fields a PATCH changes.
func ValidateUpdate(ctx context.Context, urls URLChecker, f Fields) error {
	return validate(ctx, urls, f, nil)
}

func validate(ctx context.Context, urls URLChecker, f Fields, errs []FieldError) error {
	if f.URL != nil {
		if err := urls.Check(ctx, *f.URL); err != nil {
			var refused *safeurl.Error
			if !errors.As(err, &refused) {
				return fmt.Errorf("check url: %w", err)
			}
			errs = append(errs, FieldError{"url", refused.Reason})
		}
	}
	if f.Events != nil {
		errs = append(errs, ValidateEvents(f.Events)...)
	}
	if f.Description != nil && utf8.RuneCountInString(*f.Description) > MaxDescriptionLength {
		errs = append(errs, FieldError{"description", "must be at most " + strconv.Itoa(MaxDescriptionLength) + " characters"})
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

// ValidateEvents checks an events filter list: not empty, every entry an exact catalog type,
// a prefix wildcard matching at least one type ("lead.*") or "*", no duplicates.
func ValidateEvents(filters []string) []FieldError {
	if len(filters) == 0 {
		return []FieldError{{"events", "must list at least one event type"}}
	}
	var errs []FieldError
	seen := make(map[string]int, len(filters))
	for i, f := range filters {
		field := "events[" + strconv.Itoa(i) + "]"
		if j, dup := seen[f]; dup {
			errs = append(errs, FieldError{field, "duplicates events[" + strconv.Itoa(j) + "]"})
			continue
		}
		seen[f] = i
		if !events.ValidFilter(f) {
			errs = append(errs, FieldError{field, "is not an event type, a prefix wildcard like \"lead.*\" that matches one, or \"*\""})
		}
	}
	return errs
}
