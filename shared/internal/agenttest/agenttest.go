// Package agenttest holds what the connectors' tests and the agents' end-to-end tests
// (shared/agentstest) share: the example events, golden files under testdata/agents
// (rewritten with -update), a recorder of the requests a fake platform received, and a fake
// OAuth 2.0 token endpoint that checks the grant like the real ones do. Only tests import it.
//
// Rewrite the golden files with
//
//	go test ./shared/agents/adf ./shared/agents/vinsolutions ./shared/agents/dealersocket ./shared/agents/fortellis ./shared/agents/xtime -update
package agenttest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/agents")

// Testdata is the repository's testdata directory.
func Testdata() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata")
}

// EventJSON is the example body name: an event type's catalog example (events.Example), or
// a variant in testdata/events/<name>.json.
func EventJSON(t testing.TB, name string) []byte {
	t.Helper()
	if raw, ok := events.Example(name); ok {
		return raw
	}
	raw, err := os.ReadFile(filepath.Join(Testdata(), "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Event parses the example body name (EventJSON), with edits applied to the raw JSON object
// (a nil value deletes the field).
func Event(t testing.TB, name string, edits map[string]any) *events.Event {
	t.Helper()
	raw := EventJSON(t, name)
	var err error
	if len(edits) > 0 {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range edits {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		if raw, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := events.Parse(raw)
	if err != nil {
		t.Fatalf("event %s: %v", name, err)
	}
	return ev
}

// Golden compares got with testdata/agents/<name>, byte for byte, or rewrites the file
// under -update.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join(Testdata(), "agents", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run the test with -update to create it)", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("request body differs from golden %s (-update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// Indent pretty-prints a JSON body for a golden file (ending with a newline).
func Indent(t testing.TB, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, body, "", "  "); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// Request is one request a fake platform received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	// Received is when the fake received it.
	Received time.Time
}

// JSON is the request's body as a JSON object; the test fails when it is not one.
func (r Request) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s %s: body is not JSON: %s", r.Method, r.Path, r.Body)
	}
	return m
}

// Recorder keeps the requests a fake platform received.
type Recorder struct {
	mu   sync.Mutex
	reqs []Request
}

// Record reads r's body and keeps the request; it returns what it kept.
func (rec *Recorder) Record(r *http.Request) Request {
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body, Received: time.Now()}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.reqs = append(rec.reqs, req)
	return req
}

// Requests returns the requests received so far, optionally only those to path.
func (rec *Recorder) Requests(path string) []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []Request
	for _, r := range rec.reqs {
		if path == "" || r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// Issuer is a fake OAuth 2.0 client-credentials token endpoint. It refuses what a real one
// refuses: another method or content type, another grant type or scope, wrong client
// credentials, or credentials sent the other way (form versus HTTP Basic).
type Issuer struct {
	ClientID, ClientSecret, Scope string
	// Basic: the client authenticates with HTTP Basic; otherwise with client_id and
	// client_secret in the form.
	Basic bool
	// Lifetime of the tokens issued (expires_in); 1 h when 0.
	Lifetime time.Duration
	// TokenType is the token_type of the tokens issued, and the scheme Authorized expects
	// them under; "Bearer" when "".
	TokenType string

	mu     sync.Mutex
	valid  map[string]bool
	grants int
}

// ServeHTTP is the token endpoint.
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	refuse := func(code int, errCode string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":%q}`, errCode)
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		refuse(http.StatusBadRequest, "invalid_request")
		return
	}
	if err := r.ParseForm(); err != nil {
		refuse(http.StatusBadRequest, "invalid_request")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		refuse(http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	if f.Get("scope") != i.Scope {
		refuse(http.StatusBadRequest, "invalid_scope")
		return
	}
	var id, secret string
	if i.Basic {
		if f.Has("client_id") || f.Has("client_secret") {
			refuse(http.StatusBadRequest, "invalid_request")
			return
		}
		auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Basic ")
		raw, err := base64.StdEncoding.DecodeString(auth)
		if !ok || err != nil {
			refuse(http.StatusUnauthorized, "invalid_client")
			return
		}
		id, secret, _ = strings.Cut(string(raw), ":")
	} else {
		if r.Header.Get("Authorization") != "" {
			refuse(http.StatusBadRequest, "invalid_request")
			return
		}
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	if id != i.ClientID || secret != i.ClientSecret {
		refuse(http.StatusUnauthorized, "invalid_client")
		return
	}
	i.mu.Lock()
	i.grants++
	tok := fmt.Sprintf("token-%d", i.grants)
	if i.valid == nil {
		i.valid = map[string]bool{}
	}
	i.valid[tok] = true
	i.mu.Unlock()
	lifetime := i.Lifetime
	if lifetime == 0 {
		lifetime = time.Hour
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":%q,"expires_in":%d}`, tok, i.tokenType(), int(lifetime.Seconds()))
}

func (i *Issuer) tokenType() string {
	if i.TokenType == "" {
		return "Bearer"
	}
	return i.TokenType
}

// Authorized reports whether r carries "Authorization: <TokenType> <a valid token>".
func (i *Issuer) Authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), i.tokenType()+" ")
	i.mu.Lock()
	defer i.mu.Unlock()
	return ok && i.valid[tok]
}

// ExpireAll makes every token issued so far invalid (as if it had expired).
func (i *Issuer) ExpireAll() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.valid = map[string]bool{}
}

// Grants is how many tokens were issued.
func (i *Issuer) Grants() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.grants
}

// Faults makes a fake platform fail chosen requests: the next n requests to a path answer a
// given status and body.
type Faults struct {
	mu     sync.Mutex
	faults map[string][]Fault
}

// Fault is one injected answer.
type Fault struct {
	Status int
	Body   string
	Header map[string]string
}

// Add queues a fault for the next request to path.
func (f *Faults) Add(path string, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.faults == nil {
		f.faults = map[string][]Fault{}
	}
	f.faults[path] = append(f.faults[path], fault)
}

// Serve answers r with a queued fault for its path, reporting whether it did.
func (f *Faults) Serve(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	q := f.faults[r.URL.Path]
	if len(q) == 0 {
		f.mu.Unlock()
		return false
	}
	fault := q[0]
	f.faults[r.URL.Path] = q[1:]
	f.mu.Unlock()
	for k, v := range fault.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(fault.Status)
	io.WriteString(w, fault.Body)
	return true
}
