package agenttest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents/changefeed"
)

// What the sync gives a change feed, in memory, for a feed's own tests.

// Pushed is changefeed.PushedRecords over a list of ids of one name ("customerId", "vin").
type Pushed struct {
	Name string
	List []string
}

// IDs implements changefeed.PushedRecords.
func (p *Pushed) IDs(_ context.Context, idName, after string, limit int) ([]string, error) {
	if idName != p.Name {
		return nil, fmt.Errorf("listed by %s", idName)
	}
	var out []string
	for _, id := range slices.Sorted(slices.Values(p.List)) {
		if id > after && len(out) < limit {
			out = append(out, id)
		}
	}
	return out, nil
}

// Add adds ids DealerAI pushed.
func (p *Pushed) Add(ids ...string) { p.List = append(p.List, ids...) }

// Memory is changefeed.SeenRecords as the sync keeps it: what the pages published asked it to
// remember, by "<kind>/<id>".
type Memory map[string]string

// Remembered implements changefeed.SeenRecords.
func (m Memory) Remembered(_ context.Context, kind string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		if v, ok := m[kind+"/"+id]; ok {
			out[id] = v
		}
	}
	return out, nil
}

// Keep remembers what page asks to, as the sync does once its events are on the queue.
func (m Memory) Keep(page *changefeed.Page) {
	for _, k := range page.Memories() {
		m[k.RecordKind+"/"+k.RecordID] = k.Value
	}
}

// FeedRun drives a change feed as the sync does: pages from the stored cursor, remembering
// what each page asks (Seen) and storing its cursor.
type FeedRun struct {
	T    testing.TB
	Feed changefeed.Feed
	// Request is the request of a page of at most maxRecords, from Cursor and Seen.
	Request func(maxRecords int) *changefeed.Request
	Seen    Memory
	Cursor  changefeed.Cursor
}

// Page reads one page and, as the sync does once its events are published, remembers what it
// asks and stores its cursor.
func (r *FeedRun) Page(maxRecords int) *changefeed.Page {
	r.T.Helper()
	p, err := r.Feed.Changes(context.Background(), r.Request(maxRecords))
	if err != nil {
		r.T.Fatal(err)
	}
	r.Seen.Keep(p)
	r.Cursor = p.Next
	return p
}

// Rotation reads pages of 100 records until the feed has no more, and returns their changes.
func (r *FeedRun) Rotation() []changefeed.Change {
	r.T.Helper()
	var out []changefeed.Change
	for range 100 {
		p := r.Page(100)
		out = append(out, p.Changes...)
		if !p.More {
			return out
		}
	}
	r.T.Fatal("the rotation never ends")
	return nil
}

// Pass reads pages of at most maxRecords records until the feed has no more, failing the
// test when a page reads more, and returns their changes.
func (r *FeedRun) Pass(maxRecords int) []changefeed.Change {
	r.T.Helper()
	var out []changefeed.Change
	for range 1000 {
		p := r.Page(maxRecords)
		if p.RecordsRead > maxRecords {
			r.T.Fatalf("%d records read, bound %d", p.RecordsRead, maxRecords)
		}
		out = append(out, p.Changes...)
		if !p.More {
			return out
		}
	}
	r.T.Fatal("the feed never ends its pass")
	return nil
}

// Clock is a time a test moves, shared by a fake platform and the feed's runs.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
