package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/ratelimit"
	"github.com/dealerai/integrations/shared/validation"
)

// Bounds of one recover request, and its pacing.
const (
	// RecoverBatch is the most deliveries one request queues; RecoverScan the most delivery
	// log items it reads. Past either it answers a nextCursor to continue from.
	RecoverBatch = 100
	RecoverScan  = 1000
	// RecoverPace spreads the recovered deliveries: the n-th of a recovery (counted over its
	// requests) becomes visible n × RecoverPace after it is queued, up to SQS's 15 min limit,
	// so that an endpoint just back up gets 5 a second rather than all at once.
	RecoverPace = 200 * time.Millisecond
	// maxDelay is SQS's limit of a message's DelaySeconds.
	maxDelay = 15 * time.Minute
)

// recoverView answers a recover request.
type recoverView struct {
	Queued     int     `json:"queued"`
	NextCursor *string `json:"nextCursor"`
}

func (a *API) recoverSubscription(w http.ResponseWriter, r *http.Request) error {
	sub, err := a.subscription(r)
	if err != nil {
		return err
	}
	since, cursor, err := a.recoverRequest(r)
	if err != nil {
		return err
	}
	if !sub.Enabled {
		return NewProblem(http.StatusConflict, "the subscription is disabled; enable it first")
	}
	return a.recover(w, r, targetOf(sub), since, cursor)
}

func (a *API) recoverAgent(w http.ResponseWriter, r *http.Request) error {
	target, err := a.agentTarget(r)
	if err != nil {
		return err
	}
	since, cursor, err := a.recoverRequest(r)
	if err != nil {
		return err
	}
	disabled, err := a.agentDeliverable(r, target)
	if err != nil {
		return err
	}
	if disabled != "" {
		return NewProblem(http.StatusConflict, disabled)
	}
	return a.recover(w, r, target, since, cursor)
}

// recover queues again, oldest first, the target's deliveries that failed since `since` and
// were not retried: each becomes a new delivery (retryOf the original, marked on it as a
// retry is, so a repeated recovery queues none of them twice), paced by RecoverPace. At most
// RecoverBatch per request; nextCursor continues.
func (a *API) recover(w http.ResponseWriter, r *http.Request, target deliveryq.Target, since time.Time, cursor recoverCursor) error {
	if err := a.allow(r, ratelimit.Recover); err != nil {
		return err
	}
	ctx := r.Context()
	batch := a.opts.RecoverBatch
	if batch <= 0 {
		batch = RecoverBatch
	}
	recs, next, err := a.opts.Deliveries.ListFailed(ctx, dealerOf(r), target, since, batch, RecoverScan, cursor.log)
	if err != nil {
		return err
	}
	queued := 0
	for i := range recs {
		if len(recs[i].Payload) == 0 {
			continue // nothing to send again (the log kept no body)
		}
		_, err := a.restart(ctx, dealerOf(r), target, &recs[i], time.Duration(cursor.queued+queued)*RecoverPace)
		var retried *deliverylog.AlreadyRetriedError
		switch {
		case errors.As(err, &retried), errors.Is(err, deliverylog.ErrNotRetryable):
			continue // recovered or retried meanwhile
		case err != nil:
			return err
		}
		queued++
	}
	v := recoverView{Queued: queued}
	if next != "" {
		c := recoverCursor{queued: cursor.queued + queued, log: next}.String()
		v.NextCursor = &c
	}
	writeJSON(w, http.StatusAccepted, v)
	return nil
}

// recoverCursor continues a recovery: how many it queued so far (for the pacing) and where
// the delivery log's read stopped.
type recoverCursor struct {
	queued int
	log    string
}

func (c recoverCursor) String() string { return strconv.Itoa(c.queued) + "." + c.log }

func parseRecoverCursor(s string) (recoverCursor, bool) {
	n, log, ok := strings.Cut(s, ".")
	q, err := strconv.Atoi(n)
	if !ok || err != nil || q < 0 || log == "" {
		return recoverCursor{}, false
	}
	return recoverCursor{queued: q, log: log}, true
}

// recoverRequest reads {"since": RFC 3339, "cursor": nextCursor of the previous answer}.
func (a *API) recoverRequest(r *http.Request) (time.Time, recoverCursor, error) {
	body, err := readBody(r, mediaJSON)
	if err != nil {
		return time.Time{}, recoverCursor{}, err
	}
	members, err := decodeObject(body, "since", "cursor")
	if err != nil {
		return time.Time{}, recoverCursor{}, err
	}
	f := fields{members: members}
	sinceText, cursorText := f.string("since"), f.string("cursor")
	if err := f.err(); err != nil {
		return time.Time{}, recoverCursor{}, err
	}
	invalid := func(field, msg string) error {
		return NewProblem(http.StatusUnprocessableEntity, "the request has invalid fields", validation.FieldError{Field: field, Message: msg})
	}
	if sinceText == nil {
		return time.Time{}, recoverCursor{}, invalid("since", "is required")
	}
	since, err := time.Parse(time.RFC3339, *sinceText)
	if err != nil {
		return time.Time{}, recoverCursor{}, invalid("since", "must be an RFC 3339 date-time such as 2026-12-01T09:00:00Z")
	}
	if since.After(a.opts.Now()) {
		return time.Time{}, recoverCursor{}, invalid("since", "must not be in the future")
	}
	var cursor recoverCursor
	if cursorText != nil && *cursorText != "" {
		var ok bool
		if cursor, ok = parseRecoverCursor(*cursorText); !ok {
			return time.Time{}, recoverCursor{}, invalid("cursor", "must be a nextCursor of an earlier answer")
		}
	}
	return since, cursor, nil
}
