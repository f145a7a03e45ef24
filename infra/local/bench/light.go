package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// LightFigures are one light-regime run's figures (events trickling in, each its own
// SendMessage) at one batching window: what an operator weighs when choosing the window.
type LightFigures struct {
	Window   time.Duration
	Cost     []CostLine
	CPUms    float64 // handler CPU per delivery
	P50, P99 time.Duration
	// RouterRecords and DeliveryRecords are the mean records per invocation.
	RouterRecords, DeliveryRecords float64
	LogBytes                       float64 // per delivery
}

// PrintLightComparison writes the runs side by side, one column per batching window: the cost
// per million deliveries and its services, the handler CPU, the latency and the batch sizes.
func PrintLightComparison(w io.Writer, runs []LightFigures) {
	rows := lightRows(runs)
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	for _, r := range rows {
		fmt.Fprintf(w, "    %-*s", width, r[0])
		for _, c := range r[1:] {
			fmt.Fprintf(w, "  %14s", c)
		}
		fmt.Fprintln(w)
	}
}

// lightRows is PrintLightComparison's table: a header row of the windows, then one row per
// figure.
func lightRows(runs []LightFigures) [][]string {
	services := []string{"SQS", "DynamoDB writes", "DynamoDB reads", "Lambda requests", "Lambda duration", "CloudWatch Logs"}
	rows := [][]string{{"batching window"}, {"cost per million deliveries"}}
	for _, s := range services {
		rows = append(rows, []string{"  " + s})
	}
	rows = append(rows, []string{"handler CPU per delivery"}, []string{"latency p50 / p99"},
		[]string{"records per invocation: router"}, []string{"records per invocation: delivery"}, []string{"log bytes per delivery"})
	for _, r := range runs {
		by := map[string]float64{}
		for _, l := range r.Cost {
			by[l.Service] += l.PerM
		}
		col := []string{r.Window.String(), fmt.Sprintf("$%.3f", Total(r.Cost))}
		for _, s := range services {
			col = append(col, fmt.Sprintf("$%.3f", by[s]))
		}
		col = append(col, fmt.Sprintf("%.3f ms", r.CPUms),
			strings.TrimSuffix(ms(r.P50), " ms")+" / "+ms(r.P99),
			fmt.Sprintf("%.1f", r.RouterRecords), fmt.Sprintf("%.1f", r.DeliveryRecords), fmt.Sprintf("%.0f B", r.LogBytes))
		for i := range rows {
			rows[i] = append(rows[i], col[i])
		}
	}
	return rows
}
