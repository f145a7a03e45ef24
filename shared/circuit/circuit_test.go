package circuit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/circuit"
	"github.com/dealerai/integrations/shared/deliveryq"
)

// memStore is a StateStore in memory with the Store's conditional writes.
type memStore struct {
	mu     sync.Mutex
	states map[string]circuit.State
	puts   int
}

func (m *memStore) Get(_ context.Context, dealerID string, t deliveryq.Target) (circuit.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.states[dealerID+t.String()], nil
}

func (m *memStore) Put(_ context.Context, dealerID string, t deliveryq.Target, next circuit.State, prev int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.states == nil {
		m.states = map[string]circuit.State{}
	}
	if m.states[dealerID+t.String()].Version != prev {
		return circuit.ErrConflict
	}
	m.puts++
	m.states[dealerID+t.String()] = next
	return nil
}

// writes is puts, read while other goroutines may write.
func (m *memStore) writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.puts
}

// stopsOpened waits for a tracked attempt's context to end, cancelled because its target's
// circuit opened.
func stopsOpened(t *testing.T, actx context.Context, what string) {
	t.Helper()
	select {
	case <-actx.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still waits 10 s after the stall", what)
	}
	if context.Cause(actx) != circuit.ErrOpened {
		t.Fatalf("%s: cause %v, want ErrOpened", what, context.Cause(actx))
	}
}

// trackAttempts tracks n attempts to a target, gap apart, each with a one-minute timeout.
func trackAttempts(t *testing.T, b *circuit.Breaker, to deliveryq.Target, n int, gap time.Duration) ([]context.Context, []func() circuit.Tracked) {
	var attempts []context.Context
	var untracks []func() circuit.Tracked
	for range n {
		actx, cancel := context.WithCancelCause(context.Background())
		t.Cleanup(func() { cancel(nil) })
		attempts = append(attempts, actx)
		untracks = append(untracks, b.Track("d", to, time.Minute, cancel))
		time.Sleep(gap)
	}
	return attempts, untracks
}

var target = deliveryq.Target{Kind: deliveryq.KindSubscription, ID: "sub_1"}

func TestOpensAtTheThresholdAndBacksOffWhileDown(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	store := &memStore{}
	b := &circuit.Breaker{Store: store, Settings: circuit.Settings{Threshold: 3, Cooldown: time.Minute, MaxCooldown: 3 * time.Minute}, Now: func() time.Time { return now }}
	for i := range 3 {
		if p, _ := b.Allow(ctx, "d", target, nil); p != circuit.Allow {
			t.Fatalf("attempt %d: permit %v", i+1, p)
		}
		tr, err := b.Record(ctx, "d", target, circuit.Allow, circuit.Down, "timeout")
		if err != nil || (i < 2) != (tr.To == "") {
			t.Fatalf("failure %d: %+v %v", i+1, tr, err)
		}
	}
	if store.puts != 1 {
		t.Fatalf("%d writes, want 1 (the transition only)", store.puts)
	}
	if p, st := b.Allow(ctx, "d", target, nil); p != circuit.Reject || st.State != circuit.Open {
		t.Fatalf("open: %v %+v", p, st)
	}
	// Failed probes: 2 min, then capped at 3 min.
	for _, want := range []time.Duration{2 * time.Minute, 3 * time.Minute, 3 * time.Minute} {
		now = now.Add(10 * time.Minute)
		p, _ := b.Allow(ctx, "d", target, nil)
		if p != circuit.Probe {
			t.Fatalf("after the cool-down: permit %v", p)
		}
		if p, _ := b.Allow(ctx, "d", target, nil); p != circuit.Reject {
			t.Fatalf("second attempt during the probe: %v", p)
		}
		tr, err := b.Record(ctx, "d", target, circuit.Probe, circuit.Down, "refused")
		if err != nil || tr.To != circuit.Open || tr.State.Cooldown != want || !tr.State.RetryAt.Equal(now.Add(want)) {
			t.Fatalf("failed probe: %+v %v, want cool-down %v", tr, err, want)
		}
	}
	// A successful probe closes it; the next attempts are allowed without writes.
	now = now.Add(10 * time.Minute)
	if p, _ := b.Allow(ctx, "d", target, nil); p != circuit.Probe {
		t.Fatal("no probe")
	}
	tr, err := b.Record(ctx, "d", target, circuit.Probe, circuit.Up, "")
	if err != nil || tr.From != circuit.HalfOpen || tr.To != circuit.Closed {
		t.Fatalf("probe success: %+v %v", tr, err)
	}
	puts := store.puts
	for range 5 {
		if p, _ := b.Allow(ctx, "d", target, nil); p != circuit.Allow {
			t.Fatal("closed circuit refused")
		}
		b.Record(ctx, "d", target, circuit.Allow, circuit.Up, "")
	}
	if store.puts != puts {
		t.Fatalf("%d writes on the happy path", store.puts-puts)
	}
}

