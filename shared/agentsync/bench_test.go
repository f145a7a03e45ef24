package agentsync_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealerai/integrations/infra/local/bench"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/resources"
)

// syncMemoryMB is the sync function's configured memory (infra/stack).
const syncMemoryMB = 256

// BenchmarkSyncDealers is the two-way sync at scale on the emulators: SYNC_BENCH_DEALERS
// dealers (default 1,000), each with an enabled agent whose change feed has
// SYNC_BENCH_RECORDS changed records (default 20), all due at once. One tick queues their
// jobs; a poller drives the sync function as the event source mapping would (batches of 10,
// SYNC_BENCH_CONCURRENCY invocations at once, default 4) until every record is on the Inbound
// queue. It reports inbound events per second, the process's CPU per record (the handler's,
// with the fake CRM's in the same process: an upper bound), the AWS calls per record and the
// cost per million records at list prices. `make bench` runs it.
func BenchmarkSyncDealers(b *testing.B) {
	localtest.Integration(b)
	dealers := envInt(b, "SYNC_BENCH_DEALERS", 1000)
	records := envInt(b, "SYNC_BENCH_RECORDS", 20)
	concurrency := envInt(b, "SYNC_BENCH_CONCURRENCY", 4)
	ctx := context.Background()
	for b.Loop() {
		env := localtest.New(b)
		crm := newFakeCRM(b)
		crm.add(leads(records, time.Now().Add(-time.Hour))...)
		cfg := mustConfig(b, env)
		logs := &countingWriter{}
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		calls := bench.NewCalls()
		counted := env.AWS.Copy()
		counted.APIOptions = append(counted.APIOptions, calls.Option)
		h, err := app.NewSyncHandler(counted, cfg, &http.Client{Timeout: 10 * time.Second}, append(registry.Platforms(), testCRM))
		if err != nil {
			b.Fatal(err)
		}
		h.Syncer.Metrics = logs // EMF lines are log lines
		store := agents.NewStore(env.DynamoDB, env.Table(resources.ConfigTable))
		for i := range dealers {
			a := &agents.Agent{DealerID: fmt.Sprintf("dlr_%04d", i), Platform: testCRM.ID, Enabled: true, Events: testCRM.Events,
				Settings: map[string]string{"baseUrl": crm.srv.URL}, Credentials: map[string]string{"key": "good-key"}}
			if _, err := store.Put(ctx, a); err != nil {
				b.Fatal(err)
			}
		}
		calls.Reset()
		var invocations atomic.Int64
		var billedMs atomic.Int64
		handler := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			start := time.Now()
			resp, err := h.Handle(ctx, ev)
			invocations.Add(1)
			billedMs.Add(time.Since(start).Milliseconds() + 1)
			return resp, err
		}
		cpu0, start := processCPU(), time.Now()
		if resp, err := handler(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "tick", Body: agentsync.TickBody}}}); err != nil || len(resp.BatchItemFailures) != 0 {
			b.Fatalf("tick: %v %v", resp, err)
		}
		env.StartPoller(b, resources.SyncJobsQueue, handler, resources.SyncTimeout, concurrency)
		want := dealers * records
		for n := 0; n < want; n = env.Depth(b, resources.InboundQueue) {
			if time.Since(start) > 20*time.Minute {
				b.Fatalf("%d of %d inbound events after 20 min", n, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
		elapsed, cpu := time.Since(start), processCPU()-cpu0
		snap := calls.Snapshot()
		// The event source mapping's side, which the counter does not see: a receive and a
		// delete (batch) per invocation.
		sqsRequests := snap.SQSBilled + 2*int(invocations.Load())
		perRecord := func(n float64) float64 { return n / float64(want) }
		b.ReportMetric(float64(want)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(cpu.Microseconds())/float64(want), "cpu-µs/record")
		b.ReportMetric(perRecord(float64(snap.Total("DynamoDB"))), "ddb-calls/record")
		b.ReportMetric(perRecord(float64(sqsRequests)), "sqs-requests/record")
		b.ReportMetric(perRecord(float64(invocations.Load())), "invocations/record")
		lines := bench.Prices.Cost(bench.Usage{
			Deliveries: want, SQSRequests: sqsRequests, WriteUnits: snap.WriteUnits, ReadUnits: snap.ReadUnits,
			Invocations: int(invocations.Load()), GBSeconds: float64(billedMs.Load()) / 1000 * syncMemoryMB / 1024, LogBytes: logs.n.Load(),
		})
		b.ReportMetric(bench.Total(lines), "$/M-records")
		fmt.Fprintf(os.Stderr, "sync of %d dealers × %d records: %d inbound events in %v (%.0f/s), CPU %v (%.0f µs/record), %d invocations\n",
			dealers, records, want, elapsed.Round(time.Millisecond), float64(want)/elapsed.Seconds(), cpu.Round(time.Millisecond),
			float64(cpu.Microseconds())/float64(want), invocations.Load())
		for _, op := range snap.SortedOps() {
			fmt.Fprintf(os.Stderr, "    %-32s %.3f per record\n", op, perRecord(float64(snap.Ops[op])))
		}
		fmt.Fprintln(os.Stderr, "  cost per million records (list prices; 'deliveries' read records):")
		bench.PrintCost(os.Stderr, lines)
	}
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countingWriter counts the bytes written to it (the function's CloudWatch Logs).
type countingWriter struct{ n atomic.Int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}
