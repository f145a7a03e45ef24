package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Targets the report checks (docs/performance.md).
const (
	TargetCostPerM    = 1.00 // dollars per million successful deliveries
	TargetCPUms       = 0.2  // handler CPU per delivery
	TargetP50         = 20 * time.Millisecond
	TargetP99         = 60 * time.Millisecond
	TargetBinaryBytes = 10_000_000
	TargetInit        = 30 * time.Millisecond
	TargetLogBytes    = 150
	// TargetLightCPUms bounds the handler CPU per delivery in the light regime (each event
	// its own SendMessage) at the default batching window.
	TargetLightCPUms = 0.5
	// TargetIsolationBilled bounds the delivery function's billed time with one endpoint
	// hanging, as a multiple of the same run's without.
	TargetIsolationBilled = 2.0
	DefaultDeliveryTimout = 10 * time.Second
)

// BenchOptions configure RunBench.
type BenchOptions struct {
	Options
	// CPUEvents are the events of the CPU and cost run (×FanOut deliveries), sent in batches
	// of 10 at CPURate events/s, and of the burst.
	CPUEvents int
	CPURate   float64
	// Rate and Seconds shape the latency and isolation runs.
	Rate    float64
	Seconds float64
	// CPUProfile, when set, receives the function process's CPU profile of the CPU run;
	// LightProfile of the light run at the default batching window.
	CPUProfile, LightProfile string
	// LightWindow is the second light run's batching window (1 s when 0), LightSeconds its
	// length (Seconds when 0).
	LightWindow  time.Duration
	LightSeconds float64
	// SkipColdStart and SkipAPI leave those parts out; CPUOnly runs the CPU and cost part
	// alone.
	SkipColdStart, SkipAPI, CPUOnly bool
	// LightOnly runs the two light-regime runs alone.
	LightOnly bool
}

// summary collects the target rows of the final table.
type summary struct {
	rows [][4]string
}

func (s *summary) add(target, measured, floor string, met bool, note string) {
	verdict := "met"
	if !met {
		verdict = "MISSED"
	}
	if note != "" {
		verdict += " — " + note
	}
	s.rows = append(s.rows, [4]string{target, measured, floor, verdict})
}

func (s *summary) print(w io.Writer) {
	width := [3]int{}
	for _, r := range s.rows {
		for i := range 3 {
			width[i] = max(width[i], len(r[i]))
		}
	}
	for _, r := range s.rows {
		fmt.Fprintf(w, "  %-*s  %-*s  %-*s  %s\n", width[0], r[0], width[1], r[1], width[2], r[2], r[3])
	}
}

