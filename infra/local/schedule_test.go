package local

import (
	"testing"
	"time"
)

// The local schedule ticks every minute, as the stack's rule does, or more often when the
// interval is shorter (SYNC_INTERVAL=2s make dev).
func TestSyncTickEvery(t *testing.T) {
	for interval, want := range map[time.Duration]time.Duration{
		5 * time.Minute: time.Minute, time.Minute: time.Minute, 2 * time.Second: 2 * time.Second, 100 * time.Millisecond: time.Second,
	} {
		if got := SyncTickEvery(interval); got != want {
			t.Errorf("SyncTickEvery(%v) = %v, want %v", interval, got, want)
		}
	}
}
