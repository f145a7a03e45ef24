package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/oklog/ulid/v2"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/ratelimit"
	"github.com/dealerai/integrations/shared/subscriptions"
	"github.com/dealerai/integrations/shared/validation"
)

// deliveryView is a delivery in a list; deliveryDetail adds its attempts and payload.
type deliveryView struct {
	DeliveryID     string           `json:"deliveryId"`
	EventID        string           `json:"eventId"`
	EventType      string           `json:"eventType"`
	Target         deliveryq.Target `json:"target"`
	Status         string           `json:"status"`
	AttemptCount   int              `json:"attemptCount"`
	LastStatusCode *int             `json:"lastStatusCode"`
	LastError      *string          `json:"lastError"`
	RetryOf        *string          `json:"retryOf"`
	RetriedBy      *string          `json:"retriedBy"`
	CreatedAt      time.Time        `json:"createdAt"`
	UpdatedAt      time.Time        `json:"updatedAt"`
}

type deliveryDetail struct {
	deliveryView
	Attempts []attemptView `json:"attempts"`
	// Payload is the event body, when the log stored it (deliveries that did not succeed).
	Payload json.RawMessage `json:"payload,omitempty"`
}

type attemptView struct {
	Attempt         int       `json:"attempt"`
	At              time.Time `json:"at"`
	StatusCode      *int      `json:"statusCode"`
	DurationMs      int64     `json:"durationMs"`
	ErrorClass      *string   `json:"errorClass"`
	Error           *string   `json:"error"`
	ResponseSnippet *string   `json:"responseSnippet"`
}

func deliveryViewOf(rec *deliverylog.Record) deliveryView {
	return deliveryView{
		DeliveryID: rec.DeliveryID, EventID: rec.EventID, EventType: rec.EventType, Target: rec.Target,
		Status: rec.Status, AttemptCount: rec.AttemptCount,
		LastStatusCode: nonZero(rec.LastStatusCode), LastError: nonZero(rec.LastError), RetryOf: nonZero(rec.RetryOf),
		RetriedBy: nonZero(rec.RetriedBy), CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt,
	}
}

func deliveryDetailOf(rec *deliverylog.Record) deliveryDetail {
	d := deliveryDetail{deliveryView: deliveryViewOf(rec), Attempts: make([]attemptView, len(rec.Attempts))}
	for i, at := range rec.Attempts {
		d.Attempts[i] = attemptView{
			Attempt: at.Attempt, At: at.At, StatusCode: nonZero(at.StatusCode), DurationMs: at.DurationMs,
			ErrorClass: nonZero(at.ErrorClass), Error: nonZero(at.Error), ResponseSnippet: nonZero(at.ResponseSnippet),
		}
	}
	if len(rec.Payload) > 0 && json.Valid(rec.Payload) {
		d.Payload = rec.Payload
	}
	return d
}

// nonZero is nil for a zero value (shown as null), else a pointer to it.
func nonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// accepted is the answer to a retry or a test send.
type accepted struct {
	DeliveryID string `json:"deliveryId"`
}

var deliveryStatuses = []string{deliverylog.StatusPending, deliverylog.StatusSucceeded, deliverylog.StatusFailed, deliverylog.StatusSkipped}

func (a *API) listSubscriptionDeliveries(w http.ResponseWriter, r *http.Request) error {
	return a.listDeliveries(w, r, a.subscriptionTarget)
}

// listDeliveries answers one page of a target's delivery log, newest first (?status,
// ?limit, ?cursor). The query is checked before target reads the path's target.
func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request, target func(*http.Request) (deliveryq.Target, error)) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains(deliveryStatuses, status) {
		return NewProblem(http.StatusBadRequest, "invalid query parameter",
			validation.FieldError{Field: "status", Message: "must be one of " + strings.Join(deliveryStatuses, ", ")})
	}
	t, err := target(r)
	if err != nil {
		return err
	}
	recs, next, err := a.opts.Deliveries.List(r.Context(), dealerOf(r), t, status, limit, cursor)
	if err != nil {
		return err
	}
	views := make([]deliveryView, len(recs))
	for i := range recs {
		views[i] = deliveryViewOf(&recs[i])
	}
	writeJSON(w, http.StatusOK, newPage(views, next))
	return nil
}

func (a *API) getSubscriptionDelivery(w http.ResponseWriter, r *http.Request) error {
	rec, _, err := a.delivery(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deliveryDetailOf(rec))
	return nil
}