// RunBench is `make bench`.
func RunBench(ctx context.Context, o BenchOptions) error {
	o.defaults()
	if o.CPUEvents == 0 {
		o.CPUEvents = (10000 + o.FanOut - 1) / o.FanOut
	}
	if o.Rate == 0 {
		o.Rate = 100
	}
	if o.CPURate == 0 {
		o.CPURate = 100
	}
	if o.Seconds == 0 {
		o.Seconds = 15
	}
	w := o.Out
	started := time.Now()
	header(w, "make bench", o.Options)

	h, err := New(ctx, o.Options)
	if err != nil {
		return err
	}
	defer h.Close()
	var sum summary

	fmt.Fprintf(w, "\nwarm-up (not measured): 300 events...\n")
	if _, err := h.Run(ctx, Load{Name: "warm-up", Events: 300}); err != nil {
		return err
	}

	if !o.LightOnly {
		if err := cpuRuns(ctx, h, o, &sum); err != nil {
			return err
		}
		if o.CPUOnly {
			fmt.Fprintf(w, "\nTargets (docs/performance.md; local figures):\n")
			sum.print(w)
			return nil
		}
	}

	fmt.Fprintf(w, "\n3. Light regime and latency: %.0f events/s × fan-out %d for %.0f s, each event its own SendMessage, batching window 0 s (the default)\n", o.Rate, o.FanOut, o.Seconds)
	floorEvents := int(o.Rate * min(o.Seconds, 5))
	lightFloor, err := h.LightFloor(ctx, floorEvents, o.Rate)
	if err != nil {
		return err
	}
	lightFloorMs := lightFloor.CPUSeconds * 1000 / float64(lightFloor.Batches*o.FanOut)
	paced, err := h.Run(ctx, Load{Name: "paced", Events: int(o.Rate * o.Seconds), Rate: o.Rate, Profile: o.LightProfile})
	if err != nil {
		return err
	}
	paced.print(w)
	fmt.Fprintf(w, "  the calls alone:     %.3f ms per delivery (%.0f%% of the handlers' CPU): %d events' calls paced at %.0f/s, each a BatchGetItem of its %d delivery records, %d POSTs, a BatchWriteItem of %d and a SendMessageBatch of %d, the handlers' clients, same process; no invocation, no handler code\n",
		lightFloorMs, 100*lightFloorMs/paced.cpuMs(), lightFloor.Batches, o.Rate, o.FanOut, o.FanOut, o.FanOut, o.FanOut)
	if o.LightProfile != "" {
		fmt.Fprintf(w, "  CPU profile of the function process: %s (go tool pprof -top %s)\n", o.LightProfile, o.LightProfile)
	}
	p50, p99 := pct(paced.Latencies, 0.5), pct(paced.Latencies, 0.99)
	sum.add(fmt.Sprintf("latency p50 at %.0f ev/s × %d", o.Rate, o.FanOut), ms(p50), "", p50 <= TargetP50, "")
	sum.add(fmt.Sprintf("latency p99 at %.0f ev/s × %d", o.Rate, o.FanOut), ms(p99), "", p99 <= TargetP99, "")
	lightCost := Total(paced.cost())
	sum.add("light regime, window 0 s (default): cost per million deliveries", fmt.Sprintf("$%.3f", lightCost), "", lightCost <= TargetCostPerM, paced.costNote())
	sum.add("light regime, window 0 s (default): handler CPU per delivery", fmt.Sprintf("%.3f ms", paced.cpuMs()), "", paced.cpuMs() <= TargetLightCPUms,
		fmt.Sprintf("%s; the calls alone %.3f ms", paced.recordsNote(), lightFloorMs))

	window := o.LightWindow
	if window == 0 {
		window = time.Second
	}
	lightSeconds := o.LightSeconds
	if lightSeconds == 0 {
		lightSeconds = o.Seconds
	}
	fmt.Fprintf(w, "\n4. Light regime at a %v batching window: %.0f events/s × fan-out %d for %.0f s, each event its own SendMessage\n", window, o.Rate, o.FanOut, lightSeconds)
	h.SetBatchingWindow(window)
	windowed, err := h.Run(ctx, Load{Name: "light, window", Events: int(o.Rate * lightSeconds), Rate: o.Rate})
	if err != nil {
		return err
	}
	windowed.print(w)
	wCost := Total(windowed.cost())
	sum.add(fmt.Sprintf("light regime, window %v: cost per million deliveries", window), fmt.Sprintf("$%.3f", wCost), "", wCost <= TargetCostPerM, windowed.costNote())
	sum.add(fmt.Sprintf("light regime, window %v: handler CPU per delivery", window), fmt.Sprintf("%.3f ms", windowed.cpuMs()), "", windowed.cpuMs() <= TargetLightCPUms, windowed.recordsNote())
	sum.add(fmt.Sprintf("light regime, window %v: latency p50 / p99", window), ms(pct(windowed.Latencies, 0.5))+" / "+ms(pct(windowed.Latencies, 0.99)), "", true, "reported: the window's price")
	fmt.Fprintf(w, "\n  The light regime, window 0 s against %v (an operator's choice: the CDK context batchingWindow):\n", window)
	PrintLightComparison(w, []LightFigures{paced.lightFigures(), windowed.lightFigures()})
	h.SetBatchingWindow(0)

	// After the light runs: the hanging endpoint leaves its circuit open and its deliveries
	// waiting for their retries.
	if !o.LightOnly {
		if err := isolationRun(ctx, h, o, &sum, paced); err != nil {
			return err
		}
	}
	h.Close()

	if !o.SkipColdStart && !o.LightOnly {
		fmt.Fprintf(w, "\n6. Cold start: linux/arm64 binaries as `make build` builds them; init = process start → first /next under the Lambda RIE (host build, same flags, median of %d)\n", coldStartRuns)
		cs, err := ColdStart(ctx, w)
		if err != nil {
			fmt.Fprintf(w, "  cold start not measured: %v\n", err)
		}
		var floor ColdStartResult
		for _, c := range cs {
			if c.Function == "floor" {
				floor = c
				continue
			}
			sum.add(c.Function+" binary (linux/arm64)", decimalMB(c.Bytes), "empty Lambda "+decimalMB(floor.Bytes), c.Bytes <= TargetBinaryBytes, "")
			if c.Init > 0 {
				sum.add(c.Function+" init (RIE, host build, median)", ms(c.Init), "empty Lambda "+ms(floor.Init), c.Init <= TargetInit, "")
			}
		}
	}
	if !o.SkipAPI && !o.LightOnly {
		fmt.Fprintf(w, "\n7. API: handler as lambda.Start runs it, on DynamoDB Local\n")
		if err := APIBench(ctx, w, &sum); err != nil {
			fmt.Fprintf(w, "  API not measured: %v\n", err)
		}
	}

	fmt.Fprintf(w, "\nTargets (docs/performance.md; local figures):\n")
	sum.print(w)
	fmt.Fprintf(w, "\nmake bench took %v; load average now %s\n", time.Since(started).Round(time.Second), loadAverage())
	return nil
}

