package local

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// PageServer serves the standalone host page of the Integrations page on the local stack
// (docs/integrations-page.md#trying-it-locally): the built bundle and page (the folder `make
// build` writes, build/web), GET /dev/config (the API's URL) and POST /dev/token, which signs
// a token for the dealer asked for with the local stack's key. That endpoint exists only
// here, on the loopback address the local stack listens on: in the portal, the signed-in
// user's own token is used.
//
// Every response carries a strict Content-Security-Policy: scripts and styles only from this
// origin, no inline code, API calls only to APIURL.
type PageServer struct {
	// Dir holds dealerai-integrations.js and standalone/ (node web/build.mjs writes them).
	Dir    string
	APIURL string
	Issuer *Issuer
	// DealerClaim is the claim tokens carry the dealer in (DEALER_ID_CLAIM; "" for dealer_id).
	DealerClaim string
}

// ContentSecurityPolicy is the policy the page is served with, allowing API calls to apiURL.
func ContentSecurityPolicy(apiURL string) string {
	connect := "'self'"
	if u, err := url.Parse(apiURL); err == nil && u.Host != "" {
		connect += " " + u.Scheme + "://" + u.Host
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self'",
		"connect-src " + connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

func (p *PageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy(p.APIURL))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	switch r.URL.Path {
	case "/", "/index.html":
		p.file(w, r, filepath.Join("standalone", "index.html"), "text/html; charset=utf-8")
	case "/dealerai-integrations.js":
		p.file(w, r, "dealerai-integrations.js", "text/javascript; charset=utf-8")
	case "/standalone/standalone.js":
		p.file(w, r, filepath.Join("standalone", "standalone.js"), "text/javascript; charset=utf-8")
	case "/standalone/standalone.css":
		p.file(w, r, filepath.Join("standalone", "standalone.css"), "text/css; charset=utf-8")
	case "/dev/config":
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		writeJSONBody(w, http.StatusOK, map[string]string{"apiUrl": p.APIURL})
	case "/dev/token":
		p.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (p *PageServer) file(w http.ResponseWriter, r *http.Request, name, contentType string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := os.ReadFile(filepath.Join(p.Dir, name))
	if err != nil {
		http.Error(w, name+" is not built: run `make build` (it bundles web/ into build/web)", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(body)
}

// token signs a one-hour token of the local stack for {"dealer": "..."}.
func (p *PageServer) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// JSON only: a cross-site form cannot send it without a preflight, which is not answered.
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		http.Error(w, "Content-Type must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	var in struct {
		Dealer string `json:"dealer"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil || strings.TrimSpace(in.Dealer) == "" {
		http.Error(w, `want {"dealer": "<dealer id>"}`, http.StatusBadRequest)
		return
	}
	tok, err := p.Issuer.Token(strings.TrimSpace(in.Dealer), p.DealerClaim)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSONBody(w, http.StatusOK, map[string]string{"token": tok})
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
