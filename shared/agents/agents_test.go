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

func TestPlatformsMatchTheDesign(t *testing.T) {
	want := map[string]struct {
		events               []string
		requiredS, requiredC []string
		defaults             map[string]string
		optionalS, optionalC []string
	}{
		"vinsolutions": {
			events:    []string{"lead.created", "appointment.*"},
			requiredS: []string{"dealerId", "userId", "leadSourceId"}, requiredC: []string{"clientId", "clientSecret", "apiKey"},
			defaults: map[string]string{"baseUrl": "https://api.vinsolutions.com", "tokenUrl": "https://authentication.vinsolutions.com/connect/token", "leadType": "INTERNET"},
		},
		"dealersocket": {
			events:    []string{"lead.created", "appointment.*"},
			requiredS: []string{"vendorName", "dealerNumberId"}, requiredC: []string{"directLeadKey", "username", "password"},
			defaults:  map[string]string{"baseUrl": "https://oemwebsecure.dealersocket.com", "activityUrl": "https://api.dealersocket.com/api/DealerSocket/Activity"},
			optionalS: []string{"activityType", "activityStatus"}, optionalC: []string{"publicKey", "secretKey"},
		},
		"fortellis": {
			events:    []string{"lead.created", "appointment.*"},
			requiredS: []string{"subscriptionId"}, requiredC: []string{"apiKey", "apiSecret"},
			defaults:  map[string]string{"baseUrl": "https://api.fortellis.io", "tokenUrl": "https://identity.fortellis.io/oauth2/aus1p1ixy7YL8cMq02p7/v1/token", "leadSource": "DealerAI", "upType": "Internet"},
			optionalS: []string{"activityTypeId"},
		},
		"xtime": {
			events:    []string{"appointment.*"},
			requiredS: []string{"baseUrl", "tokenUrl", "dealerCode", "timezone", "defaultOpcode"}, requiredC: []string{"clientId", "clientSecret", "apiKey"},
			defaults: map[string]string{"rescheduleStrategy": "cancel-and-rebook"},
		},
	}
	ps := agents.Platforms()
	if len(ps) != 4 {
		t.Fatalf("%d platforms, want 4", len(ps))
	}
	for _, p := range ps {
		w, ok := want[p.Platform]
		if !ok {
			t.Fatalf("unexpected platform %s", p.Platform)
		}
		if !slices.Equal(p.Events, w.events) {
			t.Errorf("%s events = %v, want %v", p.Platform, p.Events, w.events)
		}
		if len(p.Capabilities) == 0 || p.Name == "" {
			t.Errorf("%s has no name or capabilities", p.Platform)
		}
		spec := func(keys []agents.KeySpec, k string) (agents.KeySpec, bool) {
			i := slices.IndexFunc(keys, func(s agents.KeySpec) bool { return s.Key == k })
			if i < 0 {
				return agents.KeySpec{}, false
			}
			return keys[i], true
		}
		for _, k := range w.requiredS {
			if s, ok := spec(p.Settings, k); !ok || !s.Required {
				t.Errorf("%s: settings.%s should be required", p.Platform, k)
			}
		}
		for _, k := range w.requiredC {
			if s, ok := spec(p.Credentials, k); !ok || !s.Required {
				t.Errorf("%s: credentials.%s should be required", p.Platform, k)
			}
		}
		for k, d := range w.defaults {
			if s, ok := spec(p.Settings, k); !ok || s.Default != d || s.Required {
				t.Errorf("%s: settings.%s = %+v, want optional with default %s", p.Platform, k, s, d)
			}
		}
		for _, k := range w.optionalS {
			if s, ok := spec(p.Settings, k); !ok || s.Required {
				t.Errorf("%s: settings.%s should be optional", p.Platform, k)
			}
		}
		for _, k := range w.optionalC {
			if s, ok := spec(p.Credentials, k); !ok || s.Required {
				t.Errorf("%s: credentials.%s should be optional", p.Platform, k)
			}
		}
		for _, s := range p.Settings {
			if strings.HasSuffix(s.Key, "Url") != s.URL {
				t.Errorf("%s: settings.%s URL flag = %v", p.Platform, s.Key, s.URL)
			}
		}
	}
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
			Settings: map[string]string{"baseUrl": "https://api.xtime.example", "tokenUrl": "https://auth.xtime.example/token",
				"dealerCode": "XT1", "timezone": "America/Chicago", "defaultOpcode": "OP1"},
			Credentials: map[string]string{"clientId": "id", "clientSecret": "secret", "apiKey": "key"},
		}
	}
}

