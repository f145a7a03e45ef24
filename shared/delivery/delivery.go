// Package delivery is the delivery handler: one attempt per message of the deliveries queue
// (docs/design.md#delivery). For each record of a batch, concurrently, it
//
//  1. reads the delivery record (one eventually consistent GetItem): a delivery already
//     succeeded is acknowledged without a request, whatever SQS redelivers;
//  2. finds the target in a per-container cache of the dealer's targets (≤ 30 s old): a
//     target deleted or disabled meanwhile, or an agent whose platform left the dealer's plan,
//     ends the delivery as skipped;
//  3. makes the attempt — a signed POST for a subscription, the AgentDeliverer for an agent;
//  4. records it in the delivery log and decides: success → delete; 410 Gone → disable the
//     subscription, delivery failed, delete; another failure → ChangeMessageVisibility to the
//     backoff and report a batch item failure, or after the last attempt make it visible at
//     once so the redrive policy moves it to the deliveries DLQ.
//
// The attempt number is the message's ApproximateReceiveCount, the count the redrive policy
// uses, so the log and the DLQ agree.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/shared/circuit"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/internal/errref"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/targets"
)

// TargetFinder finds a dealer's target; *targets.Cache is one. Find returns nil, nil for a
// target that does not exist.
type TargetFinder interface {
	Find(ctx context.Context, dealerID string, target deliveryq.Target) (*targets.Target, error)
	Invalidate(dealerID string)
}

// LogStore is the delivery log; *deliverylog.Store is one.
type LogStore interface {
	Get(ctx context.Context, dealerID string, target deliveryq.Target, deliveryID string, consistent bool) (*deliverylog.Record, error)
	RecordSuccess(ctx context.Context, rec *deliverylog.Record, a deliverylog.Attempt) error
	RecordFailure(ctx context.Context, rec *deliverylog.Record, a deliverylog.Attempt, final bool) error
	RecordSkipped(ctx context.Context, rec *deliverylog.Record, reason string) error
	// GetMany is Get (eventually consistent) of many deliveries; recs[i] is nil when
	// keys[i] has no record. The handler reads a batch's records with it before the attempts.
	GetMany(ctx context.Context, keys []deliverylog.Key) ([]*deliverylog.Record, error)
	// RecordSuccesses is RecordSuccess of many deliveries, errs[i] recs[i]'s outcome; see
	// deliverylog.Store.RecordSuccesses for which deliveries it may be given. The handler
	// writes the first-attempt successes of router-made deliveries together with it.
	RecordSuccesses(ctx context.Context, recs []*deliverylog.Record, attempts []deliverylog.Attempt) []error
}

// Queue is the part of the SQS client the handler uses.
type Queue interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Doer sends HTTP requests; the *http.Client of safeurl.Policy.NewClient is one.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Disabler disables a subscription whose endpoint answered 410 Gone;
// *subscriptions.Store is one.
type Disabler interface {
	Disable(ctx context.Context, dealerID, id, reason string) error
}

// AgentDeliverer makes one attempt of a delivery to an integration agent (target kind
// "agent"). target is the agent's config item as cached (settings and credentials in
// target.Item), rec the delivery record so far (Progress of a multi-step flow lives there).
// An error is an internal failure of the attempt (logged with errorClass internal, retried).
type AgentDeliverer interface {
	Deliver(ctx context.Context, msg *deliveryq.Message, target *targets.Target, attempt int, rec *deliverylog.Record) (Outcome, error)
}

// Result is what became of one attempt.
type Result int

const (
	// Succeeded: delivered; the message is deleted.
	Succeeded Result = iota + 1
	// Failed: the attempt failed and is retried after the backoff, until the budget is spent.
	Failed
	// FailedPermanently: the attempt failed and retrying cannot help (410 Gone): the delivery
	// is failed and the message deleted.
	FailedPermanently
	// Skipped: the target does not apply (deleted, disabled, out of the dealer's plan, or not
	// concerned by the event):
	// no request was made; the delivery is skipped and the message deleted.
	Skipped
)

