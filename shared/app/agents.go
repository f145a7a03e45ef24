package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/delivery"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/targets"
)

// AgentDeliverer adapts the agents Dispatcher to the delivery handler (delivery.AgentDeliverer):
// it decodes the agent's configuration from the cached config item, runs one attempt through
// the platform's connector and turns the result into the handler's Outcome.
type AgentDeliverer struct {
	Dispatcher *agents.Dispatcher
	// Timeout bounds one attempt, every request of a multi-step flow included (the platform
	// client bounds each request by itself); none when 0.
	Timeout time.Duration
}

var _ delivery.AgentDeliverer = (*AgentDeliverer)(nil)

// AgentAttemptTimeout is the bound of one agent attempt for a per-request timeout: a flow
// of a token and up to four calls gets four request timeouts, but never so much that the
// delivery Lambda (resources.DeliveryTimeout) has no time left to record the outcome.
func AgentAttemptTimeout(requestTimeout time.Duration) time.Duration {
	return min(4*requestTimeout, resources.DeliveryTimeout-20*time.Second)
}

// Deliver implements delivery.AgentDeliverer. A connector's *agents.AttemptError is a failed
// attempt (permanent when the platform rejected the request as invalid); any other error —
// a config item that does not decode, the correlation store unreachable — is returned, and
// the handler records it as an internal failure and retries.
//
// Credentials are only in the agent passed to the connector: nothing here logs, and the
// Outcome carries the connector's messages and the platform's snippet, which never hold them.
func (d *AgentDeliverer) Deliver(ctx context.Context, msg *deliveryq.Message, target *targets.Target, attempt int, rec *deliverylog.Record) (delivery.Outcome, error) {
	a, err := agents.FromItem(target.Item)
	if err != nil {
		return delivery.Outcome{}, err
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	var progress map[string]string
	if rec != nil {
		progress = rec.Progress
	}
	start := time.Now()
	res, err := d.Dispatcher.DeliverTo(ctx, a, msg, attempt, progress)
	took := time.Since(start).Milliseconds()

	var failed *agents.AttemptError
	switch {
	case errors.As(err, &failed):
		out := delivery.Outcome{
			Result: delivery.Failed,
			Attempt: deliverylog.Attempt{
				StatusCode:      failed.StatusCode,
				DurationMs:      took,
				ErrorClass:      failed.Class,
				Error:           failed.Message,
				ResponseSnippet: failed.Snippet,
			},
			RetryAfter: failed.RetryAfter,
			Progress:   failed.Progress,
			Requested:  requested(failed),
			Cause:      failed.Cause,
		}
		if failed.Permanent {
			out.Result = delivery.FailedPermanently
		}
		return out, nil
	case err != nil:
		return delivery.Outcome{}, fmt.Errorf("%s agent: %w", a.Platform, err)
	case res.Skipped:
		return delivery.Outcome{Result: delivery.Skipped, Reason: res.SkipReason}, nil
	}
	return delivery.Outcome{
		Result:    delivery.Succeeded,
		Attempt:   deliverylog.Attempt{StatusCode: res.StatusCode, DurationMs: took},
		Progress:  res.Progress,
		Requested: res.StatusCode != 0, // 0: the ids were saved by an earlier attempt; no request now
	}, nil
}

// requested reports whether a failed attempt reached the platform (or tried to).
func requested(e *agents.AttemptError) bool {
	switch e.Class {
	case connector.ClassPendingDependency, connector.ClassBusy, connector.ClassBlocked, connector.ClassInternal:
		return e.StatusCode != 0
	}
	return true
}
