package targets

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/deliveryq"
)

// stallingSource's first Load never answers (a connection that stalls without being reset:
// a dropped NAT entry, a peer gone without a FIN) until its context ends; later loads answer.
type stallingSource struct{ calls atomic.Int32 }

func (s *stallingSource) Load(ctx context.Context, dealerID string) ([]Target, error) {
	if s.calls.Add(1) == 1 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(30 * time.Second): // not to hang the test binary for ever
			return nil, errors.New("stalled load never bounded")
		}
	}
	return []Target{{Target: deliveryq.Target{Kind: deliveryq.KindSubscription, ID: dealerID + "-sub"}, Enabled: true}}, nil
}

// TestStalledLoadDoesNotWedgeTheDealer: a load runs without its caller's cancellation (other
// lookups of the dealer wait for it), so it needs a bound of its own; without one a load that
// stalls blocks the lookup that started it past that lookup's deadline, and keeps the
// dealer's entry loading: every later lookup of that dealer fails with its own deadline while
// the table is healthy again.
func TestStalledLoadDoesNotWedgeTheDealer(t *testing.T) {
	src := &stallingSource{}
	c := NewCache(src, 30*time.Second)
	c.loadTimeout = 200 * time.Millisecond
	target := deliveryq.Target{Kind: deliveryq.KindSubscription, ID: "d1-sub"}
	find := func() (*Target, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Find(ctx, "d1", target)
	}
	start := time.Now()
	if _, err := find(); err == nil {
		t.Fatal("the stalled load succeeded")
	}
	// The lookup that started the load waits for it, past its own deadline: the bound is
	// what ends that wait.
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a lookup with a 1 s deadline waited %v for a stalled load", d)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		tg, err := find()
		if err == nil && tg != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dealer is still unreadable 3 s after a load stalled: %v", err)
		}
	}
}
