package local

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"
)

// recordingAPI answers 200 and remembers the request the gateway built.
type recordingAPI struct {
	got *events.APIGatewayV2HTTPRequest
}

func (r *recordingAPI) handle(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	r.got = &req
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "ok", Headers: map[string]string{"Content-Type": "text/plain"}}, nil
}

func TestGatewayChecksTokensLikeTheJWTAuthorizer(t *testing.T) {
	issuer, err := NewEphemeralIssuer()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewEphemeralIssuer()
	now := time.Now()
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": LocalIssuer, "aud": LocalAudience, "exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix(), "dealer_id": "d1"}
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(c jwt.MapClaims) string {
		tok, err := issuer.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(issuer.PublicKey())
	hsWithPublicKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil)).SignedString(pubDER)
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	noneBody, _ := json.Marshal(claims(nil))
	algNone := noneHeader + "." + base64.RawURLEncoding.EncodeToString(noneBody) + "."
	otherKey, _ := other.Sign(claims(nil))

	cases := []struct {
		name, auth string
		want       int
	}{
		{"valid", "Bearer " + sign(claims(nil)), 200},
		{"no header", "", 401},
		{"not bearer", "Basic " + sign(claims(nil)), 401},
		{"wrong issuer", "Bearer " + sign(claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example/" })), 401},
		{"wrong audience", "Bearer " + sign(claims(func(c jwt.MapClaims) { c["aud"] = "someone-else" })), 401},
		{"expired", "Bearer " + sign(claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })), 401},
		{"no expiry", "Bearer " + sign(claims(func(c jwt.MapClaims) { delete(c, "exp") })), 401},
		{"not yet valid", "Bearer " + sign(claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })), 401},
		{"alg none", "Bearer " + algNone, 401},
		{"HS256 signed with the public key", "Bearer " + hsWithPublicKey, 401},
		{"another key", "Bearer " + otherKey, 401},
		{"garbage", "Bearer not.a.jwt", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := &recordingAPI{}
			srv := httptest.NewServer(&Gateway{Issuer: issuer, API: api.handle})
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+"/v1/subscriptions/sub_1", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.want, body)
			}
			if tc.want == 401 {
				if string(body) != `{"message":"Unauthorized"}` || api.got != nil {
					t.Fatalf("rejection body %s, handler called: %v", body, api.got != nil)
				}
				return
			}
			got := api.got
			if got == nil || got.RequestContext.Authorizer == nil || got.RequestContext.Authorizer.JWT.Claims["dealer_id"] != "d1" {
				t.Fatalf("claims not handed to the function: %+v", got)
			}
			if got.RouteKey != "GET /v1/subscriptions/{id}" || got.PathParameters["id"] != "sub_1" {
				t.Fatalf("route key %q, path parameters %v", got.RouteKey, got.PathParameters)
			}
		})
	}
}

func TestGatewayOpenRoutesAndUnknownRoutes(t *testing.T) {
	issuer, _ := NewEphemeralIssuer()
	api := &recordingAPI{}
	srv := httptest.NewServer(&Gateway{Issuer: issuer, API: api.handle})
	defer srv.Close()
	for path, want := range map[string]int{"/healthz": 200, "/v1/openapi.json": 200, "/v1/nope": 404, "/v1/event-types": 401} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if api.got != nil && api.got.RequestContext.Authorizer != nil {
		t.Fatal("an open route carried an authorizer context")
	}
}

func TestGatewayPassesBodyQueryAndHeaders(t *testing.T) {
	issuer, _ := NewEphemeralIssuer()
	api := &recordingAPI{}
	srv := httptest.NewServer(&Gateway{Issuer: issuer, API: api.handle})
	defer srv.Close()
	tok, _ := issuer.Token("d9", "")
	req, _ := http.NewRequest("POST", srv.URL+"/v1/subscriptions?limit=5", strings.NewReader(`{"url":"https://x"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := api.got
	if got == nil || got.Body != `{"url":"https://x"}` || got.QueryStringParameters["limit"] != "5" || got.Headers["content-type"] != "application/json" || got.RequestContext.HTTP.Method != "POST" {
		t.Fatalf("request not passed through: %+v", got)
	}
}

func TestGatewayAnswersCORSLikeTheHTTPAPI(t *testing.T) {
	issuer, err := NewEphemeralIssuer()
	if err != nil {
		t.Fatal(err)
	}
	api := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		// an integration's own CORS headers are ignored when CORS is configured
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{"status":"ok"}`, Headers: map[string]string{
			"Content-Type": "application/json", "ETag": `"3"`, "Access-Control-Allow-Origin": "https://evil.example"}}, nil
	}
	const page = "http://127.0.0.1:8081"
	gw := httptest.NewServer(&Gateway{Issuer: issuer, API: api, CORSOrigins: []string{page, "https://*"}})
	defer gw.Close()
	sendTo := func(base, method, path string, header map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	send := func(method, path string, header map[string]string) *http.Response {
		t.Helper()
		return sendTo(gw.URL, method, path, header)
	}
	preflight := map[string]string{"Origin": page, "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "authorization,if-match"}

	// A preflight is answered by the gateway, for any path, without a token.
	resp := send("OPTIONS", "/v1/subscriptions/sub_1", preflight)
	h := resp.Header
	if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != page ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "PATCH") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "if-match") ||
		h.Get("Access-Control-Max-Age") != "3600" {
		t.Errorf("preflight: %d %v", resp.StatusCode, h)
	}
	// A scheme wildcard allows every origin of that scheme; another origin gets no CORS headers.
	if got := send("OPTIONS", "/healthz", map[string]string{"Origin": "https://portal.example", "Access-Control-Request-Method": "GET"}).Header.Get("Access-Control-Allow-Origin"); got != "https://portal.example" {
		t.Errorf("https://* allowed %q", got)
	}
	if resp := send("OPTIONS", "/healthz", map[string]string{"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "GET"}); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin was allowed: %v", resp.Header)
	}

	// Responses to an allowed origin carry its CORS headers, the gateway's own 401 too, and
	// the integration's CORS headers are dropped.
	resp = send("GET", "/healthz", map[string]string{"Origin": page})
	if resp.Header.Get("Access-Control-Allow-Origin") != page || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "etag") || resp.Header.Get("ETag") != `"3"` {
		t.Errorf("GET: %v", resp.Header)
	}
	resp = send("GET", "/v1/subscriptions", map[string]string{"Origin": page})
	if resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != page {
		t.Errorf("401: %d %v", resp.StatusCode, resp.Header)
	}
	if got := send("GET", "/healthz", map[string]string{"Origin": "http://elsewhere.example"}).Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("foreign origin GET allowed: %q", got)
	}

	// Without CORS origins an OPTIONS request is an unknown route, as on an HTTP API without CORS.
	plain := httptest.NewServer(&Gateway{Issuer: issuer, API: api})
	defer plain.Close()
	if r2 := sendTo(plain.URL, "OPTIONS", "/healthz", preflight); r2.StatusCode != 404 || r2.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no CORS configured: %d %v", r2.StatusCode, r2.Header)
	}
}

