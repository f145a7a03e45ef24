// Package app builds the four functions' handlers from their configuration: the api, router,
// delivery and sync Lambdas' main.go call it and hand the result to lambda.Start, and the
// local stack calls the very same constructors, so both run identical code.
package app

import (
	"cmp"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/circuit"
	"github.com/dealerai/integrations/shared/httpapi"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/ratelimit"
	"github.com/dealerai/integrations/shared/safeurl"
)

// Config is what the functions read from the environment (names and defaults in docs/local-stack.md#settings).
type Config struct {
	ConfigTable        string
	DeliveryLogTable   string
	InventoryTable     string
	EventsQueueURL     string
	EventsDLQURL       string
	DeliveriesQueueURL string
	DeliveriesDLQURL   string
	InboundQueueURL    string
	SyncJobsQueueURL   string
	// DealerIDClaim is the JWT claim holding the caller's dealer id.
	DealerIDClaim string
	// AdminScopeClaim and AdminScope (ADMIN_SCOPE_CLAIM, ADMIN_SCOPE) are the claim and the
	// value in it that make a token DealerAI staff's, for the admin routes.
	AdminScopeClaim string
	AdminScope      string
	// FortellisNoticeJWKSURL, FortellisNoticeAudience and FortellisNoticeIssuer
	// (FORTELLIS_NOTICE_JWKS_URL, FORTELLIS_NOTICE_AUDIENCE, FORTELLIS_NOTICE_ISSUER) verify
	// Fortellis Event Relay's bearer tokens on POST /v1/notices/fortellis: the keys, the
	// audience the token must name, and its issuer (any when empty). Without a JWKS URL and an
	// audience the route answers 501.
	FortellisNoticeJWKSURL  string
	FortellisNoticeAudience string
	FortellisNoticeIssuer   string
	// DefaultAgentPlatforms (DEFAULT_AGENT_PLATFORMS) are the agent platforms of a dealer
	// whose plan is not stored: every platform unless configured.
	DefaultAgentPlatforms []string
	// DeliveryBackoff are the waits after failed attempts 1, 2 and 3.
	DeliveryBackoff []time.Duration
	// DeliveryTimeout bounds one delivery attempt, and each platform request of a sync.
	DeliveryTimeout time.Duration
	// Circuit are the delivery function's circuit-breaker settings (CIRCUIT_THRESHOLD,
	// CIRCUIT_COOLDOWN, CIRCUIT_MAX_COOLDOWN, CIRCUIT_DISABLE_AFTER, CIRCUIT_STALL_AFTER;
	// package circuit's defaults when unset).
	Circuit circuit.Settings
	// SyncInterval is the time between two syncs of an agent (SYNC_INTERVAL, default 5m).
	SyncInterval time.Duration
	// RateLimits (RATE_LIMITS) limit each dealer's test sends, manual retries and recoveries
	// (ratelimit.ParseLimits; ratelimit.DefaultLimits when nil).
	RateLimits map[string]ratelimit.Limit
	// MaxSubscriptionsPerHost (MAX_SUBSCRIPTIONS_PER_HOST) caps a dealer's subscriptions to
	// one endpoint host: httpapi.DefaultMaxSubscriptionsPerHost when 0.
	MaxSubscriptionsPerHost int
	// Getenv reads further settings (ALLOW_ENDPOINT_CIDRS, ALLOW_HTTP_ENDPOINTS,
	// AGENT_EXTRA_HOSTS); nil reads none (the defaults: https, public addresses only, each
	// platform's official hosts only).
	Getenv func(string) string
	// Logger receives the functions' structured logs; JSON on stdout when nil (what Lambda
	// sends to CloudWatch Logs). Tests set it to capture them.
	Logger *slog.Logger
}

// EndpointPolicy is the policy subscription URLs and agent endpoints are checked with
// (ALLOW_ENDPOINT_CIDRS, ALLOW_HTTP_ENDPOINTS): the api's at create time, the delivery
// function's at connect time.
func (c Config) EndpointPolicy() (safeurl.Policy, error) {
	getenv := c.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	return safeurl.PolicyFromEnv(getenv)
}