// cpuRuns are the CPU and cost run in full batches and the burst.
func cpuRuns(ctx context.Context, h *Harness, o BenchOptions, sum *summary) error {
	w := o.Out
	posts := o.CPUEvents * o.FanOut
	fmt.Fprintf(w, "\n1. CPU and cost: %d events × fan-out %d = %d deliveries, sent in SendMessageBatch calls of 10 at %.0f events/s (full batches, emulators not saturated)\n",
		o.CPUEvents, o.FanOut, posts, o.CPURate)
	bare, err := h.Bare(ctx, posts)
	if err != nil {
		return err
	}
	cpuRun, err := h.Run(ctx, Load{Name: "cpu", Events: o.CPUEvents, Rate: o.CPURate, Batched: true, Profile: o.CPUProfile})
	if err != nil {
		return err
	}
	cpuRun.print(w)
	perDelivery := cpuRun.cpuMs()
	floor := bare.CPUSeconds * 1000 / float64(bare.Requests)
	fmt.Fprintf(w, "  handlers' CPU:       %.3f ms per delivery (function process: router + delivery handlers, SDK calls, invocation JSON, GC)\n", perDelivery)
	fmt.Fprintf(w, "  bare-POST floor:     %.3f ms per POST (%d POSTs of the same bodies to the same receivers, %d concurrent, plain Go loop, same process)\n", floor, bare.Requests, 10*o.DeliveryConcurrency)
	fmt.Fprintf(w, "  ratio:               %.1f× the floor\n", perDelivery/floor)
	sdk, err := h.SDKFloor(ctx, posts)
	if err != nil {
		return err
	}
	sdkPerDelivery := sdk.CPUSeconds * 1000 / float64(sdk.Batches*10)
	fmt.Fprintf(w, "  SDK-call floor:      %.3f ms per delivery (%d × BatchGetItem + BatchWriteItem of 10 delivery records + SendMessageBatch of 10 delivery messages, the handlers' SDK configuration, %d concurrent, same process: %.3f ms per call)\n",
		sdkPerDelivery, sdk.Batches, o.DeliveryConcurrency, sdk.CPUSeconds*1000/float64(3*sdk.Batches))
	fmt.Fprintf(w, "  the two floors:      %.3f ms per delivery (%.0f%% of the handlers' CPU); the rest is the invocations (runtime JSON, the mappings' batches), routing, signing, the batch's goroutines and the GC\n",
		floor+sdkPerDelivery, 100*(floor+sdkPerDelivery)/perDelivery)
	if o.CPUProfile != "" {
		fmt.Fprintf(w, "  CPU profile of the function process: %s (go tool pprof -top %s)\n", o.CPUProfile, o.CPUProfile)
	}
	cost := cpuRun.cost()
	sum.add("cost per million deliveries (steady load, full batches)", fmt.Sprintf("$%.3f", Total(cost)), "", Total(cost) <= TargetCostPerM, "")
	sum.add("handler CPU per delivery (10k run)", fmt.Sprintf("%.3f ms", perDelivery), fmt.Sprintf("bare POST %.3f ms (%.1f×)", floor, perDelivery/floor), perDelivery <= TargetCPUms,
		fmt.Sprintf("bare POST + SDK calls alone %.3f ms", floor+sdkPerDelivery))
	logB := cpuRun.logBytes()
	sum.add("log bytes per delivery", fmt.Sprintf("%.0f B", logB), "", logB <= TargetLogBytes, "")

	fmt.Fprintf(w, "\n2. Burst: %d events × fan-out %d = %d deliveries sent at once (batches of 10): the drain rate\n", o.CPUEvents, o.FanOut, posts)
	burst, err := h.Run(ctx, Load{Name: "burst", Events: o.CPUEvents})
	if err != nil {
		return err
	}
	burst.print(w)
	sum.add("burst drain rate", fmt.Sprintf("%.0f deliveries/s", burst.rate()), "", true, fmt.Sprintf("reported, no target; CPU %.3f ms/delivery", burst.cpuMs()))
	return nil
}

