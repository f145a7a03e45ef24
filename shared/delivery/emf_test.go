package delivery

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/deliverylog"
)

// EMFLine is the batch's summary line as CloudWatch reads it (the package's tests and its
// external tests parse it); a metric's value is nil when the line leaves it out.
type EMFLine struct {
	Level, Msg                   string
	Records, Skipped, Duplicates int
	NotRecorded                  int
	CircuitOpen                  *int
	SucceededIDs                 []string `json:"succeededDeliveryIds"`
	DeliveriesSucceeded          *int
	DeliveriesFailed             *int
	DeliveriesCircuitOpen        *int
	DeliveryLatency              []int64
	AWS                          struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

// orNone is *p, or -1 when p is nil (the line left the value out).
func orNone(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

// TestSummaryLineIsValidJSON: the batch line, written by hand, is one JSON document with the
// counts that are not zero, the succeeded ids, the metrics' values and their declarations;
// an id that needs escaping is escaped.
func TestSummaryLineIsValidJSON(t *testing.T) {
	var out bytes.Buffer
	h := &Handler{Metrics: &out, Now: func() time.Time { return time.UnixMilli(1700000000123) }}
	h.summarize([]recordResult{
		{status: deliverylog.StatusSucceeded, deliveryID: "dlv_1", requested: true, durationMs: 7},
		{status: deliverylog.StatusSucceeded, deliveryID: `dlv_"<2>`, requested: true, durationMs: 9},
		{status: deliverylog.StatusFailed, deliveryID: "dlv_3", requested: true, durationMs: 10000},
		{status: deliverylog.StatusFailed, deliveryID: "dlv_4", circuitOpen: true},
		{status: deliverylog.StatusSkipped, deliveryID: "dlv_5"},
		{status: "duplicate", deliveryID: "dlv_6"},
		{status: "invalid"},
	})
	line := out.Bytes()
	if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("not one line: %q", line)
	}
	var doc EMFLine
	if err := json.Unmarshal(line, &doc); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if doc.Level != "INFO" || doc.Msg != "delivery batch" || doc.Records != 7 || doc.Skipped != 1 || doc.Duplicates != 1 ||
		doc.NotRecorded != 1 || doc.CircuitOpen != nil || len(doc.SucceededIDs) != 2 || doc.SucceededIDs[1] != `dlv_"<2>` ||
		orNone(doc.DeliveriesSucceeded) != 2 || orNone(doc.DeliveriesFailed) != 2 || orNone(doc.DeliveriesCircuitOpen) != 1 ||
		len(doc.DeliveryLatency) != 3 || doc.DeliveryLatency[2] != 10000 || doc.AWS.Timestamp != 1700000000123 {
		t.Fatalf("line %s", line)
	}
	cwm := doc.AWS.CloudWatchMetrics
	if len(cwm) != 1 || cwm[0].Namespace != MetricsNamespace || len(cwm[0].Dimensions) != 1 || len(cwm[0].Dimensions[0]) != 0 {
		t.Fatalf("metadata %s", line)
	}
	want := map[string]string{"DeliveriesSucceeded": "Count", "DeliveriesFailed": "Count", "DeliveriesCircuitOpen": "Count", "DeliveryLatency": "Milliseconds"}
	if len(cwm[0].Metrics) != len(want) {
		t.Fatalf("metrics %+v", cwm[0].Metrics)
	}
	for _, m := range cwm[0].Metrics {
		if want[m.Name] != m.Unit {
			t.Errorf("metric %s unit %q", m.Name, m.Unit)
		}
	}
}
