package oauth

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/dealerai/integrations/shared/agents/connector"
)

// SendAuthorized is Send for the platforms whose calls carry the token as the token endpoint
// typed it: newRequest gets the whole Authorization value, "<token_type> <access_token>"
// (RFC 6749 §7.1), rather than the bare token. A token answered without a token_type, or
// with one that is not an HTTP auth-scheme name, is sent as "Bearer <access_token>".
func (c *Cache) SendAuthorized(ctx context.Context, hc *http.Client, g Grant, step string,
	newRequest func(authorization string) (*http.Request, error), refused func(*connector.Response) bool) (*connector.Response, error) {
	return c.send(ctx, hc, g, step, func(t token) (*http.Request, error) { return newRequest(t.authorization()) }, refused)
}

// authorization is the Authorization header value of t.
func (t token) authorization() string {
	scheme := t.tokenType
	if !authScheme(scheme) {
		scheme = "Bearer"
	}
	return scheme + " " + t.value
}

// parseTokenType reads token_type from a token response; "" when absent.
func parseTokenType(body []byte) string {
	var r struct {
		TokenType string `json:"token_type"`
	}
	if json.Unmarshal(body, &r) != nil {
		return ""
	}
	return r.TokenType
}

// authScheme reports whether s can be an auth-scheme: an RFC 9110 token, at most 64 bytes.
func authScheme(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c < 0x80 && strings.ContainsRune("!#$%&'*+-.^_`|~", c):
		default:
			return false
		}
	}
	return true
}
