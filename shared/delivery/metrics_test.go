package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealerai/integrations/shared/delivery"
)

// TestBatchSummaryIsOneEMFLine: with a Metrics writer the batch's summary and its metrics are
// one line, a CloudWatch EMF document that is also the summary log record.
func TestBatchSummaryIsOneEMFLine(t *testing.T) {
	h, _, _ := setup(t, subTarget, func(w http.ResponseWriter, r *http.Request) {})
	var metrics, logs bytes.Buffer
	h.Metrics = &metrics
	h.Logger = newJSONLogger(&logs)
	h.Handle(context.Background(), batchOf(t, 3, nil))
	lines := strings.Split(strings.TrimSpace(metrics.String()), "\n")
	if len(lines) != 1 || strings.Contains(logs.String(), "delivery batch") {
		t.Fatalf("metrics %q, logs %q: want one line, in the metrics", metrics.String(), logs.String())
	}
	var doc delivery.EMFLine
	if err := json.Unmarshal([]byte(lines[0]), &doc); err != nil {
		t.Fatal(err)
	}
	cwm := doc.AWS.CloudWatchMetrics
	if doc.Level != "INFO" || doc.Msg != "delivery batch" || doc.Records != 3 || len(doc.SucceededIDs) != 3 ||
		doc.DeliveriesSucceeded == nil || *doc.DeliveriesSucceeded != 3 || doc.DeliveriesFailed != nil ||
		len(doc.DeliveryLatency) != 3 || doc.AWS.Timestamp == 0 || len(cwm) != 1 || cwm[0].Namespace != "DealerAI/Integrations" ||
		len(cwm[0].Dimensions) != 1 || len(cwm[0].Dimensions[0]) != 0 || len(cwm[0].Metrics) != 2 {
		t.Fatalf("line %s", lines[0])
	}
	// Every declared metric has a value in the document, and only those with a value are
	// declared (a zero count is left out: it adds nothing to a Sum).
	var all map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &all); err != nil {
		t.Fatal(err)
	}
	for _, m := range cwm[0].Metrics {
		if _, ok := all[m.Name]; !ok {
			t.Errorf("metric %s declared without a value: %s", m.Name, lines[0])
		}
	}
}

// TestBatchMetricsCountFailures: a batch with a failed attempt declares DeliveriesFailed with
// its count; a batch with no attempt at all is a plain summary line without EMF metadata.
func TestBatchMetricsCountFailures(t *testing.T) {
	h, _, _ := setup(t, subTarget, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	var metrics bytes.Buffer
	h.Metrics = &metrics
	h.Handle(context.Background(), batchOf(t, 2, nil))
	var doc struct {
		DeliveriesSucceeded *int
		DeliveriesFailed    *int
		AWS                 *struct {
			CloudWatchMetrics []struct{ Metrics []struct{ Name string } }
		} `json:"_aws"`
	}
	if err := json.Unmarshal(metrics.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, metrics.String())
	}
	if doc.DeliveriesFailed == nil || *doc.DeliveriesFailed != 2 || doc.DeliveriesSucceeded != nil || doc.AWS == nil ||
		len(doc.AWS.CloudWatchMetrics) != 1 || len(doc.AWS.CloudWatchMetrics[0].Metrics) != 2 {
		t.Fatalf("line %s", metrics.String())
	}

	metrics.Reset()
	h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: "not a delivery message"}}})
	if line := metrics.String(); !strings.Contains(line, `"msg":"delivery batch"`) || strings.Contains(line, "_aws") {
		t.Fatalf("a batch without attempts: %s", line)
	}
}

func newJSONLogger(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }
