package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/httpapi"
	"github.com/dealerai/integrations/shared/plans"
)

type agentAvailability struct {
	Platform          string
	Enabled           bool
	Available         bool
	UnavailableReason *string
}

type entitlementJSON struct {
	DealerID  string
	Platforms []string
	Default   bool
	UpdatedAt *string
	UpdatedBy *string
}

// setPlan sets a dealer's plan as DealerAI staff and returns the answer.
func (at *apiTest) setPlan(dealer string, platforms ...string) entitlementJSON {
	at.t.Helper()
	if platforms == nil {
		platforms = []string{}
	}
	r := at.do("PUT", "/v1/admin/dealers/"+dealer+"/entitlements", at.adminToken(), map[string]any{"platforms": platforms})
	if r.status != http.StatusOK {
		at.t.Fatalf("set plan: %d %s", r.status, r.body)
	}
	var e entitlementJSON
	r.json(at.t, &e)
	return e
}

func availability(t testing.TB, at *apiTest, dealer string) map[string]agentAvailability {
	t.Helper()
	var list struct{ Items []agentAvailability }
	r := at.do("GET", "/v1/agents", at.token(dealer), nil)
	if r.status != http.StatusOK {
		t.Fatalf("list agents: %d %s", r.status, r.body)
	}
	r.json(t, &list)
	out := map[string]agentAvailability{}
	for _, a := range list.Items {
		out[a.Platform] = a
	}
	return out
}

// TestPlanWithoutVinSolutions: a dealer whose plan lacks VinSolutions sees it unavailable
// (with why) and gets 403 telling it to contact its account manager when it turns it on —
// nothing is stored; it may still configure it off. A dealer's token cannot change the plan;
// an admin token can, and then the dealer turns it on.
func TestPlanWithoutVinSolutions(t *testing.T) {
	at := newAPITest(t)
	dealer := at.token("dlr_plan")
	at.setPlan("dlr_plan", "dealersocket", "fortellis", "xtime")

	avail := availability(t, at, "dlr_plan")
	vs := avail["vinsolutions"]
	if vs.Available || vs.UnavailableReason == nil || !strings.Contains(*vs.UnavailableReason, "DealerAI account manager") {
		t.Errorf("vinsolutions %+v, want unavailable with the reason", vs)
	}
	for _, p := range []string{"dealersocket", "fortellis", "xtime"} {
		if a := avail[p]; !a.Available || a.UnavailableReason != nil {
			t.Errorf("%s %+v, want available without a reason", p, a)
		}
	}
	var one agentAvailability
	at.do("GET", "/v1/agents/vinsolutions", dealer, nil).json(t, &one)
	if one.Available || one.UnavailableReason == nil {
		t.Errorf("GET vinsolutions %+v", one)
	}

	// turning it on: refused, nothing stored
	for _, body := range []map[string]any{validAgentPut("vinsolutions"), withoutEnabled(validAgentPut("vinsolutions"))} {
		p := at.do("PUT", "/v1/agents/vinsolutions", dealer, body).problem(t, http.StatusForbidden)
		if !strings.Contains(p.Detail, "contact your DealerAI account manager") || !strings.Contains(p.Detail, "VinSolutions") {
			t.Errorf("403 detail %q", p.Detail)
		}
	}
	if r := at.do("GET", "/v1/agents/vinsolutions", dealer, nil); r.header.Get("ETag") != `"0"` {
		t.Errorf("a refused PUT stored the agent: %s %s", r.header.Get("ETag"), r.body)
	}
	// configured off: allowed
	off := validAgentPut("vinsolutions")
	off["enabled"] = false
	if r := at.do("PUT", "/v1/agents/vinsolutions", dealer, off); r.status != http.StatusOK {
		t.Fatalf("configure off: %d %s", r.status, r.body)
	}
	if p := at.do("PUT", "/v1/agents/vinsolutions", dealer, map[string]any{"enabled": true}).problem(t, http.StatusForbidden); !strings.Contains(p.Detail, "account manager") {
		t.Errorf("enable the configured agent: %q", p.Detail)
	}

	// the dealer cannot change its plan
	for _, method := range []string{"GET", "PUT"} {
		r := at.do(method, "/v1/admin/dealers/dlr_plan/entitlements", dealer, map[string]any{"platforms": []string{"vinsolutions"}})
		if !isForbidden(r) {
			t.Errorf("dealer token on %s entitlements: %d %s", method, r.status, r.body)
		}
	}
	if avail := availability(t, at, "dlr_plan"); avail["vinsolutions"].Available {
		t.Error("the dealer's token changed its plan")
	}

	// DealerAI staff add VinSolutions: the dealer turns it on
	e := at.setPlan("dlr_plan", "dealersocket", "fortellis", "xtime", "vinsolutions")
	if e.Default || !slices.Equal(e.Platforms, []string{"dealersocket", "fortellis", "vinsolutions", "xtime"}) || e.UpdatedBy == nil || *e.UpdatedBy != local.LocalAdminSub {
		t.Errorf("plan %+v", e)
	}
	r := at.do("PUT", "/v1/agents/vinsolutions", dealer, map[string]any{"enabled": true})
	if r.status != http.StatusOK {
		t.Fatalf("enable after the plan change: %d %s", r.status, r.body)
	}
	var on agentAvailability
	r.json(t, &on)
	if !on.Enabled || !on.Available || on.UnavailableReason != nil {
		t.Errorf("agent %+v", on)
	}
}

