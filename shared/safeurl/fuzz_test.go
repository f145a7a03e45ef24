package safeurl_test

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/safeurl"
)

// FuzzCheckSyntax checks that CheckSyntax never panics, that every refusal
// is an *Error, and that whatever it accepts parses, is https, fits the
// length limit, has no userinfo, and has a host that is neither a refused IP
// literal nor any other spelling of an IPv4 address.
func FuzzCheckSyntax(f *testing.F) {
	for _, seed := range []string{
		"https://example.com/hook",
		"https://example.com:8443/h?x=1#f",
		"https://8.8.8.8/",
		"https://[2606:4700:4700::1111]/",
		"https://127.0.0.1/",
		"https://[::ffff:127.0.0.1]/",
		"https://[::ffff:7f00:1]/",
		"https://[64:ff9b::a00:5]/",
		"https://[fe80::1%25eth0]/",
		"https://2130706433/",
		"https://0177.0.0.1/",
		"https://0x7f.1/",
		"https://127.1/",
		"https://127.0.0.1./",
		"https://user:pass@example.com/",
		"https://example.com@10.0.0.5/",
		"http://example.com/",
		"/relative",
		"https:example.com",
		"https://%31%32%37.0.0.1/",
		"https://ex%C3%A4mple.com/",
		"HTTPS://EXAMPLE.COM./",
		"https://example.com\\@127.0.0.1/",
		"",
	} {
		f.Add(seed)
	}
	p := safeurl.Policy{}
	f.Fuzz(func(t *testing.T, raw string) {
		err := p.CheckSyntax(raw)
		if err != nil {
			var se *safeurl.Error
			if !errors.As(err, &se) || se.Reason == "" {
				t.Fatalf("CheckSyntax(%q) = %v (%T), want *safeurl.Error with a reason", raw, err, err)
			}
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("accepted %q but url.Parse fails: %v", raw, perr)
		}
		if u.Scheme != "https" {
			t.Fatalf("accepted %q with scheme %q", raw, u.Scheme)
		}
		if len(raw) > safeurl.MaxURLLength {
			t.Fatalf("accepted a %d-character URL", len(raw))
		}
		if u.User != nil {
			t.Fatalf("accepted %q with userinfo", raw)
		}
		host := u.Hostname()
		if host == "" {
			t.Fatalf("accepted %q without a host", raw)
		}
		if a, err := netip.ParseAddr(host); err == nil && !p.AddrAllowed(a) {
			t.Fatalf("accepted %q whose host %s is not allowed", raw, a)
		}
		if a, ok := legacyIPv4(host); ok {
			if host != a.String() {
				t.Fatalf("accepted %q whose host %q is read as %s by browsers/inet_aton", raw, host, a)
			}
			if !p.AddrAllowed(a) {
				t.Fatalf("accepted %q whose host is %s", raw, a)
			}
		}
	})
}

// legacyIPv4 parses host the way inet_aton and the WHATWG URL standard do:
// one to four parts, each decimal, octal (leading 0) or hex (0x), the last
// filling the remaining bytes, an optional trailing dot.
func legacyIPv4(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums []uint64
	for _, part := range parts {
		if part == "" {
			return netip.Addr{}, false
		}
		base, digits := 10, part
		switch {
		case len(part) >= 2 && (part[:2] == "0x" || part[:2] == "0X"):
			base, digits = 16, part[2:]
			if digits == "" {
				digits = "0"
			}
		case len(part) > 1 && part[0] == '0':
			base, digits = 8, part[1:]
		}
		n, err := strconv.ParseUint(digits, base, 64)
		if err != nil || n > 0xffffffff {
			return netip.Addr{}, false
		}
		nums = append(nums, n)
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v |= n << (8 * (3 - i))
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}
