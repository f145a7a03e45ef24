package agents

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/dealersocket"
	"github.com/dealerai/integrations/shared/agents/fortellis"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/vinsolutions"
	"github.com/dealerai/integrations/shared/agents/xtime"
	"github.com/dealerai/integrations/shared/deliveryq"
)

// Result is the outcome of a delivery that did not fail: delivered, or skipped.
type Result = connector.Result

// AttemptError is how a delivery attempt failed (errors.As). Class says why ("http_status",
// "connection", "timeout", "auth", "platform", "pending_dependency", "internal"); Progress
// holds the ids obtained so far, to pass to the next attempt; Permanent says a retry cannot
// succeed; RetryAfter is the platform's Retry-After.
type AttemptError = connector.AttemptError

// Correlations reads and saves the ids platforms returned; *CorrelationStore is one.
type Correlations interface {
	Get(ctx context.Context, dealerID, platform, key string) (*Correlation, error)
	Save(ctx context.Context, dealerID, platform, key string, c Correlation) error
}

// Dispatcher delivers events to agents: it checks the agent is enabled and takes
// the event, applies the correlation rules, runs the platform's connector and saves the ids
// the platform returned.
type Dispatcher struct {
	Correlations Correlations
	// HTTP is the client of every platform request (the SSRF-safe client, no redirects).
	HTTP *http.Client
	// Connectors by platform.
	Connectors map[string]connector.Connector
}

// NewDispatcher returns a dispatcher with the four platforms' connectors, sharing one OAuth
// token cache (build it once per container).
func NewDispatcher(correlations Correlations, hc *http.Client) *Dispatcher {
	tokens := oauth.NewCache()
	return &Dispatcher{
		Correlations: correlations,
		HTTP:         hc,
		Connectors: map[string]connector.Connector{
			VinSolutions: vinsolutions.New(tokens),
			DealerSocket: dealersocket.New(),
			Fortellis:    fortellis.New(tokens),
			XTime:        xtime.New(tokens),
		},
	}
}

// DeliverTo performs one attempt of the delivery msg (Target.Kind "agent", Target.ID the
// platform) to the agent a, which the caller has (the delivery handler's config cache holds
// it; FromItem decodes it). attempt counts from 1; progress is what the previous attempt's
// AttemptError held (nil on the first).
//
// The error is an *AttemptError for a failed attempt, or another error when the saved ids
// could not be read (retry it as an internal failure).
func (d *Dispatcher) DeliverTo(ctx context.Context, a *Agent, msg *deliveryq.Message, attempt int, progress map[string]string) (Result, error) {
	info, ok := Platform(a.Platform)
	conn := d.Connectors[a.Platform]
	if !ok || conn == nil {
		return Result{}, &AttemptError{Class: connector.ClassInternal, Message: "no connector for platform " + a.Platform, Permanent: true}
	}
	if !a.Enabled {
		return connector.Skip("the " + info.Name + " agent is disabled"), nil
	}
	ev, err := events.Parse(msg.Payload)
	if err != nil {
		return Result{}, &AttemptError{Class: connector.ClassInternal, Message: "the payload is not a valid event: " + err.Error(), Permanent: true}
	}
	if ev.DealerID != a.DealerID {
		return Result{}, &AttemptError{Class: connector.ClassInternal, Message: "the event is another dealer's than the agent's", Permanent: true}
	}
	if !events.MatchAny(info.Events, ev.Type) {
		return connector.Skip(info.Name + " does not take " + ev.Type + " events"), nil
	}

	own, leadKeys, err := eventKeys(ev)
	if err != nil {
		return Result{}, &AttemptError{Class: connector.ClassInternal, Message: "read the event's ids: " + err.Error(), Permanent: true}
	}
	var known map[string]string
	if len(own) > 0 {
		c, err := d.Correlations.Get(ctx, ev.DealerID, a.Platform, own[0])
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return Result{}, err
		case c.EventTime.After(ev.Timestamp):
			return connector.Skip(fmt.Sprintf("a newer event (%s at %s) already updated this record in %s",
				c.EventID, c.EventTime.UTC().Format("2006-01-02T15:04:05.999Z07:00"), info.Name)), nil
		case c.EventID == ev.ID:
			// This very event was delivered and its ids saved; only the delivery record
			// missed it. Do not send it again.
			return Result{Correlation: c.IDs, Progress: c.IDs, Summary: "already delivered (ids saved by an earlier attempt)"}, nil
		default:
			known = c.IDs
		}
	}
	var lead map[string]string
	for _, k := range leadKeys {
		c, err := d.Correlations.Get(ctx, ev.DealerID, a.Platform, k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return Result{}, err
		}
		lead = c.IDs
		break
	}

	if d.HTTP == nil {
		return Result{}, &AttemptError{Class: connector.ClassInternal, Message: "the dispatcher has no HTTP client"}
	}
	res, err := conn.Deliver(ctx, &connector.Delivery{
		Event:       ev,
		DealerID:    ev.DealerID,
		Settings:    withDefaults(info, a.Settings),
		Credentials: maps.Clone(a.Credentials),
		Attempt:     attempt,
		Progress:    maps.Clone(progress),
		Known:       known,
		Lead:        lead,
		HTTP:        d.HTTP,
	})
	if err != nil || res.Skipped {
		return res, err
	}

	stale := false
	save := func(keys []string, ids map[string]string) error {
		if len(ids) == 0 {
			return nil
		}
		for _, k := range keys {
			err := d.Correlations.Save(ctx, ev.DealerID, a.Platform, k, Correlation{IDs: ids, EventTime: ev.Timestamp, EventID: ev.ID})
			if errors.Is(err, ErrStaleEvent) {
				stale = true
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	err = save(own, res.Correlation)
	if err == nil && connector.IsAppointment(ev.Type) {
		err = save(leadKeys, res.LeadCorrelation)
	}
	if err != nil {
		// The platform has the event; the next attempt resumes from Progress (every step
		// done) without sending it again, and saves the ids then.
		return res, &AttemptError{Class: connector.ClassInternal, StatusCode: res.StatusCode,
			Message: "delivered, but the ids could not be saved: " + err.Error(), Progress: res.Progress}
	}
	if stale {
		res.Summary += " (a newer event's ids were kept)"
	}
	return res, nil
}
