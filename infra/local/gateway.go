package local

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/dealerai/integrations/shared/httpapi"
)

// APIFunc is the function the api Lambda hands to lambda.Start.
type APIFunc func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Gateway plays API Gateway's HTTP API in front of the api function: it matches the route
// table, checks the JWT like the JWT authorizer (401 {"message":"Unauthorized"}) and the
// route's authorization scopes (403 {"message":"Forbidden"}), and hands the function a
// payload v2 request with the claims in requestContext.authorizer.jwt.claims. With
// CORSOrigins it answers CORS like an HTTP API with a CORS configuration of httpapi.CORS and
// those origins.
type Gateway struct {
	Issuer *Issuer
	API    APIFunc
	// CORSOrigins are the origins browsers may call the API from: exact origins
	// ("http://127.0.0.1:8081"), "*", or a scheme wildcard ("https://*"), as in the
	// HTTP API's allowOrigins. Empty: no CORS configuration.
	CORSOrigins []string
	// AdminScopeClaim and AdminScope give the admin routes the authorization scopes the CDK
	// stack gives them (httpapi.Route.AuthorizationScopes); empty: none.
	AdminScopeClaim, AdminScope string
}

const maxGatewayBody = 10 << 20 // API Gateway's payload limit

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.cors(w, r) {
		return
	}
	route, params, ok := matchRoute(r.Method, r.URL.Path)
	if !ok {
		gatewayMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	var authorizer *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
	if route.Auth.RequiresToken() {
		claims, ok := g.authorize(r)
		if !ok {
			gatewayMessage(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		if scopes := route.AuthorizationScopes(g.AdminScopeClaim, g.AdminScope); len(scopes) > 0 && !hasAnyScope(claims, scopes) {
			gatewayMessage(w, http.StatusForbidden, "Forbidden")
			return
		}
		authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims, Scopes: nil},
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxGatewayBody+1))
	if err != nil {
		gatewayMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > maxGatewayBody {
		gatewayMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	req := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              route.Method + " " + route.Path,
		RawPath:               r.URL.Path,
		RawQueryString:        r.URL.RawQuery,
		Headers:               map[string]string{},
		QueryStringParameters: map[string]string{},
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   route.Method + " " + route.Path,
			Stage:      "$default",
			RequestID:  fmt.Sprintf("local-%d", time.Now().UnixNano()),
			Authorizer: authorizer,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: strings.Split(r.RemoteAddr, ":")[0], UserAgent: r.UserAgent(),
			},
			TimeEpoch: time.Now().UnixMilli(),
		},
	}
	for k, v := range r.Header {
		req.Headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	for k, v := range r.URL.Query() {
		req.QueryStringParameters[k] = strings.Join(v, ",")
	}
	if utf8.Valid(body) {
		req.Body = string(body)
	} else {
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	resp, err := g.API(r.Context(), req)
	if err != nil {
		gatewayMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	for k, v := range resp.Headers {
		if !g.corsHeader(k) {
			w.Header().Set(k, v)
		}
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			if !g.corsHeader(k) {
				w.Header().Add(k, v)
			}
		}
	}
	out := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if out, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			gatewayMessage(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// hasAnyScope reports whether the token holds one of scopes in its scope or scp claim, the
// claims API Gateway's JWT authorizer reads them from (flattened: a space-delimited string,
// or an array rendered "[a b]" by flattenClaims).
func hasAnyScope(claims map[string]string, scopes []string) bool {
	for _, name := range []string{"scope", "scp"} {
		v := strings.TrimSpace(claims[name])
		if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
			v = v[1 : len(v)-1]
		}
		for _, s := range strings.Fields(v) {
			if slices.Contains(scopes, s) {
				return true
			}
		}
	}
	return false
}

// authorize checks the bearer token and flattens its claims to strings, as API Gateway does.
func (g *Gateway) authorize(r *http.Request) (map[string]string, bool) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return nil, false
	}
	claims, err := g.Issuer.Verify(token)
	if err != nil {
		return nil, false
	}
	return flattenClaims(claims), true
}

// flattenClaims renders the token's claims as API Gateway's JWT authorizer hands them to the
// integration (payload 2.0): every value a string; an array as its elements between brackets,
// separated by spaces (["d1"] is "[d1]", ["a","b"] "[a b]"); a number in decimal; an object as
// JSON.
func flattenClaims(claims jwt.MapClaims) map[string]string {
	out := make(map[string]string, len(claims))
	for k, v := range claims {
		out[k] = claimString(v)
	}
	return out
}

func claimString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = claimString(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// matchRoute finds the route for method and path, with its path parameters.
func matchRoute(method, path string) (httpapi.Route, map[string]string, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for _, rt := range httpapi.Routes {
		if rt.Method != method {
			continue
		}
		tmpl := strings.Split(strings.Trim(rt.Path, "/"), "/")
		if len(tmpl) != len(parts) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, seg := range tmpl {
			if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
				if parts[i] == "" {
					ok = false
					break
				}
				params[seg[1:len(seg)-1]] = parts[i]
				continue
			}
			if seg != parts[i] {
				ok = false
				break
			}
		}
		if ok {
			return rt, params, true
		}
	}
	return httpapi.Route{}, nil, false
}

func gatewayMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"message":%q}`, msg)
}

// cors applies the CORS configuration: it answers a preflight request itself (for any path,
// as API Gateway does even without an OPTIONS route) and reports true; on any other request
// from an allowed origin it sets the headers every response carries.
func (g *Gateway) cors(w http.ResponseWriter, r *http.Request) (answered bool) {
	if len(g.CORSOrigins) == 0 {
		return false
	}
	origin := r.Header.Get("Origin")
	allowed := g.allowOrigin(origin)
	h := w.Header()
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		if allowed != "" {
			h.Set("Access-Control-Allow-Origin", allowed)
			h.Set("Access-Control-Allow-Methods", strings.Join(httpapi.CORS.AllowMethods, ","))
			h.Set("Access-Control-Allow-Headers", strings.Join(httpapi.CORS.AllowHeaders, ","))
			h.Set("Access-Control-Max-Age", strconv.Itoa(int(httpapi.CORS.MaxAge.Seconds())))
		}
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	if allowed != "" {
		h.Set("Access-Control-Allow-Origin", allowed)
		h.Set("Access-Control-Expose-Headers", strings.Join(httpapi.CORS.ExposeHeaders, ","))
	}
	return false
}

// allowOrigin is the Access-Control-Allow-Origin value for origin, "" when it is not allowed.
func (g *Gateway) allowOrigin(origin string) string {
	if origin == "" {
		return ""
	}
	for _, o := range g.CORSOrigins {
		switch {
		case o == "*":
			return "*"
		case strings.EqualFold(o, origin):
			return origin
		case strings.HasSuffix(o, "://*") && len(origin) > len(o)-1 && strings.EqualFold(origin[:len(o)-1], o[:len(o)-1]):
			return origin
		}
	}
	return ""
}

// corsHeader reports whether a response header of the function is one a CORS configuration
// replaces (API Gateway ignores the integration's CORS headers when CORS is configured).
func (g *Gateway) corsHeader(name string) bool {
	return len(g.CORSOrigins) > 0 && strings.HasPrefix(strings.ToLower(name), "access-control-")
}
