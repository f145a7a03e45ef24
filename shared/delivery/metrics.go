package delivery

import (
	"encoding/json"
	"strconv"

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
	// data for a period without failures). The line is written by hand (a batch's one line,
	// every invocation: json.Marshal of a map sorts its keys and reflects on every value).
	type metric struct {
		name, unit string
		n          int
	}
	var metrics []metric
	if n := counts[deliverylog.StatusSucceeded]; n > 0 {
		metrics = append(metrics, metric{"DeliveriesSucceeded", "Count", n})
	}
	if n := counts[deliverylog.StatusFailed]; n > 0 {
		metrics = append(metrics, metric{"DeliveriesFailed", "Count", n})
	}
	if circuitOpen > 0 {
		metrics = append(metrics, metric{"DeliveriesCircuitOpen", "Count", circuitOpen})
		delete(summary, "circuitOpen")
	}
	line := make([]byte, 0, 256+40*len(succeeded)+8*len(latency))
	line = append(line, `{"level":"INFO","msg":"delivery batch","records":`...)
	line = strconv.AppendInt(line, int64(len(results)), 10)
	for _, name := range []string{"skipped", "duplicates", "notRecorded", "circuitOpen"} {
		if n, ok := summary[name].(int); ok {
			line = strconv.AppendInt(append(append(append(line, `,"`...), name...), `":`...), int64(n), 10)
		}
	}
	if len(succeeded) > 0 {
		line = append(line, `,"succeededDeliveryIds":[`...)
		for i, id := range succeeded {
			if i > 0 {
				line = append(line, ',')
			}
			line = appendJSONString(line, id)
		}
		line = append(line, ']')
	}
	for _, m := range metrics {
		line = strconv.AppendInt(append(append(append(line, `,"`...), m.name...), `":`...), int64(m.n), 10)
	}
	if len(latency) > 0 {
		line = append(line, `,"DeliveryLatency":[`...)
		for i, ms := range latency {
			if i > 0 {
				line = append(line, ',')
			}
			line = strconv.AppendInt(line, ms, 10)
		}
		line = append(line, ']')
		metrics = append(metrics, metric{name: "DeliveryLatency", unit: "Milliseconds"})
	}
	if len(metrics) > 0 {
		line = append(line, `,"_aws":{"Timestamp":`...)
		line = strconv.AppendInt(line, h.now().UnixMilli(), 10)
		line = append(line, `,"CloudWatchMetrics":[{"Namespace":"`+MetricsNamespace+`","Dimensions":[[]],"Metrics":[`...)
		for i, m := range metrics {
			if i > 0 {
				line = append(line, ',')
			}
			line = append(append(append(append(line, `{"Name":"`...), m.name...), `","Unit":"`...), m.unit...)
			line = append(line, `"}`...)
		}
		line = append(line, `]}]}`...)
	}
	line = append(line, "}\n"...)
	_, _ = h.Metrics.Write(line)
}

// appendJSONString appends s as a JSON string: as it is when it needs no escaping (delivery
// ids do not), else as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}