func withoutEnabled(put map[string]any) map[string]any {
	delete(put, "enabled")
	return put
}

// TestPlatformLeavesThePlan: an agent on whose platform leaves the plan keeps enabled as
// stored and shows available false; it can be changed, turned off and deleted, not turned on
// again; retrying one of its deliveries is 403.
func TestPlatformLeavesThePlan(t *testing.T) {
	at := newAPITest(t)
	dealer := at.token("dlr_left")
	if r := at.do("PUT", "/v1/agents/xtime", dealer, validAgentPut("xtime")); r.status != http.StatusOK {
		t.Fatalf("configure: %d %s", r.status, r.body)
	}
	dlv := at.seedTargetDelivery("dlr_left", deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}, "failed", "auth")
	at.setPlan("dlr_left", "vinsolutions")

	var a agentAvailability
	at.do("GET", "/v1/agents/xtime", dealer, nil).json(t, &a)
	if !a.Enabled || a.Available || a.UnavailableReason == nil {
		t.Errorf("agent out of the plan: %+v, want enabled as stored and not available", a)
	}
	if r := at.do("POST", "/v1/agents/xtime/deliveries/"+dlv+"/retry", dealer, nil); !isProblem(r, http.StatusForbidden) {
		t.Errorf("retry out of the plan: %d %s", r.status, r.body)
	}
	change := validAgentPut("xtime")
	delete(change, "enabled")
	change["settings"].(map[string]string)["defaultOpcode"] = "TIRES"
	if r := at.do("PUT", "/v1/agents/xtime", dealer, change); r.status != http.StatusOK {
		t.Errorf("change while on: %d %s", r.status, r.body)
	}
	if r := at.do("PUT", "/v1/agents/xtime", dealer, map[string]any{"enabled": false}); r.status != http.StatusOK {
		t.Errorf("turn off: %d %s", r.status, r.body)
	}
	at.do("PUT", "/v1/agents/xtime", dealer, map[string]any{"enabled": true}).problem(t, http.StatusForbidden)
	if r := at.do("DELETE", "/v1/agents/xtime", dealer, nil); r.status != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	// an empty plan: nothing is available
	at.setPlan("dlr_left")
	for p, a := range availability(t, at, "dlr_left") {
		if a.Available {
			t.Errorf("%s available with an empty plan", p)
		}
	}
}

