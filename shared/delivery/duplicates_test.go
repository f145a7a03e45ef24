package delivery_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// TestCopiesInOneBatchArePOSTedOnce: SQS may hand one invocation two messages of the same
// delivery (a producer retrying a publish that had succeeded makes the router enqueue it
// twice; SQS's at-least-once delivery repeats messages). Handled concurrently, both copies
// would read the log before either recorded the success and both would POST. The handler
// makes one attempt per delivery per batch and acknowledges the copies.
func TestCopiesInOneBatchArePOSTedOnce(t *testing.T) {
	var posts atomic.Int32
	h, lg, q := setup(t, subTarget, func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		time.Sleep(20 * time.Millisecond) // both copies in flight at once
	})
	one := message(t, subTarget, "1").Records[0]
	two := one
	two.MessageId, two.ReceiptHandle = "m2", "rh2"
	three := one
	three.MessageId, three.ReceiptHandle = "m3", "rh3"
	resp, _ := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{one, two, three}})
	if n := posts.Load(); n != 1 {
		t.Fatalf("%d POSTs of one delivery from one batch, want 1", n)
	}
	if len(resp.BatchItemFailures) != 0 || len(q.visibility) != 0 || lg.success != 1 {
		t.Fatalf("resp = %v, visibility = %v, successes recorded = %d: want every copy acknowledged, one success", resp.BatchItemFailures, q.visibility, lg.success)
	}
}
