package bench

import (
	"slices"
	"testing"
)

// The light floor's batches are handed out once each, in order, paced or not, and the
// channel closes after the last, so the floor's workers end.
func TestPaceBatchesHandsOutEachBatchOnce(t *testing.T) {
	for _, rate := range []float64{0, 200} {
		var got []int
		for i := range paceBatches(7, rate) {
			got = append(got, i)
		}
		if want := []int{0, 1, 2, 3, 4, 5, 6}; !slices.Equal(got, want) {
			t.Errorf("rate %v: batches %v, want %v", rate, got, want)
		}
	}
}