// TestGatewayAdminRouteScopes: with the admin scope configured, the admin routes need it in
// the scope or scp claim, as API Gateway's route authorization scopes do (403
// {"message":"Forbidden"} before the function is called); other routes do not. make token
// ADMIN=1's token passes, a dealer's does not.
func TestGatewayAdminRouteScopes(t *testing.T) {
	issuer, _ := NewEphemeralIssuer()
	now := time.Now()
	sign := func(extra jwt.MapClaims) string {
		c := jwt.MapClaims{"iss": LocalIssuer, "aud": LocalAudience, "exp": now.Add(time.Hour).Unix(), "sub": "s"}
		for k, v := range extra {
			c[k] = v
		}
		tok, err := issuer.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	admin, err := issuer.AdminToken("", "")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := issuer.Verify(admin)
	if err != nil || claims["scope"] != "dealerai:admin" || claims["sub"] != LocalAdminSub || claims["dealer_id"] != nil {
		t.Fatalf("admin token claims %v, %v", claims, err)
	}
	dealer, _ := issuer.Token("d1", "")
	for _, tc := range []struct {
		name, path, token string
		want              int
	}{
		{"admin token", "/v1/admin/dealers/d1/entitlements", admin, 200},
		{"scope among others", "/v1/admin/dealers/d1/entitlements", sign(jwt.MapClaims{"scope": "openid dealerai:admin"}), 200},
		{"scp array", "/v1/admin/dealers/d1/entitlements", sign(jwt.MapClaims{"scp": []string{"dealerai:admin"}}), 200},
		{"dealer token", "/v1/admin/dealers/d1/entitlements", dealer, 403},
		{"another scope", "/v1/admin/dealers/d1/entitlements", sign(jwt.MapClaims{"scope": "dealerai:admins"}), 403},
		{"scope in another claim", "/v1/admin/dealers/d1/entitlements", sign(jwt.MapClaims{"roles": "dealerai:admin"}), 403},
		{"dealer route, dealer token", "/v1/agents", dealer, 200},
		{"dealer route, admin token", "/v1/agents", admin, 200}, // the function refuses it (no dealer claim)
	} {
		api := &recordingAPI{}
		srv := httptest.NewServer(&Gateway{Issuer: issuer, API: api.handle, AdminScopeClaim: "scope", AdminScope: "dealerai:admin"})
		req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+tc.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.want)
		}
		if tc.want == 403 && (string(body) != `{"message":"Forbidden"}` || api.got != nil) {
			t.Errorf("%s: body %s, function called %v", tc.name, body, api.got != nil)
		}
	}
	// the scopes apply only where the authorizer reads them: with another claim, none
	api := &recordingAPI{}
	srv := httptest.NewServer(&Gateway{Issuer: issuer, API: api.handle, AdminScopeClaim: "groups", AdminScope: "dealerai:admin"})
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/admin/dealers/d1/entitlements", nil)
	req.Header.Set("Authorization", "Bearer "+dealer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || api.got == nil {
		t.Errorf("claim groups: %d, want the function to decide", resp.StatusCode)
	}
}

// TestClaimsAsAPIGatewayPassesThem: the function receives every claim as a string, arrays as
// API Gateway's JWT authorizer renders them ("[a b]"), numbers in decimal.
func TestClaimsAsAPIGatewayPassesThem(t *testing.T) {
	got := flattenClaims(jwt.MapClaims{
		"dealer_id": []any{"d1"}, "groups": []any{"a", "b"}, "scope": "read write", "exp": float64(1796637600),
		"ratio": 4.5, "admin": true, "org": map[string]any{"id": "o1"},
	})
	want := map[string]string{
		"dealer_id": "[d1]", "groups": "[a b]", "scope": "read write", "exp": "1796637600",
		"ratio": "4.5", "admin": "true", "org": `{"id":"o1"}`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("claim %s = %q, want %q", k, got[k], v)
		}
	}
}