// isolationRun is the light load again with one endpoint hanging, against the paced run.
func isolationRun(ctx context.Context, h *Harness, o BenchOptions, sum *summary, paced *Result) error {
	w := o.Out
	p99 := pct(paced.Latencies, 0.99)
	timeout := deliveryTimeout(o.DeliveryTimeout)
	fmt.Fprintf(w, "\n5. Isolation: the same load with one endpoint (1 of %d) hanging until the %v delivery timeout\n", o.Dealers*o.FanOut, timeout)
	hang, err := h.Run(ctx, Load{Name: "hanging", Events: int(o.Rate * o.Seconds), Rate: o.Rate, Hanging: true})
	if err != nil {
		return err
	}
	hang.print(w)
	rise := pct(hang.Latencies, 0.99) - p99
	fmt.Fprintf(w, "  others' p99: %s without, %s with the hanging endpoint (rise %s; the bound is one timeout, %v)\n", ms(p99), ms(pct(hang.Latencies, 0.99)), ms(rise), timeout)
	sum.add("isolation: others' p99 rise with a hanging endpoint", ms(rise), "", rise <= timeout, fmt.Sprintf("%s → %s", ms(p99), ms(pct(hang.Latencies, 0.99))))
	// What the hanging endpoint costs: the delivery function's billed time, which an open
	// circuit (CIRCUIT_THRESHOLD consecutive timeouts) stops from growing with each attempt.
	healthyMs, hangMs := paced.Function.Functions["delivery"].BilledMs, hang.Function.Functions["delivery"].BilledMs
	ratio := hangMs / max(healthyMs, 1)
	fmt.Fprintf(w, "  delivery billed:     %.1f s without, %.1f s with the hanging endpoint (%.1f×); cost per million $%.3f → $%.3f\n",
		healthyMs/1000, hangMs/1000, ratio, Total(paced.cost()), Total(hang.cost()))
	sum.add("isolation: delivery billed duration with a hanging endpoint", fmt.Sprintf("%.1f×", ratio), "", ratio <= TargetIsolationBilled,
		fmt.Sprintf("%.1f s → %.1f s", healthyMs/1000, hangMs/1000))
	return nil
}

