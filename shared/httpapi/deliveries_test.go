package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/httpapi"
	"github.com/dealerai/integrations/shared/resources"
)

// seedDelivery writes a delivery of a lead.created event to subscription id in the given
// status, as the pipeline would, and returns its id.
func (at *apiTest) seedDelivery(dealer, id, status string) string {
	at.t.Helper()
	return at.seedTargetDelivery(dealer, deliveryq.Target{Kind: deliveryq.KindSubscription, ID: id}, status, deliverylog.ClassHTTPStatus)
}

// seedTargetDelivery writes a delivery of a lead.created event to target in the given
// status, its failed attempts of errorClass class, and returns its id.
func (at *apiTest) seedTargetDelivery(dealer string, target deliveryq.Target, status, class string) string {
	at.t.Helper()
	ctx := context.Background()
	raw, _ := events.Example(events.TypeLeadCreated)
	raw = bytes.Replace(raw, []byte(`"evt_01JDQ7Z4X8M2K9V6T3R5N1P0AB"`), []byte(`"`+events.NewEventID()+`"`), 1)
	raw = bytes.Replace(raw, []byte(`"dlr_42"`), []byte(`"`+dealer+`"`), 1)
	ev, err := events.Parse(raw)
	if err != nil {
		at.t.Fatal(err)
	}
	rec := &deliverylog.Record{
		DealerID: dealer, Target: target, DeliveryID: deliveryq.DeliveryID(ev.ID, time.Now(), target),
		EventID: ev.ID, EventType: ev.Type, Payload: ev.Body,
	}
	failed := func(n int, final bool) error {
		return at.log.RecordFailure(ctx, rec, deliverylog.Attempt{
			Attempt: n, At: time.Now(), StatusCode: 500, DurationMs: 12, ErrorClass: class,
			Error: "endpoint answered 500", ResponseSnippet: "oops",
		}, final)
	}
	switch status {
	case deliverylog.StatusPending:
		err = at.log.CreatePending(ctx, rec)
	case deliverylog.StatusSucceeded:
		err = at.log.RecordSuccess(ctx, rec, deliverylog.Attempt{Attempt: 1, At: time.Now(), StatusCode: 200, DurationMs: 8})
	case deliverylog.StatusSkipped:
		err = at.log.RecordSkipped(ctx, rec, "does not apply")
	case deliverylog.StatusFailed:
		for n := 1; n <= 4 && err == nil; n++ {
			err = failed(n, n == 4)
		}
	}
	if err != nil {
		at.t.Fatal(err)
	}
	return rec.DeliveryID
}

// receive takes the messages on the deliveries queue.
func (at *apiTest) receive(want int) []sqstypes.Message {
	at.t.Helper()
	var msgs []sqstypes.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(msgs) < want && time.Now().Before(deadline) {
		out, err := at.env.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(at.env.QueueURL(resources.DeliveriesQueue)), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameMessageGroupId},
		})
		if err != nil {
			at.t.Fatal(err)
		}
		msgs = append(msgs, out.Messages...)
	}
	if len(msgs) != want {
		at.t.Fatalf("%d messages on the deliveries queue, want %d", len(msgs), want)
	}
	return msgs
}

type deliveryJSON struct {
	DeliveryID, EventID, EventType, Status string
	Target                                 deliveryq.Target
	AttemptCount                           int
	LastStatusCode                         *int
	LastError, RetryOf, RetriedBy          *string
	CreatedAt, UpdatedAt                   time.Time
	Attempts                               []struct {
		Attempt, StatusCode int
		ErrorClass, Error   string
		ResponseSnippet     string
	}
	Payload json.RawMessage
}

