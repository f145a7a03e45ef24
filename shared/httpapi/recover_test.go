package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/httpapi"
)

type recoverJSON struct {
	Queued     int
	NextCursor *string
}

// POST .../recover queues again each delivery that failed since the time and was not retried,
// once: a new delivery with retryOf the original, marked retriedBy on it; a second call queues
// nothing; bad input is a problem naming the field. Responses are checked against the
// OpenAPI document.
func TestRecoverSubscription(t *testing.T) {
	at := newAPITest(t, func(o *httpapi.Options) { o.RecoverBatch = 2 })
	tok := at.token("dlr_1")
	sub := at.create("dlr_1", nil)
	id := sub["id"].(string)
	path := "/v1/subscriptions/" + id + "/recover"
	target := deliveryq.Target{Kind: deliveryq.KindSubscription, ID: id}

	// Failed before the outage (its last attempt 3 h ago): not recovered.
	at.log.Now = func() time.Time { return time.Now().Add(-3 * time.Hour) }
	old := at.seedDelivery("dlr_1", id, deliverylog.StatusFailed)
	at.log.Now = time.Now
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	var failed []string
	for range 3 {
		failed = append(failed, at.seedDelivery("dlr_1", id, deliverylog.StatusFailed))
	}
	at.seedDelivery("dlr_1", id, deliverylog.StatusSucceeded)
	at.seedDelivery("dlr_1", id, deliverylog.StatusSkipped)
	retried := at.seedDelivery("dlr_1", id, deliverylog.StatusFailed)
	if r := at.do("POST", "/v1/subscriptions/"+id+"/deliveries/"+retried+"/retry", tok, nil); r.status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	at.receive(1)

	// Two per call (RecoverBatch 2 here): a cursor continues.
	var got recoverJSON
	r := at.do("POST", path, tok, `{"since":"`+since+`"}`)
	r.json(t, &got)
	if r.status != http.StatusAccepted || got.Queued != 2 || got.NextCursor == nil {
		t.Fatalf("recover: %d %s", r.status, r.body)
	}
	cursor, _ := json.Marshal(*got.NextCursor)
	r = at.do("POST", path, tok, `{"since":"`+since+`","cursor":`+string(cursor)+`}`)
	got = recoverJSON{}
	r.json(t, &got)
	if r.status != http.StatusAccepted || got.Queued != 1 {
		t.Fatalf("recover, continued: %d %s", r.status, r.body)
	}
	if got.NextCursor != nil { // a last call past the end confirms it
		c, _ := json.Marshal(*got.NextCursor)
		r = at.do("POST", path, tok, `{"since":"`+since+`","cursor":`+string(c)+`}`)
		got = recoverJSON{}
		r.json(t, &got)
		if got.Queued != 0 || got.NextCursor != nil {
			t.Fatalf("recover past the end: %s", r.body)
		}
	}

	var retryOf []string
	for _, m := range at.receive(3) {
		msg, err := deliveryq.Decode(aws.ToString(m.Body))
		if err != nil {
			t.Fatal(err)
		}
		orig, err := at.log.Get(context.Background(), "dlr_1", target, msg.RetryOf, true)
		if err != nil {
			t.Fatal(err)
		}
		if orig.RetriedBy != msg.DeliveryID || msg.EventID != orig.EventID || string(msg.Payload) != string(orig.Payload) {
			t.Errorf("recovered %s: original %+v", msg.DeliveryID, orig)
		}
		rec, err := at.log.Get(context.Background(), "dlr_1", target, msg.DeliveryID, true)
		if err != nil || rec.Status != deliverylog.StatusPending || rec.RetryOf != msg.RetryOf {
			t.Errorf("new delivery %s: %+v %v", msg.DeliveryID, rec, err)
		}
		retryOf = append(retryOf, msg.RetryOf)
	}
	slices.Sort(retryOf)
	slices.Sort(failed)
	if !slices.Equal(retryOf, failed) {
		t.Errorf("recovered %v, want %v (not %s, failed before since)", retryOf, failed, old)
	}

	// Again: nothing left to recover.
	r = at.do("POST", path, tok, `{"since":"`+since+`"}`)
	got = recoverJSON{}
	r.json(t, &got)
	if r.status != http.StatusAccepted || got.Queued != 0 {
		t.Fatalf("second recover: %d %s", r.status, r.body)
	}

	for body, field := range map[string]string{
		`{}`:                                     "since",
		`{"since":"yesterday"}`:                  "since",
		`{"since":"2026-12-01"}`:                 "since",
		`{"since":"2999-01-01T00:00:00Z"}`:       "since",
		`{"since":"` + since + `","cursor":"x"}`: "cursor",
	} {
		p := at.do("POST", path, tok, body).problem(t, http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Field != field {
			t.Errorf("%s: %+v", body, p)
		}
	}
	if r := at.do("POST", path, tok, `{"since":"`+since+`","extra":1}`); r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
		t.Errorf("unknown member: %d", r.status)
	}
	// Another dealer's subscription is not found; a disabled one is 409.
	if r := at.do("POST", path, at.token("dlr_2"), `{"since":"`+since+`"}`); r.status != http.StatusNotFound {
		t.Errorf("other dealer: %d", r.status)
	}
	if r := at.do("PATCH", "/v1/subscriptions/"+id, tok, `{"enabled":false}`, header{"Content-Type", "application/merge-patch+json"}); r.status != http.StatusOK {
		t.Fatalf("disable: %d", r.status)
	}
	if p := at.do("POST", path, tok, `{"since":"`+since+`"}`).problem(t, http.StatusConflict); !strings.Contains(p.Title+p.Detail, "disabled") {
		t.Errorf("disabled: %+v", p)
	}
}

// An agent's failed deliveries are recovered the same way.
func TestRecoverAgent(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	body, _ := json.Marshal(validAgentPut("xtime"))
	if r := at.do("PUT", "/v1/agents/xtime", tok, string(body)); r.status != http.StatusOK && r.status != http.StatusCreated {
		t.Fatalf("put agent: %d %s", r.status, r.body)
	}
	dlv := at.seedTargetDelivery("dlr_1", deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}, deliverylog.StatusFailed, "timeout")
	var got recoverJSON
	r := at.do("POST", "/v1/agents/xtime/recover", tok, `{"since":"`+time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)+`"}`)
	r.json(t, &got)
	if r.status != http.StatusAccepted || got.Queued != 1 || got.NextCursor != nil {
		t.Fatalf("recover: %d %s", r.status, r.body)
	}
	msg, err := deliveryq.Decode(aws.ToString(at.receive(1)[0].Body))
	if err != nil || msg.RetryOf != dlv || msg.Target.Kind != deliveryq.KindAgent {
		t.Fatalf("queued %+v %v", msg, err)
	}
	if r := at.do("POST", "/v1/agents/fortellis/recover", tok, `{"since":"2026-01-01T00:00:00Z"}`); r.status != http.StatusConflict {
		t.Errorf("an agent never configured: %d %s", r.status, r.body)
	}
}
