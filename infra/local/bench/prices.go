package bench

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Prices is the one price table of the cost figures: AWS list prices (us-east-1), in US
// dollars.
var Prices = PriceTable{
	SQSPerMillionRequests:       0.40,         // standard queue, per million requests (64 KiB chunks)
	DynamoDBPerMillionWRU:       0.625,        // on-demand write request units (1 KB each)
	DynamoDBPerMillionRRU:       0.125,        // on-demand read request units (4 KB strongly consistent, 2 × 4 KB eventually)
	LambdaPerMillionInvocations: 0.20,         // requests
	LambdaPerGBSecond:           0.0000133334, // arm64 duration, billed per ms
	LogsPerGB:                   0.50,         // CloudWatch Logs ingestion
}

// MemoryMB is each function's configured memory (infra/stack's function definitions).
var MemoryMB = map[string]int{"api": 256, "router": 256, "delivery": 512}

// PriceTable holds the unit prices.
type PriceTable struct {
	SQSPerMillionRequests       float64
	DynamoDBPerMillionWRU       float64
	DynamoDBPerMillionRRU       float64
	LambdaPerMillionInvocations float64
	LambdaPerGBSecond           float64
	LogsPerGB                   float64
}

// Usage is what a run consumed, in billable units.
type Usage struct {
	Deliveries  int     // successful deliveries
	SQSRequests int     // handlers' and event source mappings' requests
	WriteUnits  float64 // DynamoDB write request units
	ReadUnits   float64 // DynamoDB read request units
	Invocations int     // Lambda invocations (router + delivery)
	GBSeconds   float64 // Lambda billed duration × memory
	LogBytes    int64   // bytes written to CloudWatch Logs by the handlers
}

// CostLine is one service's share of the cost per million deliveries.
type CostLine struct {
	Service string
	Units   string  // what is billed, per delivery
	PerM    float64 // dollars per million deliveries
}

// Cost breaks a run's usage down into dollars per million deliveries.
func (p PriceTable) Cost(u Usage) []CostLine {
	if u.Deliveries == 0 {
		return nil
	}
	per := func(v float64) float64 { return v / float64(u.Deliveries) }
	return []CostLine{
		{"SQS", fmt.Sprintf("%.3f requests", per(float64(u.SQSRequests))), per(float64(u.SQSRequests)) * p.SQSPerMillionRequests},
		{"DynamoDB writes", fmt.Sprintf("%.3f WRU", per(u.WriteUnits)), per(u.WriteUnits) * p.DynamoDBPerMillionWRU},
		{"DynamoDB reads", fmt.Sprintf("%.3f RRU", per(u.ReadUnits)), per(u.ReadUnits) * p.DynamoDBPerMillionRRU},
		{"Lambda requests", fmt.Sprintf("%.3f invocations", per(float64(u.Invocations))), per(float64(u.Invocations)) * p.LambdaPerMillionInvocations},
		{"Lambda duration", fmt.Sprintf("%.6f GB-s", per(u.GBSeconds)), per(u.GBSeconds) * 1e6 * p.LambdaPerGBSecond},
		{"CloudWatch Logs", fmt.Sprintf("%.0f bytes", per(float64(u.LogBytes))), per(float64(u.LogBytes)) * 1e6 / (1 << 30) * p.LogsPerGB},
	}
}

// Total sums cost lines.
func Total(lines []CostLine) float64 {
	t := 0.0
	for _, l := range lines {
		t += l.PerM
	}
	return t
}

// PrintCost writes the breakdown as a table.
func PrintCost(w io.Writer, lines []CostLine) {
	for _, l := range lines {
		fmt.Fprintf(w, "    %-16s %-22s $%.3f\n", l.Service, l.Units, l.PerM)
	}
	fmt.Fprintf(w, "    %-16s %-22s $%.3f per million deliveries\n", "total", "", Total(lines))
}

// billedMs is Lambda's billed duration of one invocation: rounded up to the millisecond.
func billedMs(seconds float64) float64 { return math.Ceil(seconds * 1000) }

// CostItem is one source of a run's cost: who spends it on what, in billable units per
// delivery, and its dollars per million deliveries.
type CostItem struct {
	Service string  // "SQS", "DynamoDB", "Lambda", "CloudWatch Logs"
	Source  string  // "events mapping ReceiveMessage", "delivery BatchWriteItem", "router requests", ...
	Units   float64 // per delivery
	Unit    string  // "requests", "WRU", "RRU", "invocations", "GB-s", "bytes"
	PerM    float64
}

