// Command fakeplatform is a VinSolutions-like CRM for trying the integration agents on the
// local stack: it issues OAuth 2.0 client-credentials tokens (form-authenticated, scope
// PublicAPI) at /connect/token, checks the bearer token and the api_key header of every call,
// answers the contact, lead, vehicle-of-interest and lead-note calls the VinSolutions
// connector makes with ids of its own, and prints each request it gets. It is a demo, not a
// test double: the tests have their own fakes (shared/agentstest).
//
//	go run ./infra/local/cmd/fakeplatform -addr 127.0.0.1:9400
//	go run ./infra/local/cmd/fakeplatform -addr 127.0.0.1:9400 -status 500   # a failing CRM
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9400", "address to listen on")
	clientID := flag.String("client-id", "demo-client", "the OAuth client id it accepts")
	clientSecret := flag.String("client-secret", "demo-secret", "the OAuth client secret it accepts")
	apiKey := flag.String("api-key", "demo-api-key", "the api_key it accepts")
	status := flag.Int("status", 0, "answer every API call with this status instead (e.g. 500)")
	flag.Parse()

	f := newFake(*clientID, *clientSecret, *apiKey, *status, log.Writer())
	log.Printf("fake VinSolutions listening on http://%s (token URL http://%s/connect/token)", *addr, *addr)
	server := &http.Server{Addr: *addr, Handler: f, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(server.ListenAndServe())
}

type fake struct {
	clientID, clientSecret, apiKey string
	status                         int
	out                            io.Writer

	mu     sync.Mutex
	tokens map[string]bool
	next   int
}

func newFake(clientID, clientSecret, apiKey string, status int, out io.Writer) *fake {
	return &fake{clientID: clientID, clientSecret: clientSecret, apiKey: apiKey, status: status, out: out, tokens: map[string]bool{}}
}

func (f *fake) id() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	return 1000 + f.next
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	answer := func(code int, v string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, v)
		fmt.Fprintf(f.out, "  → %d %s\n\n", code, v)
	}
	if r.Method == http.MethodPost && r.URL.Path == "/connect/token" {
		f.token(r, body, answer)
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	tokenOK := f.tokens[tok]
	f.mu.Unlock()
	fmt.Fprintf(f.out, "%s %s %s  Content-Type: %s  token: %s  api_key: %s\n%s\n",
		time.Now().Format(time.TimeOnly), r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"),
		okOr(tokenOK, "REFUSED"), okOr(r.Header.Get("api_key") == f.apiKey, "WRONG"), indent(body))
	switch {
	case !tokenOK:
		answer(http.StatusUnauthorized, `{"message":"invalid or expired token"}`)
		return
	case r.Header.Get("api_key") != f.apiKey:
		answer(http.StatusForbidden, `{"message":"invalid api_key"}`)
		return
	case f.status != 0:
		answer(f.status, `{"message":"the fake is set to fail"}`)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/gateway/v1/contact":
		answer(http.StatusOK, fmt.Sprintf(`{"ContactId":%d}`, f.id()))
	case r.Method == http.MethodPost && r.URL.Path == "/leads":
		answer(http.StatusCreated, fmt.Sprintf(`{"leadId":%d}`, f.id()))
	case r.Method == http.MethodPost && r.URL.Path == "/vehicles/interest":
		answer(http.StatusCreated, fmt.Sprintf(`{"vehicleInterestId":%d}`, f.id()))
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/leads/id/"):
		w.WriteHeader(http.StatusNoContent)
		fmt.Fprintf(f.out, "  → 204\n\n")
	default:
		answer(http.StatusNotFound, `{"message":"no such endpoint"}`)
	}
}

// token is the client-credentials grant: client_id and client_secret in the form, scope
// PublicAPI.
func (f *fake) token(r *http.Request, body []byte, answer func(int, string)) {
	fmt.Fprintf(f.out, "%s POST /connect/token\n", time.Now().Format(time.TimeOnly))
	form, err := url.ParseQuery(string(body))
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || err != nil {
		answer(http.StatusBadRequest, `{"error":"invalid_request"}`)
		return
	}
	switch {
	case form.Get("grant_type") != "client_credentials":
		answer(http.StatusBadRequest, `{"error":"unsupported_grant_type"}`)
	case form.Get("scope") != "PublicAPI":
		answer(http.StatusBadRequest, `{"error":"invalid_scope"}`)
	case form.Get("client_id") != f.clientID || form.Get("client_secret") != f.clientSecret:
		answer(http.StatusUnauthorized, `{"error":"invalid_client"}`)
	default:
		tok := fmt.Sprintf("fake-token-%d", f.id())
		f.mu.Lock()
		f.tokens[tok] = true
		f.mu.Unlock()
		answer(http.StatusOK, fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, tok))
	}
}

func okOr(ok bool, bad string) string {
	if ok {
		return "ok"
	}
	return bad
}

func indent(body []byte) string {
	var b bytes.Buffer
	if json.Indent(&b, body, "  ", "  ") != nil {
		return "  " + string(body)
	}
	return "  " + b.String()
}
