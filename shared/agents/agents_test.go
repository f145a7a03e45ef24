package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/agents/xtime"
	"github.com/dealerai/integrations/shared/validation"
)

// noURLCheck accepts every URL; refuseHost refuses URLs containing a host.
func noURLCheck(context.Context, string) error { return nil }

func refuseHost(host string) func(context.Context, string) error {
	return func(_ context.Context, u string) error {
		if strings.Contains(u, host) {
			return errors.New("host " + host + " resolves to a private address")
		}
		return nil
	}
}

// fields maps the invalid fields of a *validation.Error to their messages.
func fields(err error) map[string]string {
	m := map[string]string{}
	var invalid *validation.Error
	if errors.As(err, &invalid) {
		for _, e := range invalid.Fields {
			m[e.Field] = e.Message
		}
	}
	return m
}

// platformOf is the registry's platform id, with extra hosts added to it.
func platformOf(t testing.TB, id string, extraHosts ...string) platform.Platform {
	t.Helper()
	var extra []platform.ExtraHost
	for _, h := range extraHosts {
		extra = append(extra, platform.ExtraHost{Platform: id, Host: h})
	}
	catalog, err := registry.Platforms().WithExtraHosts(extra)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := catalog.Get(id)
	if !ok {
		t.Fatalf("no platform %s", id)
	}
	return p
}

// valid PUT bodies per platform.
func validPut(platform string) agents.PutRequest {
	switch platform {
	case "vinsolutions":
		return agents.PutRequest{
			Settings:    map[string]string{"dealerId": "5001", "userId": "7001", "leadSourceId": "9001"},
			Credentials: map[string]string{"clientId": "id", "clientSecret": "secret", "apiKey": "key"},
		}
	case "dealersocket":
		return agents.PutRequest{
			Settings:    map[string]string{"vendorName": "Austin Toyota", "dealerNumberId": "77"},
			Credentials: map[string]string{"directLeadKey": "k", "username": "u", "password": "p"},
		}
	case "fortellis":
		return agents.PutRequest{
			Settings:    map[string]string{"subscriptionId": "sub-1"},
			Credentials: map[string]string{"apiKey": "k", "apiSecret": "s"},
		}
	default:
		return agents.PutRequest{
			Settings: map[string]string{"baseUrl": "https://sandbox.api.coxautoinc.com/xtime", "tokenUrl": "https://auth.coxautoinc.com/token",
				"dealerCode": "XT1", "timezone": "America/Chicago", "defaultOpcode": "OP1"},
			Credentials: map[string]string{"clientId": "id", "clientSecret": "secret", "apiKey": "key"},
		}
	}
}

func TestValidateAcceptsAndAppliesDefaults(t *testing.T) {
	for _, p := range registry.Platforms() {
		a, errs := agents.Validate(context.Background(), p, validPut(p.ID), nil, noURLCheck)
		if errs != nil {
			t.Fatalf("%s: %v", p.ID, errs)
		}
		if !a.Enabled || a.Version != 0 || !slices.Equal(a.Events, p.Events) {
			t.Errorf("%s: a new agent is enabled at version 0, with the platform's events: %+v", p.ID, a)
		}
		for _, s := range p.Settings {
			if s.Default != "" && a.Settings[s.Key] != s.Default {
				t.Errorf("%s: settings.%s = %q, want the default %q", p.ID, s.Key, a.Settings[s.Key], s.Default)
			}
		}
	}
}

