package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
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
	var doc struct {
		Level, Msg          string
		Records             int
		SucceededIDs        []string `json:"succeededDeliveryIds"`
		DeliveriesSucceeded *int
		DeliveriesFailed    *int
		DeliveryLatency     []int64
		AWS                 struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &doc); err != nil {
		t.Fatal(err)
	}
	cwm := doc.AWS.CloudWatchMetrics
	if doc.Level != "INFO" || doc.Msg != "delivery batch" || doc.Records != 3 || len(doc.SucceededIDs) != 3 ||
		doc.DeliveriesSucceeded == nil || *doc.DeliveriesSucceeded != 3 || doc.DeliveriesFailed == nil || *doc.DeliveriesFailed != 0 ||
		len(doc.DeliveryLatency) != 3 || doc.AWS.Timestamp == 0 || len(cwm) != 1 || cwm[0].Namespace != "DealerAI/Integrations" ||
		len(cwm[0].Dimensions) != 1 || len(cwm[0].Dimensions[0]) != 0 || len(cwm[0].Metrics) != 3 {
		t.Fatalf("line %s", lines[0])
	}
}

func newJSONLogger(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }
