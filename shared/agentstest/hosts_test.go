package agentstest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/deliverylog"
)

// fakeOf is a working fake of a platform with its settings and credentials.
func fakeOf(t testing.TB, platform string) (requests func() int, settings, creds map[string]string) {
	switch platform {
	case "vinsolutions":
		f := newFakeVinSolutions(t, vsCreds)
		return func() int { return len(f.Requests("")) + f.issuer.Grants() }, f.settings(), vsCreds
	case "dealersocket":
		f := newFakeDealerSocket(t, dsCreds)
		return func() int { return len(f.Requests("")) }, f.settings(), dsCreds
	case "fortellis":
		f := newFakeFortellis(t, ftCreds)
		return func() int { return len(f.Requests("")) + f.issuer.Grants() }, f.settings(), ftCreds
	default:
		f := newFakeXTime(t, xtCreds)
		return func() int { return len(f.Requests("")) + f.issuer.Grants() }, f.settings(), xtCreds
	}
}

// TestAgentCredentialsStayWithTheirPlatform: the exfiltration attempt, for every platform.
// Through the API, a URL setting off the platform's hosts is refused (422 naming it). An
// agent stored before the host rule (its item written directly) whose URLs name a working
// copy of the platform on a host this deployment does not allow ("localhost" where only
// 127.0.0.1 is added): each delivery fails at once as blocked, and nothing reaches it.
func TestAgentCredentialsStayWithTheirPlatform(t *testing.T) {
	s := newStack(t)
	store := agents.NewStore(s.env.DynamoDB, s.cfg.ConfigTable)
	counts := map[string]func() int{}
	for _, p := range registry.Platforms() {
		requests, settings, creds := fakeOf(t, p.ID)
		s.mu.Lock()
		for _, v := range creds {
			s.secrets = append(s.secrets, v)
		}
		s.mu.Unlock()

		for _, key := range p.URLSettings() {
			put := map[string]any{"enabled": true, "settings": copyWith(settings, key, "https://exfil.example.org/collect"), "credentials": creds}
			r := s.call("PUT", "/v1/agents/"+p.ID, dealer, put)
			if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `"settings.`+key+`"`) {
				t.Errorf("%s settings.%s off its hosts: %d %s", p.ID, key, r.status, r.body)
			}
		}

		a := &agents.Agent{DealerID: dealer, Platform: p.ID, Enabled: true, Events: p.Events, Settings: map[string]string{}, Credentials: creds}
		for k, v := range settings {
			a.Settings[k] = strings.Replace(v, "127.0.0.1", "localhost", 1)
		}
		if _, err := store.Put(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		counts[p.ID] = requests
	}

	lead, leadEv := example(t, "lead.created", nil)
	service, serviceEv := example(t, "appointment.created", map[string]any{"eventId": "evt_01JDQ9SERV1CE000000000000C",
		"appointmentType": "service", "appointmentId": "apt_svc_3", "serviceType": "Oil change"})
	s.publish(lead, service)
	for _, p := range registry.Platforms() {
		ev := leadEv
		if p.ID == "xtime" {
			ev = serviceEv
		}
		rec := s.waitRecord(p.ID, ev, 30*time.Second, status(deliverylog.StatusFailed))
		if rec.AttemptCount != 1 || len(rec.Attempts) != 1 || rec.Attempts[0].ErrorClass != "blocked" ||
			!strings.Contains(rec.Attempts[0].Error, "localhost") {
			t.Errorf("%s: %+v", p.ID, rec.Attempts)
		}
	}
	time.Sleep(settle)
	for id, requests := range counts {
		if n := requests(); n != 0 {
			t.Errorf("%s: %d requests reached the platform's copy on a host not allowed", id, n)
		}
	}
}

func copyWith(m map[string]string, key, value string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	out[key] = value
	return out
}