func TestValidateRefuses(t *testing.T) {
	cases := []struct {
		platform string
		edit     func(*agents.PutRequest)
		field    string
	}{
		{"vinsolutions", func(r *agents.PutRequest) { delete(r.Settings, "dealerId") }, "settings.dealerId"},
		{"vinsolutions", func(r *agents.PutRequest) { delete(r.Credentials, "clientSecret") }, "credentials.clientSecret"},
		{"vinsolutions", func(r *agents.PutRequest) { r.Settings["userId"] = "abc" }, "settings.userId"},
		{"vinsolutions", func(r *agents.PutRequest) { r.Settings["color"] = "blue" }, "settings.color"},
		{"vinsolutions", func(r *agents.PutRequest) { r.Credentials["token"] = "x" }, "credentials.token"},
		{"vinsolutions", func(r *agents.PutRequest) { r.Settings["baseUrl"] = "https://10.0.0.8" }, "settings.baseUrl"},
		{"dealersocket", func(r *agents.PutRequest) { delete(r.Settings, "vendorName") }, "settings.vendorName"},
		{"dealersocket", func(r *agents.PutRequest) { r.Credentials["publicKey"] = "pub" }, "credentials.secretKey"},
		{"dealersocket", func(r *agents.PutRequest) { r.Credentials["secretKey"] = "sec" }, "credentials.publicKey"},
		{"dealersocket", func(r *agents.PutRequest) { r.Settings["apiUrl"] = "https://10.0.0.8/x" }, "settings.apiUrl"},
		{"dealersocket", func(r *agents.PutRequest) { r.Credentials["password"] = "a\r\nX-Injected: 1" }, "credentials.password"},
		{"fortellis", func(r *agents.PutRequest) { delete(r.Settings, "subscriptionId") }, "settings.subscriptionId"},
		{"fortellis", func(r *agents.PutRequest) { delete(r.Credentials, "apiSecret") }, "credentials.apiSecret"},
		{"fortellis", func(r *agents.PutRequest) { r.Settings["tokenUrl"] = "https://10.0.0.8/token" }, "settings.tokenUrl"},
		{"xtime", func(r *agents.PutRequest) { delete(r.Settings, "dealerCode") }, "settings.dealerCode"},
		{"xtime", func(r *agents.PutRequest) { r.Settings["timezone"] = "Mars/Olympus_Mons" }, "settings.timezone"},
		{"xtime", func(r *agents.PutRequest) { r.Settings["timezone"] = "Local" }, "settings.timezone"},
		{"xtime", func(r *agents.PutRequest) { r.Settings["rescheduleStrategy"] = "move" }, "settings.rescheduleStrategy"},
		{"xtime", func(r *agents.PutRequest) { r.Settings["cancelPath"] = "cancel" }, "settings.cancelPath"},
		{"xtime", func(r *agents.PutRequest) { r.Settings["baseUrl"] = "https://10.0.0.8" }, "settings.baseUrl"},
		{"xtime", func(r *agents.PutRequest) { delete(r.Credentials, "apiKey") }, "credentials.apiKey"},
	}
	for _, c := range cases {
		in := validPut(c.platform)
		c.edit(&in)
		// 10.0.0.8 is a host of this deployment's, refused by the SSRF check
		a, errs := agents.Validate(context.Background(), platformOf(t, c.platform, "10.0.0.8"), in, nil, refuseHost("10.0.0.8"))
		if a != nil || fields(errs)[c.field] == "" {
			t.Errorf("%s: errors %v, want one for %s", c.platform, errs, c.field)
		}
	}
}

func TestValidateURLMessageComesFromTheChecker(t *testing.T) {
	in := validPut("xtime")
	in.Settings["baseUrl"] = "https://10.0.0.8"
	_, errs := agents.Validate(context.Background(), platformOf(t, "xtime", "10.0.0.8"), in, nil, refuseHost("10.0.0.8"))
	if got := fields(errs)["settings.baseUrl"]; got != "host 10.0.0.8 resolves to a private address" {
		t.Errorf("message = %q", got)
	}
}

func TestValidateChecksOnlyTheURLsGiven(t *testing.T) {
	var checked []string
	check := func(_ context.Context, u string) error { checked = append(checked, u); return nil }
	fortellis := platformOf(t, "fortellis")
	if _, errs := agents.Validate(context.Background(), fortellis, validPut("fortellis"), nil, check); errs != nil {
		t.Fatal(errs)
	}
	if len(checked) != 0 {
		t.Errorf("defaults were checked: %v", checked)
	}
	in := validPut("fortellis")
	in.Settings["baseUrl"] = "https://api.fortellis.io/cdk-test"
	agents.Validate(context.Background(), fortellis, in, nil, check)
	if !slices.Equal(checked, []string{"https://api.fortellis.io/cdk-test"}) {
		t.Errorf("checked %v", checked)
	}
}

