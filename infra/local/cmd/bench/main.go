// Command bench measures the delivery pipeline on the local stack (docs/performance.md) and
// prints a report. It needs the emulators; `make bench` and `make bench-load` run it as
//
//	go run ./infra/local/cmd/stack emulators -- go run ./infra/local/cmd/bench            # make bench
//	go run ./infra/local/cmd/stack emulators -- go run ./infra/local/cmd/bench -load      # make bench-load
//
// Flags of make bench: -cpuprofile FILE (the handlers' CPU profile of the 10k-delivery run),
// -light-cpuprofile FILE (of the light regime at the default batching window), -cpu-only,
// -light-only, -cpu-rate, -cpu-events, -rate and -seconds (the paced runs), -light-window and
// -light-seconds (the second light run), -no-coldstart, -no-api. Of make bench-load: -events, -rate (0 = all at once), -isolation-rate,
// -isolation-events. Both: -dealers, -fanout, -timeout (the delivery timeout),
// -router-concurrency, -delivery-concurrency, -logfile FILE (a copy of the handlers' logs).
// `make bench BENCH_ARGS="..."` passes them. docs/performance.md explains the figures.
//
// "bench function" is the function process the bench starts itself (package bench).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dealerai/integrations/infra/local/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "function" {
		fs := flag.NewFlagSet("function", flag.ExitOnError)
		logFile := fs.String("logfile", "", "copy of the handlers' logs")
		_ = fs.Parse(os.Args[2:])
		if err := bench.RunFunction(ctx, *logFile); err != nil {
			fmt.Fprintln(os.Stderr, "bench function:", err)
			os.Exit(1)
		}
		return
	}

	load := flag.Bool("load", false, "run make bench-load instead of make bench")
	dealers := flag.Int("dealers", 50, "dealers")
	fanout := flag.Int("fanout", 3, "subscriptions per dealer matching the events")
	timeout := flag.String("timeout", "", "the delivery function's DELIVERY_TIMEOUT (default 10s)")
	logFile := flag.String("logfile", "", "write a copy of the handlers' logs to this file")
	cpuProfile := flag.String("cpuprofile", "", "bench: write the function process's CPU profile of the 10k-delivery run to this file")
	lightProfile := flag.String("light-cpuprofile", "", "bench: write the function process's CPU profile of the light run at batching window 0 to this file")
	lightWindow := flag.Duration("light-window", time.Second, "bench: the batching window of the second light run")
	lightSeconds := flag.Float64("light-seconds", 10, "bench: duration of the second light run")
	rate := flag.Float64("rate", -1, "bench: events/s of the latency runs (default 100); bench-load: events/s of the load (default 0: all at once)")
	seconds := flag.Float64("seconds", 15, "bench: duration of the latency runs")
	cpuEvents := flag.Int("cpu-events", 0, "bench: events of the CPU run and of the burst (default 10,000 deliveries' worth)")
	cpuRate := flag.Float64("cpu-rate", 100, "bench: events/s of the CPU run (sent in batches of 10)")
	noColdStart := flag.Bool("no-coldstart", false, "bench: skip binary sizes and init times")
	noAPI := flag.Bool("no-api", false, "bench: skip the API figures")
	lightOnly := flag.Bool("light-only", false, "bench: run the two light-regime runs only")
	cpuOnly := flag.Bool("cpu-only", false, "bench: run the CPU and cost part only")
	coldStartOnly := flag.Bool("coldstart-only", false, "bench: print binary sizes and init times only (no emulators needed)")
	events := flag.Int("events", 20000, "bench-load: events")
	isoRate := flag.Float64("isolation-rate", 100, "bench-load: events/s of the isolation runs")
	isoEvents := flag.Int("isolation-events", 0, "bench-load: events of each isolation run (default 30 s worth)")
	routerConc := flag.Int("router-concurrency", 20, "router event source mapping's maximum concurrency")
	deliveryConc := flag.Int("delivery-concurrency", 50, "delivery event source mapping's maximum concurrency")
	flag.Parse()

	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	abs := func(p string) string {
		if p == "" {
			return ""
		}
		a, _ := filepath.Abs(p)
		return a
	}
	opts := bench.Options{
		Dealers: *dealers, FanOut: *fanout, DeliveryTimeout: *timeout, LogFile: abs(*logFile),
		RouterConcurrency: *routerConc, DeliveryConcurrency: *deliveryConc,
		Self: []string{self}, Out: os.Stdout,
	}
	switch {
	case *coldStartOnly:
		_, err = bench.ColdStart(ctx, os.Stdout)
	case *load:
		r := *rate
		if r < 0 {
			r = 0
		}
		err = bench.RunLoad(ctx, bench.LoadOptions{Options: opts, Events: *events, Rate: r, IsolationRate: *isoRate, IsolationEvents: *isoEvents})
	default:
		r := *rate
		if r < 0 {
			r = 100
		}
		err = bench.RunBench(ctx, bench.BenchOptions{Options: opts, CPUEvents: *cpuEvents, CPURate: *cpuRate, Rate: r, Seconds: *seconds,
			CPUProfile: abs(*cpuProfile), LightProfile: abs(*lightProfile), LightWindow: *lightWindow, LightSeconds: *lightSeconds, SkipColdStart: *noColdStart, SkipAPI: *noAPI, CPUOnly: *cpuOnly, LightOnly: *lightOnly})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
