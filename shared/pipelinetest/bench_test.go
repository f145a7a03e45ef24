package pipelinetest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/resources"
)

// apiCounter counts AWS API calls by "Service.Operation" with an Initialize middleware (once
// per operation call, retries not counted).
type apiCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *apiCounter) option(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("countCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx)
			c.mu.Lock()
			c.n[op]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

func (c *apiCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (c *apiCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = map[string]int{}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPipeline drives b.N lead.created events through the local pipeline (events queue →
// router → deliveries queue → delivery → httptest receiver) for 10 dealers with 2 matching
// subscriptions each, so 2·b.N deliveries. It reports (local figures: emulators on this
// machine's cores):
//
//   - deliveries/s: 2·b.N over the time from the first SendMessage to the last receipt;
//   - p50-ms, p99-ms: end-to-end latency of a delivery, from its event's SendMessage to the
//     receiver's receipt;
//   - <Service>.<Operation>/delivery: the handlers' AWS API calls (router and delivery), and
//     esm.<Operation>/delivery those of the pollers standing in for Lambda's event source
//     mapping;
//   - cpu-ms/delivery: this process's CPU time (getrusage, user+system) over the run, per
//     delivery: the handlers plus the pollers, the SDK clients, the receivers and the load
//     generator; the emulators run in other processes and are not included.
//
// Run: go run ./infra/local/cmd/stack emulators -- go test -run '^$' -bench Pipeline -benchtime 1000x ./shared/pipelinetest/
func BenchmarkPipeline(b *testing.B) {
	// burst: every event published at once (throughput; latency includes the backlog);
	// paced: 50 events/s (100 deliveries/s), below the local throughput (latency).
	b.Run("burst", func(b *testing.B) { benchPipeline(b, 0) })
	b.Run("paced-50eps", func(b *testing.B) { benchPipeline(b, 50) })
}

func benchPipeline(b *testing.B, rate int) {
	const dealers, subsPerDealer = 10, 2
	handlerCalls := &apiCounter{n: map[string]int{}}
	esmCalls := &apiCounter{n: map[string]int{}}

	// Build the stack with the handlers' logs and metrics (stdout) discarded.
	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	stdout := os.Stdout
	os.Stdout = devnull
	s := newBenchEnv(b, handlerCalls, esmCalls)
	os.Stdout = stdout

	type key struct{ event, path string }
	var mu sync.Mutex
	sent := map[string]time.Time{}
	got := map[key]time.Time{}
	done := make(chan struct{})
	want := b.N * subsPerDealer
	rc := newReceiver(b, func(_ int, _ http.ResponseWriter, r *http.Request) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		k := key{r.Header.Get("webhook-id"), r.URL.Path}
		if _, dup := got[k]; !dup {
			got[k] = now
			if len(got) == want {
				close(done)
			}
		}
	})
	for d := range dealers {
		for i := range subsPerDealer {
			filter := []string{"*", "lead.*"}[i%2]
			s.subscribe(fmt.Sprint("dlr_bench", d), fmt.Sprintf("%s/d%d/s%d", rc.URL, d, i), filter)
		}
	}
	bodies := make([][]byte, b.N)
	ids := make([]string, b.N)
	for i := range b.N {
		body, ev := example(b, "lead.created", map[string]any{"eventId": fmt.Sprintf("evt_bench%08d", i), "dealerId": fmt.Sprint("dlr_bench", i%dealers)})
		bodies[i], ids[i] = body, ev.ID
	}
	handlerCalls.reset()
	esmCalls.reset()

	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	// 4 concurrent publishers of batches of 10.
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				end := min(i+10, b.N)
				var entries []sqstypes.SendMessageBatchRequestEntry
				for j := i; j < end; j++ {
					entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j - i)), MessageBody: aws.String(string(bodies[j]))})
				}
				now := time.Now()
				mu.Lock()
				for j := i; j < end; j++ {
					sent[ids[j]] = now
				}
				mu.Unlock()
				if _, err := s.env.SQS.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.env.QueueURL(resources.EventsQueue)), Entries: entries}); err != nil {
					b.Error(err)
				}
			}
		})
	}
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second * 10 / time.Duration(rate))
		defer t.Stop()
		tick = t.C
	}
	for i := 0; i < b.N; i += 10 {
		if tick != nil && i > 0 {
			<-tick
		}
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case <-done:
	case <-time.After(time.Duration(b.N)*20*time.Millisecond + 60*time.Second):
		mu.Lock()
		n := len(got)
		mu.Unlock()
		b.Fatalf("only %d of %d deliveries arrived", n, want)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	// The last records are acknowledged (log written, message deleted) after their receipt.
	eventually(b, 30*time.Second, "drained queues", func() bool {
		return s.depth(resources.EventsQueue) == 0 && s.depth(resources.DeliveriesQueue) == 0
	})
	cpu := cpuTime() - cpu0

	mu.Lock()
	lat := make([]time.Duration, 0, len(got))
	for k, at := range got {
		lat = append(lat, at.Sub(sent[k.event]))
	}
	mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	deliveries := float64(want)

	b.ReportMetric(0, "ns/op")
	b.ReportMetric(deliveries/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/deliveries, "cpu-ms/delivery")
	var lines []string
	for op, n := range handlerCalls.snapshot() {
		b.ReportMetric(float64(n)/deliveries, op+"/delivery")
		lines = append(lines, fmt.Sprintf("  handlers %-32s %8d  %.3f/delivery", op, n, float64(n)/deliveries))
	}
	for op, n := range esmCalls.snapshot() {
		b.ReportMetric(float64(n)/deliveries, "esm."+strings.TrimPrefix(op, "SQS.")+"/delivery")
		lines = append(lines, fmt.Sprintf("  pollers  %-32s %8d  %.3f/delivery", op, n, float64(n)/deliveries))
	}
	sort.Strings(lines)
	b.Logf("local figures (emulators on this machine), rate %s: %d events, %.0f deliveries in %v: %.0f deliveries/s, latency p50 %v p99 %v max %v, process CPU %v (%.3f ms/delivery)\n%s",
		rateName(rate), b.N, deliveries, elapsed.Round(time.Millisecond), deliveries/elapsed.Seconds(), pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond),
		lat[len(lat)-1].Round(time.Millisecond), cpu.Round(time.Millisecond), float64(cpu.Microseconds())/1000/deliveries, strings.Join(lines, "\n"))
}

// newBenchEnv is a stack whose handler and poller clients count their API calls.
func newBenchEnv(b *testing.B, handlerCalls, esmCalls *apiCounter) *stack {
	// The SDK config of the handlers and the pollers' client, each with its counter.
	ddbURL, sqsURL := localtest.Endpoints(b)
	probe, err := local.AWSConfig(context.Background(), ddbURL, sqsURL)
	if err != nil {
		b.Fatal(err)
	}
	handlerCfg := probe.Copy()
	handlerCfg.APIOptions = append(handlerCfg.APIOptions, handlerCalls.option)
	esmCfg := probe.Copy()
	esmCfg.APIOptions = append(esmCfg.APIOptions, esmCalls.option)
	return newStack(b, options{awsCfg: &handlerCfg, pollerSQS: sqs.NewFromConfig(esmCfg), concurrency: 4})
}

func rateName(rate int) string {
	if rate == 0 {
		return "burst"
	}
	return fmt.Sprint(rate, " events/s")
}
