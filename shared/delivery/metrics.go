package delivery

import (
	"encoding/json"

	"github.com/dealerai/integrations/shared/deliverylog"
)

// MetricsNamespace is the CloudWatch namespace of the pipeline's metrics.
const MetricsNamespace = "DealerAI/Integrations"

// summarize writes the batch's summary log line (the successes; each failed attempt has
// its own line) and its metrics as one CloudWatch Embedded Metric Format line:
// DeliveriesSucceeded and DeliveriesFailed (attempts, Count) and DeliveryLatency (the
// duration of each attempt that made a request, Milliseconds), without dimensions.
func (h *Handler) summarize(results []recordResult) {
	counts := map[string]int{}
	var succeeded []string
	var latency []int64
	for _, r := range results {
		counts[r.status]++
		if r.status == deliverylog.StatusSucceeded {
			succeeded = append(succeeded, r.deliveryID)
		}
		if r.requested {
			latency = append(latency, r.durationMs)
		}
	}
	h.logger().Info("delivery batch",
		"records", len(results),
		"succeeded", counts[deliverylog.StatusSucceeded],
		"failed", counts[deliverylog.StatusFailed],
		"skipped", counts[deliverylog.StatusSkipped],
		"duplicates", counts["duplicate"],
		"notRecorded", counts[deliverylog.StatusPending]+counts["invalid"],
		"succeededDeliveryIds", succeeded)
	if h.Metrics == nil {
		return
	}
	metrics := []map[string]string{
		{"Name": "DeliveriesSucceeded", "Unit": "Count"},
		{"Name": "DeliveriesFailed", "Unit": "Count"},
	}
	doc := map[string]any{
		"DeliveriesSucceeded": counts[deliverylog.StatusSucceeded],
		"DeliveriesFailed":    counts[deliverylog.StatusFailed],
	}
	if len(latency) > 0 { // EMF wants every declared metric present with a value
		metrics = append(metrics, map[string]string{"Name": "DeliveryLatency", "Unit": "Milliseconds"})
		doc["DeliveryLatency"] = latency
	}
	doc["_aws"] = map[string]any{
		"Timestamp": h.now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  MetricsNamespace,
			"Dimensions": [][]string{{}},
			"Metrics":    metrics,
		}},
	}
	line, err := json.Marshal(doc)
	if err == nil {
		_, _ = h.Metrics.Write(append(line, '\n'))
	}
}
