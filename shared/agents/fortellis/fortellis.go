// Package fortellis pushes DealerAI leads, their lifecycle and appointments through CDK's
// Fortellis marketplace: leads into the Elead CRM, service appointments into the
// Appointments v3 API. docs/agents.md#fortellis says what each event becomes.
//
// The files: gateway.go is what every Fortellis API shares (token, headers, errors);
// elead.go the Elead sales calls and their shapes; reference.go the company's reference data
// (activity types, opportunity statuses), cached per container; lead.go finds or creates the
// customer and opportunity of a lead; updates.go the lead and contact updates;
// appointments.go the sales appointments (scheduled activities) and service.go the service
// appointments; feed.go the Elead change feed of the two-way sync (searchDelta and activity
// histories). Fortellis inventory belongs in files of its own beside these.
//
// Idempotency: a customer is searched before it is created; an opportunity's id is read at
// opportunity.id and recorded before any later step, and a retry after an answer that may
// have been lost looks for the opportunity among the customer's before creating one; Elead's
// isDuplicate resolves to the existing opportunity. Every id obtained is in the attempt's
// Progress, so a retry resumes at the step that failed.
package fortellis

import (
	"context"
	"maps"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
)

// Connector is the Fortellis connector.
type Connector struct {
	Tokens *oauth.Cache
	// refs caches the companies' reference data.
	refs *referenceCache
}

var _ connector.Connector = (*Connector)(nil)

// New returns a connector that caches tokens in tokens and reference data for ReferenceTTL.
func New(tokens *oauth.Cache) *Connector {
	return &Connector{Tokens: tokens, refs: &referenceCache{TTL: ReferenceTTL}}
}

// SetClock sets the clock of the reference data cache (tests).
func (c *Connector) SetClock(now func() time.Time) { c.refs.Now = now }

// Deliver implements connector.Connector.
func (c *Connector) Deliver(ctx context.Context, d *connector.Delivery) (connector.Result, error) {
	s := &session{
		tokens:   c.Tokens,
		refs:     c.refs,
		d:        d,
		grant:    grant(d.Settings, d.Credentials),
		progress: map[string]string{},
	}
	maps.Copy(s.progress, d.Progress)
	var res connector.Result
	var err error
	switch t := d.Event.Type; {
	case t == events.TypeLeadCreated || t == events.TypeLeadReceived:
		res, err = s.pushLead(ctx)
	case t == events.TypeLeadDispositionUpdated:
		res, err = s.disposition(ctx)
	case t == events.TypeContactBasicUpdated:
		res, err = s.contactUpdate(ctx)
	case t == events.TypeContactVehicleOfInterestUpdated:
		res, err = s.vehicleOfInterest(ctx)
	case connector.IsAppointment(t):
		res, err = s.appointment(ctx)
	default:
		return connector.Skip("Fortellis does not take " + t), nil
	}
	if err != nil {
		return connector.Result{}, connector.WithProgress(err, s.progress)
	}
	if !res.Skipped {
		res.Progress = s.progress
		res.StatusCode = s.status
	}
	return res, nil
}

// session is one attempt of one delivery.
type session struct {
	tokens *oauth.Cache
	refs   *referenceCache
	d      *connector.Delivery
	grant  oauth.Grant
	// progress holds the ids obtained so far, this attempt's and earlier attempts'.
	progress map[string]string
	// status is the platform's status of the last request.
	status int
	// pushed is the state the delivery left its record in (connector.Result.Pushed).
	pushed map[string]string
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
