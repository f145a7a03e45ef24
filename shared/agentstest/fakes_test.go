package agentstest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// The fake platforms check what the real ones check — the token grant, the auth headers on
// every call, the media types and the fields each endpoint needs — and record what they
// receive. They answer with ids of their own.

// platform is what every fake shares: the server, the requests received, a status to fail
// chosen paths with, and the 401s it answered.
type platform struct {
	*httptest.Server
	agenttest.Recorder // the API requests (not the token grants)
	issuer             *agenttest.Issuer

	mu     sync.Mutex
	fail   map[string]int // path → status answered instead
	denied int            // 401s answered to API calls
	next   int
}

// start serves the platform: the issuer's token endpoint at tokenPath (none when ""), api
// for every other request.
func (p *platform) start(t testing.TB, tokenPath string, api http.HandlerFunc) {
	mux := http.NewServeMux()
	if tokenPath != "" {
		mux.Handle("POST "+tokenPath, p.issuer)
	}
	mux.HandleFunc("/", api)
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
}

// failPath makes every request to path answer status (0: stop failing).
func (p *platform) failPath(path string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail == nil {
		p.fail = map[string]int{}
	}
	if status == 0 {
		delete(p.fail, path)
	} else {
		p.fail[path] = status
	}
}

func (p *platform) failing(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fail[path]
}

func (p *platform) deny(w http.ResponseWriter) {
	p.mu.Lock()
	p.denied++
	p.mu.Unlock()
	answer(w, http.StatusUnauthorized, `{"message":"invalid or expired token"}`)
}

func (p *platform) deniedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.denied
}

func (p *platform) id() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	return 1000 + p.next
}

func answer(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	io.WriteString(w, body)
}

// check answers 400/415 when the request misses a media type or a JSON field; ok otherwise.
func check(w http.ResponseWriter, r agenttest.Request, mediaType string, fields ...string) (map[string]any, bool) {
	if ct := r.Header.Get("Content-Type"); ct != mediaType {
		answer(w, http.StatusUnsupportedMediaType, fmt.Sprintf(`{"message":"Content-Type must be %s"}`, mediaType))
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		answer(w, http.StatusBadRequest, `{"message":"the body is not a JSON object"}`)
		return nil, false
	}
	for _, f := range fields {
		if _, ok := m[f]; !ok {
			answer(w, http.StatusBadRequest, fmt.Sprintf(`{"message":"%s is required"}`, f))
			return nil, false
		}
	}
	return m, true
}
