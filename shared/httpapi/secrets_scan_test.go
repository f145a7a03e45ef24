package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/deliveryq"
)

// defaultLogs captures slog.Default() for the whole test binary: whatever logs through the
// default logger (code built without a Logger) is scanned for secrets too.
var defaultLogs = &localtest.Buffer{}

func init() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(defaultLogs, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// leakCheck records every secret, token and credential a test creates and every API answer
// it gets, and at the end of the test scans the answers (except those meant to carry a
// secret: create, GET .../secret, rotate-secret), the API's log and the default logger's
// output for all of them.
type leakCheck struct {
	at *apiTest

	mu        sync.Mutex
	values    map[string]string // value -> label (the label is printed, never the value)
	logOnly   map[string]string // values an answer may show (a webhook URL's own query) but no log line
	responses []leakResponse
}

type leakResponse struct {
	route string
	body  []byte
}

func newLeakCheck(at *apiTest) *leakCheck {
	lc := &leakCheck{at: at, values: map[string]string{}, logOnly: map[string]string{}}
	at.t.Cleanup(lc.scan)
	return lc
}

func (lc *leakCheck) add(value, label string) {
	if len(value) < 8 {
		return
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.values[value] = label
}

// token registers a JWT (and its Authorization header form and signature).
func (lc *leakCheck) token(tok string) string {
	lc.add(tok, "a bearer token")
	lc.add("Bearer "+tok, "an Authorization header")
	if i := strings.LastIndexByte(tok, '.'); i > 0 && len(tok)-i > 8 {
		lc.add(tok[i+1:], "a token signature")
	}
	return tok
}

// tokenFor is a valid token for dealer, registered.
func (lc *leakCheck) tokenFor(dealer string) string { return lc.token(lc.at.token(dealer)) }

// do is apiTest.do that records the answer and registers the secrets in it and the
// credentials in the request body.
func (lc *leakCheck) do(method, path, token string, body any, headers ...header) *response {
	lc.at.t.Helper()
	if token != "" {
		lc.token(token)
	}
	if m, ok := body.(map[string]any); ok {
		if creds, ok := m["credentials"].(map[string]string); ok {
			for k, v := range creds {
				lc.add(v, "credential "+k)
			}
		}
	}
	r := lc.at.do(method, path, token, body, headers...)
	var v struct {
		Secret, PreviousSecret string
	}
	if json.Unmarshal(r.body, &v) == nil {
		if v.Secret != "" {
			lc.add(v.Secret, "a signing secret")
			lc.add(strings.TrimPrefix(v.Secret, "whsec_"), "a signing key")
		}
		if v.PreviousSecret != "" {
			lc.add(v.PreviousSecret, "a signing secret")
		}
	}
	route := method + " " + strings.SplitN(path, "?", 2)[0]
	secretRoute := (method == "POST" && route == "POST /v1/subscriptions") ||
		strings.HasSuffix(route, "/secret") || strings.HasSuffix(route, "/rotate-secret")
	if !secretRoute {
		lc.mu.Lock()
		lc.responses = append(lc.responses, leakResponse{route: route, body: r.body})
		lc.mu.Unlock()
	}
	return r
}

// raw is do without the OpenAPI check, for hostile requests that the gateway itself may
// answer (its own {"message"} documents are not the API's): odd paths, oversized bodies.
func (lc *leakCheck) raw(method, path, token string, body string) *response {
	lc.at.t.Helper()
	if token != "" {
		lc.token(token)
	}
	req, err := http.NewRequest(method, lc.at.srv.URL+path, strings.NewReader(body))
	if err != nil {
		lc.at.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	// Redirects are answers too: never followed here.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		lc.at.t.Fatalf("%s %.100s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	lc.mu.Lock()
	lc.responses = append(lc.responses, leakResponse{route: method + " " + path, body: out})
	lc.mu.Unlock()
	return &response{status: resp.StatusCode, header: resp.Header, body: out}
}

// markers betray a secret or a token whatever its value.
var markers = map[string]string{"whsec_": "a whsec_ secret", "Bearer ": "a bearer token", "eyJhbGciOi": "a JWT"}

func (lc *leakCheck) find(text string, inLog bool) []string {
	found := map[string]bool{}
	for v, label := range lc.values {
		if strings.Contains(text, v) {
			found[label] = true
		}
	}
	if inLog {
		for v, label := range lc.logOnly {
			if strings.Contains(text, v) {
				found[label] = true
			}
		}
	}
	for m, label := range markers {
		if strings.Contains(text, m) {
			found[label] = true
		}
	}
	var out []string
	for l := range found {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

func (lc *leakCheck) scan() {
	t := lc.at.t
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if len(lc.values) == 0 {
		t.Errorf("leak check: no secret registered, the scan proves nothing")
	}
	for _, r := range lc.responses {
		if leaks := lc.find(string(r.body), false); len(leaks) > 0 {
			t.Errorf("the answer to %s contains %v", r.route, leaks)
		}
	}
	if leaks := lc.find(lc.at.logs.String(), true); len(leaks) > 0 {
		t.Errorf("the API's log contains %v", leaks)
	}
	if leaks := lc.find(defaultLogs.String(), true); len(leaks) > 0 {
		t.Errorf("the default logger's output contains %v", leaks)
	}
}

// TestNoSecretInAnswersOrLogs tours every kind of request that handles a secret, a token or
// a credential — create, read the secret, rotate, test send, the delivery log, agents with
// credentials, rejected tokens — and scans every other answer and every log line for them.
func TestNoSecretInAnswersOrLogs(t *testing.T) {
	at := newAPITest(t)
	lc := newLeakCheck(at)
	tok := lc.tokenFor("dlr_leak")

	lc.logOnly["url-credential-7f3a9c"] = "the credential in a webhook URL's query"
	sub := lc.do("POST", "/v1/subscriptions", tok, map[string]any{"url": "https://hooks.example.com/x?token=url-credential-7f3a9c", "events": []string{"*"}})
	if sub.status != http.StatusCreated {
		t.Fatalf("create: %d %s", sub.status, sub.body)
	}
	var created struct{ ID, Secret string }
	sub.json(t, &created)
	if !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("create answered no secret: %s", sub.body)
	}
	id := created.ID
	base := "/v1/subscriptions/" + id
	lc.do("GET", base+"/secret", tok, nil)
	lc.do("POST", base+"/rotate-secret", tok, nil)
	lc.do("GET", base+"/secret", tok, nil)
	lc.do("GET", base, tok, nil)
	lc.do("GET", "/v1/subscriptions", tok, nil)
	lc.do("PATCH", base, tok, map[string]any{"description": "rotated"})
	lc.do("POST", base+"/test", tok, map[string]any{"eventType": "lead.created"})
	dlv := at.seedDelivery("dlr_leak", id, "failed")
	lc.do("GET", base+"/deliveries", tok, nil)
	lc.do("GET", base+"/deliveries/"+dlv, tok, nil)
	lc.do("POST", base+"/deliveries/"+dlv+"/retry", tok, nil)
	// A body that tries to smuggle a secret in: refused, not echoed.
	lc.add("whsec_c211dW1nZ2xlZF9zZWNyZXRfdmFsdWVfMTIzNDU2", "a smuggled secret")
	lc.do("PATCH", base, tok, `{"secret":"whsec_c211dW1nZ2xlZF9zZWNyZXRfdmFsdWVfMTIzNDU2"}`)

	// Agents: credentials go in, never come out.
	put := abuseAgentPut("xtime")
	lc.do("PUT", "/v1/agents/xtime", tok, put)
	lc.do("GET", "/v1/agents/xtime", tok, nil)
	lc.do("GET", "/v1/agents", tok, nil)
	lc.do("PUT", "/v1/agents/xtime", tok, map[string]any{"enabled": true, "settings": put["settings"], "credentials": map[string]string{"clientSecret": "xt-rotated-secret-77e1"}})
	agentDlv := abuseSeedDelivery(at, "dlr_leak", deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"})
	lc.do("GET", "/v1/agents/xtime/deliveries", tok, nil)
	lc.do("GET", "/v1/agents/xtime/deliveries/"+agentDlv, tok, nil)

	// Rejected tokens: the gateway's answer and the logs do not repeat them.
	expired, _ := at.issuer.Sign(jwt.MapClaims{"iss": at.issuer.Issuer, "aud": at.issuer.Audience, "dealer_id": "dlr_leak", "exp": time.Now().Add(-time.Hour).Unix()})
	noDealer, _ := at.issuer.Sign(jwt.MapClaims{"iss": at.issuer.Issuer, "aud": at.issuer.Audience, "exp": time.Now().Add(time.Hour).Unix()})
	for _, bad := range []string{expired, noDealer, tok + "x"} {
		lc.do("GET", "/v1/subscriptions", bad, nil)
	}
	lc.do("DELETE", base, tok, nil)
	if !strings.Contains(at.logs.String(), `"dealerId":"dlr_leak"`) {
		t.Fatalf("the API logged nothing for the tour: the scan proves nothing")
	}
}