// Outcome is the result of one attempt.
type Outcome struct {
	Result Result
	// Attempt describes the request: StatusCode, DurationMs, ErrorClass, Error,
	// ResponseSnippet (the handler sets the attempt number and time).
	Attempt deliverylog.Attempt
	// Reason says why a delivery was skipped.
	Reason string
	// RetryAfter is the least wait before the next attempt (a Retry-After header).
	RetryAfter time.Duration
	// Progress, when not nil, replaces the record's progress (the ids a multi-step agent flow
	// obtained so far; the next attempt finds them in rec.Progress).
	Progress map[string]string
	// Requested says a request was made (its duration counts in the DeliveryLatency metric).
	Requested bool
	// Cause is our own failure behind the attempt (an AWS SDK error, a panic): logged with a
	// reference, never stored: the attempt's error gets " (ref …)" (or is "internal error
	// (ref …)" when empty).
	Cause error
}

// Limits of one attempt and of the backoff.
const (
	// MaxResponseBytes is how much of a response body is read.
	MaxResponseBytes = 64 * 1024
	// MaxRetryAfter caps the wait a Retry-After header can ask for.
	MaxRetryAfter = time.Hour
	// Jitter is the relative spread of the backoff (±20 %).
	Jitter = 0.2
	// maxVisibility is SQS's limit of a visibility timeout.
	maxVisibility = 12 * time.Hour
	// recordTimeout bounds the log and queue writes after an attempt.
	recordTimeout = 5 * time.Second
)

// Handler delivers batches of the deliveries queue.
type Handler struct {
	Targets  TargetFinder
	Log      LogStore
	Queue    Queue
	QueueURL string
	// HTTP is the SSRF-safe client (safeurl), built once per container.
	HTTP Doer
	// CheckURL re-checks a subscription URL before the request (safeurl.Policy.CheckSyntax:
	// the scheme and IP-literal hosts; the client checks resolved addresses at connect time).
	CheckURL func(rawURL string) error
	// Timeout bounds one attempt (DELIVERY_TIMEOUT, 10 s).
	Timeout time.Duration
	// Backoff are the waits after failed attempts 1, 2, 3 (DELIVERY_BACKOFF).
	Backoff []time.Duration
	// MaxAttempts is the redrive policy's maxReceiveCount (resources.DeliveriesMaxReceiveCount
	// when 0).
	MaxAttempts int
	Disabler    Disabler
	// Agents delivers to agent targets; nil fails those deliveries with errorClass internal
	// "agent connectors not configured".
	Agents AgentDeliverer
	// Circuit is the circuit breaker of the targets (nil: none): an open circuit fails the
	// attempt fast, without a request (errorClass circuit_open); a circuit open for its
	// DisableAfter whose probe fails again disables the subscription.
	Circuit *circuit.Breaker
	// Secrets, when set, gives the signing secrets of a POST fresher than the targets cache
	// (at most SecretMaxAge old, DefaultSecretMaxAge when 0): a secret revoked at rotation
	// stops signing within seconds.
	Secrets      SecretSource
	SecretMaxAge time.Duration
	secrets      secretMemo
	// Logger writes the structured logs (slog.Default() when nil); Metrics receives one
	// CloudWatch EMF line per batch (nothing when nil).
	Logger  *slog.Logger
	Metrics io.Writer
	// Now and Rand (uniform in [0,1)) are the clock and the jitter source.
	Now  func() time.Time
	Rand func() float64
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func (h *Handler) maxAttempts() int {
	if h.MaxAttempts > 0 {
		return h.MaxAttempts
	}
	return resources.DeliveriesMaxReceiveCount
}

// outcome of one record for the batch summary and metrics.
type recordResult struct {
	ack        bool
	status     string // a deliverylog status, or "duplicate" / "invalid"
	deliveryID string
	durationMs int64
	requested  bool
	// circuitOpen: failed fast by an open circuit.
	circuitOpen bool
}

// Handle delivers one batch, each record in its own goroutine. It never returns an error:
// failures are per record (batch item failures).
func (h *Handler) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	results := make([]recordResult, len(batch.Records))
	b := h.newBatch(ctx, batch.Records)
	var wg sync.WaitGroup
	for i := range batch.Records {
		wg.Go(func() { results[i] = h.handleRecordSafely(ctx, &batch.Records[i], b, i) })
	}
	wg.Wait()

	var resp events.SQSEventResponse
	for i, r := range results {
		if !r.ack {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: batch.Records[i].MessageId})
		}
	}
	h.summarize(results)
	return resp, nil
}

