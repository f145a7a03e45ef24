// Package oauth obtains OAuth 2.0 client-credentials tokens (RFC 6749 §4.4) for the platform
// connectors and caches them per container until shortly before they expire.
package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dealerai/integrations/shared/agents/connector"
)

// Grant is where and how to obtain a token.
type Grant struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scope        string
	// BasicAuth sends the client id and secret as HTTP Basic credentials (RFC 6749 §2.3.1);
	// otherwise they go in the form as client_id and client_secret.
	BasicAuth bool
	// Platform names the platform in error messages ("XTime").
	Platform string
}

// key identifies a cached token: token URL, client id, scope, and a hash of the secret, so
// a configuration with the same client id but another secret never gets this token.
func (g Grant) key() string {
	sum := sha256.Sum256([]byte(g.ClientSecret))
	return g.TokenURL + "\x00" + g.ClientID + "\x00" + g.Scope + "\x00" + hex.EncodeToString(sum[:])
}

// EarlyExpiry is how long before its expiry a token stops being used.
const EarlyExpiry = 60 * time.Second

// DefaultLifetime is assumed for a token answered without expires_in.
const DefaultLifetime = 5 * time.Minute

// maxTokens bounds the cache; expired tokens are dropped when it is reached.
const maxTokens = 10000

// Cache keeps tokens per token URL and client id. It is safe for concurrent use; two
// concurrent misses of one key may both fetch a token (harmless: both are valid).
type Cache struct {
	// Now is the clock of expiries; time.Now when nil.
	Now func() time.Time

	mu     sync.Mutex
	tokens map[string]token
}

type token struct {
	value     string
	tokenType string // as the token endpoint answered it; "" when absent
	usableTil time.Time
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{} }

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Token returns a cached token for g, or fetches one.
func (c *Cache) Token(ctx context.Context, hc *http.Client, g Grant) (string, error) {
	t, err := c.get(ctx, hc, g)
	return t.value, err
}

func (c *Cache) get(ctx context.Context, hc *http.Client, g Grant) (token, error) {
	k := g.key()
	c.mu.Lock()
	t, ok := c.tokens[k]
	c.mu.Unlock()
	if ok && c.now().Before(t.usableTil) {
		return t, nil
	}
	t, lifetime, err := fetch(ctx, hc, g)
	if err != nil {
		return token{}, err
	}
	if usable := lifetime - EarlyExpiry; usable > 0 {
		c.mu.Lock()
		if c.tokens == nil {
			c.tokens = map[string]token{}
		}
		if len(c.tokens) >= maxTokens {
			c.prune()
		}
		t.usableTil = c.now().Add(usable)
		c.tokens[k] = t
		c.mu.Unlock()
	}
	return t, nil
}

// Invalidate drops g's cached token if it is still the one the platform refused.
func (c *Cache) Invalidate(g Grant, refused string) {
	k := g.key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.tokens[k]; ok && t.value == refused {
		delete(c.tokens, k)
	}
}

func (c *Cache) prune() {
	now := c.now()
	for k, t := range c.tokens {
		if !now.Before(t.usableTil) {
			delete(c.tokens, k)
		}
	}
}

// Send sends the request newRequest builds with a token. When refused reports that the
// platform refused the token (expired or revoked), it drops the token, fetches a new one and
// sends once more; a second refusal is the answer.
func (c *Cache) Send(ctx context.Context, hc *http.Client, g Grant, step string,
	newRequest func(token string) (*http.Request, error), refused func(*connector.Response) bool) (*connector.Response, error) {
	return c.send(ctx, hc, g, step, func(t token) (*http.Request, error) { return newRequest(t.value) }, refused)
}

func (c *Cache) send(ctx context.Context, hc *http.Client, g Grant, step string,
	newRequest func(token) (*http.Request, error), refused func(*connector.Response) bool) (*connector.Response, error) {
	for retried := false; ; retried = true {
		tok, err := c.get(ctx, hc, g)
		if err != nil {
			return nil, err
		}
		req, err := newRequest(tok)
		if err != nil {
			return nil, err
		}
		resp, err := connector.Send(hc, req, step)
		if err != nil {
			return nil, err
		}
		if retried || !refused(resp) {
			return resp, nil
		}
		c.Invalidate(g, tok.value)
	}
}

// Unauthorized is the usual refused test: a 401.
func Unauthorized(resp *connector.Response) bool { return resp.StatusCode == http.StatusUnauthorized }

// fetch runs the client-credentials grant.
func fetch(ctx context.Context, hc *http.Client, g Grant) (token, time.Duration, error) {
	step := g.Platform + " token"
	form := url.Values{"grant_type": {"client_credentials"}}
	if g.Scope != "" {
		form.Set("scope", g.Scope)
	}
	if !g.BasicAuth {
		form.Set("client_id", g.ClientID)
		form.Set("client_secret", g.ClientSecret)
	}
	req, err := connector.NewRequest(ctx, http.MethodPost, g.TokenURL, "application/x-www-form-urlencoded", []byte(form.Encode()), step)
	if err != nil {
		return token{}, 0, err
	}
	req.Header.Set("Accept", "application/json")
	if g.BasicAuth {
		// base64(id:secret) as sent, as the platforms document it (not form-encoded first).
		req.SetBasicAuth(g.ClientID, g.ClientSecret)
	}
	resp, err := connector.Send(hc, req, step)
	if err != nil {
		return token{}, 0, err
	}
	if !resp.OK() {
		e := connector.StatusError(resp, step)
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized {
			// RFC 6749 §5.2: invalid_client, invalid_scope, ... are credential problems.
			e.Class = connector.ClassAuth
			e.Permanent = false
			if code := oauthError(resp.Body); code != "" {
				e.Message += " (" + code + ")"
			}
		}
		return token{}, 0, e
	}
	value, lifetime, ok := ParseTokenResponse(resp.Body)
	if !ok {
		return token{}, 0, &connector.AttemptError{Class: connector.ClassAuth, StatusCode: resp.StatusCode,
			Message: step + ": the answer holds no access_token"}
	}
	return token{value: value, tokenType: parseTokenType(resp.Body)}, lifetime, nil
}

// ParseTokenResponse reads access_token and expires_in (a number or a numeric string;
// DefaultLifetime when absent).
func ParseTokenResponse(body []byte) (accessToken string, lifetime time.Duration, ok bool) {
	var r struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if json.Unmarshal(body, &r) != nil || r.AccessToken == "" {
		return "", 0, false
	}
	lifetime = DefaultLifetime
	if s := strings.Trim(string(r.ExpiresIn), `"`); s != "" {
		if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 0 && n < 1e7 {
			lifetime = time.Duration(n * float64(time.Second))
		}
	}
	return r.AccessToken, lifetime, true
}

// oauthError is the RFC 6749 error code of a refusal, when it is a plain token.
func oauthError(body []byte) string {
	var r struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &r) != nil || len(r.Error) > 64 {
		return ""
	}
	for _, c := range r.Error {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return r.Error
}