func (a *API) retrySubscriptionDelivery(w http.ResponseWriter, r *http.Request) error {
	orig, sub, err := a.delivery(r)
	if err != nil {
		return err
	}
	var disabled string
	if !sub.Enabled {
		disabled = "the subscription is disabled; enable it first"
	}
	return a.retryDelivery(w, r, orig, targetOf(sub), disabled)
}

// retryDelivery starts a new delivery of a delivery that did not succeed (failed or skipped;
// 409 otherwise): a new delivery id, retryOf the original, the same event id (so the
// webhook-id lets receivers deduplicate), the stored body, a fresh attempt budget. disabled,
// when not empty, says why the target cannot take deliveries now (409). A delivery is retried
// once: the original's log item records the retry (a conditional write, so two concurrent
// retries make one), and a second retry is 409 naming the first.
func (a *API) retryDelivery(w http.ResponseWriter, r *http.Request, orig *deliverylog.Record, target deliveryq.Target, disabled string) error {
	switch {
	case orig.RetriedBy != "":
		return alreadyRetried(orig.RetriedBy)
	case orig.Status != deliverylog.StatusFailed && orig.Status != deliverylog.StatusSkipped:
		return NewProblem(http.StatusConflict, "only a failed or skipped delivery can be retried; this one is "+orig.Status)
	case disabled != "":
		return NewProblem(http.StatusConflict, disabled)
	case len(orig.Payload) == 0:
		return NewProblem(http.StatusConflict, "the delivery log kept no body for this delivery")
	}
	if err := a.allow(r, ratelimit.Retry); err != nil {
		return err
	}
	id, err := a.restart(r.Context(), dealerOf(r), target, orig, 0)
	var retried *deliverylog.AlreadyRetriedError
	switch {
	case errors.As(err, &retried):
		return alreadyRetried(retried.By)
	case errors.Is(err, deliverylog.ErrNotRetryable):
		return NewProblem(http.StatusConflict, "only a failed or skipped delivery can be retried; this one has changed since it was read")
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusAccepted, accepted{id})
	return nil
}

// restart starts the retry of orig (a new delivery: new id, retryOf orig, its event and body,
// a fresh attempt budget), visible on the queue after delay, and returns its id. orig is
// marked retried first (deliverylog.Store.MarkRetried, whose errors it returns): a delivery is
// retried once. A retry that cannot be started takes the mark back.
func (a *API) restart(ctx context.Context, dealerID string, target deliveryq.Target, orig *deliverylog.Record, delay time.Duration) (string, error) {
	now := a.opts.Now().UTC()
	msg := &deliveryq.Message{
		DeliveryID: deliveryq.NewDeliveryID(now),
		EventID:    orig.EventID,
		EventType:  orig.EventType,
		DealerID:   dealerID,
		Target:     target,
		CreatedAt:  now,
		RetryOf:    orig.DeliveryID,
		Payload:    orig.Payload,
	}
	if err := a.opts.Deliveries.MarkRetried(ctx, msg.DealerID, target, orig.DeliveryID, msg.DeliveryID); err != nil {
		return "", err
	}
	if err := a.startDeliveryAfter(ctx, msg, delay); err != nil {
		// Not started: the original may be retried again. The mark is taken back even when
		// the request's context is over.
		if uerr := a.opts.Deliveries.UnmarkRetried(context.WithoutCancel(ctx), msg.DealerID, target, orig.DeliveryID, msg.DeliveryID); uerr != nil {
			err = errors.Join(err, uerr)
		}
		return "", err
	}
	return msg.DeliveryID, nil
}

// alreadyRetried is the 409 of a second retry of a delivery: by is the first.
func alreadyRetried(by string) *Problem {
	return NewProblem(http.StatusConflict, "this delivery was already retried as "+by+"; a delivery is retried once: retry "+by+" if it fails too")
}

// testSubscription delivers the catalog example of an event type to the subscription,
// whatever its filter, as a fresh event: a new event id, the caller's dealer, the current time.
func (a *API) testSubscription(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, mediaJSON)
	if err != nil {
		return err
	}
	eventType, err := decodeTestSend(body)
	if err != nil {
		return err
	}
	if _, ok := events.Lookup(eventType); !ok {
		return NewProblem(http.StatusUnprocessableEntity, "the request has invalid fields",
			validation.FieldError{Field: "eventType", Message: "is not an event type of the catalog (see GET /v1/event-types)"})
	}
	sub, err := a.subscription(r)
	if err != nil {
		return err
	}
	if !sub.Enabled {
		return NewProblem(http.StatusConflict, "the subscription is disabled; enable it first")
	}
	if err := a.allow(r, ratelimit.TestSend); err != nil {
		return err
	}
	now := a.opts.Now().UTC()
	ev, err := exampleEvent(eventType, dealerOf(r), now)
	if err != nil {
		return err
	}
	msg := &deliveryq.Message{
		DeliveryID: deliveryq.NewDeliveryID(now),
		EventID:    ev.ID,
		EventType:  ev.Type,
		DealerID:   ev.DealerID,
		Target:     targetOf(sub),
		CreatedAt:  now,
		Test:       true,
		Payload:    ev.Body,
	}
	if err := a.startDelivery(r.Context(), msg); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, accepted{msg.DeliveryID})
	return nil
}

// exampleEvent is the catalog example of eventType as a new event of dealerID at now,
// normalized by events.Parse like every event the router takes.
func exampleEvent(eventType, dealerID string, now time.Time) (*events.Event, error) {
	raw, ok := events.Example(eventType)
	if !ok {
		return nil, fmt.Errorf("no catalog example for %s", eventType)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("catalog example %s: %w", eventType, err)
	}
	for k, v := range map[string]string{"eventId": events.NewEventID(), "dealerId": dealerID, "timestamp": now.Format(time.RFC3339)} {
		b, _ := json.Marshal(v)
		body[k] = b
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	ev, err := events.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("catalog example %s: %w", eventType, err)
	}
	return ev, nil
}

// startDelivery records a new pending delivery (with its body, so it can be retried) and
// enqueues its message on the deliveries queue, where the delivery Lambda takes it.
func (a *API) startDelivery(ctx context.Context, msg *deliveryq.Message) error {
	return a.startDeliveryAfter(ctx, msg, 0)
}

// startDeliveryAfter is startDelivery with the message invisible for delay (SQS DelaySeconds,
// at most 15 min).
func (a *API) startDeliveryAfter(ctx context.Context, msg *deliveryq.Message, delay time.Duration) error {
	rec := &deliverylog.Record{
		DealerID: msg.DealerID, Target: msg.Target, DeliveryID: msg.DeliveryID, EventID: msg.EventID,
		EventType: msg.EventType, Status: deliverylog.StatusPending, RetryOf: msg.RetryOf,
		CreatedAt: msg.CreatedAt, UpdatedAt: msg.CreatedAt, Payload: msg.Payload,
	}
	if err := a.opts.Deliveries.CreatePending(ctx, rec); err != nil {
		return err
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	_, err = a.opts.Queue.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(a.opts.DeliveriesQueueURL),
		MessageBody:       aws.String(string(body)),
		MessageAttributes: msg.Attributes(),
		MessageGroupId:    aws.String(msg.GroupID()),
		DelaySeconds:      int32(min(delay, maxDelay) / time.Second),
	})
	if err != nil {
		return fmt.Errorf("enqueue delivery %s: %w", msg.DeliveryID, err)
	}
	return nil
}

// delivery reads the delivery of the path's {deliveryId} of the path's subscription
// (which must exist: another dealer's subscription id is not found).
func (a *API) delivery(r *http.Request) (*deliverylog.Record, *subscriptions.Subscription, error) {
	if !validDeliveryID(r.PathValue("deliveryId")) {
		return nil, nil, deliverylog.ErrNotFound
	}
	sub, err := a.subscription(r)
	if err != nil {
		return nil, nil, err
	}
	rec, err := a.readDelivery(r, targetOf(sub))
	if err != nil {
		return nil, nil, err
	}
	return rec, sub, nil
}

// readDelivery reads the delivery of the path's {deliveryId} of target, within the caller's
// dealer (a strongly consistent read).
func (a *API) readDelivery(r *http.Request, target deliveryq.Target) (*deliverylog.Record, error) {
	id := r.PathValue("deliveryId")
	if !validDeliveryID(id) {
		return nil, deliverylog.ErrNotFound
	}
	return a.opts.Deliveries.Get(r.Context(), dealerOf(r), target, id, true)
}

// subscriptionTarget is the delivery target of the path's subscription (which must exist).
func (a *API) subscriptionTarget(r *http.Request) (deliveryq.Target, error) {
	sub, err := a.subscription(r)
	if err != nil {
		return deliveryq.Target{}, err
	}
	return targetOf(sub), nil
}

func targetOf(sub *subscriptions.Subscription) deliveryq.Target {
	return deliveryq.Target{Kind: deliveryq.KindSubscription, ID: sub.ID}
}

// validDeliveryID accepts "dlv_" + a ULID, the form of every delivery id.
func validDeliveryID(id string) bool {
	rest, ok := strings.CutPrefix(id, "dlv_")
	if !ok {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}
