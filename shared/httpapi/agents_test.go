package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
)

// Credential values the agent tests use: none may ever appear in a response or a log line.
var agentCredentials = map[string]map[string]string{
	"vinsolutions": {"clientId": "vs-client-5b1e", "clientSecret": "vs-secret-93c4a7", "apiKey": "vs-apikey-1f0d2e"},
	"dealersocket": {"directLeadKey": "ds-leadkey-77aa", "username": "ds-user-31", "password": "ds-pass-c0ffee",
		"publicKey": "ds-public-9e9e", "secretKey": "ds-secret-4d4d"},
	"fortellis": {"apiKey": "ft-apikey-6a6a", "apiSecret": "ft-apisecret-2b2b"},
	"xtime":     {"clientId": "xt-client-8c8c", "clientSecret": "xt-secret-0a0a", "apiKey": "xt-apikey-5e5e"},
}

// validAgentPut is a complete PUT body of a platform's agent (URLs that resolve publicly
// through the fake resolver).
func validAgentPut(platform string) map[string]any {
	settings := map[string]map[string]string{
		"vinsolutions": {"baseUrl": "https://crm.example.net/vs", "tokenUrl": "https://hooks.example.com/vs/token",
			"dealerId": "5001", "userId": "7001", "leadSourceId": "9001"},
		"dealersocket": {"vendorName": "Austin Toyota", "dealerNumberId": "77"},
		"fortellis":    {"subscriptionId": "sub-f-1"},
		"xtime": {"baseUrl": "https://crm.example.net/xtime", "tokenUrl": "https://hooks.example.com/xtime/token",
			"dealerCode": "XT1", "timezone": "America/Chicago", "defaultOpcode": "OIL"},
	}[platform]
	creds := map[string]string{}
	for k, v := range agentCredentials[platform] {
		creds[k] = v
	}
	return map[string]any{"enabled": true, "settings": settings, "credentials": creds}
}

type agentJSON struct {
	Platform, Name       string
	Capabilities, Events []string
	Enabled              bool
	Settings             map[string]string
	CredentialsSet       []string
	UpdatedAt            *time.Time
}

// noCredentials fails the test when a body holds a credential value (or a "credentials" key).
func noCredentials(t testing.TB, what string, body []byte) {
	t.Helper()
	for _, creds := range agentCredentials {
		for k, v := range creds {
			if strings.Contains(string(body), v) {
				t.Fatalf("%s shows credential %s: %s", what, k, body)
			}
		}
	}
	if strings.Contains(string(body), `"credentials"`) {
		t.Fatalf("%s has a credentials member: %s", what, body)
	}
}

func (at *apiTest) noCredentialsLogged() {
	at.t.Helper()
	noCredentials(at.t, "the API log", []byte(at.logs.String()))
}

func TestAgentsListedConfiguredOrNot(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	r := at.do("GET", "/v1/agents", tok, nil)
	var list struct{ Items []agentJSON }
	r.json(t, &list)
	if r.status != http.StatusOK || len(list.Items) != 4 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	var raw struct{ Items []map[string]any }
	r.json(t, &raw)
	for i, want := range []string{"vinsolutions", "dealersocket", "fortellis", "xtime"} {
		it := list.Items[i]
		if it.Platform != want || it.Name == "" || len(it.Capabilities) == 0 || len(it.Events) == 0 || it.Enabled ||
			len(it.Settings) != 0 || it.CredentialsSet == nil || len(it.CredentialsSet) != 0 || it.UpdatedAt != nil {
			t.Errorf("item %d: %+v", i, it)
		}
		if len(raw.Items[i]) != 11 || raw.Items[i]["available"] != true || raw.Items[i]["updatedAt"] != nil || raw.Items[i]["settingsSpec"] == nil || raw.Items[i]["credentialsSpec"] == nil {
			t.Errorf("item %d members: %v", i, raw.Items[i])
		}
		p, _ := registry.Platforms().Get(want)
		for _, c := range it.Capabilities {
			if (strings.Contains(strings.ToLower(c), "two-way") || strings.Contains(strings.ToLower(c), "inventory")) && p.NewChangeFeed == nil {
				t.Errorf("%s claims %q", want, c)
			}
		}
	}
	if !slices.Equal(list.Items[3].Events, []string{"appointment.*"}) {
		t.Errorf("xtime events %v", list.Items[3].Events)
	}

	at.do("PUT", "/v1/agents/fortellis", tok, validAgentPut("fortellis"))
	r = at.do("GET", "/v1/agents", tok, nil)
	r.json(t, &list)
	noCredentials(t, "the list", r.body)
	f := list.Items[2]
	if f.Platform != "fortellis" || !f.Enabled || f.Settings["subscriptionId"] != "sub-f-1" || f.Settings["leadSource"] != "DealerAI" ||
		!slices.Equal(f.CredentialsSet, []string{"apiKey", "apiSecret"}) || f.UpdatedAt == nil {
		t.Fatalf("fortellis after PUT: %s", r.body)
	}
	if list.Items[0].Enabled || list.Items[0].UpdatedAt != nil {
		t.Fatalf("vinsolutions changed: %+v", list.Items[0])
	}
	// another dealer sees none of it
	at.do("GET", "/v1/agents", at.token("dlr_2"), nil).json(t, &list)
	for _, it := range list.Items {
		if it.Enabled || it.UpdatedAt != nil {
			t.Fatalf("dlr_2 sees %+v", it)
		}
	}
	at.noCredentialsLogged()
}

