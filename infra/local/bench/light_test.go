package bench

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestDetailAddsUpToTheCost: the breakdown by source names every source of the run's usage
// and adds up, service by service, to the cost by service of the same usage.
func TestDetailAddsUpToTheCost(t *testing.T) {
	handlers := CallCounts{BySource: map[string]OpUsage{
		"router SQS.SendMessageBatch":          {Calls: 100, SQSBilled: 100},
		"delivery DynamoDB.BatchWriteItem":     {Calls: 100, WRU: 300},
		"delivery DynamoDB.BatchGetItem":       {Calls: 100, RRU: 150},
		"delivery SQS.ChangeMessageVisibility": {Calls: 3, SQSBilled: 3},
		"DynamoDB.Query":                       {Calls: 2, RRU: 1}, // outside an invocation
	}}
	mappings := map[string]CallCounts{
		"router":   {BySource: map[string]OpUsage{"SQS.ReceiveMessage": {Calls: 110, SQSBilled: 110}, "SQS.DeleteMessageBatch": {Calls: 100, SQSBilled: 100}}},
		"delivery": {BySource: map[string]OpUsage{"SQS.ReceiveMessage": {Calls: 105, SQSBilled: 105}, "SQS.DeleteMessageBatch": {Calls: 100, SQSBilled: 100}}},
	}
	functions := map[string]InvocationStats{
		"router":   {Invocations: 100, BilledMs: 1000, LogBytes: 10000},
		"delivery": {Invocations: 100, BilledMs: 4000, LogBytes: 30000},
	}
	items := Prices.Detail(DetailedUsage{Deliveries: 300, Handlers: handlers, Mappings: mappings, Functions: functions, MemoryMB: MemoryMB})
	usage := Usage{Deliveries: 300, SQSRequests: 100 + 3 + 210 + 205, WriteUnits: 300, ReadUnits: 151, Invocations: 200,
		GBSeconds: 1*256.0/1024 + 4*512.0/1024, LogBytes: 40000}
	want := map[string]float64{}
	for _, l := range Prices.Cost(usage) {
		want[strings.Fields(l.Service)[0]] += l.PerM
	}
	got := map[string]float64{}
	sources := map[string]bool{}
	for _, it := range items {
		got[strings.Fields(it.Service)[0]] += it.PerM
		sources[it.Source+" "+it.Unit] = true
	}
	for s, v := range want {
		if math.Abs(got[s]-v) > 1e-9 {
			t.Errorf("%s: $%.6f in the breakdown, $%.6f in the cost", s, got[s], v)
		}
	}
	for _, s := range []string{"events mapping ReceiveMessage requests", "deliveries mapping DeleteMessageBatch requests",
		"router SendMessageBatch requests", "delivery ChangeMessageVisibility requests", "delivery BatchWriteItem WRU",
		"delivery BatchGetItem RRU", "Query RRU", "router requests invocations", "delivery duration GB-s", "router bytes"} {
		if !sources[s] {
			t.Errorf("no item %q in %v", s, sources)
		}
	}
	// SQS first, largest first within it.
	if items[0].Service != "SQS" || items[0].Source != "events mapping ReceiveMessage" {
		t.Errorf("first item %+v, want the events mapping's receives", items[0])
	}
	if Prices.Detail(DetailedUsage{}) != nil {
		t.Error("a breakdown without deliveries")
	}
}

func TestLightRows(t *testing.T) {
	run := func(window time.Duration, sqsPerM float64, routerRecords float64) LightFigures {
		return LightFigures{Window: window, Cost: []CostLine{{Service: "SQS", PerM: sqsPerM}, {Service: "DynamoDB writes", PerM: 0.625}},
			CPUms: 0.45, P50: 8 * time.Millisecond, P99: 30 * time.Millisecond, RouterRecords: routerRecords, DeliveryRecords: 3, LogBytes: 90}
	}
	rows := lightRows([]LightFigures{run(0, 0.667, 1), run(time.Second, 0.2, 9.5)})
	find := func(name string) []string {
		for _, r := range rows {
			if strings.TrimSpace(r[0]) == name {
				return r
			}
		}
		t.Fatalf("no row %q", name)
		return nil
	}
	for name, want := range map[string][]string{
		"batching window":                {"0s", "1s"},
		"cost per million deliveries":    {"$1.292", "$0.825"},
		"SQS":                            {"$0.667", "$0.200"},
		"Lambda requests":                {"$0.000", "$0.000"},
		"latency p50 / p99":              {"8.0 / 30.0 ms", "8.0 / 30.0 ms"},
		"records per invocation: router": {"1.0", "9.5"},
	} {
		r := find(name)
		if len(r) != 3 || r[1] != want[0] || r[2] != want[1] {
			t.Errorf("%s: %q, want %q", name, r[1:], want)
		}
	}
}