// TestEntitlementsAdmin: the admin routes read the default, write a plan (versioned, with who
// made it), log every change with the platforms before and after, honour If-Match, and
// validate the platforms.
func TestEntitlementsAdmin(t *testing.T) {
	at := newAPITest(t)
	admin := at.adminToken()
	path := "/v1/admin/dealers/dlr_adm/entitlements"

	r := at.do("GET", path, admin, nil)
	var e entitlementJSON
	r.json(t, &e)
	if r.status != http.StatusOK || r.header.Get("ETag") != `"0"` || !e.Default || e.DealerID != "dlr_adm" || e.UpdatedAt != nil || e.UpdatedBy != nil ||
		!slices.Equal(e.Platforms, []string{"dealersocket", "fortellis", "vinsolutions", "xtime"}) {
		t.Fatalf("default plan: %d %s %s", r.status, r.header.Get("ETag"), r.body)
	}

	r = at.do("PUT", path, admin, map[string]any{"platforms": []string{"xtime", "fortellis"}}, header{"If-Match", `"0"`})
	r.json(t, &e)
	if r.status != http.StatusOK || r.header.Get("ETag") != `"1"` || e.Default || !slices.Equal(e.Platforms, []string{"fortellis", "xtime"}) ||
		e.UpdatedAt == nil || e.UpdatedBy == nil || *e.UpdatedBy != local.LocalAdminSub {
		t.Fatalf("put: %d %s %s", r.status, r.header.Get("ETag"), r.body)
	}
	at.do("PUT", path, admin, map[string]any{"platforms": []string{"xtime"}}, header{"If-Match", `"0"`}).problem(t, http.StatusPreconditionFailed)
	if r := at.do("PUT", path, admin, map[string]any{"platforms": []string{"xtime"}}, header{"If-Match", `"1"`}); r.status != http.StatusOK || r.header.Get("ETag") != `"2"` {
		t.Fatalf("put at version 1: %d %s", r.status, r.body)
	}

	// each change logged with who made it and the platforms before and after
	var changes []map[string]any
	for _, line := range strings.Split(at.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "dealer entitlement changed" {
			changes = append(changes, m)
		}
	}
	if len(changes) != 2 {
		t.Fatalf("%d change lines, want 2:\n%s", len(changes), at.logs.String())
	}
	want := []string{
		`{"after":["fortellis","xtime"],"before":["dealersocket","fortellis","vinsolutions","xtime"],"beforeWasDefault":true,"by":"staff@dealerai.local","dealerId":"dlr_adm","version":1}`,
		`{"after":["xtime"],"before":["fortellis","xtime"],"beforeWasDefault":false,"by":"staff@dealerai.local","dealerId":"dlr_adm","version":2}`,
	}
	for i, c := range changes {
		for _, k := range []string{"time", "level", "msg"} {
			delete(c, k)
		}
		if got, _ := json.Marshal(c); string(got) != want[i] {
			t.Errorf("change %d logged as %s, want %s", i, got, want[i])
		}
	}
	if !strings.Contains(at.logs.String(), `"adminSub":"staff@dealerai.local"`) {
		t.Error("the request lines do not name the admin")
	}

	// validation
	for _, c := range []struct {
		body   string
		status int
		field  string
	}{
		{`{"platforms":["xtime","crm"]}`, 422, "platforms[1]"},
		{`{"platforms":["xtime","fortellis","xtime"]}`, 422, "platforms[2]"},
		{`{"platforms":[7]}`, 422, "platforms[0]"},
		{`{"platforms":["XTime"]}`, 422, "platforms[0]"},
		{`{"platforms":"xtime"}`, 422, "platforms"},
		{`{"platforms":null}`, 422, "platforms"},
		{`{}`, 422, "platforms"},
		{`{"platforms":[],"dealerId":"dlr_other"}`, 400, "dealerId"},
		{`[]`, 400, ""},
	} {
		p := at.do("PUT", path, admin, c.body).problem(t, c.status)
		if c.field != "" && !hasField(p, c.field) {
			t.Errorf("%s: %+v, want an error naming %s", c.body, p.Errors, c.field)
		}
	}
	if r := at.do("GET", path, admin, nil); r.header.Get("ETag") != `"2"` {
		t.Errorf("an invalid PUT changed the plan: %s", r.body)
	}
	// an empty plan is a plan
	if e := at.setPlan("dlr_adm"); len(e.Platforms) != 0 || e.Default {
		t.Errorf("empty plan %+v", e)
	}
	// a path that cannot be a dealer: 404, nothing written
	at.do("GET", "/v1/admin/dealers/"+strings.Repeat("d", 129)+"/entitlements", admin, nil).problem(t, http.StatusNotFound)
	at.do("PUT", "/v1/admin/dealers/dlr%23T%23AGENT%23xtime/entitlements", admin, map[string]any{"platforms": []string{}}).problem(t, http.StatusNotFound)
}

