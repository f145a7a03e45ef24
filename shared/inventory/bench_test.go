package inventory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dealerai/integrations/infra/local/bench"
	"github.com/dealerai/integrations/shared/inventory"
	"github.com/dealerai/integrations/shared/resources"
)

// syncMemoryMB is the sync function's configured memory (infra/stack).
const syncMemoryMB = 256

// BenchmarkInventory is a dealer's inventory on the emulators: the first load of
// INVENTORY_BENCH_VEHICLES vehicles (default 5,000) from the fake MVS2 through the sync
// function's jobs, an unchanged run, a run with 1 % of the vehicles changed (price changes,
// arrivals, sales), and GET /v1/inventory's query with filters (the store's List, p50/p99).
// For each run: time, jobs, AWS calls, capacity and cost at list prices; and the cost per
// dealer per month for a 5-minute sync interval. `make bench` runs it.
func BenchmarkInventory(b *testing.B) {
	n := envInt(b, "INVENTORY_BENCH_VEHICLES", 5000)
	for b.Loop() {
		calls := bench.NewCalls()
		s := newSyncStack(b, n, calls.Option)
		ctx := context.Background()
		w := os.Stderr
		type runCost struct {
			jobs   int
			dur    time.Duration
			counts bench.CallCounts
			cost   float64
		}
		run := func(name string, changed int) runCost {
			calls.Reset()
			start := time.Now()
			var billed time.Duration
			jobs := 0
			for ; jobs < 1000; jobs++ {
				t0 := time.Now()
				st := s.job()
				billed += time.Since(t0) + time.Millisecond
				if st.State != "idle" || !inventoryIdle(st.Cursor.Value) {
					continue
				}
				jobs++
				break
			}
			elapsed := time.Since(start)
			snap := calls.Snapshot()
			// The event source mapping's receive and delete of each job's message.
			sqsRequests := snap.SQSBilled + 2*jobs
			lines := bench.Prices.Cost(bench.Usage{Deliveries: 1, SQSRequests: sqsRequests, WriteUnits: snap.WriteUnits, ReadUnits: snap.ReadUnits,
				Invocations: jobs, GBSeconds: billed.Seconds() * syncMemoryMB / 1024})
			cost := bench.Total(lines) / 1e6
			fmt.Fprintf(w, "%s: %v, %d sync jobs, %d MVS2 calls so far; %.1f WRU, %.1f RRU, %d SQS requests; $%.6f\n",
				name, elapsed.Round(time.Millisecond), jobs, s.inv.Calls(), snap.WriteUnits, snap.ReadUnits, sqsRequests, cost)
			for _, op := range snap.SortedOps() {
				if changed > 0 {
					fmt.Fprintf(w, "    %-32s %6d  (%.2f per changed vehicle)\n", op, snap.Ops[op], float64(snap.Ops[op])/float64(changed))
				} else {
					fmt.Fprintf(w, "    %-32s %6d\n", op, snap.Ops[op])
				}
			}
			return runCost{jobs: jobs, dur: elapsed, counts: snap, cost: cost}
		}
		fmt.Fprintf(w, "inventory of %d vehicles (fake MVS2, DynamoDB Local, SQS emulator):\n", n)
		full := run("first load", n)
		s.inbound(n)
		s.advance(5 * time.Minute)
		idle := run("unchanged run", 0)
		// 1 %: price changes, arrivals and sales.
		vs := s.inv.Vehicles()
		r := rand.New(rand.NewPCG(9, 9))
		changes := n / 100
		s.advance(time.Minute)
		for i := range changes {
			switch i % 5 {
			case 0:
				s.inv.Arrive(uint64(1000 + i))
			case 1:
				s.inv.Sell(vs[r.IntN(len(vs))].VIN)
			default:
				v := vs[r.IntN(len(vs))]
				s.inv.SetPrice(v.VIN, v.Price+100)
			}
		}
		s.advance(4 * time.Minute)
		incr := run(fmt.Sprintf("run with %d changes (1 %%)", changes), changes)
		published := len(s.inbound(changes))
		fmt.Fprintf(w, "  %d inbound events from the %d changes (a vehicle sold after a price change counts once)\n", published, changes)
		runsPerMonth := 30 * 24 * 60 / 5
		fmt.Fprintf(w, "cost per dealer per month, 5-minute interval (%d runs): $%.4f unchanged, $%.4f if every run had 1 %% changed; plus $%.4f once for the first load\n",
			runsPerMonth, idle.cost*float64(runsPerMonth), incr.cost*float64(runsPerMonth), full.cost)
		b.ReportMetric(full.dur.Seconds(), "s/first-load")
		b.ReportMetric(float64(full.counts.Total("DynamoDB")), "ddb-calls/first-load")
		b.ReportMetric(float64(incr.counts.Total("DynamoDB")+incr.counts.Total("SQS"))/float64(changes), "aws-calls/changed-vehicle")
		b.ReportMetric(idle.cost*float64(runsPerMonth), "$/dealer-month-idle")

		// GET /v1/inventory's query: filters and orders a sales assistant uses.
		queries := []string{"make=Toyota&model=RAV4&condition=new&priceMax=35000&sort=-year",
			"priceMin=20000&priceMax=30000&sort=price", "yearMin=2022&sort=-price&limit=10", "q=white&make=Honda",
			"condition=certified&yearMin=2020&yearMax=2023", "sort=year", "make=Ford&model=F-150&q=lariat&sort=price"}
		var lat []time.Duration
		counted := s.env.AWS.Copy()
		counted.APIOptions = append(counted.APIOptions, calls.Option)
		store := inventory.NewStore(dynamodb.NewFromConfig(counted), s.env.Table(resources.InventoryTable))
		calls.Reset()
		for i := range 140 {
			v, _ := url.ParseQuery(queries[i%len(queries)])
			q, _ := inventory.ParseQuery(v)
			t0 := time.Now()
			if _, err := store.List(ctx, dealer, q); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		snap := calls.Snapshot()
		fmt.Fprintf(w, "GET /v1/inventory's query on %d vehicles, %d queries of %d filter sets: p50 %v, p99 %v; %.2f Query calls and %.1f RRU a query ($%.2f per million queries)\n",
			n, len(lat), len(queries), lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond),
			float64(snap.Ops["DynamoDB.Query"])/float64(len(lat)), snap.ReadUnits/float64(len(lat)), snap.ReadUnits/float64(len(lat))*bench.Prices.DynamoDBPerMillionRRU)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50-list")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99-list")
	}
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
