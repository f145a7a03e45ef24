package delivery

import (
	"encoding/json"

	"github.com/dealerai/integrations/shared/deliverylog"
)

// MetricsNamespace is the CloudWatch namespace of the pipeline's metrics.
const MetricsNamespace = "DealerAI/Integrations"

// summarize writes the batch's summary (the successes; each failed attempt has its own line)
// and its metrics: DeliveriesSucceeded and DeliveriesFailed (attempts, Count) and
// DeliveryLatency (the duration of each attempt that made a request, Milliseconds) and
// DeliveriesCircuitOpen (attempts failed fast by an open circuit, Count), without
// dimensions, in CloudWatch Embedded Metric Format; a metric without a value in the batch is
// left out.
//
// With a Metrics writer both are one line, an EMF document that is also the summary log
// record ("level", "msg": "delivery batch", "records", the counts that are not zero,
// "succeededDeliveryIds"): CloudWatch extracts the metrics and keeps the line as a log event,
// and a batch costs one line of ingestion instead of two. Without one, the summary is a line
// of the Logger.
func (h *Handler) summarize(results []recordResult) {
	counts := map[string]int{}
	var succeeded []string
	var latency []int64
	circuitOpen := 0
	for _, r := range results {
		counts[r.status]++
		if r.circuitOpen {
			circuitOpen++
		}
		if r.status == deliverylog.StatusSucceeded {
			succeeded = append(succeeded, r.deliveryID)
		}
		if r.requested {
			latency = append(latency, r.durationMs)
		}
	}
	summary := map[string]any{"records": len(results)}
	for name, n := range map[string]int{
		"skipped":     counts[deliverylog.StatusSkipped],
		"duplicates":  counts["duplicate"],
		"notRecorded": counts[deliverylog.StatusPending] + counts["invalid"] + counts["panic"],
		"circuitOpen": circuitOpen,
	} {
		if n != 0 {
			summary[name] = n
		}
	}
	if len(succeeded) > 0 {
		summary["succeededDeliveryIds"] = succeeded
	}
	if h.Metrics == nil {
		attrs := []any{"records", len(results)}
		for _, name := range []string{deliverylog.StatusSucceeded, deliverylog.StatusFailed} {
			if counts[name] != 0 {
				attrs = append(attrs, name, counts[name])
			}
		}
		for _, name := range []string{"skipped", "duplicates", "notRecorded", "circuitOpen", "succeededDeliveryIds"} {
			if v, ok := summary[name]; ok {
				attrs = append(attrs, name, v)
			}
		}
		h.logger().Info("delivery batch", attrs...)
		return
	}
	// A metric is declared only with a value: EMF wants every declared metric present, and a
	// zero count adds nothing to a Sum but ~60 bytes to every line (the dashboard shows no
	// data for a period without failures).
	doc := summary
	doc["level"], doc["msg"] = "INFO", "delivery batch"
	var metrics []map[string]string
	for _, m := range []struct{ name, status string }{
		{"DeliveriesSucceeded", deliverylog.StatusSucceeded},
		{"DeliveriesFailed", deliverylog.StatusFailed},
	} {
		if n := counts[m.status]; n > 0 {
			metrics = append(metrics, map[string]string{"Name": m.name, "Unit": "Count"})
			doc[m.name] = n
		}
	}
	if circuitOpen > 0 {
		metrics = append(metrics, map[string]string{"Name": "DeliveriesCircuitOpen", "Unit": "Count"})
		doc["DeliveriesCircuitOpen"] = circuitOpen
		delete(doc, "circuitOpen")
	}
	if len(latency) > 0 {
		metrics = append(metrics, map[string]string{"Name": "DeliveryLatency", "Unit": "Milliseconds"})
		doc["DeliveryLatency"] = latency
	}
	if len(metrics) > 0 {
		doc["_aws"] = map[string]any{
			"Timestamp": h.now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  MetricsNamespace,
				"Dimensions": [][]string{{}},
				"Metrics":    metrics,
			}},
		}
	}
	line, err := json.Marshal(doc)
	if err == nil {
		_, _ = h.Metrics.Write(append(line, '\n'))
	}
}
