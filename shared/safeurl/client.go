package safeurl

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// minDialTimeout is the least time one address gets when a host has several
// and the deadline is shared between them (as net.Dialer does).
const minDialTimeout = 2 * time.Second

// NewClient returns an HTTP client that only connects to allowed addresses:
//
//   - each request (connect, TLS, headers and body) is limited to timeout;
//   - redirects are never followed: a 3xx is returned as the response;
//   - the transport's DialContext resolves the host with p.Resolver, drops
//     the addresses that are not allowed and dials the remaining ones by IP
//     (an *Error if none is left), and the net.Dialer's Control function
//     re-checks the socket address right before connect, so nothing that is
//     not allowed is ever connected to;
//   - proxies are disabled; idle connections are kept per host (32, 90 s);
//     TLS 1.2 is the minimum and HTTP/2 is attempted.
//
// A refusal surfaces from Client.Do as a *url.Error wrapping an *Error:
// errors.As(err, new(*safeurl.Error)) tells it apart from network errors. A
// name that does not resolve is a network error, not an *Error.
//
// The client's Transport is an *http.Transport; tests may adjust its
// TLSClientConfig (RootCAs for an httptest TLS server): the address checks do
// not depend on it. The scheme is not re-checked per request; URLs are
// expected to have passed Check.
func (p Policy) NewClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		KeepAlive: 30 * time.Second,
		Control:   p.control,
	}
	transport := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return p.dial(ctx, dialer, network, addr)
		},
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    32,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  1 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// dial resolves addr's host, keeps the allowed addresses and dials them in
// turn until one connects.
func (p Policy) dial(ctx context.Context, dialer *net.Dialer, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var resolved []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		resolved = []netip.Addr{a}
	} else {
		ipNetwork := "ip"
		switch network {
		case "tcp4":
			ipNetwork = "ip4"
		case "tcp6":
			ipNetwork = "ip6"
		}
		resolved, err = p.resolver().LookupNetIP(ctx, ipNetwork, host)
		if err != nil {
			return nil, err
		}
		if len(resolved) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
	}

	allowed := make([]netip.Addr, 0, len(resolved))
	for _, a := range resolved {
		if p.AddrAllowed(a) {
			allowed = append(allowed, a.WithZone("").Unmap())
		}
	}
	if len(allowed) == 0 {
		if _, err := netip.ParseAddr(host); err == nil {
			return nil, refuse("refusing to connect to a private address (%s)", display(resolved[0]))
		}
		return nil, refuse("host resolves to a private address")
	}

	var errs []error
	for i, a := range allowed {
		attemptCtx, cancel := partialDeadline(ctx, len(allowed)-i)
		conn, err := dialer.DialContext(attemptCtx, network, net.JoinHostPort(a.String(), port))
		cancel()
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// partialDeadline gives one of n remaining addresses its share of the
// context's remaining time, at least minDialTimeout.
func partialDeadline(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return context.WithCancel(ctx)
	}
	share := time.Until(deadline) / time.Duration(n)
	if share < minDialTimeout {
		share = minDialTimeout
	}
	return context.WithTimeout(ctx, share)
}

// control runs after the socket is created and before it connects: the last
// word on the address actually dialled, whatever resolved it.
func (p Policy) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refuse("refusing to connect to %q: %v", address, err)
	}
	if !p.AddrAllowed(ap.Addr()) {
		return refuse("refusing to connect to a private address") // never which: it may come from DNS
	}
	return nil
}

var _ Resolver = (*net.Resolver)(nil)