func TestDeliveryLog(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	id := at.create("dlr_1", nil)["id"].(string)
	ids := map[string]string{}
	for _, s := range []string{"succeeded", "failed", "skipped", "pending"} {
		ids[s] = at.seedDelivery("dlr_1", id, s)
		time.Sleep(2 * time.Millisecond) // distinct ULID times: a defined order
	}
	base := "/v1/subscriptions/" + id + "/deliveries"

	var page struct {
		Items      []deliveryJSON
		NextCursor *string
	}
	at.do("GET", base, tok, nil).json(t, &page)
	if len(page.Items) != 4 || page.NextCursor != nil {
		t.Fatalf("%d deliveries", len(page.Items))
	}
	if page.Items[0].DeliveryID != ids["pending"] || page.Items[3].DeliveryID != ids["succeeded"] {
		t.Fatalf("not newest first: %+v", page.Items)
	}
	for _, d := range page.Items {
		if d.Target.Kind != "subscription" || d.Target.ID != id || d.EventType != "lead.created" || d.Attempts != nil || d.Payload != nil {
			t.Fatalf("list item %+v", d)
		}
	}

	at.do("GET", base+"?status=failed", tok, nil).json(t, &page)
	if len(page.Items) != 1 || page.Items[0].DeliveryID != ids["failed"] || page.Items[0].AttemptCount != 4 ||
		*page.Items[0].LastStatusCode != 500 || page.Items[0].Status != "failed" {
		t.Fatalf("?status=failed: %+v", page.Items)
	}
	at.do("GET", base+"?limit=3", tok, nil).json(t, &page)
	if len(page.Items) != 3 || page.NextCursor == nil {
		t.Fatalf("limit=3: %d items", len(page.Items))
	}
	at.do("GET", base+"?limit=3&cursor="+*page.NextCursor, tok, nil).json(t, &page)
	if len(page.Items) != 1 || page.Items[0].DeliveryID != ids["succeeded"] || page.NextCursor != nil {
		t.Fatalf("second page: %+v", page.Items)
	}
	if p := at.do("GET", base+"?status=lost", tok, nil).problem(t, http.StatusBadRequest); !hasField(p, "status") {
		t.Fatalf("bad status: %+v", p)
	}
	if p := at.do("GET", base+"?limit=500", tok, nil).problem(t, http.StatusBadRequest); !hasField(p, "limit") {
		t.Fatalf("bad limit: %+v", p)
	}

	var d deliveryJSON
	r := at.do("GET", base+"/"+ids["failed"], tok, nil)
	r.json(t, &d)
	if r.status != http.StatusOK || len(d.Attempts) != 4 || d.Attempts[3].Attempt != 4 || d.Attempts[0].ResponseSnippet != "oops" ||
		d.Attempts[0].ErrorClass != "http_status" || len(d.Payload) == 0 {
		t.Fatalf("failed delivery: %s", r.body)
	}
	if _, err := events.Parse(d.Payload); err != nil {
		t.Fatalf("payload: %v", err)
	}
	var ok deliveryJSON
	r = at.do("GET", base+"/"+ids["succeeded"], tok, nil)
	r.json(t, &ok)
	if r.status != http.StatusOK || ok.Payload != nil || len(ok.Attempts) != 1 || ok.Status != "succeeded" || *ok.LastStatusCode != 200 {
		t.Fatalf("succeeded delivery: %s", r.body)
	}
	at.do("GET", base+"/dlv_01JDQ7Z4X8M2K9V6T3R5N1P0AB", tok, nil).problem(t, http.StatusNotFound)
	at.do("GET", base+"/nonsense", tok, nil).problem(t, http.StatusNotFound)
	at.do("GET", "/v1/subscriptions/sub_01JDQ7Z4X8M2K9V6T3R5N1P0AB/deliveries", tok, nil).problem(t, http.StatusNotFound)
}

