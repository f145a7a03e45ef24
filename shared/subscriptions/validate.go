package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/safeurl"
	"github.com/dealerai/integrations/shared/validation"
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

// URLChecker checks a webhook URL: safeurl.Policy, the same checker the delivery client uses.
type URLChecker interface {
	Check(ctx context.Context, rawURL string) error
}

// ValidateCreate checks the fields of a new subscription. It returns a *validation.Error for
// invalid fields, or another error when the URL could not be checked at all.
func ValidateCreate(ctx context.Context, urls URLChecker, f Fields) error {
	var errs []validation.FieldError
	if f.URL == nil {
		errs = append(errs, validation.FieldError{Field: "url", Message: "is required"})
	}
	if f.Events == nil {
		errs = append(errs, validation.FieldError{Field: "events", Message: "is required"})
	}
	return validate(ctx, urls, f, errs)
}

// ValidateUpdate checks the fields a PATCH changes.
func ValidateUpdate(ctx context.Context, urls URLChecker, f Fields) error {
	return validate(ctx, urls, f, nil)
}

func validate(ctx context.Context, urls URLChecker, f Fields, errs []validation.FieldError) error {
	if f.URL != nil {
		if err := urls.Check(ctx, *f.URL); err != nil {
			var refused *safeurl.Error
			if !errors.As(err, &refused) {
				return fmt.Errorf("check url: %w", err)
			}
			errs = append(errs, validation.FieldError{Field: "url", Message: refused.Reason})
		}
	}
	if f.Events != nil {
		errs = append(errs, ValidateEvents(f.Events)...)
	}
	if f.Description != nil && utf8.RuneCountInString(*f.Description) > MaxDescriptionLength {
		errs = append(errs, validation.FieldError{Field: "description", Message: "must be at most " + strconv.Itoa(MaxDescriptionLength) + " characters"})
	}
	if len(errs) > 0 {
		return &validation.Error{Subject: "subscription", Fields: errs}
	}
	return nil
}

// ValidateEvents checks an events filter list: not empty, every entry an exact catalog type,
// a prefix wildcard matching at least one type ("lead.*") or "*", no duplicates.
func ValidateEvents(filters []string) []validation.FieldError {
	if len(filters) == 0 {
		return []validation.FieldError{{Field: "events", Message: "must list at least one event type"}}
	}
	var errs []validation.FieldError
	seen := make(map[string]int, len(filters))
	for i, f := range filters {
		field := "events[" + strconv.Itoa(i) + "]"
		if j, dup := seen[f]; dup {
			errs = append(errs, validation.FieldError{Field: field, Message: "duplicates events[" + strconv.Itoa(j) + "]"})
			continue
		}
		seen[f] = i
		if !events.ValidFilter(f) {
			errs = append(errs, validation.FieldError{Field: field, Message: "is not an event type, a prefix wildcard like \"lead.*\" that matches one, or \"*\""})
		}
	}
	return errs
}
