package bench

import (
	"fmt"
	"io"
	"math"
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
