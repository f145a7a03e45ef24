package delivery_test

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealerai/integrations/shared/delivery"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/targets"
)

// panicky is an agent connector that panics on one delivery and fails another, and succeeds
// on the rest.
type panicky struct{ panicOn, failOn string }

func (p panicky) Deliver(_ context.Context, msg *deliveryq.Message, _ *targets.Target, _ int, _ *deliverylog.Record) (delivery.Outcome, error) {
	switch msg.DeliveryID {
	case p.panicOn:
		var m map[string]int
		m["boom"]++ // a nil map: a real runtime panic
	case p.failOn:
		return delivery.Outcome{Result: delivery.Failed, Attempt: deliverylog.Attempt{ErrorClass: "platform", Error: "platform answered 500"}}, nil
	}
	return delivery.Outcome{Result: delivery.Succeeded}, nil
}

// panicOnFailureLog panics when a failure is recorded: a panic outside the attempt.
type panicOnFailureLog struct{ batchLog }

func (*panicOnFailureLog) RecordFailure(context.Context, *deliverylog.Record, deliverylog.Attempt, bool) error {
	panic("log store bug")
}

func failedIDsOf(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	slices.Sort(ids)
	return ids
}

var agentTarget = deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}

// TestPanicInOneRecordFailsOnlyIt: a connector's panic on one record of a batch makes that
// attempt fail on our side (recorded "internal error (ref …)", the panic and its stack logged
// with the ref, retried after the backoff); the batch's other records are delivered and their
// successes written together, as without it.
func TestPanicInOneRecordFailsOnlyIt(t *testing.T) {
	h, _, q := setup(t, agentTarget, nil)
	lg := &batchLog{}
	var logs bytes.Buffer
	h.Log, h.Logger = lg, slog.New(slog.NewJSONHandler(&logs, nil))
	h.Agents = panicky{panicOn: "dlv_1"}
	resp, err := h.Handle(context.Background(), batchOf(t, 3, func(_ int, m *deliveryq.Message) { m.Target = agentTarget }))
	if err != nil {
		t.Fatal(err)
	}
	if got := failedIDsOf(resp); !slices.Equal(got, []string{"m1"}) {
		t.Fatalf("batch item failures %v, want only the panicking record's", got)
	}
	if len(lg.successes) != 1 || !slices.Equal(slices.Sorted(slices.Values(lg.successes[0])), []string{"dlv_0", "dlv_2"}) {
		t.Fatalf("successes written %v, want dlv_0 and dlv_2 in one call", lg.successes)
	}
	if len(lg.failures) != 1 || lg.failures[0].ErrorClass != deliverylog.ClassInternal {
		t.Fatalf("failures recorded %+v", lg.failures)
	}
	ref := regexp.MustCompile(`^internal error \(ref ([0-9a-f]{12})\)$`).FindStringSubmatch(lg.failures[0].Error)
	if ref == nil {
		t.Fatalf("stored error %q, want internal error with a reference", lg.failures[0].Error)
	}
	if len(q.visibility) != 1 || q.visibility[0] != 30 {
		t.Fatalf("visibility %v, want the first backoff", q.visibility)
	}
	line := logLineWith(t, logs.String(), `"ref":"`+ref[1]+`"`)
	if !strings.Contains(line, "nil map") || !strings.Contains(line, "panic_test.go") || !strings.Contains(line, `"deliveryId":"dlv_1"`) {
		t.Fatalf("log line of the ref: %s", line)
	}
}

// TestPanicOutsideTheAttempt: a panic after the attempt (here in the log store) still costs
// only its record: reported a batch item failure (SQS retries it), logged with a ref, the
// batch's other successes written.
func TestPanicOutsideTheAttempt(t *testing.T) {
	h, _, _ := setup(t, agentTarget, nil)
	lg := &panicOnFailureLog{}
	var logs bytes.Buffer
	h.Log, h.Logger = lg, slog.New(slog.NewJSONHandler(&logs, nil))
	h.Agents = panicky{failOn: "dlv_2"}
	resp, err := h.Handle(context.Background(), batchOf(t, 4, func(_ int, m *deliveryq.Message) { m.Target = agentTarget }))
	if err != nil {
		t.Fatal(err)
	}
	if got := failedIDsOf(resp); !slices.Equal(got, []string{"m2"}) {
		t.Fatalf("batch item failures %v, want only m2", got)
	}
	if len(lg.successes) != 1 || !slices.Equal(slices.Sorted(slices.Values(lg.successes[0])), []string{"dlv_0", "dlv_1", "dlv_3"}) {
		t.Fatalf("successes written %v", lg.successes)
	}
	line := logLineWith(t, logs.String(), "delivery record panicked")
	if !strings.Contains(line, "log store bug") || !strings.Contains(line, `"messageId":"m2"`) || !strings.Contains(line, `"ref":"`) {
		t.Fatalf("panic log line: %s", line)
	}
	if !strings.Contains(logs.String(), `"notRecorded":1`) {
		t.Fatalf("the batch summary does not count the record: %s", logs.String())
	}
}

func logLineWith(t *testing.T, logs, s string) string {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	t.Fatalf("no log line with %s in:\n%s", s, logs)
	return ""
}
