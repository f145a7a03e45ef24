package safeurl_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/safeurl"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// countingServer is an httptest server on 127.0.0.1 that counts the
// connections it accepts and the requests it serves.
type countingServer struct {
	*httptest.Server
	conns, requests atomic.Int64
}

func newCountingServer(t *testing.T, tls bool, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func okHandler(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }

func get(t *testing.T, c *http.Client, rawURL string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel) // not before the body is read
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err == nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, err
}

func TestClientAllowedLoopback(t *testing.T) {
	srv := newCountingServer(t, false, okHandler)
	p := safeurl.Policy{AllowCIDRs: loopback, AllowHTTP: true}
	if err := p.Check(context.Background(), srv.URL); err != nil {
		t.Fatalf("Check(%s) = %v", srv.URL, err)
	}
	c := p.NewClient(5 * time.Second)
	for i := 0; i < 3; i++ {
		resp, err := get(t, c, srv.URL+"/hook")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "ok" {
			t.Fatalf("got %d %q, want 200 ok", resp.StatusCode, body)
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("server saw %d connections for 3 requests, want 1 (keep-alive reuse)", n)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	const metadata = "http://169.254.169.254/latest/meta-data/"
	srv := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, metadata, http.StatusFound)
	})
	p := safeurl.Policy{AllowCIDRs: loopback, AllowHTTP: true}
	resp, err := get(t, p.NewClient(5*time.Second), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status = %d, want 302 returned as the response", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != metadata {
		t.Fatalf("Location = %q", loc)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("server saw %d requests, want 1", n)
	}
}

func TestClientRefusesNameResolvingToPrivate(t *testing.T) {
	tests := []struct {
		name, host, want string
	}{
		{"10/8", "evil.test", "host resolves to a private address"},
		{"metadata", "metadata.test", "host resolves to a private address"},
		{"loopback without AllowCIDRs", "loopback4.test", "host resolves to a private address"},
		{"mapped", "mapped.test", "host resolves to a private address"},
	}
	r := newFakeResolver(map[string][]string{
		"evil.test":      {"10.0.0.5"},
		"metadata.test":  {"169.254.169.254"},
		"loopback4.test": {"127.0.0.1"},
		"mapped.test":    {"::ffff:10.0.0.5"},
	})
	p := safeurl.Policy{AllowHTTP: true, Resolver: r}
	c := p.NewClient(5 * time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := get(t, c, "http://"+tt.host+"/hook")
			if err == nil {
				t.Fatal("request succeeded, want refused")
			}
			se := isPolicyError(t, err)
			if se.Reason != tt.want {
				t.Errorf("reason = %q, want %q", se.Reason, tt.want)
			}
			var ue *url.Error
			if !errors.As(err, &ue) {
				t.Errorf("error %T is not wrapped in *url.Error as net/http does", err)
			}
			// Refused before any connect: an attempt to reach 10.0.0.5 would
			// hang or fail with a network error instead.
			if d := time.Since(start); d > time.Second {
				t.Errorf("refusal took %v, want immediate", d)
			}
		})
	}
}

func TestClientRefusesLoopbackWithoutAllowCIDRs(t *testing.T) {
	srv := newCountingServer(t, false, okHandler)
	p := safeurl.Policy{AllowHTTP: true}
	_, err := get(t, p.NewClient(5*time.Second), srv.URL)
	if err == nil {
		t.Fatal("request to 127.0.0.1 succeeded, want refused")
	}
	se := isPolicyError(t, err)
	if !strings.Contains(se.Reason, "127.0.0.1") {
		t.Errorf("reason %q does not name the address", se.Reason)
	}
	if n := srv.conns.Load(); n != 0 {
		t.Fatalf("server accepted %d connections, want 0", n)
	}
}

func TestClientDialsOnlyAllowedAddresses(t *testing.T) {
	srv := newCountingServer(t, false, okHandler)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	r := newFakeResolver(map[string][]string{
		// 10.0.0.5 first: it must be skipped, not tried (and time out).
		"mixed.test": {"10.0.0.5", "169.254.169.254", "127.0.0.1"},
	})
	p := safeurl.Policy{AllowCIDRs: loopback, AllowHTTP: true, Resolver: r}
	resp, err := get(t, p.NewClient(5*time.Second), "http://mixed.test:"+strconv.Itoa(port)+"/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	// Check (create/update time) is stricter: every address must be allowed.
	if err := p.Check(context.Background(), "http://mixed.test/"); err == nil {
		t.Fatal("Check accepted a name with a private address")
	}
}

func TestClientDNSFailureIsNotAPolicyError(t *testing.T) {
	p := safeurl.Policy{AllowHTTP: true, Resolver: newFakeResolver(nil)}
	_, err := get(t, p.NewClient(5*time.Second), "http://nx.test/")
	if err == nil {
		t.Fatal("request succeeded")
	}
	var se *safeurl.Error
	if errors.As(err, &se) {
		t.Fatalf("DNS failure reported as a policy refusal: %v", err)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) {
		t.Fatalf("error %v does not wrap *net.DNSError", err)
	}
}

func TestClientTLSByName(t *testing.T) {
	srv := newCountingServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	})
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	// httptest's certificate is valid for example.com; resolve it to the server.
	r := newFakeResolver(map[string][]string{"example.com": {"127.0.0.1"}})
	p := safeurl.Policy{AllowCIDRs: loopback, Resolver: r}
	c := p.NewClient(5 * time.Second)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	c.Transport.(*http.Transport).TLSClientConfig.RootCAs = pool

	resp, err := get(t, c, "https://example.com:"+strconv.Itoa(port)+"/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if resp.TLS == nil || resp.TLS.ServerName != "example.com" {
		t.Fatalf("TLS state = %+v, want ServerName example.com", resp.TLS)
	}
	t.Logf("served over %s", body)
}

func TestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	p := safeurl.Policy{AllowCIDRs: loopback, AllowHTTP: true}
	start := time.Now()
	_, err := get(t, p.NewClient(200*time.Millisecond), srv.URL)
	if err == nil {
		t.Fatal("request succeeded, want timeout")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestClientSettings(t *testing.T) {
	c := safeurl.Policy{}.NewClient(10 * time.Second)
	if c.Timeout != 10*time.Second {
		t.Errorf("Timeout = %v", c.Timeout)
	}
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("Transport is %T, want *http.Transport", c.Transport)
	}
	if tr.Proxy != nil {
		t.Error("Proxy is set, want nil")
	}
	if tr.TLSClientConfig.MinVersion < 0x0303 {
		t.Errorf("TLS MinVersion = %x, want >= TLS 1.2", tr.TLSClientConfig.MinVersion)
	}
	if !tr.ForceAttemptHTTP2 || tr.MaxIdleConnsPerHost != 32 || tr.IdleConnTimeout != 90*time.Second {
		t.Errorf("transport = h2:%t idle/host:%d idle:%v", tr.ForceAttemptHTTP2, tr.MaxIdleConnsPerHost, tr.IdleConnTimeout)
	}
}
