package routing_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	catalog "github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/routing"
	"github.com/dealerai/integrations/shared/targets"
)

// Unit tests of the router's batching and partial-failure logic with fakes of its two small
// interfaces. The end-to-end behaviour against the emulators is in shared/pipelinetest.

type fakeTargets struct {
	mu      sync.Mutex
	calls   map[string]int
	targets map[string][]targets.Target
	fail    map[string]bool
}

func (f *fakeTargets) Load(_ context.Context, dealerID string) ([]targets.Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[dealerID]++
	if f.fail[dealerID] {
		return nil, errors.New("DynamoDB unavailable")
	}
	return f.targets[dealerID], nil
}

type fakeSQS struct {
	mu      sync.Mutex
	batches [][]sqstypes.SendMessageBatchRequestEntry
	dlq     []*sqs.SendMessageInput
	// refuse decides per entry whether SQS refuses it; callErr fails whole calls.
	refuse  func(m deliveryq.Message) bool
	callErr error
	dlqErr  error
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dlqErr != nil {
		return nil, f.dlqErr
	}
	f.dlq = append(f.dlq, in)
	return &sqs.SendMessageOutput{}, nil
}

func (f *fakeSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(in.Entries) > 10 {
		return nil, errors.New("TooManyEntriesInBatchRequest")
	}
	size := 0
	for _, e := range in.Entries {
		size += len(aws.ToString(e.MessageBody))
	}
	if size > 1024*1024 {
		return nil, errors.New("BatchRequestTooLong")
	}
	f.batches = append(f.batches, in.Entries)
	if f.callErr != nil {
		return nil, f.callErr
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		m, err := deliveryq.Decode(aws.ToString(e.MessageBody))
		if err != nil {
			return nil, err
		}
		if f.refuse != nil && f.refuse(*m) {
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			continue
		}
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func (f *fakeSQS) messages() []deliveryq.Message {
	var out []deliveryq.Message
	for _, b := range f.batches {
		for _, e := range b {
			m, _ := deliveryq.Decode(aws.ToString(e.MessageBody))
			out = append(out, *m)
		}
	}
	return out
}

func sub(id string, enabled bool, filters ...string) targets.Target {
	return targets.Target{Target: deliveryq.Target{Kind: deliveryq.KindSubscription, ID: id}, Events: filters, Enabled: enabled}
}

// event is the catalog example of eventType for dealer, with a given id and extra fields.
func event(t *testing.T, eventType, dealer, id string, extra map[string]any) events.SQSMessage {
	t.Helper()
	raw, ok := catalog.Example(eventType)
	if !ok {
		t.Fatalf("no example of %s", eventType)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["dealerId"], m["eventId"] = dealer, id
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return events.SQSMessage{MessageId: "msg-" + id, Body: string(b)}
}

func newRouter(tg *fakeTargets, q *fakeSQS) *routing.Router {
	return &routing.Router{Targets: tg, SQS: q, DeliveriesQueueURL: "deliveries", EventsDLQURL: "events-dlq",
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
}

func failedIDs(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	slices.Sort(ids)
	return ids
}

func TestOneQueryPerDealerAndMatchingTargetsOnly(t *testing.T) {
	tg := &fakeTargets{targets: map[string][]targets.Target{
		"dlr_a": {sub("all", true, "*"), sub("leads", true, "lead.*"), sub("off", false, "*"), sub("appts", true, "appointment.created"),
			{Target: deliveryq.Target{Kind: deliveryq.KindAgent, ID: "vinsolutions"}, Events: []string{"lead.created"}, Enabled: true},
			// enabled, but its platform is not in the dealer's plan: nothing is routed to it
			{Target: deliveryq.Target{Kind: deliveryq.KindAgent, ID: "fortellis"}, Events: []string{"lead.created"}, Enabled: true, Unavailable: "not in the plan"}},
		"dlr_b": {sub("steps", true, "sequence.step.*")},
	}}
	q := &fakeSQS{}
	var batch events.SQSEvent
	for i := range 4 {
		batch.Records = append(batch.Records, event(t, "lead.created", "dlr_a", fmt.Sprint("evt_a", i), nil))
	}
	batch.Records = append(batch.Records,
		event(t, "sequence.step.failed", "dlr_b", "evt_b1", nil),
		event(t, "sequence.enrollment.created", "dlr_b", "evt_b2", nil), // no target matches
	)
	resp, err := newRouter(tg, q).Handle(context.Background(), batch)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp = %+v, %v", resp, err)
	}
	if tg.calls["dlr_a"] != 1 || tg.calls["dlr_b"] != 1 {
		t.Fatalf("target queries = %v, want one per dealer", tg.calls)
	}
	got := map[string][]string{}
	for _, m := range q.messages() {
		got[m.EventID] = append(got[m.EventID], m.Target.String())
		ev, _ := catalog.Parse([]byte(batch.Records[0].Body))
		if m.EventID == "evt_a0" && (string(m.Payload) != string(ev.Body) || m.DeliveryID != deliveryq.DeliveryID("evt_a0", ev.Timestamp, m.Target)) {
			t.Fatalf("message = %+v", m)
		}
	}
	for i := range 4 {
		want := []string{"agent/vinsolutions", "subscription/all", "subscription/leads"}
		g := got[fmt.Sprint("evt_a", i)]
		slices.Sort(g)
		if !slices.Equal(g, want) {
			t.Fatalf("targets of evt_a%d = %v, want %v", i, g, want)
		}
	}
	if g := got["evt_b1"]; !slices.Equal(g, []string{"subscription/steps"}) || got["evt_b2"] != nil {
		t.Fatalf("dealer b: %v", got)
	}
	// 13 messages go out in SendMessageBatch calls of at most 10 (sent concurrently, so in
	// any order)
	var sizes []int
	for _, b := range q.batches {
		sizes = append(sizes, len(b))
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{3, 10}) {
		t.Fatalf("batches of %v entries, want 10+3", sizes)
	}
}

func TestBatchesRespectTheSizeLimit(t *testing.T) {
	tg := &fakeTargets{targets: map[string][]targets.Target{"dlr_a": {sub("s1", true, "*"), sub("s2", true, "*")}}}
	q := &fakeSQS{}
	var batch events.SQSEvent
	big := strings.Repeat("x", 200*1024)
	for i := range 5 {
		batch.Records = append(batch.Records, event(t, "lead.created", "dlr_a", fmt.Sprint("evt_", i), map[string]any{"comments": big}))
	}
	resp, _ := newRouter(tg, q).Handle(context.Background(), batch)
	if len(resp.BatchItemFailures) != 0 || len(q.messages()) != 10 {
		t.Fatalf("failures %v, %d messages", resp.BatchItemFailures, len(q.messages()))
	}
	for _, b := range q.batches {
		if len(b) > 5 { // 5 × ~200 KiB ≈ 1 MiB
			t.Fatalf("a batch of %d messages of 200 KiB", len(b))
		}
	}
}

func TestPartialSendFailureFailsOnlyThoseEvents(t *testing.T) {
	tg := &fakeTargets{targets: map[string][]targets.Target{"dlr_a": {sub("good", true, "*"), sub("flaky", true, "*")}}}
	// the flaky target's message of evt_2 is refused: evt_2 fails as a whole although its
	// other message was enqueued
	q := &fakeSQS{refuse: func(m deliveryq.Message) bool { return m.EventID == "evt_2" && m.Target.ID == "flaky" }}
	var batch events.SQSEvent
	for i := range 3 {
		batch.Records = append(batch.Records, event(t, "lead.created", "dlr_a", fmt.Sprint("evt_", i), nil))
	}
	resp, _ := newRouter(tg, q).Handle(context.Background(), batch)
	if ids := failedIDs(resp); !slices.Equal(ids, []string{"msg-evt_2"}) {
		t.Fatalf("failed = %v, want [msg-evt_2]", ids)
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	tg := &fakeTargets{
		targets: map[string][]targets.Target{"dlr_a": {sub("s", true, "*")}, "dlr_b": {sub("s", true, "*")}},
		fail:    map[string]bool{"dlr_b": true},
	}
	q := &fakeSQS{}
	batch := events.SQSEvent{Records: []events.SQSMessage{
		event(t, "lead.created", "dlr_a", "evt_a", nil),
		event(t, "lead.created", "dlr_b", "evt_b", nil),
	}}
	resp, _ := newRouter(tg, q).Handle(context.Background(), batch)
	if ids := failedIDs(resp); !slices.Equal(ids, []string{"msg-evt_b"}) {
		t.Fatalf("failed = %v, want the dealer whose targets could not be read", ids)
	}

	q = &fakeSQS{callErr: errors.New("SQS unavailable")}
	resp, _ = newRouter(&fakeTargets{targets: tg.targets}, q).Handle(context.Background(), batch)
	if ids := failedIDs(resp); !slices.Equal(ids, []string{"msg-evt_a", "msg-evt_b"}) {
		t.Fatalf("failed = %v, want both", ids)
	}
}

func TestPoisonGoesToTheDLQ(t *testing.T) {
	tg := &fakeTargets{targets: map[string][]targets.Target{"dlr_a": {sub("s", true, "*")}}}
	q := &fakeSQS{}
	batch := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "notjson", Body: "hello"},
		{MessageId: "unknown", Body: `{"eventType":"lead.exploded","dealerId":"dlr_a","timestamp":"2026-01-01T00:00:00Z"}`},
		{MessageId: "missing", Body: `{"eventType":"lead.created","timestamp":"2026-01-01T00:00:00Z"}`},
		{MessageId: "invalid", Body: `{"eventType":"sequence.step.failed","dealerId":"dlr_a","timestamp":"2026-01-01T00:00:00Z","stepOrder":"two"}`},
		{MessageId: "large", Body: `{"eventType":"lead.created","dealerId":"dlr_a","comments":"` + strings.Repeat("y", 300*1024) + `"}`},
		event(t, "lead.created", "dlr_a", "evt_ok", nil),
	}}
	resp, _ := newRouter(tg, q).Handle(context.Background(), batch)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures = %v: poison is handled, not retried", resp.BatchItemFailures)
	}
	want := map[string]string{"hello": "not_json", "lead.exploded": "unknown_type", "missing": "missing_field", "invalid": "invalid_field", "large": "too_large"}
	if len(q.dlq) != 5 {
		t.Fatalf("%d messages in the DLQ, want 5", len(q.dlq))
	}
	for i, in := range q.dlq {
		code := aws.ToString(in.MessageAttributes["errorCode"].StringValue)
		msg := aws.ToString(in.MessageAttributes["errorMessage"].StringValue)
		if aws.ToString(in.QueueUrl) != "events-dlq" || aws.ToString(in.MessageBody) != batch.Records[i].Body || msg == "" {
			t.Fatalf("DLQ message %d = %+v", i, in)
		}
		key := []string{"hello", "lead.exploded", "missing", "invalid", "large"}[i]
		if code != want[key] {
			t.Fatalf("DLQ message %d: errorCode %q, want %q (%s)", i, code, want[key], msg)
		}
	}
	if et := q.dlq[1].MessageAttributes["eventType"]; aws.ToString(et.StringValue) != "lead.exploded" {
		t.Fatalf("eventType attribute = %v", et.StringValue)
	}
	if len(q.messages()) != 1 {
		t.Fatalf("the valid event was not routed")
	}

	// the DLQ unreachable: the poison record fails so it is not lost
	q = &fakeSQS{dlqErr: errors.New("SQS unavailable")}
	resp, _ = newRouter(tg, q).Handle(context.Background(), events.SQSEvent{Records: batch.Records[:1]})
	if ids := failedIDs(resp); !slices.Equal(ids, []string{"notjson"}) {
		t.Fatalf("failed = %v", ids)
	}
}
