package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

func TestTokensAreCachedUntilAMinuteBeforeExpiry(t *testing.T) {
	issuer := &agenttest.Issuer{ClientID: "id", ClientSecret: "secret", Scope: "s", Lifetime: 10 * time.Minute}
	srv := httptest.NewServer(issuer)
	defer srv.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cache := &oauth.Cache{Now: func() time.Time { return now }}
	g := oauth.Grant{TokenURL: srv.URL, ClientID: "id", ClientSecret: "secret", Scope: "s", Platform: "Test"}
	ctx, hc := context.Background(), &http.Client{}

	first, err := cache.Token(ctx, hc, g)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(8*time.Minute + 59*time.Second) // 61 s before expiry: still used
	if tok, _ := cache.Token(ctx, hc, g); tok != first || issuer.Grants() != 1 {
		t.Fatalf("token refetched too early (%d grants)", issuer.Grants())
	}
	now = now.Add(2 * time.Second) // 59 s before expiry: replaced
	if tok, _ := cache.Token(ctx, hc, g); tok == first || issuer.Grants() != 2 {
		t.Fatalf("token not refreshed a minute before expiry (%d grants)", issuer.Grants())
	}
}

func TestAnotherSecretNeverGetsTheCachedToken(t *testing.T) {
	issuer := &agenttest.Issuer{ClientID: "id", ClientSecret: "secret", Scope: "s"}
	srv := httptest.NewServer(issuer)
	defer srv.Close()
	cache := oauth.NewCache()
	good := oauth.Grant{TokenURL: srv.URL, ClientID: "id", ClientSecret: "secret", Scope: "s"}
	if _, err := cache.Token(context.Background(), &http.Client{}, good); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.ClientSecret = "guess"
	if _, err := cache.Token(context.Background(), &http.Client{}, bad); err == nil {
		t.Fatal("a grant with a wrong secret got a token from the cache")
	}
}

func TestInvalidateDropsOnlyTheRefusedToken(t *testing.T) {
	issuer := &agenttest.Issuer{ClientID: "id", ClientSecret: "secret", Scope: "s"}
	srv := httptest.NewServer(issuer)
	defer srv.Close()
	cache := oauth.NewCache()
	g := oauth.Grant{TokenURL: srv.URL, ClientID: "id", ClientSecret: "secret", Scope: "s"}
	tok, _ := cache.Token(context.Background(), &http.Client{}, g)
	cache.Invalidate(g, "some-older-token")
	if again, _ := cache.Token(context.Background(), &http.Client{}, g); again != tok {
		t.Fatal("invalidating another token dropped the current one")
	}
	cache.Invalidate(g, tok)
	if again, _ := cache.Token(context.Background(), &http.Client{}, g); again == tok {
		t.Fatal("the refused token is still served")
	}
}

func TestShortLivedTokensAreNotCached(t *testing.T) {
	var grants atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		grants.Add(1)
		w.Write([]byte(`{"access_token":"t","expires_in":"30"}`))
	}))
	defer srv.Close()
	cache := oauth.NewCache()
	g := oauth.Grant{TokenURL: srv.URL, ClientID: "id"}
	for range 2 {
		if _, err := cache.Token(context.Background(), &http.Client{}, g); err != nil {
			t.Fatal(err)
		}
	}
	if grants.Load() != 2 {
		t.Errorf("%d grants, want 2: a token living under a minute is not cached", grants.Load())
	}
}

func FuzzParseTokenResponse(f *testing.F) {
	for _, s := range []string{`{"access_token":"a","expires_in":3600}`, `{"access_token":"a","expires_in":"3600"}`,
		`{"access_token":"a","expires_in":-5}`, `{"access_token":"a","expires_in":1e300}`, `{"access_token":""}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, lifetime, ok := oauth.ParseTokenResponse(body)
		if ok && (tok == "" || lifetime < 0) {
			t.Fatalf("token %q lifetime %v", tok, lifetime)
		}
	})
}
