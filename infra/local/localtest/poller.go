package localtest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/shared/resources"
)

// StartPoller drives handler from queue q as Lambda's event source mapping would
// (local.SQSPoller: batches ≤ 10, concurrency invocations at once, each bounded by timeout)
// until the test ends. Its clean-up stops the polls and waits up to 15 s for the invocations
// in flight; clean-ups registered before StartPoller run after it.
func (e *Env) StartPoller(t testing.TB, q resources.Queue, handler local.SQSFunc, timeout time.Duration, concurrency int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &local.SQSPoller{SQS: e.SQS, QueueURL: e.QueueURL(q), QueueARN: e.QueueARNs[q.ID], Handler: handler,
		Concurrency: concurrency, Timeout: timeout, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	var wg sync.WaitGroup
	wg.Go(func() { p.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Logf("the %s poller was still busy at clean-up", q.ID)
		}
	})
}
