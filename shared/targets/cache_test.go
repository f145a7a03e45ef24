package targets

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/deliveryq"
)

type countingSource struct {
	calls atomic.Int32
	fail  atomic.Bool
	delay time.Duration
}

func (s *countingSource) Load(_ context.Context, dealerID string) ([]Target, error) {
	s.calls.Add(1)
	time.Sleep(s.delay)
	if s.fail.Load() {
		return nil, errors.New("unavailable")
	}
	return []Target{{Target: deliveryq.Target{Kind: deliveryq.KindSubscription, ID: dealerID + "-sub"}, Enabled: true}}, nil
}

func TestCache(t *testing.T) {
	src := &countingSource{delay: 20 * time.Millisecond}
	c := NewCache(src, 30*time.Second)
	now := time.Now()
	c.now = func() time.Time { return now }
	ctx := context.Background()

	// concurrent lookups of one dealer share one load
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if tg, err := c.Find(ctx, "d1", deliveryq.Target{Kind: deliveryq.KindSubscription, ID: "d1-sub"}); err != nil || tg == nil {
				t.Errorf("Find = %v, %v", tg, err)
			}
		})
	}
	wg.Wait()
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d loads, want 1", n)
	}
	if tg, _ := c.Find(ctx, "d1", deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}); tg != nil {
		t.Fatalf("unknown target found: %+v", tg)
	}

	// fresh for the TTL, reloaded after it
	now = now.Add(29 * time.Second)
	c.Load(ctx, "d1")
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d loads within the TTL, want 1", n)
	}
	now = now.Add(2 * time.Second)
	c.Load(ctx, "d1")
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("%d loads after the TTL, want 2", n)
	}

	// a failure is not cached; Invalidate forces a reload
	src.fail.Store(true)
	if _, err := c.Load(ctx, "d2"); err == nil {
		t.Fatal("want the load error")
	}
	src.fail.Store(false)
	if _, err := c.Load(ctx, "d2"); err != nil {
		t.Fatalf("error cached: %v", err)
	}
	c.Invalidate("d1")
	c.Load(ctx, "d1")
	if n := src.calls.Load(); n != 5 {
		t.Fatalf("%d loads, want 5", n)
	}
}