// LoadOptions configure RunLoad.
type LoadOptions struct {
	Options
	Events int     // 20,000
	Rate   float64 // events/s of the main run; 0 = all at once
	// IsolationEvents and IsolationRate shape the two runs with and without a hanging
	// endpoint.
	IsolationEvents int
	IsolationRate   float64
}

// RunLoad is `make bench-load`.
func RunLoad(ctx context.Context, o LoadOptions) error {
	o.defaults()
	if o.Events == 0 {
		o.Events = 20000
	}
	if o.IsolationRate == 0 {
		o.IsolationRate = 100
	}
	if o.IsolationEvents == 0 {
		o.IsolationEvents = int(o.IsolationRate * 30)
	}
	w := o.Out
	started := time.Now()
	header(w, "make bench-load", o.Options)
	h, err := New(ctx, o.Options)
	if err != nil {
		return err
	}
	defer h.Close()
	fmt.Fprintf(w, "\nwarm-up (not measured): 300 events...\n")
	if _, err := h.Run(ctx, Load{Name: "warm-up", Events: 300}); err != nil {
		return err
	}
	how := "sent at once (batches of 10)"
	if o.Rate > 0 {
		how = fmt.Sprintf("paced at %.0f events/s", o.Rate)
	}
	fmt.Fprintf(w, "\n1. Load: %d events × fan-out %d = %d deliveries, %s\n", o.Events, o.FanOut, o.Events*o.FanOut, how)
	load, err := h.Run(ctx, Load{Name: "load", Events: o.Events, Rate: o.Rate})
	if err != nil {
		return err
	}
	load.print(w)
	fmt.Fprintf(w, "  handlers' memory:    peak RSS %s, peak live heap %s, peak Go-mapped %s\n", mb(int64(load.Function.PeakRSS)), mb(int64(load.Function.PeakHeap)), mb(int64(load.Function.PeakGoMemory)))
	verdict := "nothing lost"
	if load.Lost > 0 || load.EventsDLQ != 0 || load.DeliveriesDLQ != 0 || load.Unexpected > 0 {
		verdict = "LOSS OR DLQ: see above"
	}
	fmt.Fprintf(w, "  verdict:             %s\n", verdict)

	timeout := deliveryTimeout(o.DeliveryTimeout)
	fmt.Fprintf(w, "\n2. Isolation: %d events at %.0f events/s, without and with one endpoint (1 of %d) hanging until the %v timeout\n", o.IsolationEvents, o.IsolationRate, o.Dealers*o.FanOut, timeout)
	base, err := h.Run(ctx, Load{Name: "no hanging", Events: o.IsolationEvents, Rate: o.IsolationRate})
	if err != nil {
		return err
	}
	base.print(w)
	hang, err := h.Run(ctx, Load{Name: "hanging", Events: o.IsolationEvents, Rate: o.IsolationRate, Hanging: true})
	if err != nil {
		return err
	}
	hang.print(w)
	rise := pct(hang.Latencies, 0.99) - pct(base.Latencies, 0.99)
	met := "met"
	if rise > timeout {
		met = "MISSED"
	}
	fmt.Fprintf(w, "  others' p99: %s without, %s with the hanging endpoint: rise %s (bound: one timeout, %v) — %s\n",
		ms(pct(base.Latencies, 0.99)), ms(pct(hang.Latencies, 0.99)), ms(rise), timeout, met)
	fmt.Fprintf(w, "\nmake bench-load took %v; load average now %s\n", time.Since(started).Round(time.Second), loadAverage())
	return nil
}