// handleRecordSafely is handleRecord surviving a panic: the record is reported a batch item
// failure (SQS retries it, and the receive counts towards the DLQ like any other), the panic
// is logged with a reference and the stack, and the batch's other records are settled as
// usual (handleRecord settles its record as it unwinds).
func (h *Handler) handleRecordSafely(ctx context.Context, m *events.SQSMessage, b *batch, i int) (res recordResult) {
	defer func() {
		if v := recover(); v != nil {
			h.logger().Error("delivery record panicked; SQS retries it", "messageId", m.MessageId, "ref", errref.New(),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			res = recordResult{status: "panic"}
		}
	}()
	return h.handleRecord(ctx, m, b, i)
}

func (h *Handler) handleRecord(ctx context.Context, m *events.SQSMessage, b *batch, i int) recordResult {
	defer b.settle(i)
	attempt := receiveCount(m)
	msg, err := b.msgs[i], b.decodeErrs[i]
	if err != nil {
		// Not a delivery message: nothing to record; straight to the DLQ for ops to inspect.
		h.logger().Error("undecodable delivery message", "messageId", m.MessageId, "attempt", attempt, "error", err.Error())
		h.setVisibility(ctx, m, 0)
		return recordResult{status: "invalid"}
	}
	log := &recordLog{h: h, msg: msg, attempt: attempt}
	res := recordResult{deliveryID: msg.DeliveryID}
	if _, taken := b.inBatch.LoadOrStore(msg.DeliveryID, true); taken {
		// The other message makes the attempt (and carries the retries if it fails).
		log.Info("another message of the batch carries this delivery; acknowledged without a request")
		res.ack, res.status = true, "duplicate"
		return res
	}

	rec, err := b.read(ctx, h, i, msg)
	var out Outcome
	start := h.now()
	switch {
	case err == nil && rec.Status == deliverylog.StatusSucceeded:
		log.Info("delivery already succeeded; acknowledged without a request")
		res.ack, res.status = true, "duplicate"
		return res
	case err == nil:
		fillRecord(rec, msg)
	case errors.Is(err, deliverylog.ErrNotFound):
		rec = newRecord(msg)
	default:
		rec = newRecord(msg)
		out = internal(fmt.Errorf("read delivery log: %w", err))
	}
	if out.Result == 0 {
		out = h.attemptSafely(ctx, msg, attempt, rec)
	}
	a := out.Attempt
	a.Attempt, a.At = attempt, start
	if out.Cause != nil {
		// Our failure: the log (and so the API) shows a reference, this line the detail.
		ref := errref.New()
		log.Error("delivery attempt failed on our side", "ref", ref, "error", out.Cause.Error())
		a.Error = errref.Annotate(a.Error, ref)
	}
	if out.Progress != nil {
		rec.Progress = out.Progress
	}
	res.durationMs, res.requested = a.DurationMs, out.Requested
	res.circuitOpen = a.ErrorClass == deliverylog.ClassCircuitOpen

	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	switch out.Result {
	case Succeeded:
		if err := b.recordSuccess(wctx, h, i, msg, rec, a); err != nil {
			// Delivered but not recorded: retry so the log ends up true (receivers
			// deduplicate on webhook-id; at-least-once).
			log.Error("delivered but the delivery log could not be written; will retry", "error", err.Error())
			h.setVisibility(ctx, m, h.retryDelay(attempt, 0))
			res.status = deliverylog.StatusPending
			return res
		}
		res.ack, res.status = true, deliverylog.StatusSucceeded
		return res

	case Skipped:
		err := h.Log.RecordSkipped(wctx, rec, out.Reason)
		if err != nil && !errors.Is(err, deliverylog.ErrSucceeded) {
			log.Error("delivery skipped but the log could not be written; will retry", "reason", out.Reason, "error", err.Error())
			h.setVisibility(ctx, m, h.retryDelay(attempt, 0))
			res.status = deliverylog.StatusPending
			return res
		}
		log.Info("delivery skipped", "reason", out.Reason)
		res.ack, res.status = true, deliverylog.StatusSkipped
		return res
	}

	// A failed attempt.
	final := out.Result == FailedPermanently || attempt >= h.maxAttempts()
	err = h.Log.RecordFailure(wctx, rec, a, final)
	if errors.Is(err, deliverylog.ErrSucceeded) {
		log.Info("attempt failed but a duplicate of the delivery has succeeded; acknowledged")
		res.ack, res.status = true, "duplicate"
		return res
	}
	logAttrs := []any{"status", a.StatusCode, "durationMs", a.DurationMs, "errorClass", a.ErrorClass, "error", a.Error, "final", final}
	if err != nil {
		logAttrs = append(logAttrs, "logError", err.Error())
	}
	log.Warn("delivery attempt failed", logAttrs...)
	res.status = deliverylog.StatusFailed
	if out.Result == FailedPermanently && err == nil {
		res.ack = true // 410 Gone: stop retrying
		return res
	}
	if final {
		h.setVisibility(ctx, m, 0) // the redrive policy moves it to the DLQ on its next receive
	} else {
		h.setVisibility(ctx, m, h.retryDelay(attempt, out.RetryAfter))
	}
	return res
}

// attempt makes the attempt for the message's target kind.
func (h *Handler) attempt(ctx context.Context, msg *deliveryq.Message, attempt int, rec *deliverylog.Record) Outcome {
	t, err := h.Targets.Find(ctx, msg.DealerID, msg.Target)
	if err != nil {
		return internal(fmt.Errorf("read targets: %w", err))
	}
	if t == nil {
		return Outcome{Result: Skipped, Reason: msg.Target.Kind + " no longer exists"}
	}
	if t.Unavailable != "" {
		return Outcome{Result: Skipped, Reason: t.Unavailable}
	}
	if !t.Enabled {
		return Outcome{Result: Skipped, Reason: msg.Target.Kind + " is disabled"}
	}
	switch msg.Target.Kind {
	case deliveryq.KindSubscription, deliveryq.KindAgent:
	default:
		return Outcome{Result: FailedPermanently, Attempt: deliverylog.Attempt{ErrorClass: deliverylog.ClassInternal, Error: "unknown target kind " + strconv.Quote(msg.Target.Kind)}}
	}
	permit := circuit.Allow
	if h.Circuit != nil {
		var st circuit.State
		if permit, st = h.Circuit.Allow(ctx, msg.DealerID, msg.Target, t.Circuit); permit == circuit.Reject {
			return Outcome{Result: Failed, Attempt: deliverylog.Attempt{ErrorClass: deliverylog.ClassCircuitOpen, Error: circuit.Describe(st)}}
		}
	}
	if h.Circuit == nil {
		return h.attemptTarget(ctx, msg, attempt, rec, t)
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// A webhook POST unanswered for the breaker's StallAfter counts as a failure then; an
	// agent's attempt (several calls to a platform) only when it ends.
	var stallTimeout time.Duration
	if msg.Target.Kind == deliveryq.KindSubscription {
		stallTimeout = h.Timeout
	}
	untrack := h.Circuit.Track(msg.DealerID, msg.Target, stallTimeout, cancel)
	out := h.attemptTarget(actx, msg, attempt, rec, t)
	tracked := untrack()
	h.logTransition(ctx, msg, t, tracked.Opened)
	if errors.Is(context.Cause(actx), circuit.ErrOpened) && out.Result != Succeeded {
		// The circuit opened while this attempt waited: it stopped waiting. Not a failure of
		// its own (the ones that opened the circuit were counted).
		out = Outcome{Result: Failed, Requested: out.Requested, Attempt: deliverylog.Attempt{
			DurationMs: out.Attempt.DurationMs, ErrorClass: deliverylog.ClassCircuitOpen,
			Error: "the circuit opened while the attempt waited for an answer; it stopped waiting"}}
		return out
	}
	h.recordCircuit(ctx, msg, t, permit, out, tracked.Stalled)
	return out
}

// attemptTarget makes the request of an enabled target.
func (h *Handler) attemptTarget(ctx context.Context, msg *deliveryq.Message, attempt int, rec *deliverylog.Record, t *targets.Target) Outcome {
	switch msg.Target.Kind {
	case deliveryq.KindSubscription:
		if t.Subscription == nil {
			return internal(errors.New("subscription item could not be decoded"))
		}
		out := h.post(ctx, msg, attempt, t)
		if out.Attempt.StatusCode == http.StatusGone {
			reason := "endpoint answered 410 Gone at " + h.now().UTC().Format(time.RFC3339)
			if err := h.disable(ctx, msg.DealerID, t.ID, reason); err != nil {
				// Not disabled: keep retrying like any failure, so the next attempt tries again.
				out.Result = Failed
				out.Attempt.Error += "; disabling the subscription failed"
				out.Cause = fmt.Errorf("disable the subscription: %w", err)
			}
		}
		return out
	case deliveryq.KindAgent:
		if h.Agents == nil {
			return Outcome{Result: FailedPermanently, Attempt: deliverylog.Attempt{ErrorClass: deliverylog.ClassInternal, Error: "agent connectors not configured"}}
		}
		out, err := h.Agents.Deliver(ctx, msg, t, attempt, rec)
		if err != nil {
			return internal(err)
		}
		return out
	}
	return internal(errors.New("unknown target kind " + strconv.Quote(msg.Target.Kind)))
}

func (h *Handler) disable(ctx context.Context, dealerID, id, reason string) error {
	if h.Disabler == nil {
		return errors.New("no disabler configured")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	err := h.Disabler.Disable(ctx, dealerID, id, reason)
	h.Targets.Invalidate(dealerID)
	if err == nil {
		h.logger().Warn("subscription disabled", "dealerId", dealerID, "subscriptionId", id, "reason", reason)
	}
	return err
}

func internal(err error) Outcome {
	return Outcome{Result: Failed, Attempt: deliverylog.Attempt{ErrorClass: deliverylog.ClassInternal, Error: "internal error"}, Cause: err}
}

// attemptSafely is attempt surviving a panic (in a connector, say): the attempt fails on our
// side, is recorded and retried after the backoff like any other.
func (h *Handler) attemptSafely(ctx context.Context, msg *deliveryq.Message, attempt int, rec *deliverylog.Record) (out Outcome) {
	defer func() {
		if v := recover(); v != nil {
			out = internal(fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
		}
	}()
	return h.attempt(ctx, msg, attempt, rec)
}

// setVisibility hands the message back to SQS: visible again after d.
func (h *Handler) setVisibility(ctx context.Context, m *events.SQSMessage, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	_, err := h.Queue.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(h.QueueURL),
		ReceiptHandle:     aws.String(m.ReceiptHandle),
		VisibilityTimeout: int32(visibilitySeconds(d)),
	})
	if err != nil {
		// The queue's own visibility timeout brings the message back.
		h.logger().Error("ChangeMessageVisibility failed", "messageId", m.MessageId, "error", err.Error())
	}
}

// retryDelay is the visibility timeout after failed attempt n.
func (h *Handler) retryDelay(n int, retryAfter time.Duration) time.Duration {
	r := rand.Float64
	if h.Rand != nil {
		r = h.Rand
	}
	return RetryDelay(h.Backoff, n, retryAfter, r())
}

// RetryDelay is the wait after failed attempt n (1-based): backoff[n-1] (the last one past the
// end) spread by ±20 % (u uniform in [0,1) picks the point in the spread), or retryAfter when
// that is longer, capped at MaxRetryAfter.
func RetryDelay(backoff []time.Duration, n int, retryAfter time.Duration, u float64) time.Duration {
	var d time.Duration
	if len(backoff) > 0 {
		base := backoff[min(max(n, 1), len(backoff))-1]
		d = time.Duration(float64(base) * (1 - Jitter + 2*Jitter*u))
	}
	if retryAfter > d {
		d = min(retryAfter, MaxRetryAfter)
	}
	return max(d, 0)
}

// visibilitySeconds rounds d up to whole seconds within SQS's limits.
func visibilitySeconds(d time.Duration) int {
	d = min(max(d, 0), maxVisibility)
	return int((d + time.Second - 1) / time.Second)
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date. 0 when absent or
// malformed.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}

func receiveCount(m *events.SQSMessage) int {
	n, err := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func newRecord(msg *deliveryq.Message) *deliverylog.Record {
	rec := &deliverylog.Record{}
	fillRecord(rec, msg)
	return rec
}

// fillRecord completes a record with what the message says (a record read from the log may
// lack the payload, which a failure stores).
func fillRecord(rec *deliverylog.Record, msg *deliveryq.Message) {
	rec.DealerID, rec.Target, rec.DeliveryID = msg.DealerID, msg.Target, msg.DeliveryID
	if rec.EventID == "" {
		rec.EventID = msg.EventID
	}
	if rec.EventType == "" {
		rec.EventType = msg.EventType
	}
	if rec.RetryOf == "" {
		rec.RetryOf = msg.RetryOf
	}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = msg.CreatedAt
	}
	if len(rec.Payload) == 0 {
		rec.Payload = msg.Payload
	}
}
