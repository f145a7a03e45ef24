package delivery_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/dealerai/integrations/events/webhook"
	"github.com/dealerai/integrations/shared/subscriptions"
)

// storedSecrets is the subscription's secrets as the config table holds them.
type storedSecrets struct {
	mu    sync.Mutex
	sub   subscriptions.Subscription
	reads int
}

func (s *storedSecrets) Get(context.Context, string, string) (*subscriptions.Subscription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	c := s.sub
	return &c, nil
}

func (s *storedSecrets) set(secret, previous string, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sub.Secret, s.sub.PreviousSecret, s.sub.PreviousSecretExpiresAt = secret, previous, expires
}

// TestRevokedSecretStopsSigningWithinSeconds: the targets cache still holds the old secret,
// but a POST made SecretMaxAge after a revoking rotation is signed with the new secret only;
// before that the secrets read last sign (one read per subscription per SecretMaxAge).
func TestRevokedSecretStopsSigningWithinSeconds(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	var bodies [][]byte
	h, _, _ := setup(t, subTarget, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r.Header.Clone()), append(bodies, b)
		mu.Unlock()
	})
	const leaked, fresh = secret, "whsec_bmV3IHNlY3JldCBhZnRlciBhIGxlYWsgMDEyMzQ1Njc4"
	src := &storedSecrets{sub: subscriptions.Subscription{ID: subTarget.ID, Secret: leaked}}
	now := time.Now()
	clock := now
	h.Secrets, h.SecretMaxAge, h.Now = src, 5*time.Second, func() time.Time { return clock }

	deliver := func() (http.Header, []byte) {
		t.Helper()
		resp, _ := h.Handle(context.Background(), message(t, subTarget, "1"))
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("delivery failed: %v", resp.BatchItemFailures)
		}
		mu.Lock()
		defer mu.Unlock()
		return got[len(got)-1], bodies[len(bodies)-1]
	}
	verifies := func(hd http.Header, body []byte, s string) bool {
		v, err := webhook.NewVerifier(s)
		if err != nil {
			t.Fatal(err)
		}
		return v.Verify(hd, body) == nil
	}

	hd, body := deliver()
	if !verifies(hd, body, leaked) {
		t.Fatal("the first POST is not signed with the stored secret")
	}
	src.set(fresh, "", time.Time{}) // rotated with revokePrevious
	clock = now.Add(2 * time.Second)
	hd, body = deliver()
	if !verifies(hd, body, leaked) || src.reads != 1 {
		t.Fatalf("within SecretMaxAge the secrets read last sign (reads %d)", src.reads)
	}
	clock = now.Add(6 * time.Second)
	hd, body = deliver()
	if !verifies(hd, body, fresh) || verifies(hd, body, leaked) || src.reads != 2 {
		t.Fatalf("after SecretMaxAge: signed with the revoked secret (%v) or not the new one (%v); reads %d",
			verifies(hd, body, leaked), verifies(hd, body, fresh), src.reads)
	}
}