// DetailedUsage is a run's usage by source: what Detail breaks down.
type DetailedUsage struct {
	Deliveries int
	// Handlers are the functions' AWS calls (by "<function> <Service.Operation>"), Mappings
	// the event source mappings' SQS calls by the function each invokes.
	Handlers  CallCounts
	Mappings  map[string]CallCounts
	Functions map[string]InvocationStats
	MemoryMB  map[string]int
}

// mappingName is how the cost breakdown names the event source mapping of a function.
var mappingName = map[string]string{"router": "events mapping", "delivery": "deliveries mapping"}

// Detail says where each cent of the cost per million deliveries goes: every source of SQS
// requests, DynamoDB capacity, Lambda requests and duration, and log bytes, largest first
// within each service. Its items add up to Cost's total for the same run.
func (p PriceTable) Detail(u DetailedUsage) []CostItem {
	if u.Deliveries == 0 {
		return nil
	}
	n := float64(u.Deliveries)
	var sqsItems, ddbItems, lambdaItems, logItems []CostItem
	addCalls := func(prefix string, c CallCounts) {
		for key, op := range c.BySource {
			service, name := splitSource(key)
			src := strings.TrimSpace(prefix + " " + name)
			switch service {
			case "SQS":
				sqsItems = append(sqsItems, CostItem{"SQS", src, float64(op.SQSBilled) / n, "requests", float64(op.SQSBilled) / n * p.SQSPerMillionRequests})
			case "DynamoDB":
				if op.WRU > 0 {
					ddbItems = append(ddbItems, CostItem{"DynamoDB", src, op.WRU / n, "WRU", op.WRU / n * p.DynamoDBPerMillionWRU})
				}
				if op.RRU > 0 {
					ddbItems = append(ddbItems, CostItem{"DynamoDB", src, op.RRU / n, "RRU", op.RRU / n * p.DynamoDBPerMillionRRU})
				}
			}
		}
	}
	addCalls("", u.Handlers)
	for fn, c := range u.Mappings {
		name := mappingName[fn]
		if name == "" {
			name = fn + " mapping"
		}
		addCalls(name, c)
	}
	for fn, f := range u.Functions {
		if f.Invocations == 0 && f.LogBytes == 0 {
			continue
		}
		inv := float64(f.Invocations) / n
		gbs := f.BilledMs / 1000 * float64(u.MemoryMB[fn]) / 1024 / n
		lambdaItems = append(lambdaItems,
			CostItem{"Lambda", fn + " requests", inv, "invocations", inv * p.LambdaPerMillionInvocations},
			CostItem{"Lambda", fn + " duration", gbs, "GB-s", gbs * 1e6 * p.LambdaPerGBSecond})
		b := float64(f.LogBytes) / n
		logItems = append(logItems, CostItem{"CloudWatch Logs", fn, b, "bytes", b * 1e6 / (1 << 30) * p.LogsPerGB})
	}
	var out []CostItem
	for _, items := range [][]CostItem{sqsItems, ddbItems, lambdaItems, logItems} {
		slices.SortFunc(items, func(a, b CostItem) int {
			if c := cmp.Compare(b.PerM, a.PerM); c != 0 {
				return c
			}
			return strings.Compare(a.Source+a.Unit, b.Source+b.Unit)
		})
		out = append(out, items...)
	}
	return out
}

// splitSource splits "router SQS.SendMessageBatch" into "SQS" and "router SendMessageBatch".
func splitSource(key string) (service, name string) {
	fn, op, ok := strings.Cut(key, " ")
	if !ok {
		fn, op = "", key
	}
	service, operation, _ := strings.Cut(op, ".")
	return service, strings.TrimSpace(fn + " " + operation)
}

// PrintDetail writes Detail's items with each service's subtotal.
func PrintDetail(w io.Writer, items []CostItem) {
	total := 0.0
	for i, it := range items {
		if i == 0 || items[i-1].Service != it.Service {
			sub := 0.0
			for _, o := range items[i:] {
				if o.Service != it.Service {
					break
				}
				sub += o.PerM
			}
			fmt.Fprintf(w, "    %-52s $%.3f\n", it.Service, sub)
		}
		units := fmt.Sprintf("%.3f %s", it.Units, it.Unit)
		if it.Unit == "GB-s" {
			units = fmt.Sprintf("%.6f %s", it.Units, it.Unit)
		}
		fmt.Fprintf(w, "      %-38s %-20s $%.3f\n", it.Source, units, it.PerM)
		total += it.PerM
	}
	fmt.Fprintf(w, "    %-52s $%.3f per million deliveries\n", "total", total)
}
