package stack

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/httpapi"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/ratelimit"
	"github.com/dealerai/integrations/shared/resources"
)

// Function names: the folder under build/ (and functions/) each Lambda's code comes from.
const (
	FuncAPI      = "api"
	FuncRouter   = "router"
	FuncDelivery = "delivery"
	FuncSync     = "sync"
)

// FunctionNames lists the four Lambdas.
func FunctionNames() []string { return []string{FuncAPI, FuncRouter, FuncDelivery, FuncSync} }

// queueFunctions are the functions an SQS event source mapping drives (MaxConcurrency).
var queueFunctions = []string{FuncRouter, FuncDelivery, FuncSync}

// Config is what an operator may tune per deployment, through CDK context (-c key=value or
// the "context" object of cdk.json). ConfigFromContext reads it; Defaults documents the
// values used when a key is absent.
type Config struct {
	// JWTIssuer (context jwtIssuer) is the issuer URL of the tokens the dealership portal
	// sends. Empty: the stack takes it from the CloudFormation parameter JwtIssuer, which has
	// no default, so a deploy without it stops before touching anything.
	JWTIssuer string
	// JWTAudience (context jwtAudience, comma-separated) lists the accepted aud/client_id
	// values. Empty: CloudFormation parameter JwtAudience, as for the issuer.
	JWTAudience []string
	// DealerIDClaim (context dealerIdClaim) names the claim holding the dealer id.
	DealerIDClaim string
	// AdminScopeClaim and AdminScope (context adminScopeClaim, adminScope) are the claim and
	// the scope in it that DealerAI staff's tokens carry for the admin routes; passed to the
	// api function as ADMIN_SCOPE_CLAIM and ADMIN_SCOPE. When the claim is scope or scp, the
	// JWT authorizer requires the scope on the admin routes as well.
	AdminScopeClaim string
	AdminScope      string
	// DefaultAgentPlatforms (context defaultAgentPlatforms) are the agent platforms of a
	// dealer whose plan is not stored: comma-separated platforms, or none. Passed to the
	// three functions as DEFAULT_AGENT_PLATFORMS.
	DefaultAgentPlatforms string
	// AlarmEmail (context alarmEmail) subscribes an address to the alarm topic; empty: no
	// subscription (the topic exists either way).
	AlarmEmail string
	// MaxConcurrency (context maxConcurrency) caps the concurrent invocations each SQS event
	// source mapping drives (ScalingConfig.MaximumConcurrency), keys FuncRouter,
	// FuncDelivery and FuncSync.
	MaxConcurrency map[string]int
	// ReservedConcurrency (context reservedConcurrency) reserves concurrency for a function;
	// absent keys reserve nothing (the default).
	ReservedConcurrency map[string]int
	// APIRateLimit and APIBurstLimit (context apiRateLimit, apiBurstLimit) are the HTTP API
	// stage's default route throttling.
	APIRateLimit  float64
	APIBurstLimit int
	// FortellisNoticeJWKSURL, FortellisNoticeAudience and FortellisNoticeIssuer (context
	// fortellisNoticeJwksUrl, fortellisNoticeAudience, fortellisNoticeIssuer) verify Fortellis
	// Event Relay's tokens on POST /v1/notices/fortellis; passed to the api function as
	// FORTELLIS_NOTICE_JWKS_URL, _AUDIENCE, _ISSUER. The URL and the audience come together;
	// without them the route answers 501.
	FortellisNoticeJWKSURL  string
	FortellisNoticeAudience string
	FortellisNoticeIssuer   string
	// NoticeRateLimit and NoticeBurstLimit (context noticeRateLimit, noticeBurstLimit)
	// throttle each push-notice route (which no JWT authorizer guards).
	NoticeRateLimit  float64
	NoticeBurstLimit int
	// CORSOrigins (context corsOrigins, comma-separated) enables CORS preflight answers for
	// these origins; empty: no CORS configuration. The dealership portal's origins, from which
	// the Integrations page calls the API.
	CORSOrigins []string
	// IntegrationsPage (context integrationsPage=true) publishes the Integrations page's
	// bundle behind CloudFront for the portal to load (its CORS allows CORSOrigins, which
	// must then be set). Default off.
	IntegrationsPage bool
	// DeliveryBackoff and DeliveryTimeout (context deliveryBackoff, deliveryTimeout) are
	// passed to the delivery function as DELIVERY_BACKOFF and DELIVERY_TIMEOUT.
	DeliveryBackoff string
	DeliveryTimeout string
	// AgentExtraHosts (context agentExtraHosts, comma-separated or a JSON array) are hosts the
	// integration agents' URL settings may name besides each platform's official ones:
	// "host" for every platform, "platform=host" for one. Passed to the api, delivery and
	// sync functions as AGENT_EXTRA_HOSTS; empty (the default): the official hosts only.
	AgentExtraHosts []string
	// BatchingWindow (context batchingWindow, a duration 0–20s, default 0) is the
	// MaximumBatchingWindowInSeconds of the events' and deliveries' mappings: 0 invokes as
	// soon as a message arrives; longer gathers fuller batches at light load (fewer
	// invocations and SQS requests per delivery) for up to that much more latency per hop.
	BatchingWindow time.Duration
	// SyncInterval (context syncInterval) is the time between two syncs of an agent, passed
	// to the sync function as SYNC_INTERVAL: at least 1m (the schedule ticks every minute).
	SyncInterval string
	// RateLimits (context rateLimits) limit each dealer's test sends, manual retries and
	// recoveries, passed to the api function as RATE_LIMITS ("testSend=20/1m,retry=60/1m";
	// empty: the function's defaults, ratelimit.DefaultLimits).
	RateLimits string
	// MaxSubscriptionsPerHost (context maxSubscriptionsPerHost, 1–50) caps a dealer's
	// subscriptions to one endpoint host, passed to the api function as
	// MAX_SUBSCRIPTIONS_PER_HOST; 0 (the default): the function's default, 10.
	MaxSubscriptionsPerHost int
}