// Two breakers (two containers) on one store: the second adopts the first's open circuit from
// what its cache read, only one of them claims the probe, and the other learns the probe's
// success.
func TestTwoBreakersShareOneCircuit(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := &memStore{}
	set := circuit.Settings{Threshold: 1}
	a := &circuit.Breaker{Store: store, Settings: set, Now: clock}
	b := &circuit.Breaker{Store: store, Settings: set, Now: clock}
	a.Record(ctx, "d", target, circuit.Allow, circuit.Down, "timeout")
	cached, _ := store.Get(ctx, "d", target)
	if p, _ := b.Allow(ctx, "d", target, &cached); p != circuit.Reject {
		t.Fatalf("b with the open circuit cached: %v", p)
	}
	now = now.Add(circuit.DefaultCooldown)
	pa, _ := a.Allow(ctx, "d", target, nil)
	pb, _ := b.Allow(ctx, "d", target, &cached)
	if pa != circuit.Probe || pb != circuit.Reject {
		t.Fatalf("permits %v, %v: want one probe", pa, pb)
	}
	if tr, _ := a.Record(ctx, "d", target, circuit.Probe, circuit.Up, ""); tr.To != circuit.Closed {
		t.Fatalf("probe success: %+v", tr)
	}
	// b saw the probe in flight (half-open): it reads what came of it at once.
	if p, _ := b.Allow(ctx, "d", target, &cached); p != circuit.Allow {
		t.Fatalf("b after the probe closed the circuit: %v", p)
	}
}

func TestDisableAfterSustainedFailure(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	b := &circuit.Breaker{Store: &memStore{}, Settings: circuit.Settings{Threshold: 1, DisableAfter: time.Hour}, Now: func() time.Time { return now }}
	b.Record(ctx, "d", target, circuit.Allow, circuit.Down, "503")
	for now.Before(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)) {
		now = now.Add(31 * time.Minute)
		if p, _ := b.Allow(ctx, "d", target, nil); p != circuit.Probe {
			t.Fatalf("no probe at %v", now)
		}
		tr, _ := b.Record(ctx, "d", target, circuit.Probe, circuit.Down, "503")
		if want := !now.Before(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)); tr.Disable != want {
			t.Fatalf("at %v Disable = %v", now, tr.Disable)
		}
	}
	if tr, err := b.Reset(ctx, "d", target); err != nil || tr.To != circuit.Closed {
		t.Fatalf("reset: %+v %v", tr, err)
	}
}

// Opening a circuit cancels the attempts to its target still in flight in this container,
// with ErrOpened; other targets' attempts go on.
func TestOpeningCancelsAttemptsInFlight(t *testing.T) {
	ctx := context.Background()
	b := &circuit.Breaker{Store: &memStore{}, Settings: circuit.Settings{Threshold: 2}}
	other := deliveryq.Target{Kind: deliveryq.KindSubscription, ID: "sub_2"}
	waiting, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	untrack := b.Track("d", target, 0, cancel)
	defer untrack()
	elsewhere, cancelOther := context.WithCancelCause(ctx)
	defer cancelOther(nil)
	defer b.Track("d", other, 0, cancelOther)()
	b.Record(ctx, "d", target, circuit.Allow, circuit.Down, "timeout")
	if waiting.Err() != nil {
		t.Fatal("cancelled before the circuit opened")
	}
	if tr, _ := b.Record(ctx, "d", target, circuit.Allow, circuit.Down, "timeout"); tr.To != circuit.Open {
		t.Fatalf("not opened: %+v", tr)
	}
	if context.Cause(waiting) != circuit.ErrOpened {
		t.Errorf("attempt in flight: cause %v, want ErrOpened", context.Cause(waiting))
	}
	if elsewhere.Err() != nil {
		t.Error("another target's attempt was cancelled")
	}
}

