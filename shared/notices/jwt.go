// Package notices holds what the API's push-notice routes need beyond the route handlers:
// the verification of a platform's signed bearer token against its published keys (JWKS,
// RS256), the marks that deduplicate notices on their ids, and which dealer a platform's data
// owner is (docs/agents.md#push-notices). A notice is only ever a trigger to run an agent's
// sync: nothing in it is trusted as data.
package notices

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ErrUnauthenticated is the error of a token that does not verify; its message says why
// (never the token).
var ErrUnauthenticated = errors.New("unauthenticated")

// Leeway is the clock difference allowed on a token's exp and nbf.
const Leeway = time.Minute

// keysMaxAge is how long fetched keys are used before they are fetched again; a token signed
// with a key not among them fetches them again, at most once per refetchGap.
const (
	keysMaxAge  = time.Hour
	refetchGap  = 30 * time.Second
	maxJWKSSize = 1 << 20
)

// Verifier checks bearer JWTs signed with RS256 by a key of the JWKS at JWKSURL, for
// Audience (and Issuer when set). It caches the keys; safe for concurrent use.
type Verifier struct {
	JWKSURL  string
	Audience string
	// Issuer, when set, must be the token's iss.
	Issuer string
	// HTTP fetches the JWKS (a client with a timeout; http.DefaultClient when nil).
	HTTP *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	fetched time.Time
}

// Claims are the verified token's claims the API reads.
type Claims struct {
	Subject string
	Issuer  string
	Expires time.Time
}

// Verify checks token (the part after "Bearer "): three base64url parts, a header with alg
// RS256 and the kid of a JWKS key, a valid signature, exp in the future and nbf not (within
// Leeway), the audience among aud, the issuer when one is configured. Any failure is an
// error wrapping ErrUnauthenticated, except when the JWKS cannot be read (another error: the
// notice should be retried).
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, unauthenticated("not a JWS compact token")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	if err := decodePart(parts[0], &header); err != nil {
		return nil, unauthenticated("header: " + err.Error())
	}
	if header.Alg != "RS256" {
		return nil, unauthenticated(fmt.Sprintf("alg %q is not RS256", truncate(header.Alg, 20)))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, unauthenticated("signature is not base64url")
	}
	key, err := v.key(ctx, header.Kid)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig) != nil {
		return nil, unauthenticated("bad signature")
	}
	var c struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp *json.Number    `json:"exp"`
		Nbf *json.Number    `json:"nbf"`
	}
	if err := decodePart(parts[1], &c); err != nil {
		return nil, unauthenticated("claims: " + err.Error())
	}
	now := v.now()
	if c.Exp == nil {
		return nil, unauthenticated("no exp")
	}
	exp, err := numericDate(*c.Exp)
	if err != nil {
		return nil, unauthenticated("exp: " + err.Error())
	}
	if !now.Before(exp.Add(Leeway)) {
		return nil, unauthenticated("expired")
	}
	if c.Nbf != nil {
		nbf, err := numericDate(*c.Nbf)
		if err != nil {
			return nil, unauthenticated("nbf: " + err.Error())
		}
		if now.Add(Leeway).Before(nbf) {
			return nil, unauthenticated("not valid yet")
		}
	}
	if !audienceHas(c.Aud, v.Audience) {
		return nil, unauthenticated("audience is not ours")
	}
	if v.Issuer != "" && c.Iss != v.Issuer {
		return nil, unauthenticated("issuer is not the configured one")
	}
	return &Claims{Subject: c.Sub, Issuer: c.Iss, Expires: exp}, nil
}

func unauthenticated(why string) error { return fmt.Errorf("%w: %s", ErrUnauthenticated, why) }

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func decodePart(part string, into any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return errors.New("not base64url")
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		return errors.New("not a JSON object")
	}
	return nil
}

func numericDate(n json.Number) (time.Time, error) {
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, errors.New("not a number")
	}
	return time.Unix(int64(f), 0), nil
}

// audienceHas reports whether aud (a string or an array of strings) holds want.
func audienceHas(aud json.RawMessage, want string) bool {
	if want == "" {
		return false
	}
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(aud, &many) == nil {
		for _, a := range many {
			if a == want {
				return true
			}
		}
	}
	return false
}

// key is the JWKS key kid ("" matches a JWKS of one key), fetching the JWKS when the keys are
// old or kid is not among them (at most once per refetchGap).
func (v *Verifier) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	fresh := v.keys != nil && now.Sub(v.fetched) < keysMaxAge
	if k := pick(v.keys, kid); fresh && k != nil {
		return k, nil
	}
	if v.keys == nil || now.Sub(v.fetched) >= refetchGap {
		keys, err := v.fetch(ctx)
		if err != nil {
			if k := pick(v.keys, kid); k != nil {
				return k, nil // the JWKS is unreachable: the keys known still verify
			}
			return nil, err
		}
		v.keys, v.fetched = keys, now
	}
	if k := pick(v.keys, kid); k != nil {
		return k, nil
	}
	return nil, unauthenticated("no key of the JWKS has the token's kid")
}

func pick(keys map[string]*rsa.PublicKey, kid string) *rsa.PublicKey {
	if k, ok := keys[kid]; ok {
		return k
	}
	if kid == "" && len(keys) == 1 {
		for _, k := range keys {
			return k
		}
	}
	return nil
}

// fetch reads the JWKS: its RSA signing keys by kid.
func (v *Verifier) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	if v.JWKSURL == "" {
		return nil, errors.New("no JWKS URL is configured")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.JWKSURL, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	hc := v.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize))
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	return ParseJWKS(body)
}

// ParseJWKS reads the RSA signing keys of a JWKS document by kid: keys of another type, use
// or algorithm, or shorter than 2048 bits, are left out.
func ParseJWKS(body []byte) (map[string]*rsa.PublicKey, error) {
	var doc struct {
		Keys []struct {
			Kty, Kid, Use, Alg, N, E string
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errors.New("JWKS: not a JSON key set")
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range doc.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			continue
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 || pub.E < 3 {
			continue
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS: no RSA signing key")
	}
	return keys, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