// Platforms are the integration agents' platforms (registry.Platforms), each with the hosts
// AGENT_EXTRA_HOSTS adds to its official ones: comma-separated, "host" for every platform,
// "platform=host" for one (docs/agents.md#platform-hosts). The api's agent URL settings and
// the delivery function's platform requests are held to them.
func (c Config) Platforms() (platform.Catalog, error) {
	getenv := c.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	extra, err := platform.ParseExtraHosts(getenv("AGENT_EXTRA_HOSTS"))
	if err != nil {
		return nil, fmt.Errorf("AGENT_EXTRA_HOSTS: %w", err)
	}
	catalog, err := registry.Platforms().WithExtraHosts(extra)
	if err != nil {
		return nil, fmt.Errorf("AGENT_EXTRA_HOSTS: %w", err)
	}
	return catalog, nil
}

// ConfigFromEnv reads the configuration, applying the documented defaults.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		ConfigTable:        getenv("CONFIG_TABLE"),
		DeliveryLogTable:   getenv("DELIVERY_LOG_TABLE"),
		InventoryTable:     getenv("INVENTORY_TABLE"),
		EventsQueueURL:     getenv("EVENTS_QUEUE_URL"),
		EventsDLQURL:       getenv("EVENTS_DLQ_URL"),
		DeliveriesQueueURL: getenv("DELIVERIES_QUEUE_URL"),
		DeliveriesDLQURL:   getenv("DELIVERIES_DLQ_URL"),
		InboundQueueURL:    getenv("INBOUND_QUEUE_URL"),
		SyncJobsQueueURL:   getenv("SYNC_JOBS_QUEUE_URL"),
		DealerIDClaim:      cmp.Or(getenv("DEALER_ID_CLAIM"), httpapi.DefaultDealerIDClaim),
		AdminScopeClaim:    cmp.Or(getenv("ADMIN_SCOPE_CLAIM"), httpapi.DefaultAdminScopeClaim),
		AdminScope:         cmp.Or(getenv("ADMIN_SCOPE"), httpapi.DefaultAdminScope),
		Getenv:             getenv,

		FortellisNoticeJWKSURL:  getenv("FORTELLIS_NOTICE_JWKS_URL"),
		FortellisNoticeAudience: getenv("FORTELLIS_NOTICE_AUDIENCE"),
		FortellisNoticeIssuer:   getenv("FORTELLIS_NOTICE_ISSUER"),
	}
	if (c.FortellisNoticeJWKSURL == "") != (c.FortellisNoticeAudience == "") {
		return c, fmt.Errorf("FORTELLIS_NOTICE_JWKS_URL and FORTELLIS_NOTICE_AUDIENCE are set together (or neither)")
	}
	if u := c.FortellisNoticeJWKSURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://127.0.0.1") && !strings.HasPrefix(u, "http://localhost") {
		return c, fmt.Errorf("FORTELLIS_NOTICE_JWKS_URL: %q is not an https URL", u)
	}
	if strings.ContainsAny(c.AdminScope, " \t\r\n") {
		return c, fmt.Errorf("ADMIN_SCOPE: %q is not one scope (it holds white space)", c.AdminScope)
	}
	platforms, err := plans.ParseDefault(getenv("DEFAULT_AGENT_PLATFORMS"), registry.Platforms().IDs())
	if err != nil {
		return c, err
	}
	c.DefaultAgentPlatforms = platforms
	backoff, err := ParseBackoff(getenv("DELIVERY_BACKOFF"))
	if err != nil {
		return c, err
	}
	c.DeliveryBackoff = backoff
	c.DeliveryTimeout = 10 * time.Second
	if v := getenv("DELIVERY_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("DELIVERY_TIMEOUT: %q is not a positive duration", v)
		}
		c.DeliveryTimeout = d
	}
	limits, err := ratelimit.ParseLimits(getenv("RATE_LIMITS"))
	if err != nil {
		return c, err
	}
	c.RateLimits = limits
	if c.Circuit, err = circuitSettings(getenv); err != nil {
		return c, err
	}
	if v := getenv("MAX_SUBSCRIPTIONS_PER_HOST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 50 {
			return c, fmt.Errorf("MAX_SUBSCRIPTIONS_PER_HOST: %q is not a number from 1 to 50", v)
		}
		c.MaxSubscriptionsPerHost = n
	}
	c.SyncInterval = 5 * time.Minute
	if v := getenv("SYNC_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 24*time.Hour {
			return c, fmt.Errorf("SYNC_INTERVAL: %q is not a duration between 1s and 24h", v)
		}
		c.SyncInterval = d
	}
	return c, nil
}