func TestRetry(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	sub := at.create("dlr_1", nil)
	id := sub["id"].(string)
	base := "/v1/subscriptions/" + id + "/deliveries/"

	for _, status := range []string{"pending", "succeeded"} {
		p := at.do("POST", base+at.seedDelivery("dlr_1", id, status)+"/retry", tok, nil).problem(t, http.StatusConflict)
		if !strings.Contains(p.Detail, status) {
			t.Fatalf("retry of %s: %+v", status, p)
		}
	}
	at.do("POST", base+"dlv_01JDQ7Z4X8M2K9V6T3R5N1P0AB/retry", tok, nil).problem(t, http.StatusNotFound)

	failedID := at.seedDelivery("dlr_1", id, "failed")
	orig, err := at.log.Get(context.Background(), "dlr_1", deliveryq.Target{Kind: "subscription", ID: id}, failedID, true)
	if err != nil {
		t.Fatal(err)
	}
	r := at.do("POST", base+failedID+"/retry", tok, nil)
	var acc struct{ DeliveryID string }
	r.json(t, &acc)
	if r.status != http.StatusAccepted || !strings.HasPrefix(acc.DeliveryID, "dlv_") || acc.DeliveryID == failedID {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}

	msg := at.receive(1)[0]
	if strings.Contains(*msg.Body, "whsec_") || strings.Contains(*msg.Body, sub["secret"].(string)) {
		t.Fatalf("the message carries a secret: %s", *msg.Body)
	}
	m, err := deliveryq.Decode(*msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	if m.DeliveryID != acc.DeliveryID || m.RetryOf != failedID || m.EventID != orig.EventID || m.EventType != "lead.created" ||
		m.DealerID != "dlr_1" || m.Target != (deliveryq.Target{Kind: "subscription", ID: id}) || m.Test ||
		!bytes.Equal(m.Payload, orig.Payload) {
		t.Fatalf("message %+v", m)
	}
	if g := msg.Attributes["MessageGroupId"]; g != "dlr_1" {
		t.Errorf("MessageGroupId %q, want the dealer's (a fair queue)", g)
	}
	for name, want := range map[string]string{"deliveryId": acc.DeliveryID, "eventId": orig.EventID, "dealerId": "dlr_1",
		"eventType": "lead.created", "target": "subscription/" + id} {
		if got := aws.ToString(msg.MessageAttributes[name].StringValue); got != want {
			t.Errorf("attribute %s = %q, want %q", name, got, want)
		}
	}

	// the new delivery is in the log, pending, pointing at the original
	var d deliveryJSON
	at.do("GET", base+acc.DeliveryID, tok, nil).json(t, &d)
	if d.Status != "pending" || d.RetryOf == nil || *d.RetryOf != failedID || d.EventID != orig.EventID || d.AttemptCount != 0 {
		t.Fatalf("new delivery %+v", d)
	}

	// a delivery is retried once: a second retry names the first, and the original shows it
	p := at.do("POST", base+failedID+"/retry", tok, nil).problem(t, http.StatusConflict)
	if !strings.Contains(p.Detail, acc.DeliveryID) {
		t.Fatalf("second retry: %+v, want the first retry %s named", p, acc.DeliveryID)
	}
	var o deliveryJSON
	at.do("GET", base+failedID, tok, nil).json(t, &o)
	if o.RetriedBy == nil || *o.RetriedBy != acc.DeliveryID {
		t.Fatalf("original after its retry: %+v", o)
	}
	var list struct{ Items []deliveryJSON }
	at.do("GET", "/v1/subscriptions/"+id+"/deliveries?status=failed", tok, nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].RetriedBy == nil || *list.Items[0].RetriedBy != acc.DeliveryID {
		t.Fatalf("list after the retry: %+v", list.Items)
	}

	// concurrent retries of one delivery: one is made, the others are 409
	twiceID := at.seedDelivery("dlr_1", id, "failed")
	statuses := make(chan int, 6)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- at.do("POST", base+twiceID+"/retry", tok, nil).status
		}()
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if got[http.StatusAccepted] != 1 || got[http.StatusConflict] != 5 {
		t.Fatalf("6 concurrent retries answered %v, want one 202 and five 409", got)
	}
	at.receive(1)

	// skipped ones can be retried too; not on a disabled subscription
	if r := at.do("POST", base+at.seedDelivery("dlr_1", id, "skipped")+"/retry", tok, nil); r.status != http.StatusAccepted {
		t.Fatalf("retry of skipped: %d %s", r.status, r.body)
	}
	at.receive(1)
	at.do("PATCH", "/v1/subscriptions/"+id, tok, `{"enabled": false}`)
	at.do("POST", base+failedID+"/retry", tok, nil).problem(t, http.StatusConflict)
}

