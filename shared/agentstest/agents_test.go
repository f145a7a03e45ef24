package agentstest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/internal/agenttest"
	"github.com/dealerai/integrations/shared/resources"
)

// The credentials of the fakes: distinctive values, so the leak check cannot miss them.
var (
	vsCreds = map[string]string{"clientId": "vs-client-e2e-7d1", "clientSecret": "vs-secret-e2e-44b9", "apiKey": "vs-apikey-e2e-0c2f"}
	xtCreds = map[string]string{"clientId": "xt-client-e2e-3a8", "clientSecret": "xt-secret-e2e-91fe", "apiKey": "xt-apikey-e2e-5d60"}
	dsCreds = map[string]string{"directLeadKey": "ds-leadkey-e2e-2f", "username": "ds-user-e2e", "password": "ds-pass-e2e-8e8e",
		"publicKey": "ds-public-e2e-6b", "secretKey": "ds-secret-e2e-1c1c"}
	ftCreds = map[string]string{"apiKey": "ft-apikey-e2e-4e4e", "apiSecret": "ft-apisecret-e2e-9a9a"}
)

const settle = time.Second // how long to wait for anything more (which would be a duplicate)

func paths(reqs []agenttest.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Method + " " + r.Path
	}
	return out
}

// TestDealerSocketLeadThenAppointments: a lead and then its appointments reach DealerSocket
// (Fortellis's flows are in fortellis_test.go).
func TestDealerSocketLeadThenAppointments(t *testing.T) {
	s := newStack(t)
	ds := newFakeDealerSocket(t, dsCreds)
	s.enable("dealersocket", ds.settings(), dsCreds)

	lead, leadEv := example(t, "lead.created", nil)
	s.publish(lead)
	s.waitRecord("dealersocket", leadEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	sales, salesEv := example(t, "appointment.created", nil)
	service, serviceEv := example(t, "appointment.created", map[string]any{"eventId": "evt_01JDQ9SERV1CE000000000000B",
		"appointmentType": "service", "appointmentId": "apt_svc_2", "serviceType": "Brakes"})
	s.publish(sales, service)
	s.waitRecord("dealersocket", salesEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	s.waitRecord("dealersocket", serviceEv, 30*time.Second, status(deliverylog.StatusSucceeded))

	// DealerSocket: the ADF lead, then one activity per appointment on that lead
	leads := ds.Requests("/DSOEMLead/US/DCP/ADF/1/SalesLead/" + dsCreds["directLeadKey"])
	activities := ds.Requests("/api/DealerSocket/Activity")
	if len(leads) != 1 || len(activities) != 2 || len(ds.Requests("")) != 3 {
		t.Fatalf("dealersocket requests %v", paths(ds.Requests("")))
	}
	if !strings.Contains(string(leads[0].Body), "<adf>") || !strings.Contains(string(leads[0].Body), "Diaz") {
		t.Errorf("ADF lead %s", leads[0].Body)
	}
	if ev, acts := ds.Events(), ds.Activities(); len(ev) != 1 || len(acts) != 2 || acts[0].EventID != ev[0].EventID || acts[1].EntityID != ev[0].EntityID {
		t.Errorf("dealersocket events %+v, activities %+v", ev, acts)
	}
}

// TestFailingPlatformFourAttemptsThenTheDLQ: a platform answering 500 gets exactly four
// attempts, the delivery ends failed in the log and its message in the deliveries DLQ, as
// for webhooks; a manual retry through the API delivers it once the platform is back.
func TestFailingPlatformFourAttemptsThenTheDLQ(t *testing.T) {
	s := newStack(t)
	f := newFakeVinSolutions(t, vsCreds)
	f.failPath("/gateway/v1/contact", http.StatusInternalServerError)
	s.enable("vinsolutions", f.settings(), vsCreds)

	lead, ev := example(t, "lead.created", nil)
	s.publish(lead)
	id := deliveryID("vinsolutions", ev)
	rec := s.waitRecord("vinsolutions", ev, 40*time.Second, status(deliverylog.StatusFailed))
	dlq := s.drain(resources.DeliveriesDLQ, 1)
	if len(dlq) != 1 || aws.ToString(dlq[0].MessageAttributes["deliveryId"].StringValue) != id {
		t.Fatalf("deliveries DLQ = %+v", dlq)
	}
	s.messages.Write([]byte(aws.ToString(dlq[0].Body) + "\n")) // scanned for credentials too
	if m, err := deliveryq.Decode(aws.ToString(dlq[0].Body)); err != nil || string(m.Payload) != string(ev.Body) || m.Target != agentTarget("vinsolutions") {
		t.Fatalf("DLQ message: %v", err)
	}
	if len(rec.Attempts) != 4 || rec.AttemptCount != 4 || rec.LastStatusCode != 500 {
		t.Fatalf("record: %+v", rec)
	}
	for i, a := range rec.Attempts {
		if a.Attempt != i+1 || a.StatusCode != 500 || a.ErrorClass != "http_status" || !strings.Contains(a.Error, "VinSolutions contact search: HTTP 500") ||
			a.ResponseSnippet != `{"message":"internal error"}` {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
	}
	// each failed attempt was logged (through the capture the leak check scans)
	if n := strings.Count(s.logs.String(), `"msg":"delivery attempt failed"`); n != 4 {
		t.Errorf("%d failed attempts logged, want 4", n)
	}
	time.Sleep(settle)
	if n := len(f.Requests("/gateway/v1/contact")); n != 4 || len(f.Requests("")) != 4 {
		t.Fatalf("%d contact requests (%v), want exactly 4", n, paths(f.Requests("")))
	}

	// the same, through the API
	r := s.call("GET", "/v1/agents/vinsolutions/deliveries/"+id, dealer, nil)
	var d struct {
		Status   string
		Attempts []struct {
			StatusCode int
			ErrorClass string
		}
		Payload json.RawMessage
	}
	r.json(t, &d)
	if r.status != http.StatusOK || d.Status != "failed" || len(d.Attempts) != 4 || d.Attempts[3].ErrorClass != "http_status" || len(d.Payload) == 0 {
		t.Fatalf("API delivery: %s", r.body)
	}

	// the platform is back: a manual retry delivers the lead
	f.failPath("/gateway/v1/contact", 0)
	r = s.call("POST", "/v1/agents/vinsolutions/deliveries/"+id+"/retry", dealer, nil)
	var acc struct{ DeliveryID string }
	r.json(t, &acc)
	if r.status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	again := s.waitDelivery("vinsolutions", acc.DeliveryID, 30*time.Second, status(deliverylog.StatusSucceeded))
	if again.RetryOf != id || again.AttemptCount != 1 {
		t.Fatalf("retried delivery: %+v", again)
	}
	if n := len(f.Requests("/leads")); n != 1 {
		t.Fatalf("%d lead requests after the retry", n)
	}
}

// TestExpiredTokenIsRefreshedOnce: a token the platform no longer accepts is replaced within
// the attempt: one 401, one new grant, the delivery succeeds on its first attempt.
func TestExpiredTokenIsRefreshedOnce(t *testing.T) {
	s := newStack(t)
	f := newFakeVinSolutions(t, vsCreds)
	s.enable("vinsolutions", f.settings(), vsCreds)

	first, firstEv := example(t, "lead.created", nil)
	s.publish(first)
	s.waitRecord("vinsolutions", firstEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	if f.issuer.Grants() != 1 || f.deniedCount() != 0 {
		t.Fatalf("first lead: %d grants, %d refusals", f.issuer.Grants(), f.deniedCount())
	}

	before := len(f.Requests(""))
	f.issuer.ExpireAll()
	second, secondEv := example(t, "lead.created", map[string]any{"eventId": "evt_01JDQ9SEC0ND000000000000AA",
		"leadId": "6553f0a2c1e4b8d9a7f31c99", "contactId": "ct_second", "firstName": "Luis"})
	s.publish(second)
	rec := s.waitRecord("vinsolutions", secondEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	if rec.AttemptCount != 1 {
		t.Fatalf("second lead took %d attempts", rec.AttemptCount)
	}
	if f.issuer.Grants() != 2 || f.deniedCount() != 1 {
		t.Fatalf("after expiry: %d grants, %d refusals; want 2 and 1", f.issuer.Grants(), f.deniedCount())
	}
	// the second lead's first request, refused, then sent again with the new token
	if reqs := f.Requests(""); len(reqs) < before+2 || reqs[before].Path != reqs[before+1].Path || reqs[before].Query.Encode() != reqs[before+1].Query.Encode() {
		t.Fatalf("requests after the expiry %v", paths(reqs[before:]))
	}
}

// TestAgentCredentialsStayWriteOnly: through every read of the API the credentials never
// appear (the stack's cleanup also scans every response, log line and message).
func TestAgentCredentialsStayWriteOnly(t *testing.T) {
	s := newStack(t)
	f := newFakeXTime(t, xtCreds)
	s.enable("xtime", f.settings(), xtCreds)
	service, ev := example(t, "appointment.created", map[string]any{"appointmentType": "service"})
	s.publish(service)
	s.waitRecord("xtime", ev, 30*time.Second, status(deliverylog.StatusSucceeded))

	for _, path := range []string{"/v1/agents", "/v1/agents/xtime", "/v1/agents/xtime/deliveries",
		"/v1/agents/xtime/deliveries/" + deliveryID("xtime", ev)} {
		r := s.call("GET", path, dealer, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		for k, v := range xtCreds {
			if strings.Contains(string(r.body), v) {
				t.Fatalf("%s shows credential %s", path, k)
			}
		}
	}
	var a struct{ CredentialsSet []string }
	s.call("GET", "/v1/agents/xtime", dealer, nil).json(t, &a)
	if !slices.Equal(a.CredentialsSet, []string{"apiKey", "clientId", "clientSecret"}) {
		t.Fatalf("credentialsSet %v", a.CredentialsSet)
	}
	// a PUT without credentials keeps them: the agent still delivers
	if r := s.call("PUT", "/v1/agents/xtime", dealer, map[string]any{"settings": f.settings()}); r.status != http.StatusOK {
		t.Fatalf("PUT without credentials: %d %s", r.status, r.body)
	}
	// DELETE erases: configured again without credentials is refused
	if r := s.call("DELETE", "/v1/agents/xtime", dealer, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d", r.status)
	}
	if r := s.call("PUT", "/v1/agents/xtime", dealer, map[string]any{"settings": f.settings()}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(r.body), "credentials.clientSecret") {
		t.Fatalf("PUT after DELETE without credentials: %d %s", r.status, r.body)
	}
}