func TestPutWithoutCredentialsKeepsTheStoredOnes(t *testing.T) {
	fortellis := platformOf(t, "fortellis")
	stored := &agents.Agent{
		DealerID: "d1", Platform: "fortellis", Enabled: false, Version: 3,
		Settings:    map[string]string{"subscriptionId": "sub-1"},
		Credentials: map[string]string{"apiKey": "k", "apiSecret": "s"},
	}
	a, errs := agents.Validate(context.Background(), fortellis, agents.PutRequest{Settings: map[string]string{"subscriptionId": "sub-2"}}, stored, noURLCheck)
	if errs != nil {
		t.Fatal(errs)
	}
	if a.Credentials["apiKey"] != "k" || a.Credentials["apiSecret"] != "s" || a.Settings["subscriptionId"] != "sub-2" {
		t.Errorf("agent = %+v", a)
	}
	if a.Enabled || a.Version != 3 || a.DealerID != "d1" {
		t.Errorf("enabled, version and dealer are kept: %+v", a)
	}

	// a credential given replaces, "" removes, the others stay
	a, errs = agents.Validate(context.Background(), fortellis, agents.PutRequest{Credentials: map[string]string{"apiSecret": "s2"}}, stored, noURLCheck)
	if errs != nil || a.Credentials["apiSecret"] != "s2" || a.Credentials["apiKey"] != "k" {
		t.Errorf("merge: %+v %v", a, errs)
	}
	_, errs = agents.Validate(context.Background(), fortellis, agents.PutRequest{Credentials: map[string]string{"apiKey": ""}}, stored, noURLCheck)
	if fields(errs)["credentials.apiKey"] == "" {
		t.Errorf("removing a required credential: %v", errs)
	}

	// no stored agent: credentials are required
	_, errs = agents.Validate(context.Background(), fortellis, agents.PutRequest{Settings: map[string]string{"subscriptionId": "sub-2"}}, nil, noURLCheck)
	if fields(errs)["credentials.apiKey"] == "" || fields(errs)["credentials.apiSecret"] == "" {
		t.Errorf("new agent without credentials: %v", errs)
	}

	// {"enabled": false} alone keeps settings and credentials
	off := false
	a, errs = agents.Validate(context.Background(), fortellis, agents.PutRequest{Enabled: &off}, stored, noURLCheck)
	if errs != nil || a.Enabled || a.Settings["subscriptionId"] != "sub-1" {
		t.Errorf("disable only: %+v %v", a, errs)
	}
}

func TestPublicNeverShowsCredentials(t *testing.T) {
	a := &agents.Agent{
		DealerID: "d1", Platform: "xtime", Enabled: true, Version: 2, UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Settings:    map[string]string{"dealerCode": "XT1"},
		Credentials: map[string]string{"clientId": "cid-SECRET1", "clientSecret": "SECRET2", "apiKey": "SECRET3"},
	}
	p := agents.Public(platformOf(t, "xtime"), a)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "SECRET") || strings.Contains(string(b), `"credentials"`) {
		t.Fatalf("credentials leak: %s", b)
	}
	if !slices.Equal(p.CredentialsSet, []string{"apiKey", "clientId", "clientSecret"}) || p.Name != "XTime" || p.UpdatedAt == nil {
		t.Errorf("public = %+v", p)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"platform", "name", "capabilities", "events", "enabled", "settings", "credentialsSet", "updatedAt", "settingsSpec", "credentialsSpec"} {
		if _, ok := m[k]; !ok {
			t.Errorf("public view lacks %s: %s", k, b)
		}
	}
	if len(m) != 10 {
		t.Errorf("public view has other fields: %s", b)
	}

	// an agent never configured
	b, _ = json.Marshal(agents.Public(platformOf(t, "vinsolutions"), &agents.Agent{Platform: "vinsolutions"}))
	if want := `"enabled":false,"settings":{},"credentialsSet":[],"updatedAt":null`; !strings.Contains(string(b), want) {
		t.Errorf("unconfigured = %s", b)
	}
}

func ExampleValidate() {
	a, err := agents.Validate(context.Background(), xtime.Platform, agents.PutRequest{
		Settings: map[string]string{"baseUrl": "https://sandbox.api.coxautoinc.com/xtime", "tokenUrl": "https://auth.coxautoinc.com/token",
			"timezone": "America/Chicago"},
		Credentials: map[string]string{"clientId": "id", "clientSecret": "secret"},
	}, nil, func(context.Context, string) error { return nil })
	fmt.Println(a)
	var invalid *validation.Error
	if errors.As(err, &invalid) {
		fmt.Println(invalid.Fields)
	}
	// Output:
	// <nil>
	// [{settings.dealerCode is required} {credentials.apiKey is required}]
}