func TestTestSend(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_7")
	sub := at.create("dlr_7", map[string]any{"url": "https://hooks.example.com/x", "events": []string{"lead.created"}})
	id := sub["id"].(string)
	path := "/v1/subscriptions/" + id + "/test"

	before := time.Now().Add(-time.Second)
	// a type outside the subscription's filter: delivered anyway
	r := at.do("POST", path, tok, `{"eventType": "appointment.created"}`)
	var acc struct{ DeliveryID string }
	r.json(t, &acc)
	if r.status != http.StatusAccepted {
		t.Fatalf("test send: %d %s", r.status, r.body)
	}
	msg := at.receive(1)[0]
	m, err := deliveryq.Decode(*msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	if g := msg.Attributes["MessageGroupId"]; g != "dlr_7" {
		t.Errorf("MessageGroupId %q, want the dealer's (a fair queue)", g)
	}
	if !m.Test || m.DeliveryID != acc.DeliveryID || m.DealerID != "dlr_7" || m.EventType != "appointment.created" || m.RetryOf != "" {
		t.Fatalf("message %+v", m)
	}
	if strings.Contains(*msg.Body, "whsec_") {
		t.Fatalf("the message carries a secret: %s", *msg.Body)
	}
	ev, err := events.Parse(m.Payload)
	if err != nil {
		t.Fatalf("payload does not parse: %v", err)
	}
	if ev.ID != m.EventID || !strings.HasPrefix(ev.ID, "evt_") || ev.ID == "evt_01JDQ7Z4X8M2K9V6T3R5N1P0AB" ||
		ev.DealerID != "dlr_7" || ev.Type != "appointment.created" || ev.Timestamp.Before(before) || !bytes.Equal(ev.Body, m.Payload) {
		t.Fatalf("event %+v", ev)
	}
	var d deliveryJSON
	at.do("GET", "/v1/subscriptions/"+id+"/deliveries/"+acc.DeliveryID, tok, nil).json(t, &d)
	if d.Status != "pending" || d.EventID != ev.ID || len(d.Payload) == 0 {
		t.Fatalf("test delivery in the log: %+v", d)
	}

	for _, c := range []struct {
		body   string
		status int
		field  string
	}{
		{`{"eventType": "lead.*"}`, 422, "eventType"},
		{`{"eventType": "lead.deleted"}`, 422, "eventType"},
		{`{"eventType": 5}`, 422, "eventType"},
		{`{}`, 422, "eventType"},
		{`{"eventType": "lead.created", "dealerId": "dlr_1"}`, 400, "dealerId"},
		{`nope`, 400, ""},
	} {
		if p := at.do("POST", path, tok, c.body).problem(t, c.status); c.field != "" && !hasField(p, c.field) {
			t.Errorf("%s: %+v", c.body, p)
		}
	}
	at.do("POST", "/v1/subscriptions/sub_01JDQ7Z4X8M2K9V6T3R5N1P0AB/test", tok, `{"eventType": "lead.created"}`).problem(t, http.StatusNotFound)
	at.do("PATCH", "/v1/subscriptions/"+id, tok, `{"enabled": false}`)
	at.do("POST", path, tok, `{"eventType": "lead.created"}`).problem(t, http.StatusConflict)
}

// TestEveryOperationValidated: the tests checked a success and an error response of every
// operation of the route table against the OpenAPI document (each apiTest does so for its
// own requests; this test replays a compact tour and checks the coverage).
func TestEveryOperationValidated(t *testing.T) {
	var feedErr error
	at := newAPITest(t, func(o *httpapi.Options) { o.Platforms, _ = withFeed(o.Platforms, &feedErr) })
	tok := at.token("dlr_1")
	sub := at.create("dlr_1", nil)
	id := sub["id"].(string)
	dlv := at.seedDelivery("dlr_1", id, "failed")
	missing := "/v1/subscriptions/sub_01JDQ7Z4X8M2K9V6T3R5N1P0AB"
	agentDlv := at.seedTargetDelivery("dlr_1", deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}, "failed", "auth")
	xtime, _ := json.Marshal(validAgentPut("xtime"))
	fortellis, _ := json.Marshal(validAgentPut("fortellis"))
	inv := validAgentPut("fortellis")
	inv["settings"].(map[string]string)["dealerCode"] = "D1"
	withInventory, _ := json.Marshal(inv)
	vin := stockOf(t, at, "dlr_1", 1, 9)[0].VIN
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/healthz", ""},
		{"GET", "/v1/openapi.json", ""},
		{"GET", "/v1/event-types", ""},
		{"GET", "/v1/subscriptions", ""}, {"GET", "/v1/subscriptions?limit=0", ""},
		{"POST", "/v1/subscriptions", `{"url":"https://hooks.example.com/y","events":["*"]}`}, {"POST", "/v1/subscriptions", `{}`},
		{"GET", "/v1/subscriptions/" + id, ""}, {"GET", missing, ""},
		{"PATCH", "/v1/subscriptions/" + id, `{"description":"x"}`}, {"PATCH", missing, `{"description":"x"}`},
		{"GET", "/v1/subscriptions/" + id + "/secret", ""}, {"GET", missing + "/secret", ""},
		{"POST", "/v1/subscriptions/" + id + "/rotate-secret", ""}, {"POST", missing + "/rotate-secret", ""},
		{"POST", "/v1/subscriptions/" + id + "/test", `{"eventType":"lead.created"}`}, {"POST", missing + "/test", `{"eventType":"lead.created"}`},
		{"GET", "/v1/subscriptions/" + id + "/deliveries", ""}, {"GET", missing + "/deliveries", ""},
		{"GET", "/v1/subscriptions/" + id + "/deliveries/" + dlv, ""}, {"GET", missing + "/deliveries/" + dlv, ""},
		{"POST", "/v1/subscriptions/" + id + "/deliveries/" + dlv + "/retry", ""}, {"POST", missing + "/deliveries/" + dlv + "/retry", ""},
		{"POST", "/v1/subscriptions/" + id + "/recover", `{"since":"2020-01-01T00:00:00Z"}`}, {"POST", "/v1/subscriptions/" + id + "/recover", `{"since":"yesterday"}`},
		{"DELETE", "/v1/subscriptions/" + id, ""}, {"DELETE", missing, ""},
		{"GET", "/v1/agents", ""}, {"GET", "/v1/agents", "-"},
		{"PUT", "/v1/agents/xtime", string(xtime)}, {"PUT", "/v1/agents/xtime", `{"settings":{}}`},
		{"GET", "/v1/agents/xtime", ""}, {"GET", "/v1/agents/crm", ""},
		{"GET", "/v1/agents/xtime/deliveries", ""}, {"GET", "/v1/agents/xtime/deliveries?status=lost", ""},
		{"GET", "/v1/agents/xtime/deliveries/" + agentDlv, ""}, {"GET", "/v1/agents/fortellis/deliveries/" + agentDlv, ""},
		{"POST", "/v1/agents/xtime/deliveries/" + agentDlv + "/retry", ""}, {"POST", "/v1/agents/fortellis/deliveries/" + agentDlv + "/retry", ""},
		{"POST", "/v1/agents/xtime/recover", `{"since":"2020-01-01T00:00:00Z"}`}, {"POST", "/v1/agents/crm/recover", `{"since":"2020-01-01T00:00:00Z"}`},
		{"PUT", "/v1/agents/fortellis", string(fortellis)},
		{"GET", "/v1/inventory", ""}, {"GET", "/v1/inventory?color=red", ""},
		{"PUT", "/v1/agents/fortellis", string(withInventory)},
		{"GET", "/v1/inventory/" + vin, ""}, {"GET", "/v1/inventory/NOSUCHVIN", ""},
		{"GET", "/v1/agents/fortellis/sync", ""}, {"GET", "/v1/agents/crm/sync", ""},
		{"POST", "/v1/agents/fortellis/sync", ""}, {"POST", "/v1/agents/nosuch/sync", ""},
		{"DELETE", "/v1/agents/xtime", ""}, {"DELETE", "/v1/agents/crm", ""},
		{"GET", "/v1/event-types", "-"}, // without a token
		{"GET", "/v1/admin/dealers/dlr_1/entitlements", "admin"}, {"GET", "/v1/admin/dealers/dlr_1/entitlements", ""},
		{"PUT", "/v1/admin/dealers/dlr_1/entitlements", `admin{"platforms":["xtime"]}`}, {"PUT", "/v1/admin/dealers/dlr_1/entitlements", `admin{"platforms":["crm"]}`},
	} {
		token, reqBody := tok, req.body
		if b, ok := strings.CutPrefix(reqBody, "admin"); ok {
			token, reqBody = at.adminToken(), b
		}
		var body any
		if reqBody != "" && reqBody != "-" {
			body = reqBody
		}
		if reqBody == "-" {
			token = ""
		}
		at.do(req.method, req.path, token, body)
	}
	at.noticeTour()
	for _, route := range httpapi.Routes {
		rt := route.OperationID
		statuses := at.openapi.seen[rt]
		ok, failed := false, rt == "getHealth" || rt == "getOpenAPI" // public: no error to provoke
		for s := range statuses {
			ok = ok || s < 300
			failed = failed || s >= 400
		}
		if !ok || !failed {
			t.Errorf("%s: statuses validated %v, want a success and an error", rt, statuses)
		}
	}
}

// TestMalformedCursorIs400: a cursor the list did not make is 400 naming cursor, whatever its
// bytes (invalid UTF-8 would be DynamoDB's ValidationException, a 500, if it reached it).
func TestMalformedCursorIs400(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	id := at.create("dlr_1", nil)["id"].(string)
	for _, q := range []string{"cursor=ZGx2X_-A", "status=failed&cursor=ZGx2X_-A", "status=failed&cursor=ZGx2X3g", "cursor=%FF"} {
		for _, path := range []string{"/v1/subscriptions/" + id + "/deliveries?", "/v1/agents/xtime/deliveries?"} {
			if p := at.do("GET", path+q, tok, nil).problem(t, http.StatusBadRequest); !hasField(p, "cursor") {
				t.Errorf("%s%s: %+v", path, q, p)
			}
		}
	}
}
