package stack

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/dealerai/integrations/shared/httpapi"
)

// publicRoutes are the routes the route table leaves without the JWT authorizer, with the
// reason each one may be public (docs/design.md#security); any other unauthenticated route fails synth.
var publicRoutes = map[string]string{
	"GET /healthz":                             "Liveness probe for uptime checks, which hold no token; it returns only the service status, no dealer data.",
	"GET /v1/openapi.json":                     "The public OpenAPI document dealership engineers read before they have a token; it describes the API and contains no dealer data.",
	"POST /v1/notices/vinsolutions/{dealerId}": "VinSolutions' Connect Event Service posts notices with a per-agent secret header, not a DealerAI JWT; the handler compares the secret in constant time, returns no data and is throttled on its own.",
	"POST /v1/notices/fortellis":               "Fortellis Event Relay posts with its own bearer JWT, which the handler verifies against Fortellis's JWKS and audience (API Gateway's authorizer trusts only DealerAI's issuer); it returns no data and is throttled on its own.",
}

// noticeRoutes are the push-notice routes: public, each throttled on its own (the stage's
// route settings) below the API's default.
func noticeRoutes() []string {
	var out []string
	for _, r := range httpapi.Routes {
		if r.Auth == httpapi.Public && strings.HasPrefix(r.Path, "/v1/notices/") {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

// accessLogSettings implements awsapigatewayv2.IAccessLogSettings.
type accessLogSettings struct {
	destination awsapigatewayv2.IAccessLogDestination
	format      awsapigateway.AccessLogFormat
}

func (a *accessLogSettings) Destination() awsapigatewayv2.IAccessLogDestination {
	return a.destination
}
func (a *accessLogSettings) Format() awsapigateway.AccessLogFormat { return a.format }

// accessLogFormat is one JSON object per request, with HTTP API context variables only.
func accessLogFormat(dealerClaim string) string {
	fields := []struct{ k, v string }{
		{"requestId", "$context.requestId"},
		{"requestTime", "$context.requestTime"},
		{"ip", "$context.identity.sourceIp"},
		{"userAgent", "$context.identity.userAgent"},
		{"httpMethod", "$context.httpMethod"},
		{"routeKey", "$context.routeKey"},
		{"path", "$context.path"},
		{"status", "$context.status"},
		{"protocol", "$context.protocol"},
		{"responseLength", "$context.responseLength"},
		{"responseLatency", "$context.responseLatency"},
		{"integrationLatency", "$context.integrationLatency"},
		{"integrationStatus", "$context.integrationStatus"},
		{"integrationError", "$context.integrationErrorMessage"},
		{"authorizerError", "$context.authorizer.error"},
	}
	if claimNameRE.MatchString(dealerClaim) {
		fields = append(fields, struct{ k, v string }{"dealerId", "$context.authorizer.claims." + dealerClaim})
	}
	parts := make([]string, len(fields))
	for i, f := range fields {
		k, _ := json.Marshal(f.k)
		v, _ := json.Marshal(f.v)
		parts[i] = string(k) + ":" + string(v)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// api creates the HTTP API: one route per entry of the route table, all into the api Lambda
// (payload format 2.0), the JWT authorizer on every route that requires a token — on the
// admin routes with the admin scope as authorization scope when the admin scope claim is one
// the authorizer reads (scope or scp) —, access logs and default throttling on the $default
// stage.
func (s *Stack) api() {
	cfg := s.Config
	issuer := jsii.String(cfg.JWTIssuer)
	if cfg.JWTIssuer == "" {
		// No context: the value must come with the deploy (cdk deploy --parameters
		// JwtIssuer=...); the CLI refuses to deploy while it is missing.
		p := awscdk.NewCfnParameter(s.Stack, jsii.String("JwtIssuer"), &awscdk.CfnParameterProps{
			Type:                  jsii.String("String"),
			Description:           jsii.String("Issuer (iss) of the dealership portal's JWTs, an https URL. Set context jwtIssuer or pass --parameters JwtIssuer=..."),
			AllowedPattern:        jsii.String(`^https://\S+$`),
			ConstraintDescription: jsii.String("must be an https URL"),
		})
		issuer = p.ValueAsString()
	}
	var audience *[]*string
	if len(cfg.JWTAudience) > 0 {
		audience = jsii.Strings(cfg.JWTAudience...)
	} else {
		p := awscdk.NewCfnParameter(s.Stack, jsii.String("JwtAudience"), &awscdk.CfnParameterProps{
			Type:        jsii.String("CommaDelimitedList"),
			Description: jsii.String("Accepted audiences (aud or client_id) of the JWTs, comma-separated. Set context jwtAudience or pass --parameters JwtAudience=..."),
		})
		audience = p.ValueAsList()
	}
	authorizer := awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("JwtAuthorizer"), issuer, &awsapigatewayv2authorizers.HttpJwtAuthorizerProps{
		JwtAudience:    audience,
		IdentitySource: jsii.Strings("$request.header.Authorization"),
	})

	apiProps := &awsapigatewayv2.HttpApiProps{
		Description:        jsii.String("DealerAI Integrations REST API"),
		CreateDefaultStage: jsii.Bool(false),
	}
	if len(cfg.CORSOrigins) > 0 {
		cors := httpapi.CORS
		methods := make([]awsapigatewayv2.CorsHttpMethod, len(cors.AllowMethods))
		for i, m := range cors.AllowMethods {
			methods[i] = awsapigatewayv2.CorsHttpMethod(m)
		}
		apiProps.CorsPreflight = &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins:  jsii.Strings(cfg.CORSOrigins...),
			AllowHeaders:  jsii.Strings(cors.AllowHeaders...),
			ExposeHeaders: jsii.Strings(cors.ExposeHeaders...),
			AllowMethods:  &methods,
			MaxAge:        seconds(cors.MaxAge),
		}
	}
	api := awsapigatewayv2.NewHttpApi(s.Stack, jsii.String("HttpApi"), apiProps)

	accessLogs := awslogs.NewLogGroup(s.Stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention: awslogs.RetentionDays_ONE_MONTH,
	})
	s.LogGroups["api-access"] = accessLogs
	stage := awsapigatewayv2.NewHttpStage(s.Stack, jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(cfg.APIRateLimit),
			BurstLimit: jsii.Number(float64(cfg.APIBurstLimit)),
		},
		AccessLogSettings: &accessLogSettings{
			destination: awsapigatewayv2.NewLogGroupLogDestination(accessLogs),
			format:      awsapigateway.AccessLogFormat_Custom(jsii.String(accessLogFormat(cfg.DealerIDClaim))),
		},
	})

	// The push-notice routes are public (the platforms authenticate their own way): each gets
	// its own, lower throttle, so a flood of notices cannot use up the API's.
	cfnStage := stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	for _, key := range noticeRoutes() {
		cfnStage.AddPropertyOverride(jsii.String("RouteSettings."+key), map[string]any{
			"ThrottlingRateLimit": cfg.NoticeRateLimit, "ThrottlingBurstLimit": cfg.NoticeBurstLimit,
		})
	}

	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("ApiIntegration"), s.Functions[FuncAPI], &awsapigatewayv2integrations.HttpLambdaIntegrationProps{
		PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
		// one invoke permission for the API instead of one per route (21 routes)
		ScopePermissionToRoute: jsii.Bool(false),
	})
	for _, r := range httpapi.Routes {
		opts := &awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(r.Method)},
			Integration: integration,
		}
		if r.Auth.RequiresToken() {
			opts.Authorizer = authorizer
			if scopes := r.AuthorizationScopes(cfg.AdminScopeClaim, cfg.AdminScope); len(scopes) > 0 {
				opts.AuthorizationScopes = jsii.Strings(scopes...)
			}
		} else {
			opts.Authorizer = awsapigatewayv2.NewHttpNoneAuthorizer()
		}
		routes := api.AddRoutes(opts)
		if !r.Auth.RequiresToken() {
			reason, ok := publicRoutes[r.Method+" "+r.Path]
			if !ok {
				panic(fmt.Sprintf("route %s %s has no authorizer and no reason to be public: add it to publicRoutes or set Auth", r.Method, r.Path))
			}
			for _, route := range *routes {
				suppress(route, "AwsSolutions-APIG4", reason, nil)
			}
		}
	}

	awscdk.NewCfnOutput(s.Stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("Base URL of the REST API"),
		Value:       stage.Url(),
	})
	s.httpAPI = api
}