// An attempt unanswered for StallAfter counts as a failure then, with the attempts waiting
// beside it: Threshold such attempts open the circuit without waiting for their timeouts, and
// stop waiting.
func TestStalledAttemptsOpenTheCircuit(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	b := &circuit.Breaker{Store: store, Settings: circuit.Settings{Threshold: 2, StallAfter: 20 * time.Millisecond}}
	attempts, untracks := trackAttempts(t, b, target, 2, 0)
	for i, actx := range attempts {
		stopsOpened(t, actx, fmt.Sprintf("attempt %d", i+1))
	}
	opened := 0
	for i, untrack := range untracks {
		tr := untrack()
		if !tr.Stalled {
			t.Errorf("attempt %d: not marked stalled", i+1)
		}
		if tr.Opened.To == circuit.Open {
			opened++
			if tr.Opened.State.LastError != "no answer within 20ms" || tr.Opened.State.Failures != 2 {
				t.Errorf("opened as %+v", tr.Opened.State)
			}
		}
	}
	if opened != 1 || store.puts != 1 {
		t.Fatalf("%d transitions reported, %d writes; want 1 and 1", opened, store.puts)
	}
	if p, st := b.Allow(ctx, "d", target, nil); p != circuit.Reject || st.State != circuit.Open {
		t.Fatalf("after the stalls: %v %+v", p, st)
	}
}

// When an attempt stalls, the attempts waiting on the same endpoint count with it, each once:
// an endpoint that stops answering while Threshold attempts wait on it opens its circuit at
// the first stall, not at the Threshold-th.
func TestAStallCountsTheAttemptsWaitingWithIt(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	b := &circuit.Breaker{Store: store, Settings: circuit.Settings{Threshold: 3, StallAfter: 150 * time.Millisecond}}
	track := func() (context.Context, func() circuit.Tracked) {
		actx, cancel := context.WithCancelCause(ctx)
		t.Cleanup(func() { cancel(nil) })
		return actx, b.Track("d", target, time.Minute, cancel)
	}
	// Two attempts waiting together: the first stall counts both, the second adds nothing.
	first, untrackFirst := track()
	second, untrackSecond := track()
	time.Sleep(400 * time.Millisecond)
	if first.Err() != nil || second.Err() != nil || store.puts != 0 {
		t.Fatalf("two stalled attempts opened a threshold-3 circuit (%d writes): a stall was counted twice", store.puts)
	}
	// A third attempt sent after both stalled, while they still wait: its own stall counts it,
	// the third failure.
	third, untrackThird := track()
	for i, actx := range []context.Context{first, second, third} {
		stopsOpened(t, actx, fmt.Sprintf("attempt %d", i+1))
	}
	trs := []circuit.Tracked{untrackFirst(), untrackSecond(), untrackThird()}
	if trs[2].Opened.To != circuit.Open || trs[2].Opened.State.Failures != 3 || trs[0].Opened.To != "" || trs[1].Opened.To != "" {
		t.Fatalf("want the third attempt's stall to open the circuit with 3 failures: %+v", trs)
	}

	// Three attempts sent one after another, 40 ms apart: when the first stalls the other
	// two wait with it, and that one stall opens the circuit before theirs come.
	other := deliveryq.Target{Kind: deliveryq.KindSubscription, ID: "sub_other"}
	attempts, untracks := trackAttempts(t, b, other, 3, 40*time.Millisecond)
	for i, actx := range attempts {
		stopsOpened(t, actx, fmt.Sprintf("attempt %d to the second endpoint", i+1))
	}
	for i, untrack := range untracks {
		tr := untrack()
		if !tr.Stalled {
			t.Errorf("attempt %d to the second endpoint: not counted", i+1)
		}
		if opened := tr.Opened.To == circuit.Open; opened != (i == 0) {
			t.Errorf("attempt %d to the second endpoint: opened %v; want the first attempt's stall alone to open it", i+1, opened)
		}
	}
}

