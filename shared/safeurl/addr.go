package safeurl

import "net/netip"

// blockedPrefixes are never contacted (unless inside Policy.AllowCIDRs).
// IPv4-mapped IPv6 addresses are unmapped before they are compared, and the
// IPv4 address inside NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses is
// checked as well, see AddrAllowed.
var blockedPrefixes = mustPrefixes(
	// IPv4 (RFC 6890 and the IANA special-purpose registry).
	"0.0.0.0/8",       // "this network", includes the unspecified 0.0.0.0
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // shared address space (carrier-grade NAT)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local, cloud metadata (169.254.169.254)
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation (TEST-NET-1)
	"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation (TEST-NET-2)
	"203.0.113.0/24",  // documentation (TEST-NET-3)
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, includes broadcast 255.255.255.255

	// IPv6.
	"::/96",           // unspecified, loopback, IPv4-compatible (deprecated)
	"::ffff:0:0:0/96", // IPv4-translated (SIIT)
	"64:ff9b:1::/48",  // local-use NAT64
	"100::/64",        // discard-only
	"2001::/32",       // Teredo
	"2001:db8::/32",   // documentation
	"3fff::/20",       // documentation
	"fc00::/7",        // unique local
	"fe80::/10",       // link-local
	"fec0::/10",       // site-local (deprecated)
	"ff00::/8",        // multicast
)

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

func mustPrefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

// AddrAllowed reports whether a may be contacted: true for public unicast
// addresses and for addresses inside p.AllowCIDRs; false for loopback,
// private, link-local, shared, multicast, unspecified, broadcast, reserved,
// benchmarking and documentation ranges, for IPv4-mapped forms of them, and
// for NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses that wrap a refused
// IPv4 address. The zero Addr is not allowed.
func (p Policy) AddrAllowed(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.WithZone("").Unmap()
	for _, allowed := range p.AllowCIDRs {
		if allowed.Contains(a) {
			return true
		}
	}
	if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsPrivate() {
		return false
	}
	for _, blocked := range blockedPrefixes {
		if blocked.Contains(a) {
			return false
		}
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64Prefix.Contains(a):
			return p.AddrAllowed(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(a):
			return p.AddrAllowed(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return true
}
