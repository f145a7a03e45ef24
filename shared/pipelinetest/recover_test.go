package pipelinetest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealerai/integrations/events/webhook"
	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/resources"
)

// recoverAPI is POST /v1/subscriptions/{id}/recover through the local gateway and the API as
// app builds it.
func (s *stack) recoverAPI(subID string, since time.Time) (status, queued int) {
	s.t.Helper()
	api, err := app.NewAPI(s.t.Context(), s.env.AWS, s.cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	issuer, err := local.NewEphemeralIssuer()
	if err != nil {
		s.t.Fatal(err)
	}
	srv := httptest.NewServer(&local.Gateway{Issuer: issuer, API: api, AdminScopeClaim: s.cfg.AdminScopeClaim, AdminScope: s.cfg.AdminScope})
	defer srv.Close()
	tok, err := issuer.Token(dealer, "")
	if err != nil {
		s.t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"since": since.UTC().Format(time.RFC3339)})
	req, _ := http.NewRequest("POST", srv.URL+"/v1/subscriptions/"+subID+"/recover", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct{ Queued int }
	if resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(raw, &out); err != nil {
			s.t.Fatalf("recover: %s", raw)
		}
	} else {
		s.t.Logf("recover: %d %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out.Queued
}

// An endpoint down for a while (503s, then its circuit open), then back: the events published
// meanwhile end failed; `recover since` the outage delivers exactly those again, each once
// (counted by webhook-id), and nothing delivered before or after the outage a second time.
func TestRecoverRedeliversWhatFailedDuringTheOutage(t *testing.T) {
	s := newStack(t, options{env: circuitEnv(2)})
	var down atomic.Bool
	var mu sync.Mutex
	delivered := map[string]int{} // webhook-id -> 2xx answers
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		delivered[r.Header.Get(webhook.HeaderID)]++
		mu.Unlock()
	})
	count := func(id string) int { mu.Lock(); defer mu.Unlock(); return delivered[id] }
	sub := s.subscribe(dealer, rc.URL, "lead.*")
	publish := func(id string) string {
		// the event's time is now, as a producer's is (delivery ids carry it)
		body, ev := example(t, "lead.created", map[string]any{"eventId": id, "timestamp": time.Now().UTC().Format(time.RFC3339Nano)})
		s.publish(body)
		return deliveryID(sub, ev)
	}
	before := publish("evt_01JDQ7Z4X8M2K9V6T3R5N1P0A1")
	s.waitRecord(sub, before, 20*time.Second, func(r *deliverylog.Record) bool { return r.Status == deliverylog.StatusSucceeded })

	down.Store(true)
	since := time.Now().Add(-time.Second)
	outage := map[string]string{} // event id -> delivery id
	for _, id := range []string{"evt_01JDQ7Z4X8M2K9V6T3R5N1P0B1", "evt_01JDQ7Z4X8M2K9V6T3R5N1P0B2", "evt_01JDQ7Z4X8M2K9V6T3R5N1P0B3"} {
		outage[id] = publish(id)
	}
	circuitOpened := false
	for _, dlv := range outage {
		rec := s.waitRecord(sub, dlv, 40*time.Second, func(r *deliverylog.Record) bool { return r.Status == deliverylog.StatusFailed })
		for _, a := range rec.Attempts {
			circuitOpened = circuitOpened || a.ErrorClass == deliverylog.ClassCircuitOpen
		}
	}
	if !circuitOpened {
		t.Error("no attempt met the open circuit")
	}
	s.drain(resources.DeliveriesDLQ, len(outage))

	down.Store(false)
	after := publish("evt_01JDQ7Z4X8M2K9V6T3R5N1P0C1")
	s.waitRecord(sub, after, 30*time.Second, func(r *deliverylog.Record) bool { return r.Status == deliverylog.StatusSucceeded })

	status, queued := s.recoverAPI(sub.ID, since)
	if status != http.StatusAccepted || queued != len(outage) {
		t.Fatalf("recover: %d, %d queued; want 202, %d", status, queued, len(outage))
	}
	for id := range outage {
		localtest.Eventually(t, 20*time.Second, "the recovered "+id, func() bool { return count(id) >= 1 })
	}
	// Recovered once: a second call queues nothing.
	if status, queued := s.recoverAPI(sub.ID, since); status != http.StatusAccepted || queued != 0 {
		t.Fatalf("second recover: %d, %d queued", status, queued)
	}
	localtest.Eventually(t, 10*time.Second, "an empty deliveries queue", func() bool { return s.depth(resources.DeliveriesQueue) == 0 })
	for id := range outage {
		if n := count(id); n != 1 {
			t.Errorf("%s delivered %d times, want 1", id, n)
		}
	}
	for _, id := range []string{"evt_01JDQ7Z4X8M2K9V6T3R5N1P0A1", "evt_01JDQ7Z4X8M2K9V6T3R5N1P0C1"} {
		if n := count(id); n != 1 {
			t.Errorf("%s (outside the outage) delivered %d times, want 1", id, n)
		}
	}
}
