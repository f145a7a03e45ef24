package notices_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/notices"
	"github.com/dealerai/integrations/shared/notices/noticestest"
)

const audience = "https://api.dealerai.example/v1/notices/fortellis"

func claims(over map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": "https://identity.fortellis.io/oauth2/x", "sub": "event-relay", "aud": audience,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// A token signed with the JWKS's key, for our audience, in its lifetime verifies; anything
// else is ErrUnauthenticated, and says why without the token.
func TestVerify(t *testing.T) {
	iss := noticestest.NewIssuer(t, audience)
	v := &notices.Verifier{JWKSURL: iss.URL, Audience: audience, HTTP: &http.Client{}}
	ctx := context.Background()
	c, err := v.Verify(ctx, iss.Sign(t, claims(nil), nil, nil))
	if err != nil || c.Subject != "event-relay" {
		t.Fatalf("a good token: %+v %v", c, err)
	}
	if _, err := v.Verify(ctx, iss.Sign(t, claims(map[string]any{"aud": []string{"other", audience}}), nil, nil)); err != nil {
		t.Errorf("aud as an array holding ours: %v", err)
	}
	past := time.Now().Add(-time.Hour).Unix()
	for name, tok := range map[string]string{
		"another key":       iss.Sign(t, claims(nil), nil, iss.Other),
		"another audience":  iss.Sign(t, claims(map[string]any{"aud": "https://elsewhere.example"}), nil, nil),
		"no audience":       iss.Sign(t, claims(map[string]any{"aud": nil}), nil, nil),
		"expired":           iss.Sign(t, claims(map[string]any{"exp": past}), nil, nil),
		"no exp":            iss.Sign(t, claims(map[string]any{"exp": nil}), nil, nil),
		"not yet valid":     iss.Sign(t, claims(map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}), nil, nil),
		"alg none":          iss.Sign(t, claims(nil), map[string]any{"alg": "none"}, nil),
		"alg HS256":         iss.Sign(t, claims(nil), map[string]any{"alg": "HS256"}, nil),
		"unknown kid":       iss.Sign(t, claims(nil), map[string]any{"kid": "kid-9"}, nil),
		"two parts":         "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0",
		"garbage":           "not.a.token",
		"unsigned (empty)":  iss.Sign(t, claims(nil), nil, nil)[:len(iss.Sign(t, claims(nil), nil, nil))-10] + "AAAAAAAAAA",
		"signature swapped": iss.Sign(t, claims(map[string]any{"sub": "x"}), nil, nil),
	} {
		if name == "signature swapped" {
			good := iss.Sign(t, claims(nil), nil, nil)
			tok = tok[:lastDot(tok)] + good[lastDot(good):]
		}
		_, err := v.Verify(ctx, tok)
		if !errors.Is(err, notices.ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", name, err)
		}
	}
	strict := &notices.Verifier{JWKSURL: iss.URL, Audience: audience, Issuer: "https://identity.fortellis.io/oauth2/y"}
	if _, err := strict.Verify(ctx, iss.Sign(t, claims(nil), nil, nil)); !errors.Is(err, notices.ErrUnauthenticated) {
		t.Errorf("another issuer: %v", err)
	}
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

// The keys are fetched once and kept; an unknown kid fetches them again (not more than once
// per 30 s); a JWKS that cannot be read is not ErrUnauthenticated (the notice is to be
// retried), unless the key is known.
func TestVerifierKeys(t *testing.T) {
	iss := noticestest.NewIssuer(t, audience)
	now := time.Now()
	v := &notices.Verifier{JWKSURL: iss.URL, Audience: audience, Now: func() time.Time { return now }}
	ctx := context.Background()
	for range 3 {
		if _, err := v.Verify(ctx, iss.Sign(t, claims(nil), nil, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := iss.Fetches.Load(); n != 1 {
		t.Errorf("%d JWKS fetches for 3 tokens, want 1", n)
	}
	unknown := iss.Sign(t, claims(nil), map[string]any{"kid": "kid-2"}, nil)
	v.Verify(ctx, unknown)
	if n := iss.Fetches.Load(); n != 1 {
		t.Errorf("an unknown kid within 30 s refetched: %d fetches", n)
	}
	now = now.Add(time.Minute)
	v.Verify(ctx, unknown)
	if n := iss.Fetches.Load(); n != 2 {
		t.Errorf("an unknown kid after 30 s: %d fetches, want 2", n)
	}

	iss.Fail.Store(true)
	now = now.Add(2 * time.Hour) // the keys are old: fetched again, which fails
	if _, err := v.Verify(ctx, iss.Sign(t, claims(map[string]any{"exp": now.Add(time.Minute).Unix(), "iat": now.Unix()}), nil, nil)); err != nil {
		t.Errorf("the JWKS down, a known key: %v", err)
	}
	cold := &notices.Verifier{JWKSURL: iss.URL, Audience: audience}
	if _, err := cold.Verify(ctx, iss.Sign(t, claims(nil), nil, nil)); err == nil || errors.Is(err, notices.ErrUnauthenticated) {
		t.Errorf("the JWKS down, no key known: %v, want another error", err)
	}
}
