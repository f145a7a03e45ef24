package safeurl

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

type mapResolver map[string][]netip.Addr

func (r mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestDialRefusesBeforeCreatingASocket proves that a name resolving to a
// refused address never reaches the dialer: its Control function, which runs
// for every socket before connect, is never called.
func TestDialRefusesBeforeCreatingASocket(t *testing.T) {
	p := Policy{Resolver: mapResolver{
		"evil.test":     {netip.MustParseAddr("10.0.0.5")},
		"metadata.test": {netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fe80::1")},
	}}
	var sockets atomic.Int64
	dialer := &net.Dialer{Control: func(string, string, syscall.RawConn) error {
		sockets.Add(1)
		return errors.New("must not be reached")
	}}
	for _, addr := range []string{"evil.test:443", "metadata.test:80", "10.0.0.5:443", "[::ffff:a9fe:a9fe]:80"} {
		t.Run(addr, func(t *testing.T) {
			conn, err := p.dial(context.Background(), dialer, "tcp", addr)
			if conn != nil {
				conn.Close()
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("dial(%s) = %v, want *Error", addr, err)
			}
			if n := sockets.Load(); n != 0 {
				t.Fatalf("%d sockets created, want 0", n)
			}
		})
	}
}

// TestControlRechecksSocketAddress exercises the defense in depth: a plain
// net.Dialer with the policy's Control function, dialling by IP, cannot
// connect to a refused address, whoever resolved it.
func TestControlRechecksSocketAddress(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	p := Policy{}
	d := &net.Dialer{Timeout: 2 * time.Second, Control: p.control}
	_, err := d.Dial("tcp", srv.Listener.Addr().String())
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("Dial = %v, want *Error", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := conns.Load(); n != 0 {
		t.Fatalf("server accepted %d connections, want 0", n)
	}

	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", false},
		{"[::1]:80", false},
		{"[::ffff:127.0.0.1]:80", false},
		{"169.254.169.254:80", false},
		{"10.0.0.5:443", false},
		{"not-an-address", false},
		{"93.184.215.14:443", true},
		{"[2606:4700:4700::1111]:443", true},
	} {
		err := p.control("tcp", tt.addr, nil)
		if (err == nil) != tt.ok {
			t.Errorf("control(%s) = %v, want ok=%t", tt.addr, err, tt.ok)
		}
		if err != nil {
			if !errors.As(err, &se) {
				t.Errorf("control(%s) error %T is not *Error", tt.addr, err)
			}
		}
	}

	allow := Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	if err := allow.control("tcp", "127.0.0.1:80", nil); err != nil {
		t.Errorf("control with AllowCIDRs = %v", err)
	}
}