func header(w io.Writer, what string, o Options) {
	fmt.Fprintf(w, "%s — DealerAI Integrations delivery pipeline (LOCAL figures: DynamoDB Local and the SQS emulator on this machine)\n", what)
	fmt.Fprintf(w, "machine: %d cores (%s), %s %s/%s; load average now %s (other work on these cores makes every figure noisier)\n",
		runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH, loadAverage())
	fmt.Fprintf(w, "setup: %d dealers × %d subscriptions matching lead.created (fan-out %d); event source mappings: batches ≤ 10, router ≤ %d and delivery ≤ %d concurrent invocations, %d long polls each\n",
		o.Dealers, o.FanOut, o.FanOut, o.RouterConcurrency, o.DeliveryConcurrency, o.Pollers)
}

// loadAverage is the 1-minute load average ("?" where there is no /proc/loadavg).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func cpuModel() string {
	out, err := exec.Command("lscpu").Output()
	if err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "Model name:"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				if _, v, ok := strings.Cut(line, ":"); ok {
					return strings.TrimSpace(v)
				}
			}
		}
	}
	return "unknown model"
}

func (r *Result) cpuMs() float64 {
	return r.Function.CPUSeconds * 1000 / float64(max(1, r.Received))
}

func (r *Result) rate() float64 { return float64(r.Received) / max(r.Elapsed.Seconds(), 1e-9) }

func (r *Result) logBytes() float64 {
	var b int64
	for _, f := range r.Function.Functions {
		b += f.LogBytes
	}
	return float64(b) / float64(max(1, r.Received))
}

func (r *Result) usage() Usage {
	u := Usage{
		Deliveries:  r.Received,
		SQSRequests: r.Function.Calls.SQSBilled + r.ESM.SQSBilled,
		WriteUnits:  r.Function.Calls.WriteUnits,
		ReadUnits:   r.Function.Calls.ReadUnits,
	}
	for name, f := range r.Function.Functions {
		u.Invocations += f.Invocations
		u.GBSeconds += f.BilledMs / 1000 * float64(MemoryMB[name]) / 1024
		u.LogBytes += f.LogBytes
	}
	return u
}

func (r *Result) cost() []CostLine { return Prices.Cost(r.usage()) }

