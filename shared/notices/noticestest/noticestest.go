// Package noticestest is a Fortellis-like token issuer for tests: an RSA key, its JWKS
// served by an httptest server, and RS256 tokens signed with it. Only tests import it.
package noticestest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

var (
	keyOnce sync.Once
	keys    [2]*rsa.PrivateKey
)

// testKeys are two 2048-bit keys, made once per test binary.
func testKeys(t testing.TB) [2]*rsa.PrivateKey {
	keyOnce.Do(func() {
		for i := range keys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		}
	})
	return keys
}

// Issuer signs tokens with its key ("kid-1") and serves the JWKS at URL.
type Issuer struct {
	URL      string
	Key      *rsa.PrivateKey
	KID      string
	Audience string
	// Other is a key not in the JWKS (a forger's).
	Other *rsa.PrivateKey
	// Fetches counts the JWKS requests; Fail makes them answer 500.
	Fetches atomic.Int32
	Fail    atomic.Bool
}

// NewIssuer starts an issuer for audience; its server stops at the test's end.
func NewIssuer(t testing.TB, audience string) *Issuer {
	k := testKeys(t)
	i := &Issuer{Key: k[0], Other: k[1], KID: "kid-1", Audience: audience}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.Fetches.Add(1)
		if i.Fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{
			{"kty": "EC", "kid": "ec-1", "crv": "P-256"}, // not RSA: left out
			{"kty": "RSA", "kid": i.KID, "use": "sig", "alg": "RS256", "n": b64(i.Key.N.Bytes()), "e": b64(big.NewInt(int64(i.Key.E)).Bytes())},
		}})
	}))
	t.Cleanup(srv.Close)
	i.URL = srv.URL
	return i
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Sign returns a compact JWS of claims with header (alg RS256 and kid KID unless header says
// otherwise), signed with key (the issuer's when nil).
func (i *Issuer) Sign(t testing.TB, claims map[string]any, header map[string]any, key *rsa.PrivateKey) string {
	t.Helper()
	h := map[string]any{"alg": "RS256", "typ": "JWT", "kid": i.KID}
	for k, v := range header {
		h[k] = v
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	signing := b64(hb) + "." + b64(cb)
	if key == nil {
		key = i.Key
	}
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}
