// Package connector is the contract between the agents Dispatcher and the platform connectors
// (vinsolutions, dealersocket, fortellis, xtime), and the HTTP plumbing they share: one attempt
// of one delivery, its result, and the typed error that says how the attempt failed.
//
// A connector never logs and never puts a credential in an error: errors carry the step that
// failed, the platform's status and a short snippet of its answer, not URLs (a DealerSocket
// lead URL holds a key) nor request headers.
package connector

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dealerai/integrations/events"
)

// Connector delivers one event to one platform.
type Connector interface {
	Deliver(ctx context.Context, d *Delivery) (Result, error)
}

// Delivery is one attempt of one delivery to a platform.
type Delivery struct {
	Event    *events.Event
	DealerID string
	// Settings of the agent, the platform's defaults applied; Credentials as stored.
	Settings    map[string]string
	Credentials map[string]string
	// Attempt is the attempt number, from 1.
	Attempt int
	// Progress holds the ids earlier attempts of THIS delivery obtained (steps already done):
	// a multi-step flow resumes from the step that failed.
	Progress map[string]string
	// Known holds the ids saved by earlier events for the same record: the DealerAI lead
	// (lead.created, lead.received), the appointment (appointment.*), or the last update of
	// the same kind to the lead (lead and contact updates); nil when there are none.
	Known map[string]string
	// Lead holds, for every event but a lead's own (appointments, lead and contact updates),
	// the ids saved for the event's DealerAI lead (found by leadId, else contactId). nil means
	// the platform does not have the lead yet: a connector that needs it creates it first
	// from the event's own fields and returns its ids in Result.LeadCorrelation, or fails the
	// attempt with PendingDependency. Deliveries of one DealerAI lead never run at the same
	// time (the Dispatcher holds a lease on the lead), so the lead is created once.
	Lead map[string]string
	// HTTP is the client every platform request goes through: the caller's SSRF-safe client,
	// restricted to the platform's hosts (a request elsewhere fails as ClassBlocked, unsent).
	HTTP *http.Client
}

// Result is a successful (or skipped) delivery.
type Result struct {
	Skipped    bool
	SkipReason string
	// Progress holds every id this delivery obtained, for the delivery record.
	Progress map[string]string
	// Correlation holds the ids to save for the event's DealerAI lead or appointment.
	Correlation map[string]string
	// LeadCorrelation holds, for events other than a lead's own, the ids of a platform lead
	// the delivery created or found, to save for the event's DealerAI lead.
	LeadCorrelation map[string]string
	// Pushed is the state this delivery left the record in, in the platform, under the
	// Pushed* names (e.g. {"status": "Active", "subStatus": "Appointment Set"}), values as
	// the platform's change feed will report them. It is kept with the record's correlation
	// (replacing what an earlier delivery kept there), so that the two-way sync does not send
	// back as a change what this push did (docs/agents.md#two-way-sync). nil: nothing kept.
	Pushed map[string]string
	// StatusCode is the platform's status of the last request (0 when none was made).
	StatusCode int
	// Summary says in a few words what was done, for the delivery log.
	Summary string
}

// The names of Result.Pushed: the state fields the two-way sync compares with what a
// platform reports, named as in the inbound events.
const (
	PushedStatus     = "status"
	PushedSubStatus  = "subStatus"
	PushedAssigneeID = "assigneeId" // the assignee's platform id
	// PushedAppointmentTime is RFC 3339; compared as a time.
	PushedAppointmentTime   = "appointmentTime"
	PushedAppointmentStatus = "appointmentStatus" // an events.AppointmentStatus* value
)

// Skip is a Result that ends the delivery as skipped, without a request.
func Skip(reason string) Result { return Result{Skipped: true, SkipReason: reason} }

// Error classes of an AttemptError.
const (
	ClassHTTPStatus        = "http_status"        // the platform answered a non-success status
	ClassConnection        = "connection"         // no answer: DNS, refused, reset, TLS
	ClassTimeout           = "timeout"            // no answer in time
	ClassAuth              = "auth"               // the platform refused the credentials or the token
	ClassPlatform          = "platform"           // the platform answered, but with an error in its own format
	ClassPendingDependency = "pending_dependency" // needs something an earlier event creates (a CRM lead)
	ClassBusy              = "busy"               // another delivery of the same DealerAI lead is running
	ClassBlocked           = "blocked"            // the host is not one of the platform's: nothing was sent
	ClassInternal          = "internal"           // our side: the event or the config store
)

// AttemptError is how an attempt failed. The delivery pipeline logs Class, StatusCode,
// Message and Snippet, waits RetryAfter when it is longer than its own backoff, keeps
// Progress for the next attempt, and stops retrying when Permanent.
type AttemptError struct {
	Class      string
	StatusCode int
	Message    string
	// Snippet is the start of the platform's answer (at most SnippetBytes).
	Snippet    string
	RetryAfter time.Duration
	// Progress holds the ids obtained before the failure (earlier attempts' included).
	Progress map[string]string
	// Permanent: retrying the same request cannot succeed (the platform rejected it as invalid).
	Permanent bool
	// Cause is our own failure behind an internal error (an AWS SDK error names the account,
	// roles and tables): logged by the delivery handler with a reference, never stored or
	// shown (Message says what failed, without it).
	Cause error
}

// Unwrap is the Cause.
func (e *AttemptError) Unwrap() error { return e.Cause }

func (e *AttemptError) Error() string {
	var b strings.Builder
	b.WriteString(e.Class)
	if e.StatusCode != 0 {
		b.WriteString(" ")
		b.WriteString(strconv.Itoa(e.StatusCode))
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// WithProgress returns err with the ids obtained so far attached. An error that is not an
// *AttemptError becomes one of class internal.
func WithProgress(err error, progress map[string]string) error {
	if err == nil {
		return nil
	}
	ae, ok := err.(*AttemptError)
	if !ok {
		ae = &AttemptError{Class: ClassInternal, Message: "internal error", Cause: err}
	}
	if len(progress) > 0 {
		ae.Progress = maps.Clone(progress)
	}
	return ae
}

// PendingDependency fails an attempt that needs a platform record an earlier event creates.
func PendingDependency(msg string) *AttemptError {
	return &AttemptError{Class: ClassPendingDependency, Message: msg}
}
