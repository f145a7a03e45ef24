package deliverylog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/resources"
)

// The store against DynamoDB Local: every operation the API and the delivery handler use.

var sub = deliveryq.Target{Kind: deliveryq.KindSubscription, ID: "sub_1"}

func newStore(t *testing.T) (*deliverylog.Store, *localtest.Env) {
	t.Helper()
	env := localtest.New(t)
	return deliverylog.NewStore(env.DynamoDB, env.Table(resources.DeliveryLogTable)), env
}

func newRecord(id string) *deliverylog.Record {
	return &deliverylog.Record{
		DealerID: "dlr_1", Target: sub, DeliveryID: id, EventID: "evt_" + id, EventType: "lead.created",
		CreatedAt: time.Now().Truncate(time.Millisecond).UTC(),
		Payload:   json.RawMessage(`{"eventType":"lead.created","eventId":"evt_` + id + `","dealerId":"dlr_1"}`),
	}
}

func TestSuccessIsOneSmallItemWithoutPayload(t *testing.T) {
	s, env := newStore(t)
	ctx := context.Background()
	if _, err := s.Get(ctx, "dlr_1", sub, "dlv_A", false); !errors.Is(err, deliverylog.ErrNotFound) {
		t.Fatalf("Get of a missing delivery: %v, want ErrNotFound", err)
	}
	rec := newRecord("dlv_A")
	at := time.Now().Truncate(time.Millisecond).UTC()
	if err := s.RecordSuccess(ctx, rec, deliverylog.Attempt{Attempt: 1, At: at, StatusCode: 200, DurationMs: 12, ResponseSnippet: "ignored"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "dlr_1", sub, "dlv_A", true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != deliverylog.StatusSucceeded || got.AttemptCount != 1 || got.LastStatusCode != 200 || got.Payload != nil ||
		got.EventID != "evt_dlv_A" || got.EventType != "lead.created" || !got.CreatedAt.Equal(rec.CreatedAt) {
		t.Fatalf("record = %+v", got)
	}
	if len(got.Attempts) != 1 || got.Attempts[0] != (deliverylog.Attempt{Attempt: 1, At: at, StatusCode: 200, DurationMs: 12}) {
		t.Fatalf("attempts = %+v", got.Attempts)
	}
	item := rawItem(t, env, "dlr_1#SUB#sub_1", "dlv_A")
	if n := itemSize(item); n >= 1000 {
		t.Fatalf("success item is %d bytes, want < 1 KB", n)
	}
	exp, _ := strconv.ParseInt(item["expiresAt"].(*types.AttributeValueMemberN).Value, 10, 64)
	if want := time.Now().Add(resources.DeliveryLogRetention).Unix(); exp < want-60 || exp > want+60 {
		t.Fatalf("expiresAt = %d, want about %d", exp, want)
	}
}

func TestFailuresThenSuccess(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	rec := newRecord("dlv_B")
	for i := 1; i <= 2; i++ {
		err := s.RecordFailure(ctx, rec, deliverylog.Attempt{Attempt: i, At: time.Now(), StatusCode: 500, DurationMs: 3,
			ErrorClass: deliverylog.ClassHTTPStatus, Error: "HTTP 500", ResponseSnippet: strings.Repeat("x", 3000)}, false)
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Get(ctx, "dlr_1", sub, "dlv_B", true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != deliverylog.StatusPending || got.AttemptCount != 2 || got.LastError != "HTTP 500" || string(got.Payload) != string(rec.Payload) {
		t.Fatalf("after two failures: %+v", got)
	}
	if len(got.Attempts[1].ResponseSnippet) != deliverylog.MaxSnippetLen || got.Attempts[1].ErrorClass != deliverylog.ClassHTTPStatus {
		t.Fatalf("attempt = %+v", got.Attempts[1])
	}
	// the record read from the table is updated in place (not put again)
	if err := s.RecordSuccess(ctx, got, deliverylog.Attempt{Attempt: 3, At: time.Now(), StatusCode: 204}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(ctx, "dlr_1", sub, "dlv_B", true)
	if got.Status != deliverylog.StatusSucceeded || got.AttemptCount != 3 || got.LastStatusCode != 204 || got.LastError != "" || len(got.Attempts) != 3 || got.Payload == nil {
		t.Fatalf("after success: %+v", got)
	}
	// a failure or skip recorded by a late duplicate does not undo the success
	if err := s.RecordFailure(ctx, rec, deliverylog.Attempt{Attempt: 1, At: time.Now(), ErrorClass: deliverylog.ClassTimeout, Error: "timeout"}, true); !errors.Is(err, deliverylog.ErrSucceeded) {
		t.Fatalf("RecordFailure after success: %v, want ErrSucceeded", err)
	}
	if err := s.RecordSkipped(ctx, rec, "subscription deleted"); !errors.Is(err, deliverylog.ErrSucceeded) {
		t.Fatalf("RecordSkipped after success: %v, want ErrSucceeded", err)
	}
}

func TestSuccessOfANewRecordThatExists(t *testing.T) {
	// A stale read missed the pending record the API created: the put finds it and updates.
	s, _ := newStore(t)
	ctx := context.Background()
	rec := newRecord("dlv_C")
	rec.RetryOf = "dlv_0"
	if err := s.CreatePending(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePending(ctx, newRecord("dlv_C")); !errors.Is(err, deliverylog.ErrExists) {
		t.Fatalf("second CreatePending: %v, want ErrExists", err)
	}
	fresh := newRecord("dlv_C")
	if err := s.RecordSuccess(ctx, fresh, deliverylog.Attempt{Attempt: 1, At: time.Now(), StatusCode: 200}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, "dlr_1", sub, "dlv_C", true)
	if got.Status != deliverylog.StatusSucceeded || got.AttemptCount != 1 || got.RetryOf != "dlv_0" || got.Payload == nil {
		t.Fatalf("record = %+v", got)
	}
}

func TestFinalFailureSkipAndRedrive(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	rec := newRecord("dlv_D")
	if err := s.RecordFailure(ctx, rec, deliverylog.Attempt{Attempt: 4, At: time.Now(), ErrorClass: deliverylog.ClassConnection, Error: "connection refused"}, true); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, "dlr_1", sub, "dlv_D", true)
	if got.Status != deliverylog.StatusFailed || got.LastStatusCode != 0 || got.LastError != "connection refused" {
		t.Fatalf("record = %+v", got)
	}
	// redriven from the DLQ: attempts restart at 1 and are appended, status back to pending;
	// an agent flow's progress is kept for the next attempt
	got.Progress = map[string]string{"leadId": "L-1"}
	if err := s.RecordFailure(ctx, got, deliverylog.Attempt{Attempt: 1, At: time.Now(), StatusCode: 502, ErrorClass: deliverylog.ClassHTTPStatus, Error: "HTTP 502"}, false); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(ctx, "dlr_1", sub, "dlv_D", true)
	if got.Status != deliverylog.StatusPending || got.AttemptCount != 2 || got.Attempts[1].Attempt != 1 || got.LastStatusCode != 502 || got.Progress["leadId"] != "L-1" {
		t.Fatalf("record = %+v", got)
	}

	skip := newRecord("dlv_E")
	if err := s.RecordSkipped(ctx, skip, "subscription is disabled"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(ctx, "dlr_1", sub, "dlv_E", true)
	if got.Status != deliverylog.StatusSkipped || got.AttemptCount != 0 || got.LastError != "subscription is disabled" || string(got.Payload) != string(skip.Payload) {
		t.Fatalf("record = %+v", got)
	}
}

func TestListNewestFirstFilteredPaginated(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	base := time.Now()
	var ids []string
	for i := range 12 {
		id := deliveryq.DeliveryID(fmt.Sprint("evt_", i), base.Add(time.Duration(i)*time.Second), sub)
		ids = append(ids, id)
		rec := newRecord(id)
		var err error
		if i%3 == 0 {
			err = s.RecordFailure(ctx, rec, deliverylog.Attempt{Attempt: 4, At: base, StatusCode: 500, Error: "HTTP 500"}, true)
		} else {
			err = s.RecordSuccess(ctx, rec, deliverylog.Attempt{Attempt: 1, At: base, StatusCode: 200})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// another target's deliveries are not listed
	other := newRecord("dlv_other")
	other.Target = deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}
	if err := s.RecordSuccess(ctx, other, deliverylog.Attempt{Attempt: 1, At: base, StatusCode: 200}); err != nil {
		t.Fatal(err)
	}

	collect := func(status string, limit int) (pages [][]string) {
		cursor := ""
		for {
			items, next, err := s.List(ctx, "dlr_1", sub, status, limit, cursor)
			if err != nil {
				t.Fatal(err)
			}
			var page []string
			for _, r := range items {
				if r.Attempts != nil || r.Payload != nil || r.Target != sub || (status != "" && r.Status != status) {
					t.Fatalf("listed record %+v", r)
				}
				page = append(page, r.DeliveryID)
			}
			pages = append(pages, page)
			if next == "" {
				return pages
			}
			cursor = next
		}
	}
	all := collect("", 5)
	if len(all) != 3 || len(all[0]) != 5 || len(all[2]) != 2 {
		t.Fatalf("pages = %v", all)
	}
	flat := append(append(all[0], all[1]...), all[2]...)
	for i, id := range flat {
		if id != ids[len(ids)-1-i] {
			t.Fatalf("order: got %v, want newest first %v", flat, ids)
		}
	}
	failed := collect(deliverylog.StatusFailed, 3)
	if len(failed) < 2 || len(failed[0]) != 3 || failed[0][0] != ids[9] || len(failed[1]) != 1 || failed[1][0] != ids[0] {
		t.Fatalf("failed pages = %v", failed)
	}
	if _, _, err := s.List(ctx, "dlr_1", sub, "", 5, "!!"); !errors.Is(err, deliverylog.ErrInvalidCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func rawItem(t *testing.T, env *localtest.Env, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := env.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.Table(resources.DeliveryLogTable)),
		Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}},
	})
	if err != nil || out.Item == nil {
		t.Fatalf("raw get: %v", err)
	}
	return out.Item
}

// itemSize approximates DynamoDB's item size: names plus values (numbers counted as their text).
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}

func TestMarkRetriedOnce(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if err := s.MarkRetried(ctx, "dlr_1", sub, "dlv_NONE", "dlv_R1"); !errors.Is(err, deliverylog.ErrNotFound) {
		t.Fatalf("mark of a missing delivery: %v, want ErrNotFound", err)
	}
	ok := newRecord("dlv_OK")
	if err := s.RecordSuccess(ctx, ok, deliverylog.Attempt{Attempt: 1, At: time.Now(), StatusCode: 200}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRetried(ctx, "dlr_1", sub, "dlv_OK", "dlv_R1"); !errors.Is(err, deliverylog.ErrNotRetryable) {
		t.Fatalf("mark of a succeeded delivery: %v, want ErrNotRetryable", err)
	}
	failed := newRecord("dlv_F")
	if err := s.RecordFailure(ctx, failed, deliverylog.Attempt{Attempt: 1, At: time.Now(), StatusCode: 500, ErrorClass: deliverylog.ClassHTTPStatus}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRetried(ctx, "dlr_1", sub, "dlv_F", "dlv_R1"); err != nil {
		t.Fatal(err)
	}
	var already *deliverylog.AlreadyRetriedError
	if err := s.MarkRetried(ctx, "dlr_1", sub, "dlv_F", "dlv_R2"); !errors.As(err, &already) || already.By != "dlv_R1" {
		t.Fatalf("second mark: %v, want AlreadyRetriedError naming dlv_R1", err)
	}
	// taking back another retry's mark does nothing; taking back one's own frees the delivery
	if err := s.UnmarkRetried(ctx, "dlr_1", sub, "dlv_F", "dlv_R2"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "dlr_1", sub, "dlv_F", true); err != nil || got.RetriedBy != "dlv_R1" {
		t.Fatalf("after another's unmark: %+v %v", got, err)
	}
	if err := s.UnmarkRetried(ctx, "dlr_1", sub, "dlv_F", "dlv_R1"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRetried(ctx, "dlr_1", sub, "dlv_F", "dlv_R3"); err != nil {
		t.Fatalf("mark after the unmark: %v", err)
	}
	recs, _, err := s.List(ctx, "dlr_1", sub, deliverylog.StatusFailed, 10, "")
	if err != nil || len(recs) != 1 || recs[0].RetriedBy != "dlv_R3" {
		t.Fatalf("list: %+v %v", recs, err)
	}
}

// TestFilteredListBoundsItsWork: with a status filter one List reads at most ScanLimit items;
// a history of few matches is read in short pages that continue with the cursor, and every
// match is found once. A cursor that is not one List made is ErrInvalidCursor, whatever its
// bytes (DynamoDB never sees it).
func TestFilteredListBoundsItsWork(t *testing.T) {
	s, env := newStore(t)
	ctx := context.Background()
	base := time.Now()
	var failed []string
	for i := range 25 {
		id := deliveryq.DeliveryID(fmt.Sprint("evt_", i), base.Add(time.Duration(i)*time.Second), sub)
		rec := newRecord(id)
		var err error
		if i == 2 || i == 20 {
			failed = append([]string{id}, failed...) // newest first
			err = s.RecordFailure(ctx, rec, deliverylog.Attempt{Attempt: 4, At: base, StatusCode: 500}, true)
		} else {
			err = s.RecordSuccess(ctx, rec, deliverylog.Attempt{Attempt: 1, At: base, StatusCode: 200})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	counting := &countingQuery{DynamoDBAPI: env.DynamoDB}
	s = deliverylog.NewStore(counting, env.Table(resources.DeliveryLogTable))
	s.ScanLimit = 10
	var found []string
	cursor, calls := "", 0
	for {
		before := counting.scanned
		items, next, err := s.List(ctx, "dlr_1", sub, deliverylog.StatusFailed, 50, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if read := counting.scanned - before; read > 10 {
			t.Fatalf("one List read %d items, want at most the scan limit 10", read)
		}
		for _, r := range items {
			found = append(found, r.DeliveryID)
		}
		calls++
		if next == "" {
			break
		}
		cursor = next
	}
	if calls != 3 || fmt.Sprint(found) != fmt.Sprint(failed) {
		t.Fatalf("%d calls found %v, want 3 calls (25 items, 10 a call) finding %v", calls, found, failed)
	}
	for _, bad := range []string{"!!", "_w", "ZGx2X3g", "ZGx2X_-A", "c3ViXzAxSkRRN1o0WDhNMks5VjZUM1I1TjFQMEFC"} {
		if _, _, err := s.List(ctx, "dlr_1", sub, deliverylog.StatusFailed, 5, bad); !errors.Is(err, deliverylog.ErrInvalidCursor) {
			t.Errorf("cursor %q: %v, want ErrInvalidCursor", bad, err)
		}
		if _, _, err := s.ListFailed(ctx, "dlr_1", sub, base, 5, 10, bad); !errors.Is(err, deliverylog.ErrInvalidCursor) {
			t.Errorf("ListFailed cursor %q: %v, want ErrInvalidCursor", bad, err)
		}
	}
}

// countingQuery counts the items the table's Queries read.
type countingQuery struct {
	deliverylog.DynamoDBAPI
	scanned int
}

func (c *countingQuery) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.DynamoDBAPI.Query(ctx, in, optFns...)
	if err == nil {
		c.scanned += int(out.ScannedCount)
	}
	return out, err
}
