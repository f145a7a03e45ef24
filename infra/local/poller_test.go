package local_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/resources"
)

// batchRecorder runs a poller of the test's deliveries queue (one invocation at a time) whose
// handler records each batch's size: send puts n messages on the queue 200 ms apart, handled
// waits until want messages were handled, batches are the sizes so far.
type batchRecorder struct {
	t       *testing.T
	env     *localtest.Env
	p       *local.SQSPoller
	mu      sync.Mutex
	batches []int
}

func newBatchRecorder(t *testing.T, window time.Duration) *batchRecorder {
	r := &batchRecorder{t: t, env: localtest.New(t)}
	r.p = &local.SQSPoller{SQS: r.env.SQS, QueueURL: r.env.QueueURL(resources.DeliveriesQueue), QueueARN: r.env.QueueARNs[resources.DeliveriesQueue.ID],
		Handler: func(_ context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
			r.mu.Lock()
			r.batches = append(r.batches, len(e.Records))
			r.mu.Unlock()
			return events.SQSEventResponse{}, nil
		},
		Concurrency: 1, Pollers: 1, WaitTime: time.Second, Timeout: time.Minute, BatchingWindow: window,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *batchRecorder) send(n int) {
	for i := range n {
		if _, err := r.env.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(r.p.QueueURL), MessageBody: aws.String("m" + strconv.Itoa(i))}); err != nil {
			r.t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (r *batchRecorder) handled(want int) {
	localtest.Eventually(r.t, 10*time.Second, strconv.Itoa(want)+" messages handled", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		n := 0
		for _, b := range r.batches {
			n += b
		}
		return n == want
	})
}

func (r *batchRecorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

// With a batching window the poller, like the event source mapping, waits for more messages
// before it invokes: five messages sent 200 ms apart make one batch of five.
func TestPollerBatchingWindow(t *testing.T) {
	r := newBatchRecorder(t, 3*time.Second)
	r.send(5)
	r.handled(5)
	if b := r.sizes(); len(b) != 1 {
		t.Errorf("batches %v, want one of 5", b)
	}
	if _, err := resources.ParseBatchingWindow("1500ms"); err == nil {
		t.Error("a window in part of a second accepted")
	}
}

// SetBatchingWindow changes a running poller's window from its next batch on: without a
// window a message is its own batch; with one set, five messages 200 ms apart make one.
func TestPollerSetBatchingWindow(t *testing.T) {
	r := newBatchRecorder(t, 0)
	r.send(2)
	r.handled(2)
	r.p.SetBatchingWindow(3 * time.Second)
	r.send(5)
	r.handled(7)
	if b := r.sizes(); !slices.Equal(b, []int{1, 1, 5}) {
		t.Errorf("batches %v, want 1, 1 without a window, then one of 5", b)
	}
}
