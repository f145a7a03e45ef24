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
	// a target missing from the cached entry is looked up once more in a fresh load
	if tg, _ := c.Find(ctx, "d1", deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}); tg != nil {
		t.Fatalf("unknown target found: %+v", tg)
	}
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("%d loads after a miss, want 2", n)
	}

	// fresh for the TTL, reloaded after it
	now = now.Add(29 * time.Second)
	c.Load(ctx, "d1")
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("%d loads within the TTL, want 2", n)
	}
	now = now.Add(2 * time.Second)
	c.Load(ctx, "d1")
	if n := src.calls.Load(); n != 3 {
		t.Fatalf("%d loads after the TTL, want 3", n)
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
	if n := src.calls.Load(); n != 6 {
		t.Fatalf("%d loads, want 6", n)
	}
}

// growingSource is a dealer whose second target is created after the first load.
type growingSource struct{ loads atomic.Int32 }

func (s *growingSource) Load(_ context.Context, dealerID string) ([]Target, error) {
	all := []Target{{Target: deliveryq.Target{Kind: deliveryq.KindSubscription, ID: "old"}, Enabled: true}}
	if s.loads.Add(1) > 1 {
		all = append(all, Target{Target: deliveryq.Target{Kind: deliveryq.KindSubscription, ID: "new"}, Enabled: true})
	}
	return all, nil
}

func TestCacheFindsATargetCreatedAfterTheLoad(t *testing.T) {
	c := NewCache(&growingSource{}, 30*time.Second)
	ctx := context.Background()
	if tg, err := c.Find(ctx, "d1", deliveryq.Target{Kind: deliveryq.KindSubscription, ID: "old"}); err != nil || tg == nil {
		t.Fatalf("Find(old) = %v, %v", tg, err)
	}
	if tg, err := c.Find(ctx, "d1", deliveryq.Target{Kind: deliveryq.KindSubscription, ID: "new"}); err != nil || tg == nil {
		t.Fatalf("a subscription created after the cache was filled was not found: %v, %v", tg, err)
	}
}
