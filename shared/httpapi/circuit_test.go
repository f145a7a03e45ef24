package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/circuit"
	"github.com/dealerai/integrations/shared/deliveryq"
)

// GET /v1/subscriptions/{id} shows the endpoint's circuit breaker: closed when it never opened,
// open with its failures, times and last error as the delivery function stored it. Each
// response is checked against the OpenAPI document.
func TestSubscriptionShowsItsCircuit(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	sub := at.create("dlr_1", map[string]any{"url": "https://hooks.example.com/dealerai", "events": []string{"*"}})
	path := "/v1/subscriptions/" + sub["id"].(string)

	type view struct {
		Circuit *struct {
			State                       string
			Failures                    int
			OpenedAt, ClosedAt, RetryAt *time.Time
			LastError                   *string
		}
	}
	var v view
	r := at.do("GET", path, tok, nil)
	if r.status != http.StatusOK {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	r.json(t, &v)
	if v.Circuit == nil || v.Circuit.State != circuit.Closed || v.Circuit.Failures != 0 || v.Circuit.OpenedAt != nil || v.Circuit.RetryAt != nil {
		t.Fatalf("circuit never opened: %s", r.body)
	}

	opened := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	retry := opened.Add(2 * time.Minute)
	target := deliveryq.Target{Kind: deliveryq.KindSubscription, ID: sub["id"].(string)}
	st := circuit.State{State: circuit.Open, Failures: 6, OpenedAt: &opened, RetryAt: &retry, Cooldown: 2 * time.Minute,
		LastError: "no response within the attempt's timeout", UpdatedAt: opened, Version: 1}
	if err := at.circuits.Put(context.Background(), "dlr_1", target, st, 0); err != nil {
		t.Fatal(err)
	}
	r = at.do("GET", path, tok, nil)
	v = view{}
	r.json(t, &v)
	if r.status != http.StatusOK || v.Circuit == nil || v.Circuit.State != circuit.Open || v.Circuit.Failures != 6 ||
		!v.Circuit.OpenedAt.Equal(opened) || !v.Circuit.RetryAt.Equal(retry) || v.Circuit.LastError == nil {
		t.Fatalf("open circuit: %d %s", r.status, r.body)
	}
	// Another dealer's circuit of the same id is not this one's.
	if err := at.circuits.Put(context.Background(), "dlr_2", target, circuit.State{State: circuit.Open, Version: 1}, 0); err != nil {
		t.Fatal(err)
	}
	if r := at.do("GET", path, at.token("dlr_2"), nil); r.status != http.StatusNotFound {
		t.Fatalf("other dealer: %d", r.status)
	}
}

// GET /v1/agents/{platform} shows the circuit breaker of the agent's deliveries to its
// platform, the dealer's own, checked against the OpenAPI document.
func TestAgentShowsItsCircuit(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	path := "/v1/agents/vinsolutions"
	type view struct {
		Circuit *struct {
			State     string
			Failures  int
			LastError *string
		}
	}
	var v view
	r := at.do("GET", path, tok, nil)
	r.json(t, &v)
	if r.status != http.StatusOK || v.Circuit == nil || v.Circuit.State != circuit.Closed {
		t.Fatalf("closed circuit: %d %s", r.status, r.body)
	}
	opened := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	retry := opened.Add(time.Minute)
	target := deliveryq.Target{Kind: deliveryq.KindAgent, ID: "vinsolutions"}
	if err := at.circuits.Put(context.Background(), "dlr_2", target, circuit.State{State: circuit.Open, Failures: 9, Version: 1}, 0); err != nil {
		t.Fatal(err)
	}
	st := circuit.State{State: circuit.Open, Failures: 5, OpenedAt: &opened, RetryAt: &retry, LastError: "503 from the platform", UpdatedAt: opened, Version: 1}
	if err := at.circuits.Put(context.Background(), "dlr_1", target, st, 0); err != nil {
		t.Fatal(err)
	}
	v = view{}
	r = at.do("GET", path, tok, nil)
	r.json(t, &v)
	if r.status != http.StatusOK || v.Circuit == nil || v.Circuit.State != circuit.Open || v.Circuit.Failures != 5 ||
		v.Circuit.LastError == nil || *v.Circuit.LastError != "503 from the platform" {
		t.Fatalf("open circuit: %d %s", r.status, r.body)
	}
}