func TestValidateAcceptsAndAppliesDefaults(t *testing.T) {
	for _, p := range agents.Platforms() {
		a, errs := agents.Validate(context.Background(), p.Platform, validPut(p.Platform), nil, noURLCheck)
		if errs != nil {
			t.Fatalf("%s: %v", p.Platform, errs)
		}
		if !a.Enabled || a.Version != 0 {
			t.Errorf("%s: a new agent is enabled at version 0: %+v", p.Platform, a)
		}
		for _, s := range p.Settings {
			if s.Default != "" && a.Settings[s.Key] != s.Default {
				t.Errorf("%s: settings.%s = %q, want the default %q", p.Platform, s.Key, a.Settings[s.Key], s.Default)
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
		{"dealersocket", func(r *agents.PutRequest) { r.Settings["activityUrl"] = "https://10.0.0.8/x" }, "settings.activityUrl"},
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
		a, errs := agents.Validate(context.Background(), c.platform, in, nil, refuseHost("10.0.0.8"))
		if a != nil || fields(errs)[c.field] == "" {
			t.Errorf("%s: errors %v, want one for %s", c.platform, errs, c.field)
		}
	}
	if _, errs := agents.Validate(context.Background(), "salesforce", agents.PutRequest{}, nil, noURLCheck); len(fields(errs)) != 1 || fields(errs)["platform"] == "" {
		t.Errorf("unknown platform: %v", errs)
	}
}

func TestValidateURLMessageComesFromTheChecker(t *testing.T) {
	in := validPut("xtime")
	in.Settings["baseUrl"] = "https://10.0.0.8"
	_, errs := agents.Validate(context.Background(), "xtime", in, nil, refuseHost("10.0.0.8"))
	if got := fields(errs)["settings.baseUrl"]; got != "host 10.0.0.8 resolves to a private address" {
		t.Errorf("message = %q", got)
	}
}

func TestValidateChecksOnlyTheURLsGiven(t *testing.T) {
	var checked []string
	check := func(_ context.Context, u string) error { checked = append(checked, u); return nil }
	if _, errs := agents.Validate(context.Background(), "fortellis", validPut("fortellis"), nil, check); errs != nil {
		t.Fatal(errs)
	}
	if len(checked) != 0 {
		t.Errorf("defaults were checked: %v", checked)
	}
	in := validPut("fortellis")
	in.Settings["baseUrl"] = "https://sandbox.fortellis.example"
	agents.Validate(context.Background(), "fortellis", in, nil, check)
	if !slices.Equal(checked, []string{"https://sandbox.fortellis.example"}) {
		t.Errorf("checked %v", checked)
	}
}

func TestPutWithoutCredentialsKeepsTheStoredOnes(t *testing.T) {
	stored := &agents.Agent{
		DealerID: "d1", Platform: "fortellis", Enabled: false, Version: 3,
		Settings:    map[string]string{"subscriptionId": "sub-1"},
		Credentials: map[string]string{"apiKey": "k", "apiSecret": "s"},
	}
	a, errs := agents.Validate(context.Background(), "fortellis", agents.PutRequest{Settings: map[string]string{"subscriptionId": "sub-2"}}, stored, noURLCheck)
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
	a, errs = agents.Validate(context.Background(), "fortellis", agents.PutRequest{Credentials: map[string]string{"apiSecret": "s2"}}, stored, noURLCheck)
	if errs != nil || a.Credentials["apiSecret"] != "s2" || a.Credentials["apiKey"] != "k" {
		t.Errorf("merge: %+v %v", a, errs)
	}
	_, errs = agents.Validate(context.Background(), "fortellis", agents.PutRequest{Credentials: map[string]string{"apiKey": ""}}, stored, noURLCheck)
	if fields(errs)["credentials.apiKey"] == "" {
		t.Errorf("removing a required credential: %v", errs)
	}

	// no stored agent: credentials are required
	_, errs = agents.Validate(context.Background(), "fortellis", agents.PutRequest{Settings: map[string]string{"subscriptionId": "sub-2"}}, nil, noURLCheck)
	if fields(errs)["credentials.apiKey"] == "" || fields(errs)["credentials.apiSecret"] == "" {
		t.Errorf("new agent without credentials: %v", errs)
	}

	// {"enabled": false} alone keeps settings and credentials
	off := false
	a, errs = agents.Validate(context.Background(), "fortellis", agents.PutRequest{Enabled: &off}, stored, noURLCheck)
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
	p := agents.Public(a)
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
	b, _ = json.Marshal(agents.Public(&agents.Agent{Platform: "vinsolutions"}))
	if want := `"enabled":false,"settings":{},"credentialsSet":[],"updatedAt":null`; !strings.Contains(string(b), want) {
		t.Errorf("unconfigured = %s", b)
	}
}

func ExampleValidate() {
	a, err := agents.Validate(context.Background(), "xtime", agents.PutRequest{
		Settings: map[string]string{"baseUrl": "https://api.xtime.example", "tokenUrl": "https://auth.xtime.example/token",
			"dealerCode": "XT1", "timezone": "America/Chicago"},
		Credentials: map[string]string{"clientId": "id", "clientSecret": "secret"},
	}, nil, func(context.Context, string) error { return nil })
	fmt.Println(a)
	var invalid *validation.Error
	if errors.As(err, &invalid) {
		fmt.Println(invalid.Fields)
	}
	// Output:
	// <nil>
	// [{settings.defaultOpcode is required} {credentials.apiKey is required}]
}