// Context keys.
const (
	CtxJWTIssuer               = "jwtIssuer"
	CtxJWTAudience             = "jwtAudience"
	CtxDealerIDClaim           = "dealerIdClaim"
	CtxAlarmEmail              = "alarmEmail"
	CtxMaxConcurrency          = "maxConcurrency"
	CtxReservedConcurrency     = "reservedConcurrency"
	CtxAPIRateLimit            = "apiRateLimit"
	CtxAPIBurstLimit           = "apiBurstLimit"
	CtxCORSOrigins             = "corsOrigins"
	CtxIntegrationsPage        = "integrationsPage"
	CtxDeliveryBackoff         = "deliveryBackoff"
	CtxDeliveryTimeout         = "deliveryTimeout"
	CtxAgentExtraHosts         = "agentExtraHosts"
	CtxAdminScopeClaim         = "adminScopeClaim"
	CtxAdminScope              = "adminScope"
	CtxDefaultAgentPlatforms   = "defaultAgentPlatforms"
	CtxSyncInterval            = "syncInterval"
	CtxBatchingWindow          = "batchingWindow"
	CtxRateLimits              = "rateLimits"
	CtxMaxSubscriptionsPerHost = "maxSubscriptionsPerHost"
	CtxFortellisJWKSURL        = "fortellisNoticeJwksUrl"
	CtxFortellisAudience       = "fortellisNoticeAudience"
	CtxFortellisIssuer         = "fortellisNoticeIssuer"
	CtxNoticeRateLimit         = "noticeRateLimit"
	CtxNoticeBurstLimit        = "noticeBurstLimit"
)

// Defaults is the configuration of a deployment that sets no context.
func Defaults() Config {
	return Config{
		DealerIDClaim:         httpapi.DefaultDealerIDClaim,
		AdminScopeClaim:       httpapi.DefaultAdminScopeClaim,
		AdminScope:            httpapi.DefaultAdminScope,
		DefaultAgentPlatforms: strings.Join(plans.Normalize(registry.Platforms().IDs()), ","),
		MaxConcurrency:        map[string]int{FuncRouter: 20, FuncDelivery: 50, FuncSync: 10},
		ReservedConcurrency:   map[string]int{},
		APIRateLimit:          100,
		APIBurstLimit:         200,
		NoticeRateLimit:       20,
		NoticeBurstLimit:      50,
		DeliveryBackoff:       "30s,5m,30m",
		DeliveryTimeout:       "10s",
		SyncInterval:          "5m",
	}
}

