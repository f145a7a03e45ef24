package local_test

import (
	"context"
	"io"
	"log/slog"
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

// With a batching window the poller, like the event source mapping, waits for more messages
// before it invokes: five messages sent 200 ms apart make one batch of five.
func TestPollerBatchingWindow(t *testing.T) {
	env := localtest.New(t)
	url := env.QueueURL(resources.DeliveriesQueue)
	var mu sync.Mutex
	var batches []int
	p := &local.SQSPoller{SQS: env.SQS, QueueURL: url, QueueARN: env.QueueARNs[resources.DeliveriesQueue.ID],
		Handler: func(_ context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
			mu.Lock()
			batches = append(batches, len(e.Records))
			mu.Unlock()
			return events.SQSEventResponse{}, nil
		},
		Concurrency: 1, Pollers: 1, WaitTime: time.Second, Timeout: time.Minute, BatchingWindow: 3 * time.Second,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for i := range 5 {
		if _, err := env.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m" + strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	localtest.Eventually(t, 10*time.Second, "five messages handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, b := range batches {
			n += b
		}
		return n == 5
	})
	mu.Lock()
	defer mu.Unlock()
	if len(batches) != 1 {
		t.Errorf("batches %v, want one of 5", batches)
	}
	if _, err := resources.ParseBatchingWindow("1500ms"); err == nil {
		t.Error("a window in part of a second accepted")
	}
}

// SetBatchingWindow changes a running poller's window from its next batch on: without a
// window a message is its own batch; with one set, five messages 200 ms apart make one.
func TestPollerSetBatchingWindow(t *testing.T) {
	env := localtest.New(t)
	url := env.QueueURL(resources.DeliveriesQueue)
	var mu sync.Mutex
	var batches []int
	p := &local.SQSPoller{SQS: env.SQS, QueueURL: url, QueueARN: env.QueueARNs[resources.DeliveriesQueue.ID],
		Handler: func(_ context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
			mu.Lock()
			batches = append(batches, len(e.Records))
			mu.Unlock()
			return events.SQSEventResponse{}, nil
		},
		Concurrency: 1, Pollers: 1, WaitTime: time.Second, Timeout: time.Minute,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	send := func(n int) {
		for i := range n {
			if _, err := env.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m" + strconv.Itoa(i))}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	handled := func(want int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, b := range batches {
				n += b
			}
			return n == want
		}
	}
	send(2)
	localtest.Eventually(t, 10*time.Second, "two messages handled", handled(2))
	p.SetBatchingWindow(3 * time.Second)
	send(5)
	localtest.Eventually(t, 10*time.Second, "seven messages handled", handled(7))
	mu.Lock()
	defer mu.Unlock()
	if len(batches) != 3 || batches[0] != 1 || batches[1] != 1 || batches[2] != 5 {
		t.Errorf("batches %v, want 1, 1 without a window, then one of 5", batches)
	}
}
