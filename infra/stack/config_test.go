package stack

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// configuredContext is what an operator might pass with -c (all strings).
var configuredContext = map[string]any{
	CtxJWTIssuer:               "https://auth.dealerai.example/",
	CtxJWTAudience:             "portal,partner-portal",
	CtxDealerIDClaim:           "dealer",
	CtxAlarmEmail:              "oncall@dealerai.example",
	CtxMaxConcurrency:          "router=10,delivery=40",
	CtxReservedConcurrency:     "router=10,delivery=60",
	CtxCORSOrigins:             "https://portal.dealerai.example",
	CtxAgentExtraHosts:         "xtime=api.xtime-prod.example,sandbox.example.net",
	CtxDefaultAgentPlatforms:   "xtime, dealersocket",
	CtxAdminScope:              "integrations:staff",
	CtxRateLimits:              "testSend=5/1m,retry=100/1h",
	CtxMaxSubscriptionsPerHost: "3",
	CtxFortellisJWKSURL:        "https://identity.fortellis.example/keys",
	CtxFortellisAudience:       "https://api.dealerai.example/v1/notices/fortellis",
	CtxNoticeRateLimit:         "5",
	CtxNoticeBurstLimit:        "10",
	CtxBatchingWindow:          "1s",
}

func TestConfigFromValues(t *testing.T) {
	values := func(m map[string]any) func(string) any { return func(k string) any { return m[k] } }

	c, err := ConfigFromValues(values(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Defaults()) {
		t.Errorf("no context: %+v, want the defaults %+v", c, Defaults())
	}

	c, err = ConfigFromValues(values(configuredContext))
	if err != nil {
		t.Fatal(err)
	}
	if c.JWTIssuer != "https://auth.dealerai.example/" || strings.Join(c.JWTAudience, "|") != "portal|partner-portal" ||
		c.DealerIDClaim != "dealer" || c.AlarmEmail != "oncall@dealerai.example" ||
		!reflect.DeepEqual(c.MaxConcurrency, map[string]int{FuncRouter: 10, FuncDelivery: 40, FuncSync: 10}) ||
		!reflect.DeepEqual(c.ReservedConcurrency, map[string]int{FuncRouter: 10, FuncDelivery: 60}) ||
		strings.Join(c.AgentExtraHosts, ",") != "xtime=api.xtime-prod.example,sandbox.example.net" ||
		c.DefaultAgentPlatforms != "dealersocket,xtime" || c.AdminScope != "integrations:staff" || c.AdminScopeClaim != "scope" ||
		c.BatchingWindow != time.Second {
		t.Errorf("configured: %+v", c)
	}
	if c, err := ConfigFromValues(values(map[string]any{CtxDefaultAgentPlatforms: "none"})); err != nil || c.DefaultAgentPlatforms != "none" {
		t.Errorf("no platform by default: %+v %v", c, err)
	}

	// cdk.json values arrive as JSON: numbers, arrays, objects
	c, err = ConfigFromValues(values(map[string]any{
		CtxMaxConcurrency:      float64(30),
		CtxReservedConcurrency: map[string]any{"api": float64(5)},
		CtxJWTAudience:         []any{"a", "b"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.MaxConcurrency, map[string]int{FuncRouter: 30, FuncDelivery: 30, FuncSync: 30}) ||
		!reflect.DeepEqual(c.ReservedConcurrency, map[string]int{FuncAPI: 5}) ||
		strings.Join(c.JWTAudience, ",") != "a,b" {
		t.Errorf("JSON context: %+v", c)
	}

	for name, bad := range map[string]map[string]any{
		"http issuer":               {CtxJWTIssuer: "http://auth.example"},
		"page without origins":      {CtxIntegrationsPage: "true"},
		"page flag not a bool":      {CtxIntegrationsPage: "maybe", CtxCORSOrigins: "https://portal.example"},
		"bad email":                 {CtxAlarmEmail: "not an address"},
		"concurrency below 2":       {CtxMaxConcurrency: "1"},
		"unknown function":          {CtxMaxConcurrency: "api=5"},
		"garbage":                   {CtxMaxConcurrency: "lots"},
		"reserved below max":        {CtxReservedConcurrency: "delivery=10"},
		"reserved zero":             {CtxReservedConcurrency: "api=0"},
		"negative rate":             {CtxAPIRateLimit: "-1"},
		"backoff":                   {CtxDeliveryBackoff: "30s,soon,1m"},
		"two waits":                 {CtxDeliveryBackoff: "30s,5m"},
		"timeout beyond function":   {CtxDeliveryTimeout: "2m"},
		"sync under a minute":       {CtxSyncInterval: "30s"},
		"batching window too long":  {CtxBatchingWindow: "21s"},
		"batching window part of s": {CtxBatchingWindow: "1500ms"},
		"sync interval garbage":     {CtxSyncInterval: "often"},
		"extra host a URL":          {CtxAgentExtraHosts: "https://evil.example"},
		"extra host of no platform": {CtxAgentExtraHosts: "salesforce=api.salesforce.example"},
		"unknown platform":          {CtxDefaultAgentPlatforms: "xtime,salesforce"},
		"two admin scopes":          {CtxAdminScope: "dealerai:admin other"},
		"rate limit of no action":   {CtxRateLimits: "deploy=5/1m"},
		"rate limit zero":           {CtxRateLimits: "retry=0/1m"},
		"subscriptions per host 0":  {CtxMaxSubscriptionsPerHost: "0"},
		"subscriptions per host 99": {CtxMaxSubscriptionsPerHost: "99"},
		"JWKS without audience":     {CtxFortellisJWKSURL: "https://identity.fortellis.example/keys"},
		"JWKS over http":            {CtxFortellisJWKSURL: "http://identity.fortellis.example/keys", CtxFortellisAudience: "a"},
		"notice burst zero":         {CtxNoticeBurstLimit: "0"},
	} {
		if _, err := ConfigFromValues(values(bad)); err == nil {
			t.Errorf("%s: accepted %v", name, bad)
		}
	}
}

// TestConfiguredStack synthesizes with context set: the issuer and audience are literal (no
// parameters), the email is subscribed, concurrency follows the context.
func TestConfiguredStack(t *testing.T) {
	s := synth(t, configuredContext)
	if params, _ := s.json["Parameters"].(map[string]any); params["JwtIssuer"] != nil || params["JwtAudience"] != nil {
		t.Errorf("JWT parameters present although context is set: %v", sortedKeys(params))
	}
	auth := props(s.resource[s.ofType("AWS::ApiGatewayV2::Authorizer")[0]])
	if got := asJSON(auth["JwtConfiguration"]); got != `{"Audience":["portal","partner-portal"],"Issuer":"https://auth.dealerai.example/"}` {
		t.Errorf("JwtConfiguration %s", got)
	}
	subs := s.ofType("AWS::SNS::Subscription")
	if len(subs) != 1 || props(s.resource[subs[0]])["Endpoint"] != "oncall@dealerai.example" ||
		refTarget(props(s.resource[subs[0]])["TopicArn"]) != s.logicalID(s.st.AlarmTopic) {
		t.Errorf("alarm email subscription: %v", subs)
	}
	for fn, want := range map[string]float64{FuncRouter: 10, FuncDelivery: 60} {
		p := props(s.resource[s.logicalID(s.st.Functions[fn])])
		if p["ReservedConcurrentExecutions"] == nil || num(t, p["ReservedConcurrentExecutions"]) != want {
			t.Errorf("%s reserved concurrency %v, want %v", fn, p["ReservedConcurrentExecutions"], want)
		}
	}
	if p := props(s.resource[s.logicalID(s.st.Functions[FuncAPI])]); p["ReservedConcurrentExecutions"] != nil {
		t.Errorf("api reserved concurrency %v", p["ReservedConcurrentExecutions"])
	}
	for _, id := range s.ofType("AWS::Lambda::EventSourceMapping") {
		p := props(s.resource[id])
		want := map[string]float64{
			s.logicalID(s.st.Functions[FuncRouter]):   10,
			s.logicalID(s.st.Functions[FuncDelivery]): 40,
			s.logicalID(s.st.Functions[FuncSync]):     10, // the default
		}[refTarget(p["FunctionName"])]
		if got := num(t, p["ScalingConfig"].(map[string]any)["MaximumConcurrency"]); got != want {
			t.Errorf("mapping %s MaximumConcurrency %v, want %v", id, got, want)
		}
	}
	api := props(s.resource[s.ofType("AWS::ApiGatewayV2::Api")[0]])
	if cors := asJSON(api["CorsConfiguration"]); !strings.Contains(cors, "https://portal.dealerai.example") {
		t.Errorf("CORS %s", cors)
	}
	for _, id := range s.ofType("AWS::ApiGatewayV2::Route") {
		p := props(s.resource[id])
		if strings.Contains(p["RouteKey"].(string), "/v1/admin/") && asJSON(p["AuthorizationScopes"]) != `["integrations:staff"]` {
			t.Errorf("%s: authorization scopes %s", p["RouteKey"], asJSON(p["AuthorizationScopes"]))
		}
	}
	vars := props(s.resource[s.logicalID(s.st.Functions[FuncAPI])])["Environment"].(map[string]any)["Variables"].(map[string]any)
	if vars["DEALER_ID_CLAIM"] != "dealer" || vars["ADMIN_SCOPE"] != "integrations:staff" || vars["DEFAULT_AGENT_PLATFORMS"] != "dealersocket,xtime" ||
		vars["RATE_LIMITS"] != "testSend=5/1m,retry=100/1h" || vars["MAX_SUBSCRIPTIONS_PER_HOST"] != "3" || vars["FORTELLIS_NOTICE_JWKS_URL"] != "https://identity.fortellis.example/keys" ||
		vars["FORTELLIS_NOTICE_AUDIENCE"] != "https://api.dealerai.example/v1/notices/fortellis" || vars["FORTELLIS_NOTICE_ISSUER"] != nil {
		t.Errorf("api environment %s", asJSON(vars))
	}
	stage := props(s.resource[s.ofType("AWS::ApiGatewayV2::Stage")[0]])
	if got := asJSON(stage["RouteSettings"].(map[string]any)["POST /v1/notices/fortellis"]); got != `{"ThrottlingBurstLimit":10,"ThrottlingRateLimit":5}` {
		t.Errorf("notice route throttling %s", got)
	}
	for _, fn := range FunctionNames() {
		vars := props(s.resource[s.logicalID(s.st.Functions[fn])])["Environment"].(map[string]any)["Variables"].(map[string]any)
		if got, want := vars["AGENT_EXTRA_HOSTS"], map[string]any{FuncAPI: configuredContext[CtxAgentExtraHosts], FuncDelivery: configuredContext[CtxAgentExtraHosts],
			FuncSync: configuredContext[CtxAgentExtraHosts]}[fn]; got != want {
			t.Errorf("%s AGENT_EXTRA_HOSTS %v, want %v", fn, got, want)
		}
	}
}