// circuitSettings reads the circuit breaker's settings; unset ones keep the defaults.
func circuitSettings(getenv func(string) string) (circuit.Settings, error) {
	var s circuit.Settings
	if v := getenv("CIRCUIT_THRESHOLD"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return s, fmt.Errorf("CIRCUIT_THRESHOLD: %q is not a number of failures between 1 and 1000", v)
		}
		s.Threshold = n
	}
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{
		{"CIRCUIT_COOLDOWN", &s.Cooldown},
		{"CIRCUIT_MAX_COOLDOWN", &s.MaxCooldown},
		{"CIRCUIT_DISABLE_AFTER", &s.DisableAfter},
	} {
		if v := getenv(d.name); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil || x < time.Second {
				return s, fmt.Errorf("%s: %q is not a duration of at least 1s", d.name, v)
			}
			*d.to = x
		}
	}
	if v := getenv("CIRCUIT_STALL_AFTER"); v != "" {
		x, err := time.ParseDuration(v)
		switch {
		case v == "off":
			s.StallAfter = -1
		case err != nil || x < 100*time.Millisecond:
			return s, fmt.Errorf("CIRCUIT_STALL_AFTER: %q is neither a duration of at least 100ms nor off", v)
		default:
			s.StallAfter = x
		}
	}
	return s.WithDefaults(), nil
}

// ParseBackoff parses DELIVERY_BACKOFF: three comma-separated durations, the waits after
// failed attempts 1, 2 and 3 (default "30s,5m,30m").
func ParseBackoff(v string) ([]time.Duration, error) {
	if v == "" {
		v = "30s,5m,30m"
	}
	parts := strings.Split(v, ",")
	if len(parts) != 3 {
		return nil, fmt.Errorf("DELIVERY_BACKOFF: want three durations like 30s,5m,30m, got %q", v)
	}
	out := make([]time.Duration, len(parts))
	for i, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d < 0 || d > 12*time.Hour {
			return nil, fmt.Errorf("DELIVERY_BACKOFF: %q is not a duration between 0 and 12h", p)
		}
		out[i] = d
	}
	return out, nil
}

// planPolicy is how the dealers' plans apply: a dealer with none stored has
// DefaultAgentPlatforms (every platform when the Config was not read by ConfigFromEnv).
func (c Config) planPolicy() *plans.Policy {
	def := c.DefaultAgentPlatforms
	if def == nil {
		def = registry.Platforms().IDs()
	}
	return &plans.Policy{Default: def}
}

// Require reports the first of the named settings that is empty.
func (c Config) Require(names ...string) error {
	values := map[string]string{
		"CONFIG_TABLE": c.ConfigTable, "DELIVERY_LOG_TABLE": c.DeliveryLogTable, "INVENTORY_TABLE": c.InventoryTable,
		"EVENTS_QUEUE_URL": c.EventsQueueURL, "EVENTS_DLQ_URL": c.EventsDLQURL,
		"DELIVERIES_QUEUE_URL": c.DeliveriesQueueURL, "DELIVERIES_DLQ_URL": c.DeliveriesDLQURL,
		"INBOUND_QUEUE_URL": c.InboundQueueURL, "SYNC_JOBS_QUEUE_URL": c.SyncJobsQueueURL,
	}
	for _, n := range names {
		if values[n] == "" {
			return fmt.Errorf("%s is not set", n)
		}
	}
	return nil
}
