package stack

import (
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/httpapi"
)

// TestRoutes iterates the route table: each route exists once, guarded by the JWT
// authorizer exactly when its Auth is set (all but GET /healthz and GET /v1/openapi.json),
// and integrated with the api function, payload format 2.0.
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
	public := 0
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
		if r.Auth {
			if p["AuthorizationType"] != "JWT" || refTarget(p["AuthorizerId"]) != authorizers[0] {
				t.Errorf("route %s: authorization %v %v, want the JWT authorizer", key, p["AuthorizationType"], asJSON(p["AuthorizerId"]))
			}
			continue
		}
		public++
		if p["AuthorizationType"] != "NONE" || p["AuthorizerId"] != nil {
			t.Errorf("public route %s: authorization %v", key, p["AuthorizationType"])
		}
		if key != "GET /healthz" && key != "GET /v1/openapi.json" {
			t.Errorf("route %s is public; only GET /healthz and GET /v1/openapi.json may be", key)
		}
	}
	if public != 2 {
		t.Errorf("%d public routes, want 2", public)
	}
}

func TestStage(t *testing.T) {
	s := defaultStack(t)
	stages := s.ofType("AWS::ApiGatewayV2::Stage")
	if len(stages) != 1 {
		t.Fatalf("%d stages", len(stages))
	}
	p := props(s.resource[stages[0]])
	if p["StageName"] != "$default" || p["AutoDeploy"] != true {
		t.Errorf("stage %v autoDeploy %v", p["StageName"], p["AutoDeploy"])
	}
	rs, _ := p["DefaultRouteSettings"].(map[string]any)
	if num(t, rs["ThrottlingRateLimit"]) != 100 || num(t, rs["ThrottlingBurstLimit"]) != 200 {
		t.Errorf("throttling %s", asJSON(rs))
	}
	al, _ := p["AccessLogSettings"].(map[string]any)
	if refTarget(al["DestinationArn"]) != s.logicalID(s.st.LogGroups["api-access"]) {
		t.Errorf("access logs go to %s", asJSON(al["DestinationArn"]))
	}
	format, _ := al["Format"].(string)
	for _, v := range []string{"$context.requestId", "$context.status", "$context.routeKey", "$context.authorizer.error", "$context.authorizer.claims.dealer_id"} {
		if !strings.Contains(format, v) {
			t.Errorf("access log format lacks %s: %s", v, format)
		}
	}
	// without context the issuer and audience are deploy-time parameters, without defaults
	params, _ := s.json["Parameters"].(map[string]any)
	for _, name := range []string{"JwtIssuer", "JwtAudience"} {
		p, _ := params[name].(map[string]any)
		if p == nil {
			t.Errorf("parameter %s missing", name)
		} else if _, ok := p["Default"]; ok {
			t.Errorf("parameter %s has a default", name)
		}
	}
}

func TestAccessLogFormat(t *testing.T) {
	if f := accessLogFormat("https://example.com/dealer"); strings.Contains(f, "claims") {
		t.Errorf("a claim name that is not an identifier must not be referenced: %s", f)
	}
	if f := accessLogFormat("custom_dealer"); !strings.Contains(f, `"dealerId":"$context.authorizer.claims.custom_dealer"`) {
		t.Errorf("format %s", f)
	}
}
