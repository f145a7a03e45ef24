package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/vinsolutions"
)

// TestTheConnectorDeliversToTheFake: the demo fake takes what the real VinSolutions connector
// sends (so the walk-through of docs/agents.md works) and prints it.
func TestTheConnectorDeliversToTheFake(t *testing.T) {
	var out bytes.Buffer
	srv := httptest.NewServer(newFake("demo-client", "demo-secret", "demo-api-key", 0, &out))
	defer srv.Close()
	raw, _ := events.Example(events.TypeLeadCreated)
	ev, err := events.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := vinsolutions.New(oauth.NewCache()).Deliver(context.Background(), &connector.Delivery{
		Event: ev, DealerID: ev.DealerID, Attempt: 1, HTTP: srv.Client(),
		Settings: map[string]string{"baseUrl": srv.URL, "tokenUrl": srv.URL + "/connect/token",
			"dealerId": "5001", "userId": "7001", "leadSourceId": "9001", "leadType": "INTERNET"},
		Credentials: map[string]string{"clientId": "demo-client", "clientSecret": "demo-secret", "apiKey": "demo-api-key"},
	})
	if err != nil || res.Skipped || res.Correlation["leadId"] == "" {
		t.Fatalf("deliver: %+v %v", res, err)
	}
	for _, want := range []string{"POST /connect/token", "POST /gateway/v1/contact?dealerId=5001&userId=7001", "POST /leads?",
		"POST /vehicles/interest?", "PUT /leads/id/", `"FirstName": "Ana"`, "token: ok  api_key: ok"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "demo-secret") || strings.Contains(out.String(), "demo-api-key") {
		t.Errorf("the output shows a credential:\n%s", out.String())
	}

	// a call without a token is refused
	req, _ := http.NewRequest("POST", srv.URL+"/leads", strings.NewReader(`{}`))
	req.Header.Set("api_key", "demo-api-key")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
}