// A container whose attempts stall too few to open the circuit reads it: when another
// container has opened it meanwhile, the attempts waiting here stop too, without a write.
func TestAStallFindsTheCircuitOpenedElsewhere(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	set := circuit.Settings{Threshold: 3, StallAfter: 100 * time.Millisecond}
	opener, other := &circuit.Breaker{Store: store, Settings: set}, &circuit.Breaker{Store: store, Settings: set}
	// Three attempts wait in the first container: their stall opens the circuit.
	opening, untracks := trackAttempts(t, opener, target, 3, 0)
	for deadline := time.Now().Add(10 * time.Second); store.writes() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first container never opened the circuit")
		}
	}
	// One attempt waits in the other container: one stall, one failure, below the threshold.
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	untrack := other.Track("d", target, time.Minute, cancel)
	stopsOpened(t, actx, "the other container's attempt")
	if tr := untrack(); !tr.Stalled || tr.Opened.To != "" {
		t.Fatalf("the other container's attempt: %+v; want counted, no transition of its own", tr)
	}
	if p, st := other.Allow(ctx, "d", target, nil); p != circuit.Reject || st.State != circuit.Open {
		t.Fatalf("the other container after its stall: %v %+v; want the stored open circuit", p, st)
	}
	if store.puts != 1 {
		t.Fatalf("%d writes, want the opening alone", store.puts)
	}
	for i, actx := range opening {
		stopsOpened(t, actx, fmt.Sprintf("attempt %d in the opening container", i+1))
		untracks[i]()
	}
}

// A stall is one failure among consecutive ones: an answer in between starts the count again,
// and an attempt whose timeout is not longer than StallAfter (or a breaker without stalls)
// never stalls.
func TestStallsCountAsConsecutiveFailures(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	b := &circuit.Breaker{Store: store, Settings: circuit.Settings{Threshold: 2, StallAfter: 10 * time.Millisecond}}
	stall := func(timeout time.Duration, b *circuit.Breaker) circuit.Tracked {
		actx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		untrack := b.Track("d", target, timeout, cancel)
		time.Sleep(60 * time.Millisecond)
		if actx.Err() != nil {
			t.Fatalf("attempt cancelled: %v", context.Cause(actx))
		}
		return untrack()
	}
	if tr := stall(time.Minute, b); !tr.Stalled || tr.Opened.To != "" {
		t.Fatalf("first stall: %+v", tr)
	}
	// It then answered: the count starts again.
	if _, err := b.Record(ctx, "d", target, circuit.Allow, circuit.Up, ""); err != nil {
		t.Fatal(err)
	}
	if tr := stall(time.Minute, b); !tr.Stalled || tr.Opened.To != "" {
		t.Fatalf("stall after an answer: %+v", tr)
	}
	// Its failure was counted when it stalled: recording it as Neutral adds nothing.
	if tr, _ := b.Record(ctx, "d", target, circuit.Allow, circuit.Neutral, "timeout"); tr.To != "" {
		t.Fatalf("a stalled attempt's failure counted twice: %+v", tr)
	}
	if tr := stall(5*time.Millisecond, b); tr.Stalled {
		t.Fatal("an attempt with a timeout under StallAfter stalled")
	}
	off := &circuit.Breaker{Store: store, Settings: circuit.Settings{Threshold: 1, StallAfter: -1}}
	if tr := stall(time.Minute, off); tr.Stalled {
		t.Fatal("a breaker without stalls counted one")
	}
	if store.puts != 0 {
		t.Fatalf("%d writes, want none: the circuit never opened", store.puts)
	}
}
