package xtime

import (
	"fmt"
	"testing"
	"time"
)

// TestServiceCacheIsBounded: a list is kept ServicesTTL, and the cache never holds more than
// maxServiceLists (the expired go first, then the oldest).
func TestServiceCacheIsBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &serviceCache{now: func() time.Time { return now }}
	c.put("a", []Service{{Opcode: "OIL"}})
	now = now.Add(ServicesTTL - time.Second)
	if s, ok := c.get("a"); !ok || s[0].Opcode != "OIL" {
		t.Fatal("a list was dropped before its TTL")
	}
	now = now.Add(time.Second)
	if _, ok := c.get("a"); ok {
		t.Fatal("a list was kept past its TTL")
	}

	for i := range maxServiceLists + 50 {
		now = now.Add(time.Second)
		c.put(fmt.Sprint("k", i), nil)
	}
	if n := len(c.lists); n > maxServiceLists {
		t.Fatalf("%d lists cached, want at most %d", n, maxServiceLists)
	}
	if _, ok := c.get("k0"); ok {
		t.Error("the oldest list survived a full cache")
	}
	if _, ok := c.get(fmt.Sprint("k", maxServiceLists+49)); !ok {
		t.Error("the newest list was dropped")
	}
}
