// Package safeurl decides which URLs DealerAI may contact on a dealer's behalf
// and provides the HTTP client that enforces that decision when it connects.
//
// The same Policy is used in two places:
//
//   - at create/update time (the API), Policy.Check validates a webhook or
//     agent URL: absolute https, no userinfo, at most 2048 characters, and a
//     host that is (or resolves only to) public addresses;
//   - at connect time (the delivery Lambda), the client from Policy.NewClient
//     resolves the host itself, dials only allowed addresses and re-checks the
//     socket address in a net.Dialer Control function, so DNS rebinding
//     between the two checks cannot reach an internal address.
//
// Private, loopback, link-local (cloud metadata), shared, multicast, reserved
// and documentation ranges are refused, including their IPv4-mapped,
// NAT64 and 6to4 IPv6 forms. Policy.AllowCIDRs and Policy.AllowHTTP open
// exceptions for the local stack and tests only (ALLOW_ENDPOINT_CIDRS and
// ALLOW_HTTP_ENDPOINTS, see PolicyFromEnv).
//
// Every refusal is an *Error, also when it surfaces through net/http wrapped
// in a *url.Error, so callers can classify it with errors.As.
package safeurl

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxURLLength is the longest URL Check and CheckSyntax accept, in bytes.
const MaxURLLength = 2048

// Resolver resolves a host name to IP addresses. *net.Resolver satisfies it;
// tests inject a fake to make a name resolve to any address.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy says which URLs and addresses may be contacted. The zero value is
// the production policy: https only, public addresses only, system resolver.
type Policy struct {
	// AllowCIDRs are ranges allowed even though they are not public, for
	// the local stack and tests only (e.g. 127.0.0.0/8).
	AllowCIDRs []netip.Prefix
	// AllowHTTP allows plain http:// URLs (local stack and tests only).
	AllowHTTP bool
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
}

// Error is a refusal by the policy. Reason is a short human-readable
// explanation, safe to show to the API caller and to log, such as
// "url must use https" or "host resolves to a private address" (never the address a name
// resolved to: internal DNS is not the caller's to learn).
type Error struct {
	Reason string
}

// Error returns the reason.
func (e *Error) Error() string { return e.Reason }

func refuse(format string, args ...any) *Error {
	if len(args) == 0 {
		return &Error{Reason: format}
	}
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// PolicyFromEnv builds a Policy from ALLOW_ENDPOINT_CIDRS (comma-separated
// CIDRs or single addresses; empty or "none" means no exception) and
// ALLOW_HTTP_ENDPOINTS ("true"/"1" allow plain http; empty, "false"/"0" do
// not). A malformed value is an error naming the variable. getenv is usually
// os.Getenv.
func PolicyFromEnv(getenv func(string) string) (Policy, error) {
	var p Policy

	cidrs := strings.TrimSpace(getenv("ALLOW_ENDPOINT_CIDRS"))
	if cidrs != "" && !strings.EqualFold(cidrs, "none") {
		for _, field := range strings.Split(cidrs, ",") {
			field = strings.TrimSpace(field)
			if field == "" {
				continue
			}
			prefix, err := parsePrefix(field)
			if err != nil {
				return Policy{}, fmt.Errorf("ALLOW_ENDPOINT_CIDRS: invalid CIDR %q: %w", field, err)
			}
			p.AllowCIDRs = append(p.AllowCIDRs, prefix)
		}
	}

	if v := strings.TrimSpace(getenv("ALLOW_HTTP_ENDPOINTS")); v != "" {
		allow, err := strconv.ParseBool(v)
		if err != nil {
			return Policy{}, fmt.Errorf("ALLOW_HTTP_ENDPOINTS: invalid value %q: want true or false", v)
		}
		p.AllowHTTP = allow
	}
	return p, nil
}

// parsePrefix accepts "10.0.0.0/8", "::1/128" or a bare address (a
// single-address prefix). IPv4-mapped IPv6 prefixes are turned into their
// IPv4 form, since addresses are unmapped before they are compared.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.WithZone("").Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// Check is the full create/update-time check: CheckSyntax, then, for a host
// name, a DNS lookup whose every address must be allowed. A name that does
// not resolve is refused ("host does not resolve").
func (p Policy) Check(ctx context.Context, rawURL string) error {
	u, err := p.parse(rawURL)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return nil // an IP literal, already checked by parse
	}
	addrs, err := p.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return refuse("host does not resolve")
	}
	for _, a := range addrs {
		if !p.AddrAllowed(a) {
			return refuse("host resolves to a private address")
		}
	}
	return nil
}