func (r *Result) print(w io.Writer) {
	n := float64(max(1, r.Received))
	fmt.Fprintf(w, "  deliveries:          %d expected, %d received (unique webhook-id + delivery id), %d lost, %d duplicates, %d unexpected",
		r.Expected, r.Received, r.Lost, r.Duplicates, r.Unexpected)
	if r.Hanging {
		fmt.Fprintf(w, "; %d to the hanging endpoint (each timed out; %d of them attempted again after the backoff within the run)", r.HangingDeliveries, r.HangingRetries)
	}
	if r.Lost > 0 {
		fmt.Fprintf(w, "\n  not received:        %s (eventId|deliveryId); a message whose receive or invocation failed stays in flight until the queue's visibility timeout",
			strings.Join(r.LostSample, ", "))
	}
	fmt.Fprintf(w, "\n  queues after:        events DLQ %d, deliveries DLQ %d, events queue %d, deliveries queue %d\n", r.EventsDLQ, r.DeliveriesDLQ, r.EventsLeft, r.DeliveriesLeft)
	fmt.Fprintf(w, "  throughput:          %d deliveries in %v: %.0f deliveries/s\n", r.Received, r.Elapsed.Round(time.Millisecond), r.rate())
	fmt.Fprintf(w, "  latency:             SendMessage → receipt p50 %s, p99 %s, p99.9 %s, max %s\n",
		ms(pct(r.Latencies, 0.5)), ms(pct(r.Latencies, 0.99)), ms(pct(r.Latencies, 0.999)), ms(pct(r.Latencies, 1)))
	fmt.Fprintf(w, "  handlers' CPU:       %.3f ms per delivery\n", r.cpuMs())
	fmt.Fprintf(w, "  AWS calls per delivery (handlers; esm = the event source mappings' pollers, billed SQS requests too):\n")
	for _, op := range r.Function.Calls.SortedOps() {
		fmt.Fprintf(w, "    handlers %-28s %.3f\n", op, float64(r.Function.Calls.Ops[op])/n)
	}
	for _, op := range r.ESM.SortedOps() {
		fmt.Fprintf(w, "    esm      %-28s %.3f\n", op, float64(r.ESM.Ops[op])/n)
	}
	fmt.Fprintf(w, "  DynamoDB capacity:   %.3f WRU, %.3f RRU per delivery (ReturnConsumedCapacity)\n", r.Function.Calls.WriteUnits/n, r.Function.Calls.ReadUnits/n)
	var parts []string
	for _, name := range []string{"router", "delivery"} {
		f := r.Function.Functions[name]
		parts = append(parts, fmt.Sprintf("%s %d B in %d lines", name, f.LogBytes, f.LogLines))
	}
	fmt.Fprintf(w, "  logs:                %.0f bytes per delivery (%s)\n", r.logBytes(), strings.Join(parts, ", "))
	for _, name := range []string{"router", "delivery"} {
		f := r.Function.Functions[name]
		if f.Invocations == 0 {
			continue
		}
		fmt.Fprintf(w, "  lambda %-8s      %d invocations, %.1f records each, mean %.1f ms, max %.0f ms, billed %.0f ms at %d MB\n",
			name, f.Invocations, float64(f.Records)/float64(f.Invocations), f.Seconds*1000/float64(f.Invocations), f.MaxSeconds*1000, f.BilledMs, MemoryMB[name])
	}
	fmt.Fprintf(w, "  cost at list prices, per million deliveries (where each cent goes):\n")
	PrintDetail(w, r.detail())
}

func (r *Result) detail() []CostItem {
	return Prices.Detail(DetailedUsage{Deliveries: r.Received, Handlers: r.Function.Calls, Mappings: r.ESMByFunction,
		Functions: r.Function.Functions, MemoryMB: MemoryMB})
}

// costNote is the cost's services in short: "SQS $0.674, DynamoDB $0.690, Lambda $0.135, logs $0.087".
func (r *Result) costNote() string {
	by := map[string]float64{}
	for _, l := range r.cost() {
		by[strings.Fields(l.Service)[0]] += l.PerM
	}
	return fmt.Sprintf("SQS $%.3f, DynamoDB $%.3f, Lambda $%.3f, logs $%.3f", by["SQS"], by["DynamoDB"], by["Lambda"], by["CloudWatch"])
}

// recordsNote is the mean records per invocation of each function.
func (r *Result) recordsNote() string {
	f := r.lightFigures()
	return fmt.Sprintf("records per invocation: router %.1f, delivery %.1f", f.RouterRecords, f.DeliveryRecords)
}

func (r *Result) lightFigures() LightFigures {
	rec := func(name string) float64 {
		f := r.Function.Functions[name]
		return float64(f.Records) / float64(max(1, f.Invocations))
	}
	return LightFigures{Window: r.Window, Cost: r.cost(), CPUms: r.cpuMs(), P50: pct(r.Latencies, 0.5), P99: pct(r.Latencies, 0.99),
		RouterRecords: rec("router"), DeliveryRecords: rec("delivery"), LogBytes: r.logBytes()}
}

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(lat))*p)) - 1
	return lat[min(max(i, 0), len(lat)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func mb(b int64) string { return fmt.Sprintf("%.2f MB", float64(b)/(1<<20)) }

func deliveryTimeout(v string) time.Duration {
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
	return DefaultDeliveryTimout
}