func TestAgentPutGetDelete(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	path := "/v1/agents/xtime"

	r := at.do("GET", path, tok, nil)
	if r.status != http.StatusOK || r.header.Get("ETag") != `"0"` {
		t.Fatalf("get before PUT: %d %v %s", r.status, r.header, r.body)
	}

	before := time.Now().Add(-time.Second)
	r = at.do("PUT", path, tok, validAgentPut("xtime"))
	var got agentJSON
	r.json(t, &got)
	if r.status != http.StatusOK || r.header.Get("ETag") != `"1"` {
		t.Fatalf("put: %d %v %s", r.status, r.header, r.body)
	}
	noCredentials(t, "the PUT answer", r.body)
	if !got.Enabled || got.Settings["dealerCode"] != "XT1" || got.Settings["rescheduleStrategy"] != "update" ||
		got.Settings["serviceLookup"] != "on" || !slices.Equal(got.CredentialsSet, []string{"apiKey", "clientId", "clientSecret"}) ||
		got.UpdatedAt == nil || got.UpdatedAt.Before(before) || got.Name != "XTime" {
		t.Fatalf("put answer: %s", r.body)
	}
	stored, err := at.agents.Get(context.Background(), "dlr_1", "xtime")
	if err != nil || stored.Credentials["clientSecret"] != "xt-secret-0a0a" || stored.DealerID != "dlr_1" || stored.Version != 1 {
		t.Fatalf("stored: %+v %v", stored, err)
	}

	r = at.do("GET", path, tok, nil)
	var again agentJSON
	r.json(t, &again)
	if r.status != http.StatusOK || r.header.Get("ETag") != `"1"` || fmt.Sprint(again) != fmt.Sprint(got) {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	noCredentials(t, "the GET answer", r.body)

	// {"enabled": false} only disables: settings and credentials kept
	r = at.do("PUT", path, tok, `{"enabled": false}`)
	r.json(t, &got)
	if r.status != http.StatusOK || r.header.Get("ETag") != `"2"` || got.Enabled || got.Settings["dealerCode"] != "XT1" || len(got.CredentialsSet) != 3 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	// new settings replace the old ones (absent keys back to defaults); credentials without
	// the key kept; one credential replaced
	r = at.do("PUT", path, tok, map[string]any{
		"settings": map[string]string{"baseUrl": "https://crm.example.net/xtime", "tokenUrl": "https://hooks.example.com/xtime/token",
			"dealerCode": "XT2", "timezone": "America/New_York", "defaultOpcode": "TIRE", "rescheduleStrategy": "skip"},
		"credentials": map[string]string{"apiKey": "xt-apikey-rotated"},
	})
	r.json(t, &got)
	if r.status != http.StatusOK || got.Enabled || got.Settings["dealerCode"] != "XT2" || got.Settings["rescheduleStrategy"] != "skip" ||
		len(got.CredentialsSet) != 3 {
		t.Fatalf("replace settings: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "xt-apikey-rotated") {
		t.Fatalf("the new credential is shown: %s", r.body)
	}
	stored, _ = at.agents.Get(context.Background(), "dlr_1", "xtime")
	if stored.Credentials["apiKey"] != "xt-apikey-rotated" || stored.Credentials["clientSecret"] != "xt-secret-0a0a" {
		t.Fatalf("credentials after merge: %v", keysOf(stored.Credentials))
	}
	// a required credential removed, a required setting missing: 422 naming them
	p := at.do("PUT", path, tok, `{"credentials": {"clientSecret": ""}}`).problem(t, http.StatusUnprocessableEntity)
	if !hasField(p, "credentials.clientSecret") {
		t.Fatalf("remove a required credential: %+v", p)
	}
	p = at.do("PUT", path, tok, `{"settings": {"baseUrl": "https://crm.example.net/x"}}`).problem(t, http.StatusUnprocessableEntity)
	for _, f := range []string{"settings.dealerCode", "settings.timezone"} {
		if !hasField(p, f) {
			t.Errorf("missing settings: errors %v, want %s", p.Errors, f)
		}
	}
	if r := at.do("GET", path, tok, nil); r.header.Get("ETag") != `"3"` {
		t.Fatalf("a refused PUT changed the agent: %v", r.header)
	}

	if r := at.do("DELETE", path, tok, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	r = at.do("GET", path, tok, nil)
	got = agentJSON{}
	r.json(t, &got)
	if r.status != http.StatusOK || r.header.Get("ETag") != `"0"` || got.Enabled || len(got.Settings) != 0 || len(got.CredentialsSet) != 0 || got.UpdatedAt != nil {
		t.Fatalf("after delete: %s", r.body)
	}
	if _, err := at.agents.Get(context.Background(), "dlr_1", "xtime"); err == nil {
		t.Fatal("the agent item is still stored")
	}
	// idempotent
	if r := at.do("DELETE", path, tok, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete again: %d %s", r.status, r.body)
	}
	// configured again from scratch: the old credentials are gone
	p = at.do("PUT", path, tok, `{"settings": {"baseUrl": "https://crm.example.net/x", "tokenUrl": "https://hooks.example.com/t",
		"dealerCode": "XT1", "timezone": "America/Chicago", "defaultOpcode": "OIL"}}`).problem(t, http.StatusUnprocessableEntity)
	if !hasField(p, "credentials.clientId") || !hasField(p, "credentials.apiKey") {
		t.Fatalf("after delete the credentials are required again: %+v", p)
	}

	// an unknown platform is not found, whatever the method
	for _, req := range [][2]string{{"GET", "/v1/agents/crm"}, {"PUT", "/v1/agents/crm"}, {"DELETE", "/v1/agents/crm"},
		{"GET", "/v1/agents/XTime"}, {"GET", "/v1/agents/crm/deliveries"},
		{"GET", "/v1/agents/crm/deliveries/dlv_01JDQ7Z4X8M2K9V6T3R5N1P0AB"},
		{"POST", "/v1/agents/crm/deliveries/dlv_01JDQ7Z4X8M2K9V6T3R5N1P0AB/retry"}} {
		var body any
		if req[0] == "PUT" {
			body = validAgentPut("xtime")
		}
		at.do(req[0], req[1], tok, body).problem(t, http.StatusNotFound)
	}
	at.noCredentialsLogged()
}

func keysOf(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestAgentPutValidation(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	valid := func(edit func(m map[string]any)) string {
		m := validAgentPut("vinsolutions")
		edit(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	setting := func(k, v string) string {
		return valid(func(m map[string]any) { m["settings"].(map[string]string)[k] = v })
	}
	cases := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"malformed JSON", `{"enabled": `, 400, ""},
		{"not an object", `[]`, 400, ""},
		{"trailing data", `{} {}`, 400, ""},
		{"unknown member", valid(func(m map[string]any) { m["platform"] = "xtime" }), 400, "platform"},
		{"enabled not a boolean", valid(func(m map[string]any) { m["enabled"] = "yes" }), 422, "enabled"},
		{"settings not an object", valid(func(m map[string]any) { m["settings"] = []string{"a"} }), 422, "settings"},
		{"credentials a string", valid(func(m map[string]any) { m["credentials"] = "secret" }), 422, "credentials"},
		{"setting not a string", `{"settings": {"dealerId": 5001}}`, 422, "settings.dealerId"},
		{"credential not a string", `{"credentials": {"apiKey": true}}`, 422, "credentials.apiKey"},
		{"unknown setting", setting("dealerCode", "X"), 422, "settings.dealerCode"},
		{"unknown credential", valid(func(m map[string]any) { m["credentials"].(map[string]string)["password"] = "p" }), 422, "credentials.password"},
		{"required setting missing", valid(func(m map[string]any) { delete(m["settings"].(map[string]string), "dealerId") }), 422, "settings.dealerId"},
		{"required credential missing", valid(func(m map[string]any) { delete(m["credentials"].(map[string]string), "apiKey") }), 422, "credentials.apiKey"},
		{"dealerId not a number", setting("dealerId", "D-5001"), 422, "settings.dealerId"},
		{"URL http", setting("baseUrl", "http://crm.example.net/vs"), 422, "settings.baseUrl"},
		{"URL private", setting("baseUrl", "https://10.0.0.5/vs"), 422, "settings.baseUrl"},
		{"URL resolving to metadata", setting("tokenUrl", "https://metadata.example.com/token"), 422, "settings.tokenUrl"},
		{"URL loopback", setting("tokenUrl", "https://127.0.0.1/token"), 422, "settings.tokenUrl"},
		{"URL userinfo", setting("baseUrl", "https://u:p@crm.example.net/vs"), 422, "settings.baseUrl"},
		{"URL not resolving", setting("baseUrl", "https://nowhere.example.org/vs"), 422, "settings.baseUrl"},
		{"control character", setting("leadType", "INTER\nNET"), 422, "settings.leadType"},
		{"setting too long", setting("leadType", strings.Repeat("a", 2049)), 422, "settings.leadType"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := at.do("PUT", "/v1/agents/vinsolutions", tok, c.body).problem(t, c.status)
			if c.field != "" && !hasField(p, c.field) {
				t.Fatalf("errors %v, want field %q", p.Errors, c.field)
			}
			noCredentials(t, "a problem", []byte(fmt.Sprint(p)))
		})
	}
	// XTime's own rules
	xt := func(k, v string) string {
		m := validAgentPut("xtime")
		m["settings"].(map[string]string)[k] = v
		b, _ := json.Marshal(m)
		return string(b)
	}
	for k, v := range map[string]string{"timezone": "Central", "rescheduleStrategy": "rebook", "cancelPath": "cancel"} {
		if p := at.do("PUT", "/v1/agents/xtime", tok, xt(k, v)).problem(t, 422); !hasField(p, "settings."+k) {
			t.Errorf("xtime %s=%q: %v", k, v, p.Errors)
		}
	}
	// DealerSocket: publicKey without secretKey
	ds := validAgentPut("dealersocket")
	delete(ds["credentials"].(map[string]string), "secretKey")
	if p := at.do("PUT", "/v1/agents/dealersocket", tok, ds).problem(t, 422); !hasField(p, "credentials.secretKey") {
		t.Errorf("dealersocket publicKey alone: %v", p.Errors)
	}
	// media type and size
	at.do("PUT", "/v1/agents/vinsolutions", tok, valid(func(map[string]any) {}), header{"Content-Type", "text/plain"}).
		problem(t, http.StatusUnsupportedMediaType)
	at.do("PUT", "/v1/agents/vinsolutions", tok, valid(func(m map[string]any) {
		m["credentials"].(map[string]string)["apiKey"] = strings.Repeat("k", 70<<10)
	})).problem(t, http.StatusRequestEntityTooLarge)
	// nothing was stored
	if list, err := at.agents.List(context.Background(), "dlr_1"); err != nil || len(list) != 0 {
		t.Fatalf("stored after refused PUTs: %v %v", list, err)
	}
	// every platform's complete body is accepted; null members count as absent
	for _, p := range []string{"vinsolutions", "dealersocket", "fortellis", "xtime"} {
		if r := at.do("PUT", "/v1/agents/"+p, tok, validAgentPut(p)); r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
	if r := at.do("PUT", "/v1/agents/xtime", tok, `{"enabled": null, "settings": null, "credentials": null}`); r.status != http.StatusOK {
		t.Fatalf("nulls: %d %s", r.status, r.body)
	}
	at.noCredentialsLogged()
}

func TestAgentIfMatch(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	path := "/v1/agents/fortellis"
	body := validAgentPut("fortellis")
	ifMatch := func(v string) header { return header{"If-Match", v} }

	// "0": only if not configured
	if r := at.do("PUT", path, tok, body, ifMatch(`"0"`)); r.status != http.StatusOK || r.header.Get("ETag") != `"1"` {
		t.Fatalf("create with If-Match 0: %d %s", r.status, r.body)
	}
	at.do("PUT", path, tok, body, ifMatch(`"0"`)).problem(t, http.StatusPreconditionFailed)
	if r := at.do("PUT", path, tok, `{"enabled": false}`, ifMatch(`"1"`)); r.status != http.StatusOK || r.header.Get("ETag") != `"2"` {
		t.Fatalf("If-Match 1: %d %s", r.status, r.body)
	}
	for _, stale := range []string{`"1"`, `"3"`, `W/"2"`, `2`, `"-1"`, `"abc"`, `"1", "2"`} {
		at.do("PUT", path, tok, `{"enabled": true}`, ifMatch(stale)).problem(t, http.StatusPreconditionFailed)
		at.do("DELETE", path, tok, nil, ifMatch(stale)).problem(t, http.StatusPreconditionFailed)
	}
	at.do("DELETE", path, tok, nil, ifMatch(`"0"`)).problem(t, http.StatusPreconditionFailed)
	if r := at.do("PUT", path, tok, `{"enabled": true}`, ifMatch("*")); r.status != http.StatusOK {
		t.Fatalf("If-Match *: %d", r.status)
	}
	if r := at.do("DELETE", path, tok, nil, ifMatch(`"3"`)); r.status != http.StatusNoContent {
		t.Fatalf("delete with If-Match: %d %s", r.status, r.body)
	}
	// not configured: version 0
	at.do("DELETE", path, tok, nil, ifMatch(`"3"`)).problem(t, http.StatusPreconditionFailed)
	if r := at.do("DELETE", path, tok, nil, ifMatch(`"0"`)); r.status != http.StatusNoContent {
		t.Fatalf("delete of an agent not configured with If-Match 0: %d", r.status)
	}
	at.do("PUT", path, tok, body, ifMatch(`"3"`)).problem(t, http.StatusPreconditionFailed)
}

// TestConcurrentAgentPuts: concurrent PUTs without If-Match all apply (as last writers);
// with the same If-Match exactly one does.
func TestConcurrentAgentPuts(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	path := "/v1/agents/vinsolutions"
	at.do("PUT", path, tok, validAgentPut("vinsolutions"))
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			r := at.do("PUT", path, tok, fmt.Sprintf(`{"credentials": {"apiKey": "vs-apikey-%d"}, "enabled": %t}`, i, i%2 == 0))
			if r.status != http.StatusOK {
				t.Errorf("put %d: %d %s", i, r.status, r.body)
			}
		})
	}
	wg.Wait()
	if r := at.do("GET", path, tok, nil); r.header.Get("ETag") != `"6"` {
		t.Fatalf("ETag %s after 5 PUTs of version 1, want \"6\"", r.header.Get("ETag"))
	}
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 5 {
		wg.Go(func() {
			r := at.do("PUT", path, tok, fmt.Sprintf(`{"enabled": %t}`, i%2 == 0), header{"If-Match", `"6"`})
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusOK] != 1 || statuses[http.StatusPreconditionFailed] != 4 {
		t.Fatalf("statuses %v, want one 200 and four 412", statuses)
	}
}

func TestAgentDeliveries(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	target := deliveryq.Target{Kind: deliveryq.KindAgent, ID: "vinsolutions"}
	ids := map[string]string{}
	for _, s := range []string{"succeeded", "failed", "skipped", "pending"} {
		ids[s] = at.seedTargetDelivery("dlr_1", target, s, "pending_dependency")
		time.Sleep(2 * time.Millisecond)
	}
	other := at.seedTargetDelivery("dlr_1", deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}, "failed", "auth")
	base := "/v1/agents/vinsolutions/deliveries"

	// the log is readable whether or not the agent is configured now
	var page struct {
		Items      []deliveryJSON
		NextCursor *string
	}
	at.do("GET", base, tok, nil).json(t, &page)
	if len(page.Items) != 4 || page.Items[0].DeliveryID != ids["pending"] || page.NextCursor != nil {
		t.Fatalf("list: %+v", page.Items)
	}
	for _, d := range page.Items {
		if d.Target != target {
			t.Fatalf("target %+v", d.Target)
		}
	}
	at.do("GET", base+"?status=failed&limit=1", tok, nil).json(t, &page)
	if len(page.Items) != 1 || page.Items[0].DeliveryID != ids["failed"] || page.Items[0].AttemptCount != 4 {
		t.Fatalf("?status=failed: %+v", page.Items)
	}
	if p := at.do("GET", base+"?status=lost", tok, nil).problem(t, http.StatusBadRequest); !hasField(p, "status") {
		t.Fatalf("bad status: %+v", p)
	}
	if p := at.do("GET", base+"?cursor=%21", tok, nil).problem(t, http.StatusBadRequest); !hasField(p, "cursor") {
		t.Fatalf("bad cursor: %+v", p)
	}

	var d deliveryJSON
	r := at.do("GET", base+"/"+ids["failed"], tok, nil)
	r.json(t, &d)
	if r.status != http.StatusOK || len(d.Attempts) != 4 || d.Attempts[0].ErrorClass != "pending_dependency" || len(d.Payload) == 0 {
		t.Fatalf("failed delivery: %s", r.body)
	}
	// another platform's delivery is not this one's
	at.do("GET", base+"/"+other, tok, nil).problem(t, http.StatusNotFound)
	at.do("GET", base+"/nonsense", tok, nil).problem(t, http.StatusNotFound)
	at.do("GET", "/v1/agents/xtime/deliveries/"+other, tok, nil).json(t, &d)
	if d.Attempts[0].ErrorClass != "auth" {
		t.Fatalf("xtime delivery: %+v", d)
	}

	// retry: the agent must be configured and enabled
	p := at.do("POST", base+"/"+ids["failed"]+"/retry", tok, nil).problem(t, http.StatusConflict)
	if !strings.Contains(p.Detail, "not configured") {
		t.Fatalf("retry without the agent: %+v", p)
	}
	off := validAgentPut("vinsolutions")
	off["enabled"] = false
	at.do("PUT", "/v1/agents/vinsolutions", tok, off)
	if p := at.do("POST", base+"/"+ids["failed"]+"/retry", tok, nil).problem(t, http.StatusConflict); !strings.Contains(p.Detail, "disabled") {
		t.Fatalf("retry with the agent disabled: %+v", p)
	}
	at.do("PUT", "/v1/agents/vinsolutions", tok, `{"enabled": true}`)
	for _, status := range []string{"pending", "succeeded"} {
		if p := at.do("POST", base+"/"+ids[status]+"/retry", tok, nil).problem(t, http.StatusConflict); !strings.Contains(p.Detail, status) {
			t.Fatalf("retry of %s: %+v", status, p)
		}
	}
	at.do("POST", base+"/dlv_01JDQ7Z4X8M2K9V6T3R5N1P0AB/retry", tok, nil).problem(t, http.StatusNotFound)

	orig, err := at.log.Get(context.Background(), "dlr_1", target, ids["failed"], true)
	if err != nil {
		t.Fatal(err)
	}
	r = at.do("POST", base+"/"+ids["failed"]+"/retry", tok, nil)
	var acc struct{ DeliveryID string }
	r.json(t, &acc)
	if r.status != http.StatusAccepted || acc.DeliveryID == ids["failed"] {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	msg := at.receive(1)[0]
	noCredentials(t, "the delivery message", []byte(*msg.Body))
	m, err := deliveryq.Decode(*msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	if m.DeliveryID != acc.DeliveryID || m.RetryOf != ids["failed"] || m.Target != target || m.EventID != orig.EventID ||
		m.DealerID != "dlr_1" || string(m.Payload) != string(orig.Payload) {
		t.Fatalf("message %+v", m)
	}
	at.do("GET", base+"/"+acc.DeliveryID, tok, nil).json(t, &d)
	if d.Status != deliverylog.StatusPending || d.RetryOf == nil || *d.RetryOf != ids["failed"] || d.Target != target {
		t.Fatalf("new delivery %+v", d)
	}
	if r := at.do("POST", base+"/"+ids["skipped"]+"/retry", tok, nil); r.status != http.StatusAccepted {
		t.Fatalf("retry of skipped: %d %s", r.status, r.body)
	}
	at.receive(1)
	at.noCredentialsLogged()
}

// TestAgentDealerIsolation: dealer A neither sees nor changes dealer B's agents and their
// deliveries.
func TestAgentDealerIsolation(t *testing.T) {
	at := newAPITest(t)
	b := at.token("dlr_B")
	at.do("PUT", "/v1/agents/xtime", b, validAgentPut("xtime"))
	dlv := at.seedTargetDelivery("dlr_B", deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}, "failed", "http_status")

	a := at.token("dlr_A")
	var got agentJSON
	r := at.do("GET", "/v1/agents/xtime", a, nil)
	r.json(t, &got)
	if got.Enabled || got.UpdatedAt != nil || r.header.Get("ETag") != `"0"` {
		t.Fatalf("A sees B's agent: %s", r.body)
	}
	if r := at.do("DELETE", "/v1/agents/xtime", a, nil); r.status != http.StatusNoContent {
		t.Fatalf("A's delete: %d", r.status)
	}
	at.do("DELETE", "/v1/agents/xtime", a, nil, header{"If-Match", `"1"`}).problem(t, http.StatusPreconditionFailed)
	var page struct{ Items []any }
	at.do("GET", "/v1/agents/xtime/deliveries", a, nil).json(t, &page)
	if len(page.Items) != 0 {
		t.Fatalf("A lists B's deliveries: %v", page.Items)
	}
	at.do("GET", "/v1/agents/xtime/deliveries/"+dlv, a, nil).problem(t, http.StatusNotFound)
	at.do("POST", "/v1/agents/xtime/deliveries/"+dlv+"/retry", a, nil).problem(t, http.StatusNotFound)

	r = at.do("GET", "/v1/agents/xtime", b, nil)
	r.json(t, &got)
	if !got.Enabled || r.header.Get("ETag") != `"1"` {
		t.Fatalf("B's agent changed: %s", r.body)
	}
}

func TestAgentAuth(t *testing.T) {
	at := newAPITest(t)
	noDealer, err := at.issuer.Sign(jwt.MapClaims{"iss": at.issuer.Issuer, "aud": at.issuer.Audience, "exp": time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range [][2]string{{"GET", "/v1/agents"}, {"GET", "/v1/agents/xtime"}, {"PUT", "/v1/agents/xtime"},
		{"DELETE", "/v1/agents/xtime"}, {"GET", "/v1/agents/xtime/deliveries"},
		{"GET", "/v1/agents/xtime/deliveries/dlv_01JDQ7Z4X8M2K9V6T3R5N1P0AB"},
		{"POST", "/v1/agents/xtime/deliveries/dlv_01JDQ7Z4X8M2K9V6T3R5N1P0AB/retry"}} {
		var body any
		if req[0] == "PUT" {
			body = validAgentPut("xtime")
		}
		if r := at.do(req[0], req[1], "", body); r.status != http.StatusUnauthorized {
			t.Errorf("%v without a token: %d", req, r.status)
		}
		at.do(req[0], req[1], noDealer, body).problem(t, http.StatusForbidden)
	}
	if list, _ := at.agents.List(context.Background(), ""); len(list) != 0 {
		t.Fatal("stored without a dealer")
	}
}
