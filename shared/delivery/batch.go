package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
)

// A batch of 10 costs 2 log calls (GetMany before the attempts, RecordSuccesses after them)
// instead of 20: an HTTP round trip to the log costs about as much CPU as the webhook POST
// itself.

// successWindow bounds how long a success waits for the rest of its batch before it is
// written: the slowest record (an endpoint hanging until the timeout) does not hold the
// others' records back.
const successWindow = 100 * time.Millisecond

// batch is what the records of one invocation share.
type batch struct {
	// inBatch: one attempt per delivery per batch. SQS delivers at least once and a retried
	// publish is routed twice, so a batch may hold two messages of one delivery; handled
	// concurrently, both would read the log before either recorded a success, and both
	// would POST.
	inBatch sync.Map // delivery id -> claimed

	msgs       []*deliveryq.Message
	decodeErrs []error
	// reads are the records read ahead in one call (batches of two or more).
	reads    []*deliverylog.Record
	readErr  error
	readDone bool

	successes *successWriter
}

// newBatch decodes the messages and, when there is more than one, reads their delivery
// records in one call.
func (h *Handler) newBatch(ctx context.Context, records []events.SQSMessage) *batch {
	b := &batch{msgs: make([]*deliveryq.Message, len(records)), decodeErrs: make([]error, len(records))}
	var keys []deliverylog.Key
	var index []int
	for i := range records {
		b.msgs[i], b.decodeErrs[i] = deliveryq.Decode(records[i].Body)
		if b.decodeErrs[i] == nil {
			m := b.msgs[i]
			keys = append(keys, deliverylog.Key{DealerID: m.DealerID, Target: m.Target, DeliveryID: m.DeliveryID})
			index = append(index, i)
		}
	}
	if len(keys) < 2 {
		return b
	}
	b.successes = &successWriter{store: h.Log, open: len(records), ctx: context.WithoutCancel(ctx)}
	recs, err := h.Log.GetMany(ctx, keys)
	b.reads, b.readErr, b.readDone = make([]*deliverylog.Record, len(records)), err, true
	if err == nil {
		for j, i := range index {
			b.reads[i] = recs[j]
		}
	}
	return b
}

// read is the delivery's record: read ahead with the batch, or now.
func (b *batch) read(ctx context.Context, h *Handler, i int, msg *deliveryq.Message) (*deliverylog.Record, error) {
	if !b.readDone {
		return h.Log.Get(ctx, msg.DealerID, msg.Target, msg.DeliveryID, false)
	}
	if b.readErr != nil {
		return nil, b.readErr
	}
	if b.reads[i] == nil {
		return nil, deliverylog.ErrNotFound
	}
	return b.reads[i], nil
}

// recordSuccess records a successful attempt: with the batch's other successes when the
// delivery is one the router made (a manual retry or a test send has a pending record the API
// created, which only RecordSuccess's conditional put keeps), else alone.
func (b *batch) recordSuccess(ctx context.Context, h *Handler, i int, msg *deliveryq.Message, rec *deliverylog.Record, a deliverylog.Attempt) error {
	if b.successes == nil || msg.RetryOf != "" || msg.Test {
		return h.Log.RecordSuccess(ctx, rec, a)
	}
	return b.successes.record(ctx, i, rec, a)
}

// settle tells the success writer that record i adds nothing (more) to it.
func (b *batch) settle(i int) {
	if b.successes != nil {
		b.successes.settle(i)
	}
}

// successWriter collects a batch's successes and writes them in one call when every record
// of the batch has settled, or successWindow after the first one waits.
type successWriter struct {
	store LogStore
	// ctx is the invocation's, without its cancellation: the write outlives a record's wait.
	ctx context.Context

	mu      sync.Mutex
	open    int // records not settled
	settled map[int]bool
	pending []*pendingSuccess
	timer   *time.Timer
}

type pendingSuccess struct {
	rec  *deliverylog.Record
	a    deliverylog.Attempt
	done chan error
}

func (w *successWriter) record(ctx context.Context, i int, rec *deliverylog.Record, a deliverylog.Attempt) error {
	p := &pendingSuccess{rec: rec, a: a, done: make(chan error, 1)}
	w.mu.Lock()
	w.pending = append(w.pending, p)
	flush := w.settleLocked(i)
	if flush == nil && w.timer == nil {
		w.timer = time.AfterFunc(successWindow, func() {
			w.mu.Lock()
			batch := w.takeLocked()
			w.mu.Unlock()
			w.write(batch)
		})
	}
	w.mu.Unlock()
	w.write(flush)
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *successWriter) settle(i int) {
	w.mu.Lock()
	flush := w.settleLocked(i)
	w.mu.Unlock()
	w.write(flush)
}

// settleLocked marks record i settled and returns the successes to write now: all pending
// ones once every record has settled.
func (w *successWriter) settleLocked(i int) []*pendingSuccess {
	if w.settled == nil {
		w.settled = map[int]bool{}
	}
	if w.settled[i] {
		return nil
	}
	w.settled[i] = true
	w.open--
	if w.open > 0 {
		return nil
	}
	return w.takeLocked()
}

func (w *successWriter) takeLocked() []*pendingSuccess {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	batch := w.pending
	w.pending = nil
	return batch
}

func (w *successWriter) write(batch []*pendingSuccess) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(w.ctx, recordTimeout)
	defer cancel()
	recs := make([]*deliverylog.Record, len(batch))
	attempts := make([]deliverylog.Attempt, len(batch))
	for i, p := range batch {
		recs[i], attempts[i] = p.rec, p.a
	}
	errs := w.store.RecordSuccesses(ctx, recs, attempts)
	for i, p := range batch {
		p.done <- errs[i]
	}
}

// recordLog is a record's logger, built on first use: most records (successes) log nothing
// of their own, and slog's With formats its attributes up front.
type recordLog struct {
	h       *Handler
	msg     *deliveryq.Message
	attempt int
	l       *slog.Logger
}

func (r *recordLog) get() *slog.Logger {
	if r.l == nil {
		r.l = r.h.logger().With("eventId", r.msg.EventID, "deliveryId", r.msg.DeliveryID, "target", r.msg.Target.String(),
			"dealerId", r.msg.DealerID, "eventType", r.msg.EventType, "attempt", r.attempt)
	}
	return r.l
}

func (r *recordLog) Info(msg string, args ...any)  { r.get().Info(msg, args...) }
func (r *recordLog) Warn(msg string, args ...any)  { r.get().Warn(msg, args...) }
func (r *recordLog) Error(msg string, args ...any) { r.get().Error(msg, args...) }
