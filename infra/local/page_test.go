package local

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPageServerServesThePageAndLocalTokens(t *testing.T) {
	issuer, err := NewEphemeralIssuer()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "standalone"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"dealerai-integrations.js": "export {}", "standalone/index.html": "<!doctype html>"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(&PageServer{Dir: dir, APIURL: "http://127.0.0.1:18080", Issuer: issuer, DealerClaim: "dealer"})
	defer srv.Close()
	do := func(method, path, contentType, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := do("GET", "/", "", "")
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || body != "<!doctype html>" || !strings.Contains(csp, "script-src 'self'") ||
		!strings.Contains(csp, "connect-src 'self' http://127.0.0.1:18080") || strings.Contains(csp, "unsafe") {
		t.Errorf("page: %d %q CSP %q", resp.StatusCode, body, csp)
	}
	if resp, _ := do("GET", "/dealerai-integrations.js", "", ""); !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("bundle headers %v", resp.Header)
	}
	if _, body := do("GET", "/dev/config", "", ""); !strings.Contains(body, `"apiUrl":"http://127.0.0.1:18080"`) {
		t.Errorf("config %s", body)
	}

	// A token for the dealer asked for, with the dealer in the configured claim.
	resp, body = do("POST", "/dev/token", "application/json", `{"dealer":"dlr_7"}`)
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(body), &tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	claims, err := issuer.Verify(tok.Token)
	if err != nil || claims["dealer"] != "dlr_7" {
		t.Errorf("token claims %v, %v", claims, err)
	}
	// Only a JSON POST (a cross-site form cannot send one without a preflight) with a dealer.
	for _, c := range []struct{ method, contentType, body string }{
		{"GET", "", ""},
		{"POST", "text/plain", `{"dealer":"dlr_7"}`},
		{"POST", "application/json", `{"dealer":" "}`},
	} {
		if resp, _ := do(c.method, "/dev/token", c.contentType, c.body); resp.StatusCode < 400 {
			t.Errorf("%s %s %s: %d", c.method, c.contentType, c.body, resp.StatusCode)
		}
	}
	if resp, _ := do("GET", "/../go.mod", "", ""); resp.StatusCode != 404 {
		t.Errorf("other paths: %d", resp.StatusCode)
	}
}
