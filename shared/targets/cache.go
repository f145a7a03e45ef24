package targets

import (
	"context"
	"sync"
	"time"

	"github.com/dealerai/integrations/shared/deliveryq"
)

// Source loads a dealer's targets; *Loader is one.
type Source interface {
	Load(ctx context.Context, dealerID string) ([]Target, error)
}

// Cache keeps each dealer's targets for at most TTL, per container. Concurrent lookups of a
// dealer share one Load; a failed Load is not cached.
type Cache struct {
	src Source
	ttl time.Duration
	now func() time.Time
	// loadTimeout bounds a load (loadTimeout by default).
	loadTimeout time.Duration

	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	ready   chan struct{} // closed when the load finished
	targets []Target
	err     error
	at      time.Time
}

// maxEntries bounds the cache; expired entries are dropped when it is reached.
const maxEntries = 10000

// loadTimeout bounds a load. A load runs without its caller's cancellation (the dealer's other
// lookups wait for it), so without a bound of its own a connection that stalls without being
// reset would keep the dealer's entry loading, and every lookup failing, for ever.
const loadTimeout = 10 * time.Second

// NewCache caches src for ttl (30 s in the delivery handler).
func NewCache(src Source, ttl time.Duration) *Cache {
	return &Cache{src: src, ttl: ttl, now: time.Now, loadTimeout: loadTimeout, entries: map[string]*entry{}}
}

// Load returns the dealer's targets, at most TTL old.
func (c *Cache) Load(ctx context.Context, dealerID string) ([]Target, error) {
	c.mu.Lock()
	e, ok := c.entries[dealerID]
	if ok {
		select {
		case <-e.ready:
			if e.err != nil || c.now().Sub(e.at) >= c.ttl {
				ok = false
			}
		default: // a load in flight: wait for it
		}
	}
	if !ok {
		if len(c.entries) >= maxEntries {
			c.prune()
		}
		e = &entry{ready: make(chan struct{})}
		c.entries[dealerID] = e
		c.mu.Unlock()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.loadTimeout)
		e.targets, e.err = c.src.Load(lctx, dealerID)
		cancel()
		e.at = c.now()
		close(e.ready)
		if e.err != nil {
			c.Invalidate(dealerID)
		}
		return e.targets, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e.targets, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Find returns one of the dealer's targets, nil if there is none. A target missing from a
// cached entry, or found there disabled or unavailable, is looked up once more in a fresh
// load: it may have been created, enabled or added to the dealer's plan after the entry was
// loaded (the router, which routed to it, does not share this cache), and such a delivery
// must not end as skipped.
func (c *Cache) Find(ctx context.Context, dealerID string, target deliveryq.Target) (*Target, error) {
	for fresh := false; ; fresh = true {
		all, err := c.Load(ctx, dealerID)
		if err != nil {
			return nil, err
		}
		var found *Target
		for i := range all {
			if all[i].Target == target {
				found = &all[i]
				break
			}
		}
		if fresh || (found != nil && found.Deliverable()) {
			return found, nil
		}
		c.Invalidate(dealerID)
	}
}

// Invalidate drops a dealer's entry (after this container changed one of its targets).
func (c *Cache) Invalidate(dealerID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[dealerID]; ok {
		select {
		case <-e.ready:
			delete(c.entries, dealerID)
		default:
		}
	}
}

// prune drops finished entries older than the TTL; c.mu is held.
func (c *Cache) prune() {
	now := c.now()
	for k, e := range c.entries {
		select {
		case <-e.ready:
			if now.Sub(e.at) >= c.ttl {
				delete(c.entries, k)
			}
		default:
		}
	}
}
