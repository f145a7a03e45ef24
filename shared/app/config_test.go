package app

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dealerai/integrations/shared/safeurl"
)

// TestEndpointPolicy: the api and the delivery function check URLs with one policy read from
// the configuration's environment; without one, the secure defaults.
func TestEndpointPolicy(t *testing.T) {
	const plain = "http://hooks.example.com/dealerai"
	strict, err := Config{}.EndpointPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if strict.CheckSyntax(plain) == nil {
		t.Errorf("no environment: %s accepted, want https only", plain)
	}
	env := map[string]string{"ALLOW_HTTP_ENDPOINTS": "true"}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	lax, err := cfg.EndpointPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if err := lax.CheckSyntax(plain); err != nil {
		t.Errorf("ALLOW_HTTP_ENDPOINTS=true: %s refused: %v", plain, err)
	}
	env["ALLOW_ENDPOINT_CIDRS"] = "not-a-cidr"
	if _, err := cfg.EndpointPolicy(); err == nil {
		t.Error("an invalid ALLOW_ENDPOINT_CIDRS was accepted")
	}
}

// TestPlanAndAdminSettings: DEFAULT_AGENT_PLATFORMS (every platform unless set; none with
// "none"), ADMIN_SCOPE_CLAIM and ADMIN_SCOPE with their defaults, and the errors of values
// that cannot be meant.
func TestPlanAndAdminSettings(t *testing.T) {
	read := func(env map[string]string) (Config, error) {
		return ConfigFromEnv(func(k string) string { return env[k] })
	}
	cfg, err := read(nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.DefaultAgentPlatforms, ",") != "dealersocket,fortellis,vinsolutions,xtime" ||
		cfg.AdminScopeClaim != "scope" || cfg.AdminScope != "dealerai:admin" || cfg.DealerIDClaim != "dealer_id" {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = read(map[string]string{"DEFAULT_AGENT_PLATFORMS": "xtime,vinsolutions", "ADMIN_SCOPE_CLAIM": "groups", "ADMIN_SCOPE": "staff"})
	if err != nil || strings.Join(cfg.DefaultAgentPlatforms, ",") != "vinsolutions,xtime" || cfg.AdminScopeClaim != "groups" || cfg.AdminScope != "staff" {
		t.Errorf("configured: %+v %v", cfg, err)
	}
	if p := cfg.planPolicy(); strings.Join(p.Default, ",") != "vinsolutions,xtime" {
		t.Errorf("policy %+v", p)
	}
	cfg, err = read(map[string]string{"DEFAULT_AGENT_PLATFORMS": "none"})
	if err != nil || cfg.DefaultAgentPlatforms == nil || len(cfg.DefaultAgentPlatforms) != 0 || len(cfg.planPolicy().Default) != 0 {
		t.Errorf("none: %+v %v", cfg.DefaultAgentPlatforms, err)
	}
	// a Config not read from the environment applies no restriction by default
	if p := (Config{}).planPolicy(); len(p.Default) != 4 {
		t.Errorf("zero Config: %+v", p)
	}
	for name, env := range map[string]map[string]string{
		"unknown platform": {"DEFAULT_AGENT_PLATFORMS": "xtime,dealertrack"},
		"two scopes":       {"ADMIN_SCOPE": "dealerai:admin dealerai:ops"},
	} {
		if _, err := read(env); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCircuitSettings: CIRCUIT_* read with their defaults; bad values refused by name; the
// delivery handler keeps the cool-down under the last retry wait.
func TestCircuitSettings(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	cfg, err := ConfigFromEnv(get)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Circuit; c.Threshold != 5 || c.Cooldown != time.Minute || c.MaxCooldown != 20*time.Minute || c.DisableAfter != 120*time.Hour || c.StallAfter != 2*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	env = map[string]string{"CIRCUIT_THRESHOLD": "3", "CIRCUIT_COOLDOWN": "10s", "CIRCUIT_MAX_COOLDOWN": "5m", "CIRCUIT_DISABLE_AFTER": "48h", "CIRCUIT_STALL_AFTER": "4s"}
	if cfg, err = ConfigFromEnv(get); err != nil {
		t.Fatal(err)
	}
	if c := cfg.Circuit; c.Threshold != 3 || c.Cooldown != 10*time.Second || c.MaxCooldown != 5*time.Minute || c.DisableAfter != 48*time.Hour || c.StallAfter != 4*time.Second {
		t.Errorf("set: %+v", c)
	}
	for name, v := range map[string]string{"CIRCUIT_THRESHOLD": "0", "CIRCUIT_COOLDOWN": "soon", "CIRCUIT_MAX_COOLDOWN": "10ms", "CIRCUIT_DISABLE_AFTER": "-1h", "CIRCUIT_STALL_AFTER": "10ms"} {
		env = map[string]string{name: v}
		if _, err := ConfigFromEnv(get); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v", name, v, err)
		}
	}
	env = map[string]string{"CIRCUIT_STALL_AFTER": "off"}
	if cfg, err = ConfigFromEnv(get); err != nil || cfg.Circuit.StallAfter >= 0 {
		t.Errorf("CIRCUIT_STALL_AFTER=off: %v %v", cfg.Circuit.StallAfter, err)
	}
	env = map[string]string{"CONFIG_TABLE": "c", "DELIVERY_LOG_TABLE": "l", "DELIVERIES_QUEUE_URL": "q", "DELIVERY_BACKOFF": "1s,1s,10s"}
	if cfg, err = ConfigFromEnv(get); err != nil {
		t.Fatal(err)
	}
	h, err := NewDeliveryHandler(aws.Config{}, cfg, safeurl.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if s := h.Circuit.Settings; s.MaxCooldown != 8*time.Second || s.Cooldown != 8*time.Second {
		t.Errorf("with a last retry wait of 10s: cool-down %v, max %v; want 8s", s.Cooldown, s.MaxCooldown)
	}
}

// Fortellis notices are verified only with a JWKS URL and an audience, set together; the URL
// is https (or http on loopback, for the local stack).
func TestFortellisNoticeSettings(t *testing.T) {
	read := func(env map[string]string) (Config, error) {
		return ConfigFromEnv(func(k string) string { return env[k] })
	}
	if cfg, err := read(nil); err != nil || cfg.fortellisNotices() != nil {
		t.Errorf("unset: %v %v", cfg.fortellisNotices(), err)
	}
	cfg, err := read(map[string]string{"FORTELLIS_NOTICE_JWKS_URL": "https://identity.fortellis.example/keys", "FORTELLIS_NOTICE_AUDIENCE": "aud-1",
		"FORTELLIS_NOTICE_ISSUER": "https://identity.fortellis.example"})
	if err != nil || cfg.fortellisNotices() == nil {
		t.Errorf("set: %+v %v", cfg, err)
	}
	for name, env := range map[string]map[string]string{
		"URL alone":      {"FORTELLIS_NOTICE_JWKS_URL": "https://identity.fortellis.example/keys"},
		"audience alone": {"FORTELLIS_NOTICE_AUDIENCE": "aud-1"},
		"plain http":     {"FORTELLIS_NOTICE_JWKS_URL": "http://identity.fortellis.example/keys", "FORTELLIS_NOTICE_AUDIENCE": "aud-1"},
	} {
		if _, err := read(env); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
