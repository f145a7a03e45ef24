// Package platform is the contract between the agents core (shared/agents: the agent model,
// its stores, validation and the Dispatcher) and the platform packages
// (shared/agents/vinsolutions, dealersocket, fortellis, xtime). A platform package owns
// everything about its platform — its catalog entry, its official hosts, its validation rules,
// its outbound connector and its change feed — and exports it as one Platform value; package
// registry lists those values. The core knows platforms only through this package, so adding a platform is
// one new package and one line in the registry (docs/agents.md#adding-a-platform).
package platform

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/validation"
)

// Platform is one platform DealerAI connects dealers to.
type Platform struct {
	// ID names the platform in the API's paths and in stored items ("vinsolutions").
	ID string
	// Name is the platform's name for people ("VinSolutions").
	Name string
	// Capabilities are what the connector really does today.
	Capabilities []string
	// Events are the filters of the event types the agent consumes.
	Events []string
	// Settings and Credentials are the keys an agent's configuration takes.
	Settings    []KeySpec
	Credentials []KeySpec
	// Hosts are the platform's official API hosts, production and sandbox: a URL setting
	// must name one of them, and no request of a delivery goes anywhere else. A deployment
	// adds hosts with Catalog.WithExtraHosts.
	Hosts []string
	// Check holds the platform's own validation rules, beyond what the KeySpecs say (which
	// keys exist, which are required, their lengths, URL hosts): it gets the settings with
	// the defaults applied and the credentials the agent will have, and names the invalid
	// fields ("settings.dealerId"). nil: no further rules.
	Check func(settings, credentials map[string]string) []validation.FieldError
	// NewConnector builds the platform's outbound connector (events → platform), once per
	// container.
	NewConnector func(Deps) connector.Connector
	// NewChangeFeed builds the platform's change feed (platform → inbound events), the
	// inbound side of two-way sync, once per container; nil: the platform has none yet, and
	// its agents are not synced (docs/agents.md#two-way-sync).
	NewChangeFeed func(Deps) changefeed.Feed
}

// Deps are what the container shares between the platforms' connectors and change feeds.
type Deps struct {
	// Tokens caches OAuth 2.0 tokens across deliveries and sync runs.
	Tokens *oauth.Cache
}

// KeySpec is one key of an agent's settings or credentials.
type KeySpec struct {
	Key      string `json:"key"`
	Required bool   `json:"required"`
	// Default is used when the key is absent ("" for none).
	Default string `json:"default,omitempty"`
	// URL: the value is a URL; it must name one of the platform's hosts and pass the SSRF
	// check.
	URL         bool   `json:"url,omitempty"`
	Description string `json:"description"`
}

// WithDefaults returns settings with the platform's defaults for the absent (or empty) keys.
func (p Platform) WithDefaults(settings map[string]string) map[string]string {
	out := make(map[string]string, len(p.Settings))
	for _, k := range p.Settings {
		if k.Default != "" {
			out[k.Key] = k.Default
		}
	}
	for k, v := range settings {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// URLSettings are the keys of the settings that are URLs.
func (p Platform) URLSettings() []string {
	var keys []string
	for _, s := range p.Settings {
		if s.URL {
			keys = append(keys, s.Key)
		}
	}
	return keys
}

// OffHostSetting finds the first URL setting (of settings, the defaults applied) whose host is
// not one of the platform's — one stored before the rule, or whose platform's hosts changed —
// and returns its key and host ("an invalid URL" when it does not parse); off is false when
// every URL setting names one of the platform's hosts. Nothing may be sent for such an agent.
func (p Platform) OffHostSetting(settings map[string]string) (key, host string, off bool) {
	for _, k := range p.URLSettings() {
		v, ok := settings[k]
		if !ok {
			continue
		}
		host := "an invalid URL"
		if u, err := url.Parse(v); err == nil {
			host = u.Hostname()
		}
		if !p.AllowsHost(host) {
			return k, host, true
		}
	}
	return "", "", false
}

// AllowsHost reports whether host (a URL's Hostname(), any case) is one of the platform's.
func (p Platform) AllowsHost(host string) bool {
	host = NormalizeHost(host)
	return host != "" && slices.Contains(p.Hosts, host)
}

// CheckURL says why rawURL may not be used for the platform ("" when it may): it must be an
// absolute URL naming one of the platform's hosts. (The SSRF check is the caller's.)
func (p Platform) CheckURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "must be an absolute URL"
	}
	if !p.AllowsHost(u.Hostname()) {
		return fmt.Sprintf("must be a URL on one of the %s hosts (%s)", p.Name, strings.Join(p.Hosts, ", "))
	}
	return ""
}

// NormalizeHost is the form hosts are compared in: lower case, without a trailing dot or the
// brackets of an IPv6 literal.
func NormalizeHost(host string) string {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// Catalog is the platforms of a deployment, in the API's order.
type Catalog []Platform

// Syncable lists the platforms that have a change feed, in order.
func (c Catalog) Syncable() Catalog {
	var out Catalog
	for _, p := range c {
		if p.NewChangeFeed != nil {
			out = append(out, p)
		}
	}
	return out
}

// Get returns the platform whose ID is id.
func (c Catalog) Get(id string) (Platform, bool) {
	for _, p := range c {
		if p.ID == id {
			return p, true
		}
	}
	return Platform{}, false
}

// Events is the event filters of the platform id (targets.Loader.AgentEvents).
func (c Catalog) Events(id string) ([]string, bool) {
	p, ok := c.Get(id)
	return p.Events, ok
}

// IDs lists the platforms' ids, in order.
func (c Catalog) IDs() []string {
	ids := make([]string, len(c))
	for i, p := range c {
		ids[i] = p.ID
	}
	return ids
}

// ExtraHost is a host a deployment adds to one platform's (Platform "") or to every
// platform's.
type ExtraHost struct {
	Platform string
	Host     string
}

// WithExtraHosts returns the catalog with the extra hosts added to their platforms; naming a
// platform the catalog does not have is an error. c is not changed.
func (c Catalog) WithExtraHosts(extra []ExtraHost) (Catalog, error) {
	out := make(Catalog, len(c))
	copy(out, c)
	for _, e := range extra {
		if e.Platform != "" {
			if _, ok := c.Get(e.Platform); !ok {
				return nil, fmt.Errorf("extra host %s: no platform %q (the platforms are %s)", e.Host, e.Platform, strings.Join(c.IDs(), ", "))
			}
		}
		host := NormalizeHost(e.Host)
		for i := range out {
			if (e.Platform == "" || e.Platform == out[i].ID) && !slices.Contains(out[i].Hosts, host) {
				out[i].Hosts = append(slices.Clip(out[i].Hosts), host)
			}
		}
	}
	return out, nil
}

// ParseExtraHosts parses a comma-separated list of hosts a deployment adds (the
// AGENT_EXTRA_HOSTS setting): "host" adds it to every platform, "platform=host" to that
// platform only. A host is a DNS name or an IP address, without scheme, port or path.
func ParseExtraHosts(v string) ([]ExtraHost, error) {
	var out []ExtraHost
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		e := ExtraHost{Host: item}
		if p, h, ok := strings.Cut(item, "="); ok {
			e.Platform, e.Host = strings.TrimSpace(p), strings.TrimSpace(h)
		}
		if !validHost(e.Host) {
			return nil, fmt.Errorf("%q is not a host name or IP address (no scheme, port or path)", item)
		}
		out = append(out, e)
	}
	return out, nil
}

func validHost(h string) bool {
	h = NormalizeHost(h)
	if h == "" || len(h) > 253 {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