// ConfigFromContext reads the Config from the construct tree's context (normally the App's).
func ConfigFromContext(node constructs.Node) (Config, error) {
	get := func(key string) any { return node.TryGetContext(jsii.String(key)) }
	return ConfigFromValues(get)
}

// ConfigFromValues builds a Config from context values as CDK hands them over: strings when
// given with -c, any JSON value when written in cdk.json; get returns nil for an absent key.
func ConfigFromValues(get func(key string) any) (Config, error) {
	c := Defaults()
	var err error
	str := func(key string) (string, error) {
		switch v := get(key).(type) {
		case nil:
			return "", nil
		case string:
			return strings.TrimSpace(v), nil
		case float64, bool:
			return fmt.Sprint(v), nil
		default:
			return "", fmt.Errorf("context %s: want a string, got %T", key, v)
		}
	}
	list := func(key string) ([]string, error) {
		if arr, ok := get(key).([]any); ok {
			var out []string
			for _, a := range arr {
				s, ok := a.(string)
				if !ok {
					return nil, fmt.Errorf("context %s: want strings, got %T", key, a)
				}
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
			return out, nil
		}
		s, err := str(key)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	}

	if c.JWTIssuer, err = str(CtxJWTIssuer); err != nil {
		return c, err
	}
	if c.JWTIssuer != "" {
		if u, perr := url.Parse(c.JWTIssuer); perr != nil || u.Scheme != "https" || u.Host == "" {
			return c, fmt.Errorf("context %s: %q is not an https URL (API Gateway only accepts https issuers)", CtxJWTIssuer, c.JWTIssuer)
		}
	}
	if c.JWTAudience, err = list(CtxJWTAudience); err != nil {
		return c, err
	}
	if s, err := str(CtxDealerIDClaim); err != nil {
		return c, err
	} else if s != "" {
		c.DealerIDClaim = s
	}
	if s, err := str(CtxAdminScopeClaim); err != nil {
		return c, err
	} else if s != "" {
		c.AdminScopeClaim = s
	}
	if s, err := str(CtxAdminScope); err != nil {
		return c, err
	} else if s != "" {
		if strings.ContainsAny(s, " \t\r\n") {
			return c, fmt.Errorf("context %s: %q is not one scope (it holds white space)", CtxAdminScope, s)
		}
		c.AdminScope = s
	}
	if s, err := str(CtxDefaultAgentPlatforms); err != nil {
		return c, err
	} else if s != "" {
		platforms, perr := plans.ParseDefault(s, registry.Platforms().IDs())
		if perr != nil {
			return c, fmt.Errorf("context %s: %w", CtxDefaultAgentPlatforms, perr)
		}
		c.DefaultAgentPlatforms = cmp.Or(strings.Join(platforms, ","), "none")
	}
	for ctx, dst := range map[string]*string{CtxFortellisJWKSURL: &c.FortellisNoticeJWKSURL, CtxFortellisAudience: &c.FortellisNoticeAudience,
		CtxFortellisIssuer: &c.FortellisNoticeIssuer} {
		if *dst, err = str(ctx); err != nil {
			return c, err
		}
	}
	if (c.FortellisNoticeJWKSURL == "") != (c.FortellisNoticeAudience == "") {
		return c, fmt.Errorf("context %s and %s are set together (or neither)", CtxFortellisJWKSURL, CtxFortellisAudience)
	}
	if u := c.FortellisNoticeJWKSURL; u != "" && !strings.HasPrefix(u, "https://") {
		return c, fmt.Errorf("context %s: %q is not an https URL", CtxFortellisJWKSURL, u)
	}
	if s, err := str(CtxNoticeRateLimit); err != nil {
		return c, err
	} else if s != "" {
		if c.NoticeRateLimit, err = strconv.ParseFloat(s, 64); err != nil || c.NoticeRateLimit <= 0 {
			return c, fmt.Errorf("context %s: %q is not a positive number", CtxNoticeRateLimit, s)
		}
	}
	if s, err := str(CtxNoticeBurstLimit); err != nil {
		return c, err
	} else if s != "" {
		if c.NoticeBurstLimit, err = strconv.Atoi(s); err != nil || c.NoticeBurstLimit <= 0 {
			return c, fmt.Errorf("context %s: %q is not a positive integer", CtxNoticeBurstLimit, s)
		}
	}
	if c.AlarmEmail, err = str(CtxAlarmEmail); err != nil {
		return c, err
	}
	if c.AlarmEmail != "" {
		if _, perr := mail.ParseAddress(c.AlarmEmail); perr != nil {
			return c, fmt.Errorf("context %s: %q is not an email address", CtxAlarmEmail, c.AlarmEmail)
		}
	}
	if err := perFunction(get(CtxMaxConcurrency), CtxMaxConcurrency, queueFunctions, c.MaxConcurrency); err != nil {
		return c, err
	}
	for fn, n := range c.MaxConcurrency {
		// the limits of ScalingConfig.MaximumConcurrency
		if n < 2 || n > 1000 {
			return c, fmt.Errorf("context %s: %s=%d is outside 2..1000", CtxMaxConcurrency, fn, n)
		}
	}
	if err := perFunction(get(CtxReservedConcurrency), CtxReservedConcurrency, FunctionNames(), c.ReservedConcurrency); err != nil {
		return c, err
	}
	for fn, n := range c.ReservedConcurrency {
		if n < 1 {
			return c, fmt.Errorf("context %s: %s=%d must be at least 1 (0 would stop the function)", CtxReservedConcurrency, fn, n)
		}
		// A mapping allowed to drive more invocations than the function may run gets
		// throttled, and every throttled batch burns one receive of the redrive budget.
		if max, ok := c.MaxConcurrency[fn]; ok && n < max {
			return c, fmt.Errorf("context %s: %s=%d is below its %s (%d): throttled SQS batches would use up the retry budget", CtxReservedConcurrency, fn, n, CtxMaxConcurrency, max)
		}
	}
	if s, err := str(CtxAPIRateLimit); err != nil {
		return c, err
	} else if s != "" {
		if c.APIRateLimit, err = strconv.ParseFloat(s, 64); err != nil || c.APIRateLimit <= 0 {
			return c, fmt.Errorf("context %s: %q is not a positive number", CtxAPIRateLimit, s)
		}
	}
	if s, err := str(CtxAPIBurstLimit); err != nil {
		return c, err
	} else if s != "" {
		if c.APIBurstLimit, err = strconv.Atoi(s); err != nil || c.APIBurstLimit <= 0 {
			return c, fmt.Errorf("context %s: %q is not a positive integer", CtxAPIBurstLimit, s)
		}
	}
	if c.CORSOrigins, err = list(CtxCORSOrigins); err != nil {
		return c, err
	}
	if s, err := str(CtxIntegrationsPage); err != nil {
		return c, err
	} else if s != "" {
		if c.IntegrationsPage, err = strconv.ParseBool(s); err != nil {
			return c, fmt.Errorf("context %s: %q: want true or false", CtxIntegrationsPage, s)
		}
		if c.IntegrationsPage && len(c.CORSOrigins) == 0 {
			return c, fmt.Errorf("context %s=true needs %s: the dealership portal's origins, which load the page and call the API from it", CtxIntegrationsPage, CtxCORSOrigins)
		}
	}
	if s, err := str(CtxDeliveryBackoff); err != nil {
		return c, err
	} else if s != "" {
		// the waits after failed attempts 1, 2 and 3, as the delivery function parses them
		parts := strings.Split(s, ",")
		for _, p := range parts {
			d, perr := time.ParseDuration(strings.TrimSpace(p))
			if perr != nil || d < 0 || d > 12*time.Hour || len(parts) != 3 {
				return c, fmt.Errorf("context %s: %q: want three durations between 0 and 12h, like 30s,5m,30m", CtxDeliveryBackoff, s)
			}
		}
		c.DeliveryBackoff = s
	}
	if s, err := str(CtxDeliveryTimeout); err != nil {
		return c, err
	} else if s != "" {
		c.DeliveryTimeout = s
	}
	d, err := time.ParseDuration(c.DeliveryTimeout)
	if err != nil || d <= 0 || d >= resources.DeliveryTimeout {
		return c, fmt.Errorf("context %s: %q must be a duration below the delivery function's timeout (%s)", CtxDeliveryTimeout, c.DeliveryTimeout, resources.DeliveryTimeout)
	}
	if c.AgentExtraHosts, err = list(CtxAgentExtraHosts); err != nil {
		return c, err
	}
	// checked as the functions will read it
	extra, err := platform.ParseExtraHosts(strings.Join(c.AgentExtraHosts, ","))
	if err == nil {
		_, err = registry.Platforms().WithExtraHosts(extra)
	}
	if err != nil {
		return c, fmt.Errorf("context %s: %w", CtxAgentExtraHosts, err)
	}
	if s, err := str(CtxBatchingWindow); err != nil {
		return c, err
	} else if c.BatchingWindow, err = resources.ParseBatchingWindow(s); err != nil {
		return c, fmt.Errorf("context %s: %w", CtxBatchingWindow, err)
	}
	if s, err := str(CtxSyncInterval); err != nil {
		return c, err
	} else if s != "" {
		c.SyncInterval = s
	}
	if d, err := time.ParseDuration(c.SyncInterval); err != nil || d < time.Minute || d > 24*time.Hour {
		return c, fmt.Errorf("context %s: %q must be a duration between 1m (the schedule ticks every minute) and 24h", CtxSyncInterval, c.SyncInterval)
	}
	if c.RateLimits, err = str(CtxRateLimits); err != nil {
		return c, err
	}
	if _, err := ratelimit.ParseLimits(c.RateLimits); err != nil { // checked as the api will read it
		return c, fmt.Errorf("context %s: %w", CtxRateLimits, err)
	}
	if s, err := str(CtxMaxSubscriptionsPerHost); err != nil {
		return c, err
	} else if s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 50 {
			return c, fmt.Errorf("context %s: %q must be a number from 1 to 50", CtxMaxSubscriptionsPerHost, s)
		}
		c.MaxSubscriptionsPerHost = n
	}
	return c, nil
}

