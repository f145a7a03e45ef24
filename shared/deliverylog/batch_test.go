package deliverylog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/deliverylog"
)

func TestGetMany(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	// 120 keys: two BatchGetItem calls; every third delivery exists; one key given twice
	var keys []deliverylog.Key
	for i := range 120 {
		id := fmt.Sprintf("dlv_%03d", i)
		if i%3 == 0 {
			if err := s.RecordSuccess(ctx, newRecord(id), deliverylog.Attempt{Attempt: 1, At: time.Now(), StatusCode: 200}); err != nil {
				t.Fatal(err)
			}
		}
		keys = append(keys, deliverylog.Key{DealerID: "dlr_1", Target: sub, DeliveryID: id})
	}
	keys = append(keys, keys[3])
	recs, err := s.GetMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		want := i%3 == 0 || i == 120
		if (recs[i] != nil) != want {
			t.Fatalf("key %d (%s): record %+v, want found=%v", i, k.DeliveryID, recs[i], want)
		}
		if recs[i] == nil {
			continue
		}
		single, err := s.Get(ctx, k.DealerID, k.Target, k.DeliveryID, false)
		if err != nil || recs[i].DeliveryID != k.DeliveryID || recs[i].Status != deliverylog.StatusSucceeded ||
			recs[i].DealerID != "dlr_1" || recs[i].Target != sub || recs[i].EventID != single.EventID || len(recs[i].Attempts) != 1 {
			t.Fatalf("key %d: %+v, Get: %+v %v", i, recs[i], single, err)
		}
	}
	if recs[3] == recs[120] {
		t.Fatal("a key given twice shares one record")
	}
	if _, err := s.GetMany(ctx, []deliverylog.Key{{DealerID: "dlr_1", Target: sub}}); err == nil {
		t.Fatal("GetMany of a key without delivery id: no error")
	}
}

func TestRecordSuccessesWritesWhatRecordSuccessWrites(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	at := time.Now().Truncate(time.Millisecond).UTC()
	ok := deliverylog.Attempt{Attempt: 1, At: at, StatusCode: 204, DurationMs: 7, ResponseSnippet: "not kept"}

	// a delivery that failed once and is read back: its success appends the attempt
	retried := newRecord("dlv_R")
	if err := s.RecordFailure(ctx, retried, deliverylog.Attempt{Attempt: 1, At: at, StatusCode: 500, ErrorClass: deliverylog.ClassHTTPStatus, Error: "HTTP 500"}, false); err != nil {
		t.Fatal(err)
	}
	retried, err := s.Get(ctx, "dlr_1", sub, "dlv_R", true)
	if err != nil {
		t.Fatal(err)
	}
	// 30 first attempts (two BatchWriteItem calls), one of them given twice
	var recs []*deliverylog.Record
	var attempts []deliverylog.Attempt
	for i := range 30 {
		recs = append(recs, newRecord(fmt.Sprintf("dlv_%02d", i)))
		attempts = append(attempts, ok)
	}
	recs = append(recs, newRecord("dlv_05"), retried)
	second := ok
	second.Attempt = 2
	attempts = append(attempts, ok, second)
	for i, err := range s.RecordSuccesses(ctx, recs, attempts) {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}

	// the reference: RecordSuccess of the same first attempt
	if err := s.RecordSuccess(ctx, newRecord("dlv_ref"), ok); err != nil {
		t.Fatal(err)
	}
	ref, _ := s.Get(ctx, "dlr_1", sub, "dlv_ref", true)
	for i := range 30 {
		id := fmt.Sprintf("dlv_%02d", i)
		got, err := s.Get(ctx, "dlr_1", sub, id, true)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		wantCount := 1
		if id == "dlv_05" {
			wantCount = 2 // the copy was recorded alone: its put found the item and appended
		}
		if got.Status != ref.Status || got.AttemptCount != wantCount || got.LastStatusCode != ref.LastStatusCode || got.Payload != nil ||
			got.EventID != "evt_"+id || !got.CreatedAt.Equal(recs[i].CreatedAt) || got.Attempts[0] != ref.Attempts[0] {
			t.Fatalf("%s = %+v, want like %+v", id, got, ref)
		}
	}
	got, _ := s.Get(ctx, "dlr_1", sub, "dlv_R", true)
	if got.Status != deliverylog.StatusSucceeded || got.AttemptCount != 2 || len(got.Attempts) != 2 || got.Attempts[1].StatusCode != 204 {
		t.Fatalf("retried delivery = %+v", got)
	}
}
