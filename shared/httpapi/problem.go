package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/ratelimit"
	"github.com/dealerai/integrations/shared/subscriptions"
	"github.com/dealerai/integrations/shared/validation"
)

// Problem is an RFC 9457 problem document, the body of every error the handler answers
// (Content-Type application/problem+json). It is also an error: a handler returns it to
// answer with it.
type Problem struct {
	Type   string                  `json:"type"`
	Title  string                  `json:"title"`
	Status int                     `json:"status"`
	Detail string                  `json:"detail"`
	Errors []validation.FieldError `json:"errors"`
	// header is sent with the problem (Retry-After of a 429).
	header map[string]string
}

func (p *Problem) Error() string { return strconv.Itoa(p.Status) + " " + p.Detail }

// NewProblem is a problem of the given status; errs name the fields at fault.
func NewProblem(status int, detail string, errs ...validation.FieldError) *Problem {
	if errs == nil {
		errs = []validation.FieldError{}
	}
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: errs}
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	for k, v := range p.header {
		w.Header().Set(k, v)
	}
	writeJSONAs(w, p.Status, "application/problem+json", p)
}

// problemFor maps an error of a handler to the problem answered; internal reports whether it
// is our failure (logged, and answered without its details).
func problemFor(err error) (p *Problem, internal bool) {
	var (
		problem  *Problem
		invalid  *validation.Error
		exceeded *ratelimit.ExceededError
	)
	switch {
	case errors.As(err, &problem):
		return problem, false
	case errors.As(err, &invalid):
		return NewProblem(http.StatusUnprocessableEntity, "the request has invalid fields", invalid.Fields...), false
	case errors.As(err, &exceeded):
		p := NewProblem(http.StatusTooManyRequests, fmt.Sprintf("too many requests: a dealer may make %d %s per %s; try again in %d s (Retry-After)",
			exceeded.Limit.Max, actionNames[exceeded.Action], windowName(exceeded.Limit.Window), exceeded.RetryAfterSeconds()))
		p.header = map[string]string{"Retry-After": strconv.Itoa(exceeded.RetryAfterSeconds())}
		return p, false
	case errors.Is(err, subscriptions.ErrNotFound):
		return NewProblem(http.StatusNotFound, "subscription not found"), false
	case errors.Is(err, deliverylog.ErrNotFound):
		return NewProblem(http.StatusNotFound, "delivery not found"), false
	case errors.Is(err, subscriptions.ErrVersionMismatch):
		return NewProblem(http.StatusPreconditionFailed, "the subscription has changed since the version in If-Match; read it again"), false
	case errors.Is(err, agents.ErrVersionMismatch):
		return NewProblem(http.StatusPreconditionFailed, "the agent has changed since the version in If-Match; read it again"), false
	case errors.Is(err, plans.ErrVersionMismatch):
		return NewProblem(http.StatusPreconditionFailed, "the entitlement has changed since the version in If-Match; read it again"), false
	case errors.Is(err, subscriptions.ErrLimitReached):
		return NewProblem(http.StatusUnprocessableEntity, "a dealer can have at most "+strconv.Itoa(subscriptions.MaxPerDealer)+" subscriptions"), false
	case errors.Is(err, subscriptions.ErrInvalidCursor), errors.Is(err, deliverylog.ErrInvalidCursor):
		return NewProblem(http.StatusBadRequest, "invalid query parameter", validation.FieldError{Field: "cursor", Message: "is not a cursor this list returned"}), false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return NewProblem(http.StatusServiceUnavailable, "the request could not be completed in time; try again"), true
	}
	return NewProblem(http.StatusInternalServerError, "internal error"), true
}

// actionNames name the rate-limited actions in a 429's detail.
var actionNames = map[string]string{
	ratelimit.TestSend: "test sends",
	ratelimit.Retry:    "delivery retries",
	ratelimit.Recover:  "recoveries",
}

func windowName(d time.Duration) string {
	switch d {
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	}
	return d.String()
}
