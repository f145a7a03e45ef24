package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/vinsolutions"
)

// TestTheWalkThrough: the demo fake takes what the real VinSolutions connector sends, prints
// it, and fails and heals on request with its state kept — the walk-through of
// docs/agents.md#try-it-locally, with the connector in place of the local stack.
func TestTheWalkThrough(t *testing.T) {
	var out bytes.Buffer
	f := newFake("demo-client", "demo-secret", "demo-api-key", 5001, 7001, 9001, &out)
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := vinsolutions.New(oauth.NewCache())
	delivery := func(ev *events.Event, lead map[string]string) *connector.Delivery {
		return &connector.Delivery{
			Event: ev, DealerID: ev.DealerID, Attempt: 1, HTTP: srv.Client(), Lead: lead,
			Settings: map[string]string{"baseUrl": srv.URL, "tokenUrl": srv.URL + "/connect/token",
				"dealerId": "5001", "userId": "7001", "leadSourceId": "9001", "leadType": "INTERNET"},
			Credentials: map[string]string{"clientId": "demo-client", "clientSecret": "demo-secret", "apiKey": "demo-api-key"},
		}
	}

	// the lead
	res, err := c.Deliver(context.Background(), delivery(example(t, events.TypeLeadCreated), nil))
	if err != nil || res.Skipped || res.Correlation["leadId"] != "1002" {
		t.Fatalf("deliver: %+v %v", res, err)
	}
	for _, want := range []string{"POST /connect/token", "GET /gateway/v1/contact?dealerId=5001&email=ana.diaz%40example.com&userId=7001",
		"POST /gateway/v1/contact  Accept: application/json  Content-Type: application/json  token: ok  api_key: ok",
		`"FirstName": "Ana"`, "→ 201 {\"ContactId\":1001}", "POST /leads?dealerId=5001&userId=7001  Accept: application/vnd.coxauto.v3+json",
		"POST /vehicles/interest?dealerId=5001&leadId=1002  Accept: application/vnd.coxauto.v1+json", `"vehicles": [`,
		"GET /leads/id/1002?dealerId=5001&userId=7001", "PUT /leads/id/1002", `"notes": "[2026-11-27 15:04 UTC] DealerAI lead from AutoTrader.`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}

	// a failing CRM: every API call answers 500, until healed
	fail := func(status string) {
		resp, err := srv.Client().Post(srv.URL+"/fake/fail?status="+status, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("fail %s: %d", status, resp.StatusCode)
		}
	}
	appt := example(t, events.TypeAppointmentCreated)
	fail("500")
	_, err = c.Deliver(context.Background(), delivery(appt, res.Correlation))
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.StatusCode != 500 || !strings.Contains(ae.Error(), "VinSolutions lead read: HTTP 500") {
		t.Fatalf("failing: %v", err)
	}
	fail("0")
	if _, err := c.Deliver(context.Background(), delivery(appt, res.Correlation)); err != nil {
		t.Fatalf("healed: %v", err)
	}
	if notes := f.crm.Leads()[0].Notes; !strings.Contains(notes, "DealerAI lead from AutoTrader") || !strings.Contains(notes, "sales appointment created") {
		t.Errorf("notes %q", notes)
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

func example(t *testing.T, eventType string) *events.Event {
	t.Helper()
	raw, _ := events.Example(eventType)
	ev, err := events.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestAChangeInTheFakeIsReadByTheFeed: a person sells a lead and enters a walk-in through the
// fake's /fake routes; VinSolutions' change feed reads both.
func TestAChangeInTheFakeIsReadByTheFeed(t *testing.T) {
	var out bytes.Buffer
	f := newFake("demo-client", "demo-secret", "demo-api-key", 5001, 7001, 9001, &out)
	srv := httptest.NewServer(f)
	defer srv.Close()
	at := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	f.crm.Now = func() time.Time { return at }
	req := &changefeed.Request{DealerID: "dlr_42", MaxRecords: 100, HTTP: srv.Client(), Seen: seen{}, Now: at,
		Settings: vinsolutions.Platform.WithDefaults(map[string]string{"baseUrl": srv.URL, "tokenUrl": srv.URL + "/connect/token",
			"dealerId": "5001", "userId": "7001", "leadSourceId": "9001"}),
		Credentials: map[string]string{"clientId": "demo-client", "clientSecret": "demo-secret", "apiKey": "demo-api-key"}}
	feed := vinsolutions.NewFeed(oauth.NewCache())
	pass := func() []changefeed.Change {
		t.Helper()
		req.Now = req.Now.Add(time.Minute)
		p, err := feed.Changes(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Changes {
			req.Seen.(seen)[c.RecordID] = c.Remember
		}
		req.Cursor = p.Next
		return p.Changes
	}
	pass() // the first sync
	post := func(path string, want int) {
		t.Helper()
		resp, err := srv.Client().Post(srv.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	at = req.Now.Add(10 * time.Second) // after the first sync
	post("/fake/leads?firstName=Mia&lastName=Chen", http.StatusCreated)
	if got := pass(); len(got) != 1 || !got[0].Created || got[0].RecordID != "1002" {
		t.Fatalf("the walk-in: %+v", got)
	}
	post("/fake/leads/1002/status?type=SOLD&status=SOLD_DELIVERED", http.StatusNoContent)
	if got := pass(); len(got) != 1 || got[0].State.Status != "SOLD" || got[0].State.SubStatus != "SOLD_DELIVERED" {
		t.Fatalf("the sale: %+v", got)
	}
	post("/fake/leads/999/status?type=SOLD&status=SOLD_DELIVERED", http.StatusNotFound)
	post("/fake/leads/1002/status", http.StatusBadRequest)
	if !strings.Contains(out.String(), "lead 1002 is SOLD / SOLD_DELIVERED") || !strings.Contains(out.String(), "GET /leads?dealerId=5001&limit=100&pagenumber=1&sortby=date") {
		t.Errorf("the output:\n%s", out.String())
	}
}

// seen is what the sync remembers of the leads (one kind of record).
type seen map[string]string

func (m seen) Remembered(_ context.Context, _ string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		if v, ok := m[id]; ok {
			out[id] = v
		}
	}
	return out, nil
}
