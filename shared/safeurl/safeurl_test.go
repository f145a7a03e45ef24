package safeurl_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/dealerai/integrations/shared/safeurl"
)

// fakeResolver resolves names from a map; any other name is "not found".
type fakeResolver struct {
	mu    sync.Mutex
	hosts map[string][]string
	calls []string
}

func newFakeResolver(hosts map[string][]string) *fakeResolver {
	return &fakeResolver{hosts: hosts}
}

func (r *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	r.calls = append(r.calls, host)
	r.mu.Unlock()
	addrs, ok := r.hosts[strings.TrimSuffix(strings.ToLower(host), ".")]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range addrs {
		a := netip.MustParseAddr(s)
		switch {
		case network == "ip4" && !a.Unmap().Is4():
			continue
		case network == "ip6" && a.Unmap().Is4():
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func (r *fakeResolver) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// failingResolver fails the test if it is ever used.
type failingResolver struct{ t *testing.T }

func (r failingResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.t.Errorf("unexpected DNS lookup of %q", host)
	return nil, errors.New("no DNS in this test")
}

var testHosts = map[string][]string{
	"example.com":          {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
	"hooks.dealer.example": {"203.0.114.10"},
	"internal.test":        {"10.0.0.5"},
	"metadata.test":        {"169.254.169.254"},
	"localhost":            {"127.0.0.1", "::1"},
	"loopback4.test":       {"127.0.0.1"},
	"mixed.test":           {"93.184.215.14", "10.0.0.5"},
	"mapped.test":          {"::ffff:10.0.0.5"},
	"nat64.test":           {"64:ff9b::a9fe:a9fe"},
	"empty.test":           {},
}

func isPolicyError(t *testing.T, err error) *safeurl.Error {
	t.Helper()
	var se *safeurl.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *safeurl.Error", err, err)
	}
	return se
}

func TestCheck(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", safeurl.MaxURLLength)
	maxLen := "https://example.com/" + strings.Repeat("a", safeurl.MaxURLLength-len("https://example.com/"))

	tests := []struct {
		name string
		url  string
		want string // "" = accepted, else the exact reason
	}{
		// accepted
		{"https name", "https://example.com/hooks/dealerai", ""},
		{"port query fragment", "https://example.com:8443/h?x=1&y=2#frag", ""},
		{"upper-case scheme and host", "HTTPS://EXAMPLE.COM/", ""},
		{"trailing dot name", "https://example.com./", ""},
		{"public IPv4 literal", "https://8.8.8.8/hook", ""},
		{"public IPv6 literal", "https://[2606:4700:4700::1111]:443/hook", ""},
		{"NAT64 of public IPv4", "https://[64:ff9b::808:808]/", ""},
		{"exactly max length", maxLen, ""},
		{"name with a public address", "https://hooks.dealer.example/x", ""},

		// URL shape
		{"empty", "", "url is empty"},
		{"relative path", "/hooks", "url must be absolute"},
		{"no scheme", "example.com/hook", "url must be absolute"},
		{"plain http", "http://example.com/hook", "url must use https"},
		{"ftp", "ftp://example.com/file", "url must use https"},
		{"javascript", "javascript:alert(1)", "url must use https"},
		{"opaque https", "https:example.com", "url must include a host"},
		{"no host", "https:///path", "url must include a host"},
		{"port only", "https://:443/", "url must include a host"},
		{"userinfo user", "https://user@example.com/", "url must not contain a user name or password"},
		{"userinfo user and password", "https://user:pass@example.com/", "url must not contain a user name or password"},
		{"userinfo hiding a private host", "https://example.com@10.0.0.5/", "url must not contain a user name or password"},
		{"too long", long, "url is longer than 2048 characters"},
		{"space in host", "https://exa mple.com/", "url is not valid"},
		{"control character", "https://example.com/\x7f\n", "url is not valid"},
		{"port zero", "https://example.com:0/", "url has an invalid port"},
		{"port too big", "https://example.com:99999/", "url has an invalid port"},
		{"empty port", "https://example.com:/", "url has an invalid port"},
		{"non-ASCII host", "https://exämple.com/", "host is not a valid host name"},
		{"percent-encoded non-ASCII host", "https://ex%C3%A4mple.com/", "host is not a valid host name"},
		{"label starting with a hyphen", "https://-example.com/", "host is not a valid host name"},
		{"empty label", "https://example..com/", "host is not a valid host name"},

		// IPv4 literals of every refused range
		{"loopback", "https://127.0.0.1/", "host is a private address (127.0.0.1)"},
		{"loopback other", "https://127.255.0.9:8443/", "host is a private address (127.255.0.9)"},
		{"10/8", "https://10.0.0.5/", "host is a private address (10.0.0.5)"},
		{"172.16/12 low", "https://172.16.0.1/", "host is a private address (172.16.0.1)"},
		{"172.16/12 high", "https://172.31.255.255/", "host is a private address (172.31.255.255)"},
		{"192.168/16", "https://192.168.1.1/", "host is a private address (192.168.1.1)"},
		{"metadata", "https://169.254.169.254/latest/meta-data/", "host is a private address (169.254.169.254)"},
		{"shared 100.64/10", "https://100.64.0.1/", "host is a private address (100.64.0.1)"},
		{"shared 100.64/10 high", "https://100.127.255.254/", "host is a private address (100.127.255.254)"},
		{"unspecified", "https://0.0.0.0/", "host is a private address (0.0.0.0)"},
		{"this network", "https://0.1.2.3/", "host is a private address (0.1.2.3)"},
		{"multicast", "https://224.0.0.1/", "host is a private address (224.0.0.1)"},
		{"multicast ssdp", "https://239.255.255.250/", "host is a private address (239.255.255.250)"},
		{"broadcast", "https://255.255.255.255/", "host is a private address (255.255.255.255)"},
		{"reserved 240/4", "https://240.0.0.1/", "host is a private address (240.0.0.1)"},
		{"IETF 192.0.0/24", "https://192.0.0.170/", "host is a private address (192.0.0.170)"},
		{"benchmark 198.18/15", "https://198.19.255.255/", "host is a private address (198.19.255.255)"},
		{"TEST-NET-1", "https://192.0.2.1/", "host is a private address (192.0.2.1)"},

		// IPv6 literals
		{"IPv6 loopback", "https://[::1]/", "host is a private address (::1)"},
		{"IPv6 unspecified", "https://[::]/", "host is a private address (::)"},
		{"unique local fc00", "https://[fc00::1]/", "host is a private address (fc00::1)"},
		{"unique local fd", "https://[fd12:3456::1]:8443/", "host is a private address (fd12:3456::1)"},
		{"IPv6 link-local", "https://[fe80::1]/", "host is a private address (fe80::1)"},
		{"IPv6 multicast", "https://[ff02::1]/", "host is a private address (ff02::1)"},
		{"IPv6 documentation", "https://[2001:db8::1]/", "host is a private address (2001:db8::1)"},
		{"IPv6 zone", "https://[fe80::1%25eth0]/", "host must not be an IPv6 address with a zone"},
		{"mapped loopback dotted", "https://[::ffff:127.0.0.1]/", "host is a private address (127.0.0.1)"},
		{"mapped loopback hex", "https://[::ffff:7f00:1]/", "host is a private address (127.0.0.1)"},
		{"mapped metadata", "https://[::ffff:a9fe:a9fe]/", "host is a private address (169.254.169.254)"},
		{"mapped 10/8", "https://[0:0:0:0:0:ffff:0a00:0005]/", "host is a private address (10.0.0.5)"},
		{"IPv4-compatible loopback", "https://[::127.0.0.1]/", "host is a private address (::7f00:1)"},
		{"NAT64 of 10/8", "https://[64:ff9b::a00:5]/", "host is a private address (64:ff9b::a00:5)"},
		{"NAT64 of loopback", "https://[64:ff9b::127.0.0.1]/", "host is a private address (64:ff9b::7f00:1)"},
		{"6to4 of loopback", "https://[2002:7f00:1::1]/", "host is a private address (2002:7f00:1::1)"},

		// numeric forms that browsers and curl read as IPv4
		{"decimal", "https://2130706433/", "host is a numeric address that is not a dotted-quad IPv4 (2130706433)"},
		{"decimal public", "https://134744072/", "host is a numeric address that is not a dotted-quad IPv4 (134744072)"},
		{"octal", "https://0177.0.0.1/", "host is a numeric address that is not a dotted-quad IPv4 (0177.0.0.1)"},
		{"octal whole", "https://017700000001/", "host is a numeric address that is not a dotted-quad IPv4 (017700000001)"},
		{"leading zero", "https://010.0.0.5/", "host is a numeric address that is not a dotted-quad IPv4 (010.0.0.5)"},
		{"hex short", "https://0x7f.1/", "host is a numeric address that is not a dotted-quad IPv4 (0x7f.1)"},
		{"hex whole", "https://0x7f000001/", "host is a numeric address that is not a dotted-quad IPv4 (0x7f000001)"},
		{"hex upper", "https://0X7F.0X0.0X0.0X1/", "host is a numeric address that is not a dotted-quad IPv4 (0X7F.0X0.0X0.0X1)"},
		{"short", "https://127.1/", "host is a numeric address that is not a dotted-quad IPv4 (127.1)"},
		{"short three", "https://10.0.5/", "host is a numeric address that is not a dotted-quad IPv4 (10.0.5)"},
		{"trailing dot", "https://127.0.0.1./", "host is a numeric address that is not a dotted-quad IPv4 (127.0.0.1.)"},
		{"five parts", "https://1.2.3.4.5/", "host is a numeric address that is not a dotted-quad IPv4 (1.2.3.4.5)"},
		{"ends in a number", "https://example.123/", "host is a numeric address that is not a dotted-quad IPv4 (example.123)"},
		{"ends in hex", "https://foo.0x10/", "host is a numeric address that is not a dotted-quad IPv4 (foo.0x10)"},
		{"percent-encoded ASCII in host", "https://%31%32%37.0.0.1/", "url is not valid"},

		// names, resolved by the fake resolver
		{"name to 10/8", "https://internal.test/hook", "host resolves to a private address"},
		{"name to metadata", "https://metadata.test/", "host resolves to a private address"},
		{"localhost", "https://localhost/", "host resolves to a private address"},
		{"name to loopback", "https://loopback4.test:8443/", "host resolves to a private address"},
		{"one private among public", "https://mixed.test/", "host resolves to a private address"},
		{"name to mapped private", "https://mapped.test/", "host resolves to a private address"},
		{"name to NAT64 metadata", "https://nat64.test/", "host resolves to a private address"},
		{"unknown name", "https://nx.test/", "host does not resolve"},
		{"name without addresses", "https://empty.test/", "host does not resolve"},
		{"numeric-looking name label", "https://8.8.8.8.example.com/", "host does not resolve"},
	}
	p := safeurl.Policy{Resolver: newFakeResolver(testHosts)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Check(context.Background(), tt.url)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want accepted", tt.url, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check(%q) accepted, want %q", tt.url, tt.want)
			}
			if se := isPolicyError(t, err); se.Reason != tt.want || err.Error() != tt.want {
				t.Fatalf("Check(%q) = %q, want %q", tt.url, se.Reason, tt.want)
			}
		})
	}
}

