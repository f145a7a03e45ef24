package delivery

import (
	"context"
	"encoding/json"
	"time"

	"github.com/dealerai/integrations/shared/circuit"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/targets"
)

// health is what an attempt's outcome says of the endpoint: down on a timeout, a connection
// error or a 5xx; up on any other answer; neutral when no request was made.
func health(out Outcome) circuit.Health {
	a := out.Attempt
	switch {
	case !out.Requested:
		return circuit.Neutral
	case a.ErrorClass == deliverylog.ClassTimeout || a.ErrorClass == deliverylog.ClassConnection || a.StatusCode >= 500:
		return circuit.Down
	case out.Result == Succeeded || a.StatusCode != 0:
		return circuit.Up
	}
	return circuit.Neutral
}

// recordCircuit tells the breaker what the attempt found, and logs (with a metric) what
// changed: a circuit opened or closed, a subscription disabled after its circuit stayed open
// for the breaker's DisableAfter. stalled: the attempt already counted as a failure when it
// went unanswered for the breaker's StallAfter; its failure does not count again.
func (h *Handler) recordCircuit(ctx context.Context, msg *deliveryq.Message, t *targets.Target, permit circuit.Permit, out Outcome, stalled bool) {
	if h.Circuit == nil {
		return
	}
	hl := health(out)
	if stalled && hl == circuit.Down {
		hl = circuit.Neutral
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	tr, err := h.Circuit.Record(wctx, msg.DealerID, msg.Target, permit, hl, out.Attempt.Error)
	if err != nil {
		h.event("ERROR", "circuit state could not be written", "", map[string]any{"dealerId": msg.DealerID, "target": msg.Target.String(), "error": err.Error()})
		return
	}
	h.logTransition(ctx, msg, t, tr)
}

// logTransition logs (with a metric) a change of a target's circuit, and disables the
// subscription whose circuit stayed open for the breaker's DisableAfter.
func (h *Handler) logTransition(ctx context.Context, msg *deliveryq.Message, t *targets.Target, tr circuit.Transition) {
	if tr.To == "" {
		return
	}
	attrs := map[string]any{"dealerId": msg.DealerID, "target": msg.Target.String()}
	attrs["from"], attrs["to"], attrs["failures"] = tr.From, tr.To, tr.State.Failures
	if tr.State.OpenedAt != nil {
		attrs["openedAt"] = tr.State.OpenedAt.Format(time.RFC3339)
	}
	switch tr.To {
	case circuit.Open:
		attrs["retryAt"] = tr.State.RetryAt.Format(time.RFC3339)
		attrs["lastError"] = tr.State.LastError
		metric := "CircuitsOpened"
		if tr.From != circuit.Closed {
			metric = "" // a failed probe: open again, not newly
		}
		h.event("WARN", "circuit open", metric, attrs)
	case circuit.Closed:
		h.event("INFO", "circuit closed", "CircuitsClosed", attrs)
	}
	if tr.Disable && msg.Target.Kind == deliveryq.KindSubscription {
		reason := "endpoint failing since " + tr.State.OpenedAt.Format(time.RFC3339) +
			": no successful attempt for " + h.Circuit.Settings.WithDefaults().DisableAfter.String()
		if err := h.disable(ctx, msg.DealerID, t.ID, reason); err != nil {
			attrs["error"] = err.Error()
			h.event("ERROR", "endpoint could not be disabled", "", attrs)
			return
		}
		attrs["reason"] = reason
		h.event("WARN", "endpoint disabled", "EndpointsDisabled", attrs)
		// Enabled again later, the subscription starts with a closed circuit.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
		if _, err := h.Circuit.Reset(wctx, msg.DealerID, msg.Target); err != nil {
			h.logger().Error("circuit state could not be written", "dealerId", msg.DealerID, "target", msg.Target.String(), "error", err.Error())
		}
	}
}

// event writes one log line, with a Count metric of 1 named metric (none when empty): an
// embedded-metric document on Metrics, else a line of the Logger.
func (h *Handler) event(level, msg, metric string, attrs map[string]any) {
	if h.Metrics == nil {
		args := make([]any, 0, 2*len(attrs)+2)
		for k, v := range attrs {
			args = append(args, k, v)
		}
		if metric != "" {
			args = append(args, metric, 1)
		}
		switch level {
		case "ERROR":
			h.logger().Error(msg, args...)
		case "WARN":
			h.logger().Warn(msg, args...)
		default:
			h.logger().Info(msg, args...)
		}
		return
	}
	doc := map[string]any{"level": level, "msg": msg}
	for k, v := range attrs {
		doc[k] = v
	}
	if metric != "" {
		doc[metric] = 1
		doc["_aws"] = map[string]any{
			"Timestamp": h.now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  MetricsNamespace,
				"Dimensions": [][]string{{}},
				"Metrics":    []map[string]string{{"Name": metric, "Unit": "Count"}},
			}},
		}
	}
	if line, err := json.Marshal(doc); err == nil {
		_, _ = h.Metrics.Write(append(line, '\n'))
	}
}