// TestDeploymentDefaultPlan: a dealer with no plan stored has the deployment default.
func TestDeploymentDefaultPlan(t *testing.T) {
	at := newAPITest(t, func(o *httpapi.Options) { o.Plans = plans.Policy{Default: []string{"xtime"}} })
	avail := availability(t, at, "dlr_def")
	for p, a := range avail {
		if a.Available != (p == "xtime") {
			t.Errorf("%s: available %v with the default plan [xtime]", p, a.Available)
		}
	}
	var e entitlementJSON
	at.do("GET", "/v1/admin/dealers/dlr_def/entitlements", at.adminToken(), nil).json(t, &e)
	if !e.Default || !slices.Equal(e.Platforms, []string{"xtime"}) {
		t.Errorf("default plan %+v", e)
	}
	at.do("PUT", "/v1/agents/fortellis", at.token("dlr_def"), validAgentPut("fortellis")).problem(t, http.StatusForbidden)
	if r := at.do("PUT", "/v1/agents/xtime", at.token("dlr_def"), validAgentPut("xtime")); r.status != http.StatusOK {
		t.Errorf("xtime in the default plan: %d %s", r.status, r.body)
	}
}

// TestAbuseAdminScope: only a token carrying the admin scope, exactly, in the admin scope
// claim — with a sub — passes the admin routes; checked by the gateway's route scopes (as
// the JWT authorizer does in AWS) and by the handler on its own. An admin token is no
// dealer's: the dealer routes answer it 403.
func TestAbuseAdminScope(t *testing.T) {
	at := newAPITest(t)
	lc := newLeakCheck(at)
	// the same API behind a gateway without route scopes: the handler's own check
	bareAt := *at
	bareAt.srv = httptest.NewServer(&local.Gateway{Issuer: at.issuer, API: httpapi.Lambda(at.handler)})
	t.Cleanup(bareAt.srv.Close)
	sign := func(over jwt.MapClaims) string {
		return lc.token(at.signed(at.tokenClaims(jwt.MapClaims{"sub": "staff-7"}, over)))
	}
	refused := map[string]string{
		"a dealer's token":            lc.tokenFor("dlr_x"),
		"a dealer's with other scope": sign(jwt.MapClaims{"dealer_id": "dlr_x", "scope": "read write"}),
		"scope as a prefix":           sign(jwt.MapClaims{"scope": "dealerai:admin-readonly"}),
		"scope as a suffix":           sign(jwt.MapClaims{"scope": "xdealerai:admin"}),
		"scope in another case":       sign(jwt.MapClaims{"scope": "DealerAI:Admin"}),
		"scope glued to another":      sign(jwt.MapClaims{"scope": "read,dealerai:admin"}),
		"scope in scp":                sign(jwt.MapClaims{"scp": "dealerai:admin"}),
		"scope in roles":              sign(jwt.MapClaims{"roles": []string{"dealerai:admin"}}),
		"scope as an object key":      sign(jwt.MapClaims{"scope": map[string]any{"dealerai:admin": true}}),
		"scope nested in an array":    sign(jwt.MapClaims{"scope": []any{[]string{"dealerai:admin"}}}),
		"scope as a number":           sign(jwt.MapClaims{"scope": 1}),
		"scope true":                  sign(jwt.MapClaims{"scope": true}),
		"empty scope":                 sign(jwt.MapClaims{"scope": ""}),
		"no sub":                      sign(jwt.MapClaims{"scope": "dealerai:admin", "sub": nil}),
		"sub with a newline":          sign(jwt.MapClaims{"scope": "dealerai:admin", "sub": "staff\nlevel=ERROR"}),
	}
	accepted := map[string]string{
		"the admin token":        lc.token(at.adminToken()),
		"among other scopes":     sign(jwt.MapClaims{"scope": "openid  dealerai:admin profile"}),
		"an array of scopes":     sign(jwt.MapClaims{"scope": []string{"openid", "dealerai:admin"}}),
		"with a dealer claim":    sign(jwt.MapClaims{"scope": "dealerai:admin", "dealer_id": "dlr_x"}),
		"a sub of any character": sign(jwt.MapClaims{"scope": "dealerai:admin", "sub": "Zoë O'Brien <zoe@dealerai.example>"}),
	}
	path := "/v1/admin/dealers/dlr_target/entitlements"
	for _, api := range []*apiTest{at, &bareAt} {
		for name, tok := range refused {
			for _, method := range []string{"GET", "PUT"} {
				r := api.do(method, path, tok, map[string]any{"platforms": []string{"xtime"}})
				if !isForbidden(r) {
					t.Errorf("%s %s with %s: %d %s, want 403", method, path, name, r.status, r.body)
				}
				if api == &bareAt && !isProblem(r, http.StatusForbidden) {
					t.Errorf("the handler answered %s with %d %s, want its own 403 problem", name, r.status, r.body)
				}
			}
		}
		for name, tok := range accepted {
			if r := api.do("GET", path, tok, nil); r.status != http.StatusOK {
				t.Errorf("GET %s with %s: %d %s", path, name, r.status, r.body)
			}
		}
	}
	// nothing was written by a refused token
	if _, err := at.plans.Get(context.Background(), "dlr_target"); !errors.Is(err, plans.ErrNotFound) {
		t.Errorf("the refused tokens stored a plan: %v", err)
	}
	// the admin token names no dealer: every dealer route answers it 403
	for _, rt := range httpapi.Routes {
		if rt.Auth != httpapi.Dealer {
			continue
		}
		p := fillPath(rt.Path, map[string]string{"id": "sub_01JDQ7Z4X8M2K9V6T3R5N1P0AB", "platform": "xtime", "deliveryId": "dlv_01JDQ7Z4X8M2K9V6T3R5N1P0AB"})
		if r := lc.do(rt.Method, p, accepted["the admin token"], routeBody(rt)); !isProblem(r, http.StatusForbidden) {
			t.Errorf("admin token on %s %s: %d %s, want a 403 problem", rt.Method, rt.Path, r.status, r.body)
		}
	}
	// The refusals named no claim value of the tokens in the log (the sub with a newline is
	// never logged, so it cannot forge a line).
	if strings.Contains(at.logs.String(), "level=ERROR") {
		t.Errorf("a sub made it into the log:\n%s", at.logs.String())
	}
}

