package agents

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/deliveryq"
)

// Result is the outcome of a delivery that did not fail: delivered, or skipped.
type Result = connector.Result

// AttemptError is how a delivery attempt failed (errors.As). Class says why ("http_status",
// "connection", "timeout", "auth", "platform", "pending_dependency", "busy", "blocked",
// "internal"); Progress holds the ids obtained so far, to pass to the next attempt;
// Permanent says a retry cannot succeed; RetryAfter is the platform's Retry-After.
type AttemptError = connector.AttemptError

// Correlations reads and saves the ids platforms returned and their reverse pointers, and
// leases DealerAI leads; *CorrelationStore is one.
type Correlations interface {
	Get(ctx context.Context, dealerID, platform, key string) (*Correlation, error)
	Save(ctx context.Context, dealerID, platform, key string, c Correlation) error
	SavePointers(ctx context.Context, dealerID, platform string, ptrs []ReversePointer) error
	Lease(ctx context.Context, dealerID, platform, key, owner string, until time.Time) error
	Release(ctx context.Context, dealerID, platform, key, owner string) error
}

var _ Correlations = (*CorrelationStore)(nil)

// Lease timing: how long a delivery waits for another delivery of the same DealerAI lead,
// how often it looks, and how long a lease lasts beyond the attempt's deadline (or at all,
// when the attempt has none).
const (
	DefaultLeaseWait     = 3 * time.Second
	leasePoll            = 100 * time.Millisecond
	leaseMargin          = 10 * time.Second
	leaseWithoutDeadline = 2 * time.Minute
)

// Dispatcher delivers events to agents: it checks the agent is enabled and takes the event,
// serializes the deliveries of one DealerAI lead, applies the correlation rules, runs the
// platform's connector with a client that reaches only the platform's hosts, and saves the
// ids the platform returned.
type Dispatcher struct {
	Correlations Correlations
	// HTTP is the client of every platform request (the SSRF-safe client, no redirects);
	// each delivery restricts it to the platform's hosts.
	HTTP *http.Client
	// Platforms are the platforms the agents may be of.
	Platforms platform.Catalog
	// Connectors by platform id.
	Connectors map[string]connector.Connector
	// LeaseWait bounds the wait for another delivery of the same DealerAI lead before the
	// attempt fails as busy (and is retried after the backoff); DefaultLeaseWait when 0.
	LeaseWait time.Duration
}

// NewDispatcher returns a dispatcher of the platforms' connectors, sharing one OAuth token
// cache (build it once per container).
func NewDispatcher(correlations Correlations, hc *http.Client, platforms platform.Catalog) *Dispatcher {
	deps := platform.Deps{Tokens: oauth.NewCache()}
	d := &Dispatcher{Correlations: correlations, HTTP: hc, Platforms: platforms, Connectors: map[string]connector.Connector{}}
	for _, p := range platforms {
		d.Connectors[p.ID] = p.NewConnector(deps)
	}
	return d
}

