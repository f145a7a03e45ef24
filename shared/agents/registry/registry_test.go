package registry_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agents/registry"
)

func TestPlatformsMatchTheDesign(t *testing.T) {
	want := map[string]struct {
		events               []string
		requiredS, requiredC []string
		defaults             map[string]string
		optionalS, optionalC []string
	}{
		"vinsolutions": {
			events: []string{"lead.created", "lead.received", "lead.update.disposition", "contact.basic.updated",
				"contact.vehicleofinterest.updated", "appointment.*"},
			requiredS: []string{"dealerId", "userId", "leadSourceId"}, requiredC: []string{"clientId", "clientSecret", "apiKey"},
			defaults: map[string]string{"baseUrl": "https://api.vinsolutions.com", "tokenUrl": "https://authentication.vinsolutions.com/connect/token", "leadType": "INTERNET"},
		},
		"dealersocket": {
			events:    []string{"lead.created", "lead.received", "lead.update.disposition", "contact.basic.updated", "contact.vehicleofinterest.updated", "appointment.*"},
			requiredS: []string{"vendorName", "dealerNumberId"}, requiredC: []string{"directLeadKey", "username", "password"},
			defaults: map[string]string{"baseUrl": "https://oemwebsecure.dealersocket.com", "apiUrl": "https://api.dealersocket.com/api/DealerSocket",
				"eventSearchUrl": "https://iapi.dealersocket.com/webapi/EventSearch", "apiVendor": "DealerAI", "activityType": "Appointment"},
			optionalS: []string{"activityStatus", "dispositionStatuses"}, optionalC: []string{"publicKey", "secretKey"},
		},
		"fortellis": {
			events: []string{"lead.created", "lead.received", "lead.update.disposition",
				"contact.basic.updated", "contact.vehicleofinterest.updated", "appointment.*"},
			requiredS: []string{"subscriptionId"}, requiredC: []string{"apiKey", "apiSecret"},
			defaults: map[string]string{"baseUrl": "https://api.fortellis.io", "tokenUrl": "https://identity.fortellis.io/oauth2/aus1p1ixy7YL8cMq02p7/v1/token",
				"leadSource": "DealerAI", "upType": "Internet", "activityType": "Appointment",
				"appointmentUpdatePath": "/service/v3/appointments/{appointmentId}", "appointmentCancelPath": "/service/v3/appointments/{appointmentId}"},
			optionalS: []string{"leadSubSource", "dispositionMap", "vehicleHrefTemplate"},
		},
		"xtime": {
			events:    []string{"appointment.*"},
			requiredS: []string{"baseUrl", "dealerCode", "timezone"}, requiredC: []string{"clientId", "clientSecret", "apiKey"},
			defaults:  map[string]string{"tokenUrl": "https://auth.coxautoinc.com/token", "serviceLookup": "on", "rescheduleStrategy": "update", "cancelMethod": "POST"},
			optionalS: []string{"defaultOpcode", "cancelPath"}, optionalC: []string{"developerKey"},
		},
	}
	ps := registry.Platforms()
	if !slices.Equal(ps.IDs(), []string{"vinsolutions", "dealersocket", "fortellis", "xtime"}) {
		t.Fatalf("platforms %v", ps.IDs())
	}
	for _, p := range ps {
		w, ok := want[p.ID]
		if !ok {
			t.Fatalf("unexpected platform %s", p.ID)
		}
		if p.NewConnector == nil || p.NewConnector(platform.Deps{Tokens: oauth.NewCache()}) == nil {
			t.Errorf("%s has no connector", p.ID)
		}
		if !slices.Equal(p.Events, w.events) {
			t.Errorf("%s events = %v, want %v", p.ID, p.Events, w.events)
		}
		if len(p.Capabilities) == 0 || p.Name == "" {
			t.Errorf("%s has no name or capabilities", p.ID)
		}
		spec := func(keys []platform.KeySpec, k string) (platform.KeySpec, bool) {
			i := slices.IndexFunc(keys, func(s platform.KeySpec) bool { return s.Key == k })
			if i < 0 {
				return platform.KeySpec{}, false
			}
			return keys[i], true
		}
		for _, k := range w.requiredS {
			if s, ok := spec(p.Settings, k); !ok || !s.Required {
				t.Errorf("%s: settings.%s should be required", p.ID, k)
			}
		}
		for _, k := range w.requiredC {
			if s, ok := spec(p.Credentials, k); !ok || !s.Required {
				t.Errorf("%s: credentials.%s should be required", p.ID, k)
			}
		}
		for k, d := range w.defaults {
			if s, ok := spec(p.Settings, k); !ok || s.Default != d || s.Required {
				t.Errorf("%s: settings.%s = %+v, want optional with default %s", p.ID, k, s, d)
			}
		}
		for _, k := range w.optionalS {
			if s, ok := spec(p.Settings, k); !ok || s.Required {
				t.Errorf("%s: settings.%s should be optional", p.ID, k)
			}
		}
		for _, k := range w.optionalC {
			if s, ok := spec(p.Credentials, k); !ok || s.Required {
				t.Errorf("%s: credentials.%s should be optional", p.ID, k)
			}
		}
		for _, s := range p.Settings {
			if strings.HasSuffix(s.Key, "Url") != s.URL {
				t.Errorf("%s: settings.%s URL flag = %v", p.ID, s.Key, s.URL)
			}
		}
	}
}

// TestOfficialHosts: each platform lists the hosts of the public record (docs/agents.md), its
// default URLs are on them, and no platform accepts another's.
func TestOfficialHosts(t *testing.T) {
	want := map[string][]string{
		"vinsolutions": {"api.vinsolutions.com", "sandbox.api.vinsolutions.com", "authentication.vinsolutions.com"},
		"dealersocket": {"oemwebsecure.dealersocket.com", "api.dealersocket.com", "iapi.dealersocket.com"},
		"fortellis":    {"api.fortellis.io", "identity.fortellis.io", "subscriptions.fortellis.io", "event-relay.fortellis.io"},
		"xtime":        {"auth.coxautoinc.com", "sandbox.api.coxautoinc.com", "api.retailapi-coxautoinc.com"},
	}
	ps := registry.Platforms()
	for _, p := range ps {
		if !slices.Equal(p.Hosts, want[p.ID]) {
			t.Errorf("%s hosts %v, want %v", p.ID, p.Hosts, want[p.ID])
		}
		for _, s := range p.Settings {
			if s.URL && s.Default != "" {
				if msg := p.CheckURL(s.Default); msg != "" {
					t.Errorf("%s: the default of settings.%s %s", p.ID, s.Key, msg)
				}
			}
		}
		for _, other := range ps {
			if other.ID == p.ID {
				continue
			}
			for _, h := range other.Hosts {
				if p.AllowsHost(h) && !slices.Contains(want[p.ID], h) {
					t.Errorf("%s accepts %s's host %s", p.ID, other.ID, h)
				}
			}
		}
		if !p.AllowsHost(strings.ToUpper(p.Hosts[0])+".") || p.AllowsHost("evil.example.com") || p.AllowsHost("") {
			t.Errorf("%s: host matching is wrong", p.ID)
		}
		if u, _ := url.Parse("https://" + p.Hosts[0] + ".evil.example.com/x"); p.AllowsHost(u.Hostname()) {
			t.Errorf("%s accepts a suffix of its host", p.ID)
		}
	}
}