// TestValidateHostRules: URL settings name the platform's hosts, or hosts the deployment added
// to it; a stored URL off those hosts blocks enabling, not disabling.
func TestValidateHostRules(t *testing.T) {
	ctx := context.Background()
	var checked []string
	check := func(_ context.Context, u string) error { checked = append(checked, u); return nil }
	for _, p := range registry.Platforms() {
		for _, k := range p.URLSettings() {
			in := validPut(p.ID)
			in.Settings[k] = "https://exfil.example.org/collect"
			checked = nil
			_, err := agents.Validate(ctx, p, in, nil, check)
			if msg := fields(err)["settings."+k]; !strings.Contains(msg, p.Hosts[0]) || slices.Contains(checked, in.Settings[k]) {
				t.Errorf("%s settings.%s: %q (checked %v)", p.ID, k, msg, checked)
			}
			if _, err := agents.Validate(ctx, platformOf(t, p.ID, "exfil.example.org"), in, nil, check); err != nil {
				t.Errorf("%s with the host added: %v", p.ID, err)
			}
		}
	}
	// a host added to one platform is not another's
	catalog, _ := registry.Platforms().WithExtraHosts([]platform.ExtraHost{{Platform: "xtime", Host: "exfil.example.org"}})
	vs, _ := catalog.Get("vinsolutions")
	in := validPut("vinsolutions")
	in.Settings["baseUrl"] = "https://exfil.example.org"
	if _, err := agents.Validate(ctx, vs, in, nil, check); fields(err)["settings.baseUrl"] == "" {
		t.Errorf("vinsolutions took xtime's extra host: %v", err)
	}

	// an agent stored before the rule, pointing elsewhere
	stored := &agents.Agent{DealerID: "d1", Platform: "xtime", Enabled: true, Version: 1,
		Settings:    map[string]string{"baseUrl": "https://exfil.example.org", "tokenUrl": "https://auth.coxautoinc.com/token", "dealerCode": "X", "timezone": "UTC", "defaultOpcode": "O"},
		Credentials: map[string]string{"clientId": "id", "clientSecret": "secret", "apiKey": "key"}}
	xt := platformOf(t, "xtime")
	off, on := false, true
	if _, err := agents.Validate(ctx, xt, agents.PutRequest{Enabled: &off}, stored, check); err != nil {
		t.Errorf("disabling it: %v", err)
	}
	if _, err := agents.Validate(ctx, xt, agents.PutRequest{Enabled: &on}, stored, check); fields(err)["settings.baseUrl"] == "" {
		t.Errorf("enabling it: %v", err)
	}
}

// TestValidateURLChangeNeedsTheCredentials: changing a URL setting of a stored agent needs
// every credential it keeps in the same request; other changes do not.
func TestValidateURLChangeNeedsTheCredentials(t *testing.T) {
	ctx := context.Background()
	ds := platformOf(t, "dealersocket")
	stored, err := agents.Validate(ctx, ds, validPut("dealersocket"), nil, noURLCheck)
	if err != nil {
		t.Fatal(err)
	}
	stored.DealerID, stored.Version = "d1", 1
	stored.Credentials["publicKey"], stored.Credentials["secretKey"] = "pub", "sec"

	moved := func(creds map[string]string) agents.PutRequest {
		in := validPut("dealersocket")
		in.Settings["apiUrl"] = "https://iapi.dealersocket.com/api/DealerSocket"
		in.Credentials = creds
		return in
	}
	all := map[string]string{"directLeadKey": "k", "username": "u", "password": "p", "publicKey": "pub", "secretKey": "sec"}
	_, err = agents.Validate(ctx, ds, moved(map[string]string{"directLeadKey": "k", "username": "u", "password": "p"}), stored, noURLCheck)
	if msg := fields(err)["credentials"]; msg != "changing settings.apiUrl requires sending all the agent's credentials again in the same request (missing publicKey, secretKey)" {
		t.Errorf("without the activity keys: %q", msg)
	}
	if _, err := agents.Validate(ctx, ds, moved(nil), stored, noURLCheck); fields(err)["credentials"] == "" {
		t.Errorf("without credentials: %v", err)
	}
	if a, err := agents.Validate(ctx, ds, moved(all), stored, noURLCheck); err != nil || a.Settings["apiUrl"] != "https://iapi.dealersocket.com/api/DealerSocket" {
		t.Errorf("with every credential: %v", err)
	}
	// dropping the activity keys while moving: only what the agent keeps is needed
	if _, err := agents.Validate(ctx, ds, moved(map[string]string{"directLeadKey": "k", "username": "u", "password": "p", "publicKey": "", "secretKey": ""}), stored, noURLCheck); err != nil {
		t.Errorf("moving without the activity keys: %v", err)
	}
	// the same URLs (given, or defaults) and other settings: no credentials needed
	same := validPut("dealersocket")
	same.Credentials = nil
	same.Settings["activityType"] = "Visit"
	same.Settings["baseUrl"] = "https://oemwebsecure.dealersocket.com"
	if _, err := agents.Validate(ctx, ds, same, stored, noURLCheck); err != nil {
		t.Errorf("no URL changed: %v", err)
	}
	if got := agents.ChangedURLSettings(ds, stored, &agents.Agent{Settings: map[string]string{"baseUrl": "https://api.dealersocket.com"}}); !slices.Equal(got, []string{"settings.baseUrl"}) {
		t.Errorf("changed %v", got)
	}
	if got := agents.ChangedURLSettings(ds, nil, stored); got != nil {
		t.Errorf("a new agent changed %v", got)
	}
}