// DeliverTo performs one attempt of the delivery msg (Target.Kind "agent", Target.ID the
// platform) to the agent a, which the caller has (the delivery handler's config cache holds
// it; FromItem decodes it). attempt counts from 1; progress is what the previous attempt's
// AttemptError held (nil on the first).
//
// The error is an *AttemptError for a failed attempt, or another error when the saved ids
// could not be read (retry it as an internal failure).
func (d *Dispatcher) DeliverTo(ctx context.Context, a *Agent, msg *deliveryq.Message, attempt int, progress map[string]string) (Result, error) {
	p, ok := d.Platforms.Get(a.Platform)
	conn := d.Connectors[a.Platform]
	if !ok || conn == nil {
		return Result{}, &AttemptError{Class: connector.ClassInternal, Message: "no connector for platform " + a.Platform, Permanent: true}
	}
	if !a.Enabled {
		return connector.Skip("the " + p.Name + " agent is disabled"), nil
	}
	ev, err := events.Parse(msg.Payload)
	if err != nil {
		return Result{}, &AttemptError{Class: connector.ClassInternal, Message: "the payload is not a valid event: " + err.Error(), Permanent: true}
	}
	if ev.DealerID != a.DealerID {
		return Result{}, &AttemptError{Class: connector.ClassInternal, Message: "the event is another dealer's than the agent's", Permanent: true}
	}
	if !events.MatchAny(p.Events, ev.Type) {
		return connector.Skip(p.Name + " does not take " + ev.Type + " events"), nil
	}
	settings := p.WithDefaults(a.Settings)
	if err := checkHosts(p, settings); err != nil {
		return Result{}, err
	}
	if d.HTTP == nil {
		return Result{}, &AttemptError{Class: connector.ClassInternal, Message: "the dispatcher has no HTTP client"}
	}

	own, leadKeys, ids, err := eventKeys(ev)
	if err != nil {
		return Result{}, &AttemptError{Class: connector.ClassInternal, Message: "read the event's ids: " + err.Error(), Permanent: true}
	}
	release, err := d.lease(ctx, p, ev.DealerID, leadKeys)
	if err != nil {
		return Result{}, err
	}
	defer release()

	var known map[string]string
	if len(own) > 0 {
		c, err := d.Correlations.Get(ctx, ev.DealerID, p.ID, own[0])
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return Result{}, err
		case c.EventTime.After(ev.Timestamp):
			return connector.Skip(fmt.Sprintf("a newer event (%s at %s) already updated this record in %s",
				c.EventID, c.EventTime.UTC().Format("2006-01-02T15:04:05.999Z07:00"), p.Name)), nil
		case c.EventID == ev.ID:
			// This very event was delivered and its ids saved; only the delivery record
			// missed it. Do not send it again.
			return Result{Correlation: c.IDs, Progress: c.IDs, Summary: "already delivered (ids saved by an earlier attempt)"}, nil
		default:
			known = c.IDs
		}
	}
	kind := connector.KindOf(ev.Type)
	var lead map[string]string
	if kind != connector.KindLead {
		for _, k := range leadKeys {
			c, err := d.Correlations.Get(ctx, ev.DealerID, p.ID, k)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return Result{}, err
			}
			lead = c.IDs
			break
		}
	}

	res, err := conn.Deliver(ctx, &connector.Delivery{
		Event:       ev,
		DealerID:    ev.DealerID,
		Settings:    settings,
		Credentials: maps.Clone(a.Credentials),
		Attempt:     attempt,
		Progress:    maps.Clone(progress),
		Known:       known,
		Lead:        lead,
		HTTP:        connector.RestrictHosts(d.HTTP, p.Name, p.AllowsHost),
	})
	if err != nil || res.Skipped {
		return res, err
	}

	stale := false
	save := func(keys []string, c Correlation, always bool) error {
		if len(c.IDs) == 0 && len(c.Pushed) == 0 && !always {
			return nil
		}
		for _, k := range keys {
			err := d.Correlations.Save(ctx, ev.DealerID, p.ID, k, c)
			if errors.Is(err, ErrStaleEvent) {
				stale = stale || !c.EventTime.IsZero()
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	// Reverse pointers first, for the ids the records gained: a pointer without its
	// correlation is harmless, and a correlation saved without its pointers would not be
	// written again (the retry would find the event delivered).
	var ptrs []ReversePointer
	if kind != connector.KindLead {
		ptrs = newPointers(eventIDs{LeadID: ids.LeadID, ContactID: ids.ContactID}, leadKeys, lead, res.LeadCorrelation)
	}
	if kind == connector.KindLead || kind == connector.KindAppointment {
		// An id the lead has (an appointment kept as an activity on the CRM lead) stays the
		// lead's.
		for _, ptr := range newPointers(ids, own, known, res.Correlation) {
			if lead[ptr.ID.Name] != ptr.ID.Value && res.LeadCorrelation[ptr.ID.Name] != ptr.ID.Value {
				ptrs = append(ptrs, ptr)
			}
		}
	}
	if len(ptrs) > 0 {
		err = d.Correlations.SavePointers(ctx, ev.DealerID, p.ID, ptrs)
	}
	// An update is recorded even without ids: its time orders the next update of its kind.
	// A delivery that reports only the state it pushed keeps the record's ids.
	ownIDs := res.Correlation
	if len(ownIDs) == 0 && len(res.Pushed) > 0 {
		ownIDs = known
	}
	if err == nil {
		err = save(own, Correlation{IDs: ownIDs, Pushed: res.Pushed, EventTime: ev.Timestamp, EventID: ev.ID}, kind == connector.KindLeadUpdate)
	}
	if err == nil && kind != connector.KindLead {
		// The ids of a lead this event created (an appointment before its lead's own event):
		// saved without an event time, so they order nothing — the lead's own event, older as
		// it may be, still goes through (with them as Known), and never replaces a lead's ids
		// its own event saved.
		err = save(leadKeys, Correlation{IDs: res.LeadCorrelation}, false)
	}
	if err != nil {
		// The platform has the event; the next attempt resumes from Progress (every step
		// done) without sending it again, and saves the ids then.
		return res, &AttemptError{Class: connector.ClassInternal, StatusCode: res.StatusCode,
			Message: "delivered, but the ids could not be saved", Progress: res.Progress, Cause: err}
	}
	if stale {
		res.Summary += " (a newer event's ids were kept)"
	}
	return res, nil
}

// checkHosts refuses an agent whose URL settings name a host that is not the platform's (one
// stored before the rule, or whose platform's hosts changed): nothing is sent.
func checkHosts(p platform.Platform, settings map[string]string) error {
	if k, host, off := p.OffHostSetting(settings); off {
		return &AttemptError{Class: connector.ClassBlocked, Permanent: true, Message: BlockedMessage(p, k, host)}
	}
	return nil
}

// BlockedMessage says why nothing is sent for an agent whose URL setting k names host, which
// is not one of platform p's.
func BlockedMessage(p platform.Platform, k, host string) string {
	return fmt.Sprintf("settings.%s names %s, which is not a %s host: nothing was sent (configure the agent again with an allowed URL and its credentials)", k, host, p.Name)
}

// lease takes the leases of an event's DealerAI lead (each of its keys, in order), waiting
// up to LeaseWait for another delivery to finish, and returns what gives them up. Waiting
// longer fails the attempt as busy, to be retried after the backoff.
func (d *Dispatcher) lease(ctx context.Context, p platform.Platform, dealerID string, keys []string) (release func(), err error) {
	if len(keys) == 0 {
		return func() {}, nil
	}
	owner := "lease_" + rand.Text()
	until := time.Now().Add(leaseWithoutDeadline)
	if deadline, ok := ctx.Deadline(); ok {
		until = deadline.Add(leaseMargin)
	}
	wait := d.LeaseWait
	if wait <= 0 {
		wait = DefaultLeaseWait
	}
	giveUp := time.Now().Add(wait)
	var held []string
	release = func() {
		// Given up even when the attempt's context is done: an expiring lease would make
		// the lead's next delivery wait.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, k := range held {
			_ = d.Correlations.Release(rctx, dealerID, p.ID, k, owner) // it expires anyway
		}
	}
	for _, k := range keys {
		for {
			err := d.Correlations.Lease(ctx, dealerID, p.ID, k, owner, until)
			if err == nil {
				held = append(held, k)
				break
			}
			if !errors.Is(err, ErrLeaseHeld) {
				release()
				return nil, err
			}
			if time.Now().After(giveUp) {
				release()
				return nil, &AttemptError{Class: connector.ClassBusy,
					Message: "another delivery of the same DealerAI lead to " + p.Name + " is running; retried after it"}
			}
			select {
			case <-ctx.Done():
				release()
				return nil, &AttemptError{Class: connector.ClassTimeout, Message: "waiting for another delivery of the same DealerAI lead: " + ctx.Err().Error()}
			case <-time.After(leasePoll):
			}
		}
	}
	return release, nil
}