func TestCheckAllowHTTP(t *testing.T) {
	p := safeurl.Policy{AllowHTTP: true, Resolver: newFakeResolver(testHosts)}
	tests := []struct {
		url  string
		want string
	}{
		{"http://example.com/hook", ""},
		{"https://example.com/hook", ""},
		{"ftp://example.com/", "url must use http or https"},
		{"http://10.0.0.5/", "host is a private address (10.0.0.5)"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := p.Check(context.Background(), tt.url)
			got := ""
			if err != nil {
				got = isPolicyError(t, err).Reason
			}
			if got != tt.want {
				t.Fatalf("Check(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

func TestCheckAllowCIDRs(t *testing.T) {
	p := safeurl.Policy{
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		AllowHTTP:  true,
		Resolver:   newFakeResolver(testHosts),
	}
	tests := []struct {
		url  string
		want string
	}{
		{"http://127.0.0.1:8080/hook", ""},
		{"https://127.0.0.1/", ""},
		{"https://127.9.9.9/", ""},
		{"https://[::ffff:127.0.0.1]/", ""},
		{"https://loopback4.test/", ""},
		{"https://10.0.0.5/", "host is a private address (10.0.0.5)"},
		{"https://internal.test/", "host resolves to a private address"},
		{"https://169.254.169.254/", "host is a private address (169.254.169.254)"},
		{"https://[::1]/", "host is a private address (::1)"},
		{"https://localhost/", "host resolves to a private address"},
		{"https://2130706433/", "host is a numeric address that is not a dotted-quad IPv4 (2130706433)"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := p.Check(context.Background(), tt.url)
			got := ""
			if err != nil {
				got = isPolicyError(t, err).Reason
			}
			if got != tt.want {
				t.Fatalf("Check(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

func TestCheckSyntaxDoesNotResolve(t *testing.T) {
	p := safeurl.Policy{Resolver: failingResolver{t}}
	tests := []struct {
		url  string
		want string
	}{
		{"https://internal.test/hook", ""},
		{"https://localhost/", ""},
		{"https://8.8.8.8/", ""},
		{"https://10.0.0.5/", "host is a private address (10.0.0.5)"},
		{"https://[::ffff:7f00:1]/", "host is a private address (127.0.0.1)"},
		{"https://0x7f.1/", "host is a numeric address that is not a dotted-quad IPv4 (0x7f.1)"},
		{"http://example.com/", "url must use https"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := p.CheckSyntax(tt.url)
			got := ""
			if err != nil {
				got = isPolicyError(t, err).Reason
			}
			if got != tt.want {
				t.Fatalf("CheckSyntax(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

func TestCheckResolverSeesHostOnly(t *testing.T) {
	r := newFakeResolver(testHosts)
	p := safeurl.Policy{Resolver: r}
	if err := p.Check(context.Background(), "https://example.com:8443/a?b=c#d"); err != nil {
		t.Fatal(err)
	}
	if got := r.Calls(); len(got) != 1 || got[0] != "example.com" {
		t.Fatalf("resolver calls = %q, want [example.com]", got)
	}
}

func TestAddrAllowed(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"93.184.215.14", true},
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"172.15.255.255", true},
		{"172.32.0.0", true},
		{"100.63.255.255", true},
		{"100.128.0.0", true},
		{"169.253.255.255", true},
		{"198.17.255.255", true},
		{"223.255.255.255", true},
		{"2606:4700:4700::1111", true},
		{"2a00:1450:4001:80b::200e", true},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::808:808", true},
		{"2002:808:808::1", true},

		{"127.0.0.1", false},
		{"127.255.255.255", false},
		{"10.0.0.5", false},
		{"10.255.255.255", false},
		{"172.16.0.0", false},
		{"172.31.255.255", false},
		{"192.168.0.1", false},
		{"169.254.169.254", false},
		{"169.254.0.1", false},
		{"100.64.0.0", false},
		{"100.127.255.255", false},
		{"0.0.0.0", false},
		{"0.255.255.255", false},
		{"224.0.0.1", false},
		{"239.255.255.255", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		{"192.0.0.8", false},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"192.0.2.55", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"::", false},
		{"::1", false},
		{"fc00::1", false},
		{"fdff:ffff::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"febf::1", false},
		{"ff02::1", false},
		{"ff0e::1", false},
		{"2001:db8::1", false},
		{"2001:db8:ffff::1", false},
		{"2001::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:7f00:1", false},
		{"::ffff:10.0.0.5", false},
		{"::ffff:169.254.169.254", false},
		{"::ffff:0.0.0.0", false},
		{"::ffff:255.255.255.255", false},
		{"::127.0.0.1", false},
		{"64:ff9b::10.0.0.5", false},
		{"64:ff9b::169.254.169.254", false},
		{"64:ff9b::127.0.0.1", false},
		{"64:ff9b:1::808:808", false},
		{"2002:a00:5::1", false},
		{"2002:a9fe:a9fe::", false},
	}
	p := safeurl.Policy{}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := p.AddrAllowed(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Fatalf("AddrAllowed(%s) = %t, want %t", tt.addr, got, tt.want)
			}
		})
	}
	if p.AddrAllowed(netip.Addr{}) {
		t.Error("AddrAllowed(zero Addr) = true, want false")
	}
}

func TestAddrAllowedWithAllowCIDRs(t *testing.T) {
	p := safeurl.Policy{AllowCIDRs: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
	}}
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::ffff:127.0.0.1", true},
		{"::1", true},
		{"8.8.8.8", true},
		{"10.0.0.5", false},
		{"169.254.169.254", false},
		{"192.168.1.1", false},
		{"::2", false},
		{"fe80::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := p.AddrAllowed(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Fatalf("AddrAllowed(%s) = %t, want %t", tt.addr, got, tt.want)
			}
		})
	}
}

func TestPolicyFromEnv(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantCIDRs []string
		wantHTTP  bool
		wantErr   string // substring of the error, naming the variable
	}{
		{name: "unset"},
		{name: "none", env: map[string]string{"ALLOW_ENDPOINT_CIDRS": "none", "ALLOW_HTTP_ENDPOINTS": "false"}},
		{name: "NONE upper", env: map[string]string{"ALLOW_ENDPOINT_CIDRS": " NONE "}},
		{
			name:      "local stack",
			env:       map[string]string{"ALLOW_ENDPOINT_CIDRS": "127.0.0.0/8,::1/128", "ALLOW_HTTP_ENDPOINTS": "true"},
			wantCIDRs: []string{"127.0.0.0/8", "::1/128"},
			wantHTTP:  true,
		},
		{
			name:      "spaces, empty items, bare address, unmasked",
			env:       map[string]string{"ALLOW_ENDPOINT_CIDRS": " 10.1.2.3/8 , ,192.168.1.7", "ALLOW_HTTP_ENDPOINTS": "1"},
			wantCIDRs: []string{"10.0.0.0/8", "192.168.1.7/32"},
			wantHTTP:  true,
		},
		{
			name:      "mapped prefix",
			env:       map[string]string{"ALLOW_ENDPOINT_CIDRS": "::ffff:127.0.0.0/104"},
			wantCIDRs: []string{"127.0.0.0/8"},
		},
		{name: "http 0", env: map[string]string{"ALLOW_HTTP_ENDPOINTS": "0"}},
		{name: "bad cidr", env: map[string]string{"ALLOW_ENDPOINT_CIDRS": "127.0.0.0/33"}, wantErr: "ALLOW_ENDPOINT_CIDRS"},
		{name: "bad cidr word", env: map[string]string{"ALLOW_ENDPOINT_CIDRS": "127.0.0.0/8,localhost"}, wantErr: "ALLOW_ENDPOINT_CIDRS"},
		{name: "bad http", env: map[string]string{"ALLOW_HTTP_ENDPOINTS": "maybe"}, wantErr: "ALLOW_HTTP_ENDPOINTS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := safeurl.PolicyFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PolicyFromEnv error = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range p.AllowCIDRs {
				got = append(got, c.String())
			}
			if strings.Join(got, ",") != strings.Join(tt.wantCIDRs, ",") {
				t.Errorf("AllowCIDRs = %v, want %v", got, tt.wantCIDRs)
			}
			if p.AllowHTTP != tt.wantHTTP {
				t.Errorf("AllowHTTP = %t, want %t", p.AllowHTTP, tt.wantHTTP)
			}
			if p.Resolver != nil {
				t.Errorf("Resolver = %v, want nil (the default resolver)", p.Resolver)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	err := safeurl.Policy{}.CheckSyntax("http://example.com/")
	if err == nil || err.Error() != "url must use https" {
		t.Fatalf("err = %v", err)
	}
}
