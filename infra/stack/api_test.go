package stack

import (
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/httpapi"
)

// TestRoutes iterates the route table: each route exists once, guarded by the JWT
// authorizer exactly when it requires a token (all but GET /healthz and GET
// /v1/openapi.json), the admin routes — and only they — with the admin scope as
// authorization scope, and integrated with the api function, payload format 2.0.
func TestRoutes(t *testing.T) {
	s := defaultStack(t)
	authorizers := s.ofType("AWS::ApiGatewayV2::Authorizer")
	if len(authorizers) != 1 {
		t.Fatalf("%d authorizers, want 1", len(authorizers))
	}
	auth := props(s.resource[authorizers[0]])
	if auth["AuthorizerType"] != "JWT" || asJSON(auth["IdentitySource"]) != `["$request.header.Authorization"]` {
		t.Errorf("authorizer %s", asJSON(auth))
	}
	integrations := s.ofType("AWS::ApiGatewayV2::Integration")
	if len(integrations) != 1 {
		t.Fatalf("%d integrations, want 1", len(integrations))
	}
	integ := props(s.resource[integrations[0]])
	if integ["IntegrationType"] != "AWS_PROXY" || integ["PayloadFormatVersion"] != "2.0" ||
		refTarget(integ["IntegrationUri"]) != s.logicalID(s.st.Functions[FuncAPI]) {
		t.Errorf("integration %s", asJSON(integ))
	}

	byKey := map[string]map[string]any{}
	for _, id := range s.ofType("AWS::ApiGatewayV2::Route") {
		p := props(s.resource[id])
		key := p["RouteKey"].(string)
		if byKey[key] != nil {
			t.Errorf("route %s defined twice", key)
		}
		byKey[key] = p
	}
	if len(byKey) != len(httpapi.Routes) {
		t.Errorf("%d routes in the template, %d in the route table", len(byKey), len(httpapi.Routes))
	}
	public, admin := 0, 0
	for _, r := range httpapi.Routes {
		key := r.Method + " " + r.Path
		p := byKey[key]
		if p == nil {
			t.Errorf("route %s missing", key)
			continue
		}
		if !strings.HasSuffix(asJSON(p["Target"]), `"integrations/",{"Ref":"`+integrations[0]+`"}]]}`) {
			t.Errorf("route %s target %s", key, asJSON(p["Target"]))
		}
		if r.Auth.RequiresToken() {
			if p["AuthorizationType"] != "JWT" || refTarget(p["AuthorizerId"]) != authorizers[0] {
				t.Errorf("route %s: authorization %v %v, want the JWT authorizer", key, p["AuthorizationType"], asJSON(p["AuthorizerId"]))
			}
			wantScopes := "null"
			if r.Auth == httpapi.Admin {
				admin++
				wantScopes = `["dealerai:admin"]`
			}
			if got := asJSON(p["AuthorizationScopes"]); got != wantScopes {
				t.Errorf("route %s: authorization scopes %s, want %s", key, got, wantScopes)
			}
			continue
		}
		public++
		if p["AuthorizationType"] != "NONE" || p["AuthorizerId"] != nil {
			t.Errorf("public route %s: authorization %v", key, p["AuthorizationType"])
		}
		if _, ok := publicRoutes[key]; !ok {
			t.Errorf("route %s is public; only the health check, the OpenAPI document and the push notices may be", key)
		}
	}
	if public != 4 {
		t.Errorf("%d public routes, want 4 (health, OpenAPI, two push-notice routes)", public)
	}
	// each push-notice route is throttled on its own (the defaults)
	stage := props(s.resource[s.ofType("AWS::ApiGatewayV2::Stage")[0]])
	settings, _ := stage["RouteSettings"].(map[string]any)
	for _, key := range []string{"POST /v1/notices/vinsolutions/{dealerId}", "POST /v1/notices/fortellis"} {
		if got := asJSON(settings[key]); got != `{"ThrottlingBurstLimit":50,"ThrottlingRateLimit":20}` {
			t.Errorf("%s throttling %s", key, got)
		}
	}
	if len(settings) != 2 {
		t.Errorf("route settings %s", asJSON(settings))
	}
	if admin != 2 {
		t.Errorf("%d admin routes, want 2", admin)
	}
}

// TestAdminRouteScopes: the authorizer can only require scopes it reads (the scope and scp
// claims); with the admin scope in another claim the admin routes have no authorization
// scopes, and the api function alone checks the claim. (TestConfiguredStack checks a
// configured scope in the scope claim.)
func TestAdminRouteScopes(t *testing.T) {
	s := synth(t, map[string]any{CtxAdminScopeClaim: "groups"})
	n := 0
	for _, id := range s.ofType("AWS::ApiGatewayV2::Route") {
		p := props(s.resource[id])
		if strings.Contains(p["RouteKey"].(string), "/v1/admin/") {
			n++
			if p["AuthorizationType"] != "JWT" || p["AuthorizationScopes"] != nil {
				t.Errorf("%s: %v with scopes %s, want the JWT authorizer without scopes", p["RouteKey"], p["AuthorizationType"], asJSON(p["AuthorizationScopes"]))
			}
		}
	}
	if n != 2 {
		t.Errorf("%d admin routes", n)
	}
	vars := props(s.resource[s.logicalID(s.st.Functions[FuncAPI])])["Environment"].(map[string]any)["Variables"].(map[string]any)
	if vars["ADMIN_SCOPE_CLAIM"] != "groups" || vars["ADMIN_SCOPE"] != "dealerai:admin" {
		t.Errorf("api environment %s", asJSON(vars))
	}
}
