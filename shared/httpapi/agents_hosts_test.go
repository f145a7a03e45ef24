package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/agents/registry"
)

func init() {
	// The platforms' official hosts, and a host of an attacker's, resolve publicly: what
	// refuses a URL is the host rule, not the SSRF check.
	for _, p := range registry.Platforms() {
		for _, h := range p.Hosts {
			resolver[h] = []netip.Addr{netip.MustParseAddr("93.184.215.14")}
		}
	}
	resolver["exfil.example.org"] = []netip.Addr{netip.MustParseAddr("93.184.215.15")}
}

// TestAgentURLsStayOnThePlatformsHosts: the exfiltration attempt, for every URL setting of
// every platform — with the credentials sent again, as the attacker would — is refused with
// a 422 naming the setting; the platform's official hosts are accepted.
func TestAgentURLsStayOnThePlatformsHosts(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	for _, p := range registry.Platforms() {
		path := "/v1/agents/" + p.ID
		for _, key := range p.URLSettings() {
			put := validAgentPut(p.ID)
			put["settings"].(map[string]string)[key] = "https://exfil.example.org/collect"
			pr := at.do("PUT", path, tok, put).problem(t, http.StatusUnprocessableEntity)
			if !hasField(pr, "settings."+key) || !strings.Contains(pr.Errors[0].Message, p.Hosts[0]) {
				t.Errorf("%s settings.%s on exfil.example.org: %+v", p.ID, key, pr.Errors)
			}
		}
		for _, host := range p.Hosts {
			put := validAgentPut(p.ID)
			for _, key := range p.URLSettings() {
				put["settings"].(map[string]string)[key] = "https://" + host + "/path"
			}
			if r := at.do("PUT", path, tok, put); r.status != http.StatusOK {
				t.Errorf("%s on its host %s: %d %s", p.ID, host, r.status, r.body)
			}
		}
		at.do("DELETE", path, tok, nil)
	}
	at.noCredentialsLogged()
}

// TestChangingAnAgentURLNeedsItsCredentialsAgain: a configured agent's stored credentials
// never follow a URL to a new place: the PUT that changes a URL setting sends every
// credential again, or is refused naming credentials; the change is logged with who made it.
func TestChangingAnAgentURLNeedsItsCredentialsAgain(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	path := "/v1/agents/vinsolutions"
	if r := at.do("PUT", path, tok, validAgentPut("vinsolutions")); r.status != http.StatusOK {
		t.Fatalf("configure: %d %s", r.status, r.body)
	}
	moved := func(creds map[string]string) map[string]any {
		put := validAgentPut("vinsolutions")
		put["settings"].(map[string]string)["baseUrl"] = "https://sandbox.api.vinsolutions.com"
		if creds == nil {
			delete(put, "credentials")
		} else {
			put["credentials"] = creds
		}
		return put
	}
	for name, creds := range map[string]map[string]string{
		"without credentials":   nil,
		"with some credentials": {"apiKey": "vs-apikey-new-77"},
		"with all but one":      {"clientId": "vs-client-5b1e", "clientSecret": "vs-secret-93c4a7"},
	} {
		pr := at.do("PUT", path, tok, moved(creds)).problem(t, http.StatusUnprocessableEntity)
		if !hasField(pr, "credentials") || !strings.Contains(pr.Errors[len(pr.Errors)-1].Message, "settings.baseUrl") {
			t.Errorf("%s: %+v", name, pr.Errors)
		}
	}
	if r := at.do("GET", path, tok, nil); r.header.Get("ETag") != `"1"` || strings.Contains(string(r.body), "sandbox") {
		t.Fatalf("a refused PUT changed the agent: %s", r.body)
	}
	if strings.Contains(at.logs.String(), "agent URL settings changed") {
		t.Fatal("a refused change was logged as made")
	}
	// the same settings, or other settings, without credentials: fine
	same := validAgentPut("vinsolutions")
	delete(same, "credentials")
	same["settings"].(map[string]string)["leadType"] = "PHONE"
	if r := at.do("PUT", path, tok, same); r.status != http.StatusOK {
		t.Fatalf("a change of no URL: %d %s", r.status, r.body)
	}

	creds := map[string]string{"clientId": "vs-client-5b1e", "clientSecret": "vs-secret-93c4a7", "apiKey": "vs-apikey-1f0d2e"}
	if r := at.do("PUT", path, tok, moved(creds)); r.status != http.StatusOK {
		t.Fatalf("with every credential: %d %s", r.status, r.body)
	}
	stored, _ := at.agents.Get(context.Background(), "dlr_1", "vinsolutions")
	if stored.Settings["baseUrl"] != "https://sandbox.api.vinsolutions.com" {
		t.Fatalf("stored %v", stored.Settings)
	}
	var line map[string]any
	for _, l := range strings.Split(at.logs.String(), "\n") {
		if strings.Contains(l, "agent URL settings changed") {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line["dealerId"] != "dlr_1" || line["sub"] != "user-of-dlr_1" || line["platform"] != "vinsolutions" || line["level"] != "WARN" ||
		strings.Join(toStrings(line["settings"]), ",") != "settings.baseUrl" || strings.Join(toStrings(line["hosts"]), ",") != "sandbox.api.vinsolutions.com" {
		t.Errorf("log line %v", line)
	}
	at.noCredentialsLogged()
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}
