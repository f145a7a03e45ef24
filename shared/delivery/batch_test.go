package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dealerai/integrations/shared/delivery"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
)

// batchLog is a fakeLog that records how the handler read and recorded many deliveries per call.
type batchLog struct {
	fakeLog
	gets      [][]deliverylog.Key
	successes [][]string // delivery ids per RecordSuccesses call
	at        []time.Time
	singles   []string // delivery ids recorded by RecordSuccess
}

func (b *batchLog) GetMany(_ context.Context, keys []deliverylog.Key) ([]*deliverylog.Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gets = append(b.gets, keys)
	return make([]*deliverylog.Record, len(keys)), nil
}

func (b *batchLog) RecordSuccesses(_ context.Context, recs []*deliverylog.Record, _ []deliverylog.Attempt) []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.DeliveryID)
	}
	b.successes, b.at = append(b.successes, ids), append(b.at, time.Now())
	return make([]error, len(recs))
}

func (b *batchLog) RecordSuccess(_ context.Context, rec *deliverylog.Record, _ deliverylog.Attempt) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.singles = append(b.singles, rec.DeliveryID)
	return nil
}

var _ delivery.LogStore = (*batchLog)(nil)

func batchOf(t *testing.T, n int, edit func(i int, m *deliveryq.Message)) events.SQSEvent {
	t.Helper()
	var ev events.SQSEvent
	for i := range n {
		m := deliveryq.Message{DeliveryID: fmt.Sprint("dlv_", i), EventID: fmt.Sprint("evt_", i), EventType: "lead.created", DealerID: "dlr_1",
			Target: subTarget, CreatedAt: time.Now(), Payload: json.RawMessage(`{"eventType":"lead.created"}`)}
		if edit != nil {
			edit(i, &m)
		}
		b, _ := json.Marshal(m)
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprint("m", i), ReceiptHandle: fmt.Sprint("rh", i), Body: string(b),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
	}
	return ev
}

func TestBatchReadsOnceAndWritesSuccessesTogether(t *testing.T) {
	h, _, q := setup(t, subTarget, func(w http.ResponseWriter, r *http.Request) {})
	lg := &batchLog{}
	h.Log = lg
	// a manual retry and a test send have a pending record the API made: recorded alone
	ev := batchOf(t, 10, func(i int, m *deliveryq.Message) {
		switch i {
		case 3:
			m.RetryOf = "dlv_old"
		case 7:
			m.Test = true
		}
	})
	resp, _ := h.Handle(context.Background(), ev)
	if len(resp.BatchItemFailures) != 0 || len(q.visibility) != 0 {
		t.Fatalf("resp = %v, visibility %v", resp.BatchItemFailures, q.visibility)
	}
	if len(lg.gets) != 1 || len(lg.gets[0]) != 10 {
		t.Fatalf("reads = %v, want one of 10 keys", lg.gets)
	}
	if len(lg.successes) != 1 || len(lg.successes[0]) != 8 {
		t.Fatalf("batched successes = %v, want one call of 8", lg.successes)
	}
	if len(lg.singles) != 2 {
		t.Fatalf("successes recorded alone = %v, want the retry and the test send", lg.singles)
	}
}

func TestSlowRecordDoesNotHoldTheOthersSuccesses(t *testing.T) {
	lg := &batchLog{}
	writtenFirst := make(chan bool, 1)
	h, _, _ := setup(t, subTarget, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("DealerAI-Delivery-Id") != "dlv_0" {
			return
		}
		// the slow endpoint answers once the four others' successes are written (or gives up)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			lg.mu.Lock()
			n := 0
			for _, ids := range lg.successes {
				n += len(ids)
			}
			lg.mu.Unlock()
			if n == 4 {
				writtenFirst <- true
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		writtenFirst <- false
	})
	h.Timeout = 10 * time.Second
	h.Log = lg
	resp, _ := h.Handle(context.Background(), batchOf(t, 5, nil))
	if len(resp.BatchItemFailures) != 0 || !<-writtenFirst {
		t.Fatalf("resp = %v, successes = %v: the fast successes waited for the slow record", resp.BatchItemFailures, lg.successes)
	}
	last := lg.successes[len(lg.successes)-1]
	if len(last) != 1 || last[0] != "dlv_0" {
		t.Fatalf("successes = %v, want the slow one written last, alone", lg.successes)
	}
}