// perFunction parses a per-function number: a single number applies to every name in
// names; "router=20,delivery=50" or a JSON object sets each one.
func perFunction(v any, key string, names []string, into map[string]int) error {
	set := func(fn string, n int) error {
		for _, name := range names {
			if fn == name {
				into[fn] = n
				return nil
			}
		}
		return fmt.Errorf("context %s: unknown function %q (want one of %s)", key, fn, strings.Join(names, ", "))
	}
	switch v := v.(type) {
	case nil:
		return nil
	case float64:
		for _, fn := range names {
			into[fn] = int(v)
		}
		return nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			n, ok := v[k].(float64)
			if !ok {
				return fmt.Errorf("context %s: %s: want a number, got %T", key, k, v[k])
			}
			if err := set(k, int(n)); err != nil {
				return err
			}
		}
		return nil
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return nil
		}
		if strings.HasPrefix(s, "{") {
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				return fmt.Errorf("context %s: %v", key, err)
			}
			return perFunction(m, key, names, into)
		}
		if n, err := strconv.Atoi(s); err == nil {
			return perFunction(float64(n), key, names, into)
		}
		for _, part := range strings.Split(s, ",") {
			fn, num, ok := strings.Cut(strings.TrimSpace(part), "=")
			n, err := strconv.Atoi(strings.TrimSpace(num))
			if !ok || err != nil {
				return fmt.Errorf("context %s: %q: want N or name=N[,name=N]", key, s)
			}
			if err := set(strings.TrimSpace(fn), n); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("context %s: want a number, a string or an object, got %T", key, v)
	}
}

// claimNameRE matches claim names that can be referenced in an access log format
// ($context.authorizer.claims.<name>).
var claimNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