// CheckSyntax is Check without DNS: the URL rules and, for an IP-literal
// host, the address rules. A host name is accepted without being resolved.
func (p Policy) CheckSyntax(rawURL string) error {
	_, err := p.parse(rawURL)
	return err
}

func (p Policy) parse(rawURL string) (*url.URL, error) {
	if len(rawURL) > MaxURLLength {
		return nil, refuse("url is longer than %d characters", MaxURLLength)
	}
	if strings.TrimSpace(rawURL) == "" {
		return nil, refuse("url is empty")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, refuse("url is not valid")
	}
	if !u.IsAbs() {
		return nil, refuse("url must be absolute")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowHTTP:
	case p.AllowHTTP:
		return nil, refuse("url must use http or https")
	default:
		return nil, refuse("url must use https")
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, refuse("url must include a host")
	}
	if u.User != nil {
		return nil, refuse("url must not contain a user name or password")
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, refuse("url has an invalid port")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, refuse("url has an invalid port")
	}
	host := u.Hostname()
	if host == "" {
		return nil, refuse("url must include a host")
	}
	if err := p.checkHost(host); err != nil {
		return nil, err
	}
	return u, nil
}

// checkHost checks the host part of a URL (brackets already removed).
func (p Policy) checkHost(host string) *Error {
	if strings.Contains(host, ":") { // only IPv6 literals contain a colon
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return refuse("host is not a valid IPv6 address")
		}
		if a.Zone() != "" {
			return refuse("host must not be an IPv6 address with a zone")
		}
		if !p.AddrAllowed(a) {
			return refuse("host is a private address (%s)", display(a))
		}
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		if !p.AddrAllowed(a) {
			return refuse("host is a private address (%s)", a)
		}
		return nil
	}
	if looksNumeric(host) {
		return refuse("host is a numeric address that is not a dotted-quad IPv4 (%s)", host)
	}
	if !validHostname(host) {
		return refuse("host is not a valid host name")
	}
	return nil
}

// looksNumeric reports whether a host that is not a canonical IPv4 literal
// would still be taken for an IPv4 address by a browser, curl or
// inet_aton: decimal ("2130706433"), octal ("0177.0.0.1"), hex ("0x7f.1"),
// short ("127.1") or trailing-dot ("127.0.0.1.") forms. It follows the WHATWG
// URL "ends in a number" rule (the last label is all digits or 0x-hex), and
// also refuses any host made only of digits, dots and 0x-hex labels.
func looksNumeric(host string) bool {
	h := strings.TrimSuffix(host, ".")
	if h == "" {
		return false
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if isNumericLabel(last) {
		return true
	}
	for _, label := range strings.Split(h, ".") {
		if !isNumericLabel(label) {
			return false
		}
	}
	return true
}

// isNumericLabel reports whether s is all decimal digits or "0x" followed by
// hex digits (possibly none, as inet_aton and WHATWG accept "0x").
func isNumericLabel(s string) bool {
	if s == "" {
		return false
	}
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		for i := 2; i < len(s); i++ {
			if !isHex(s[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// validHostname accepts ASCII DNS names: labels of letters, digits, '-' and
// '_', 1 to 63 characters, not starting or ending with '-', at most 253
// characters, an optional trailing dot. Internationalized names must be given
// in their punycode (xn--) form, so what is checked is what is resolved.
func validHostname(host string) bool {
	h := strings.TrimSuffix(host, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func (p Policy) resolver() Resolver {
	if p.Resolver != nil {
		return p.Resolver
	}
	return net.DefaultResolver
}

// display prints an address in the form that was checked (IPv4-mapped
// addresses as IPv4).
func display(a netip.Addr) string {
	return a.WithZone("").Unmap().String()
}