// TestAdminScopeClaimForms: the handler reads the admin scope claim in the forms API
// Gateway hands it over — a space-delimited string, an array rendered "[a b]" — and in a
// configured claim; the scope must be one of the values, exactly.
func TestAdminScopeClaimForms(t *testing.T) {
	at := newAPITest(t, func(o *httpapi.Options) { o.AdminScopeClaim, o.AdminScope = "groups", "integrations-staff" })
	fn := httpapi.Lambda(at.handler)
	for claims, want := range map[string]int{
		`integrations-staff`:             200,
		`sales integrations-staff`:       200,
		`[sales integrations-staff]`:     200,
		`["sales","integrations-staff"]`: 200,
		`[integrations-staff-readonly]`:  403,
		`{"integrations-staff":true}`:    403,
		`[["integrations-staff"]]`:       403,
		`integrations-staff,sales`:       403,
		`["integrations-staff sales"]`:   403,
		``:                               403,
	} {
		req := lambdaevents.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "GET /v1/admin/dealers/{dealerId}/entitlements", RawPath: "/v1/admin/dealers/dlr_f/entitlements",
			PathParameters: map[string]string{"dealerId": "dlr_f"}, Headers: map[string]string{},
			RequestContext: lambdaevents.APIGatewayV2HTTPRequestContext{
				RouteKey: "GET /v1/admin/dealers/{dealerId}/entitlements", RequestID: "forms",
				HTTP: lambdaevents.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/admin/dealers/dlr_f/entitlements"},
				Authorizer: &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerDescription{
					JWT: &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"groups": claims, "sub": "staff-1", "scope": "dealerai:admin"}},
				},
			},
		}
		resp, err := fn(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Errorf("groups %q: %d %s, want %d", claims, resp.StatusCode, resp.Body, want)
		}
	}
}
