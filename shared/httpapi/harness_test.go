package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/golang-jwt/jwt/v5"

	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/circuit"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/httpapi"
	"github.com/dealerai/integrations/shared/inventory"
	"github.com/dealerai/integrations/shared/notices"
	"github.com/dealerai/integrations/shared/notices/noticestest"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/safeurl"
	"github.com/dealerai/integrations/shared/subscriptions"
)

// fakeResolver makes host names resolve to chosen addresses (and nothing else resolve).
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := f[strings.ToLower(host)]; ok {
		return addrs, nil
	}
	return nil, &netDNSError{host}
}

type netDNSError struct{ host string }

func (e *netDNSError) Error() string { return "no such host " + e.host }

var resolver = fakeResolver{
	"hooks.example.com":    {netip.MustParseAddr("93.184.215.14")},
	"crm.example.net":      {netip.MustParseAddr("2606:2800:21f:cb07:6820:80da:af6b:8b2c")},
	"internal.example.com": {netip.MustParseAddr("10.0.0.5")},
	"loopback.example.com": {netip.MustParseAddr("127.0.0.1")},
	"metadata.example.com": {netip.MustParseAddr("169.254.169.254")},
	"mixed.example.com":    {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.5")},
}

// testPlatforms are the registry's platforms as a deployment that added the test hosts
// crm.example.net and hooks.example.com (AGENT_EXTRA_HOSTS) configures them.
func testPlatforms(t testing.TB) platform.Catalog {
	t.Helper()
	extra, err := platform.ParseExtraHosts("crm.example.net,hooks.example.com")
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := registry.Platforms().WithExtraHosts(extra)
	if err != nil {
		t.Fatal(err)
	}
	return catalog
}

// apiTest is the API on fresh tables and queues of the emulators, behind the local stack's
// gateway (real JWTs), in an httptest server. Every response of a route is validated against
// the OpenAPI document.
type apiTest struct {
	t        testing.TB
	env      *localtest.Env
	srv      *httptest.Server
	issuer   *local.Issuer
	handler  *httpapi.API
	store    *subscriptions.Store
	agents   *agents.Store
	plans    *plans.Store
	log      *deliverylog.Store
	states   *agentsync.StateStore
	circuits *circuit.Store
	stock    *inventory.Store
	logs     *localtest.Buffer
	openapi  *openapiChecker
	// fortellis issues Fortellis Event Relay's tokens, for the Fortellis notice route.
	fortellis *noticestest.Issuer
}

// newAPITest builds the API; options change its Options before it is built.
func newAPITest(t testing.TB, options ...func(*httpapi.Options)) *apiTest {
	t.Helper()
	env := localtest.New(t)
	issuer, err := local.NewEphemeralIssuer()
	if err != nil {
		t.Fatal(err)
	}
	logs := &localtest.Buffer{}
	at := &apiTest{
		t: t, env: env, issuer: issuer, logs: logs,
		store:    subscriptions.NewStore(env.DynamoDB, env.Table(resources.ConfigTable)),
		agents:   agents.NewStore(env.DynamoDB, env.Table(resources.ConfigTable)),
		plans:    plans.NewStore(env.DynamoDB, env.Table(resources.ConfigTable)),
		log:      deliverylog.NewStore(env.DynamoDB, env.Table(resources.DeliveryLogTable)),
		states:   &agentsync.StateStore{DB: env.DynamoDB, Table: env.Table(resources.ConfigTable)},
		circuits: &circuit.Store{DB: env.DynamoDB, Table: env.Table(resources.ConfigTable)},
		stock:    inventory.NewStore(env.DynamoDB, env.Table(resources.InventoryTable)),
		openapi:  newOpenAPIChecker(t),
	}
	at.fortellis = noticestest.NewIssuer(t, fortellisAudience)
	opts := httpapi.Options{
		Subscriptions:      at.store,
		Agents:             at.agents,
		Platforms:          testPlatforms(t),
		Entitlements:       at.plans,
		Deliveries:         at.log,
		Queue:              env.SQS,
		DeliveriesQueueURL: env.QueueURL(resources.DeliveriesQueue),
		Sync:               &agentsync.Service{States: at.states, Jobs: env.SQS, JobsQueueURL: env.QueueURL(resources.SyncJobsQueue)},
		Circuits:           at.circuits,
		Inventory:          at.stock,
		URLs:               safeurl.Policy{Resolver: resolver},
		Logger:             slog.New(slog.NewJSONHandler(logs, nil)),
		Notices:            &notices.Store{DB: env.DynamoDB, Table: env.Table(resources.ConfigTable)},
		FortellisNotices:   &notices.Verifier{JWKSURL: at.fortellis.URL, Audience: fortellisAudience},
	}
	for _, o := range options {
		o(&opts)
	}
	at.handler = httpapi.New(opts)
	// The gateway requires the admin scope on the admin routes, as the CDK stack's authorizer
	// does with the default settings.
	at.srv = httptest.NewServer(&local.Gateway{Issuer: issuer, API: httpapi.Lambda(at.handler),
		AdminScopeClaim: httpapi.DefaultAdminScopeClaim, AdminScope: httpapi.DefaultAdminScope})
	t.Cleanup(at.srv.Close)
	t.Cleanup(func() {
		if strings.Contains(logs.String(), "whsec_") {
			t.Errorf("a secret was logged:\n%s", logs.String())
		}
	})
	return at
}

// token is a valid JWT for dealer.
func (at *apiTest) token(dealer string) string {
	tok, err := at.issuer.Token(dealer, "")
	if err != nil {
		at.t.Fatal(err)
	}
	return tok
}

// tokenClaims are claims the gateway accepts from the test issuer (iss, aud, an hour to live),
// then base's, then over's; a nil value in over removes that claim.
func (at *apiTest) tokenClaims(base, over jwt.MapClaims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": at.issuer.Issuer, "aud": at.issuer.Audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for _, m := range []jwt.MapClaims{base, over} {
		for k, v := range m {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
	}
	return c
}

// signed signs claims with the test issuer's key.
func (at *apiTest) signed(c jwt.MapClaims) string {
	tok, err := at.issuer.Sign(c)
	if err != nil {
		at.t.Fatal(err)
	}
	return tok
}

// adminToken is a valid JWT of DealerAI staff (the admin scope, no dealer).
func (at *apiTest) adminToken() string {
	tok, err := at.issuer.AdminToken("", "")
	if err != nil {
		at.t.Fatal(err)
	}
	return tok
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problem decodes a problem document and checks its status.
func (r *response) problem(t testing.TB, status int) httpapi.Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p httpapi.Problem
	r.json(t, &p)
	if p.Status != status {
		t.Fatalf("problem status %d, want %d", p.Status, status)
	}
	return p
}

// hasField reports whether the problem names field.
func hasField(p httpapi.Problem, field string) bool {
	for _, e := range p.Errors {
		if e.Field == field {
			return true
		}
	}
	return false
}

type header struct{ name, value string }

// do sends a request with token (none if empty). body is sent as is when a string or
// []byte, else as JSON; a JSON body gets Content-Type application/json unless a header says.
func (at *apiTest) do(method, path, token string, body any, headers ...header) *response {
	at.t.Helper()
	var reader io.Reader
	isJSON := false
	switch b := body.(type) {
	case nil:
	case string:
		reader, isJSON = strings.NewReader(b), true
	case []byte:
		reader, isJSON = bytes.NewReader(b), true
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			at.t.Fatal(err)
		}
		reader, isJSON = bytes.NewReader(raw), true
	}
	req, err := http.NewRequest(method, at.srv.URL+path, reader)
	if err != nil {
		at.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		if h.value == "" {
			req.Header.Del(h.name)
		} else {
			req.Header.Set(h.name, h.value)
		}
	}
	resp, err := at.srv.Client().Do(req)
	if err != nil {
		at.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		at.t.Fatal(err)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: out}
	at.openapi.check(at.t, req, r)
	return r
}

// create makes a subscription of dealer and returns it with its secret.
func (at *apiTest) create(dealer string, body any) map[string]any {
	at.t.Helper()
	if body == nil {
		body = map[string]any{"url": "https://hooks.example.com/dealerai", "events": []string{"lead.*"}}
	}
	r := at.do("POST", "/v1/subscriptions", at.token(dealer), body)
	if r.status != http.StatusCreated {
		at.t.Fatalf("create: %d %s", r.status, r.body)
	}
	var sub map[string]any
	r.json(at.t, &sub)
	return sub
}

// openapiChecker validates real responses against the OpenAPI document and remembers which
// (operation, status) pairs it saw.
type openapiChecker struct {
	doc  *openapi3.T
	mu   sync.Mutex
	seen map[string]map[int]bool
}

func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPIDocument)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not valid: %v", err)
	}
	return doc
}

func newOpenAPIChecker(t testing.TB) *openapiChecker {
	return &openapiChecker{doc: loadOpenAPI(t), seen: map[string]map[int]bool{}}
}

func (c *openapiChecker) check(t testing.TB, req *http.Request, r *response) {
	t.Helper()
	rt, params, ok := matchRoute(req.Method, req.URL.Path)
	if !ok {
		return // not a route: the gateway answered
	}
	pathItem := c.doc.Paths.Value(rt.Path)
	if pathItem == nil || pathItem.GetOperation(rt.Method) == nil {
		t.Fatalf("openapi.json has no %s %s", rt.Method, rt.Path)
	}
	op := pathItem.GetOperation(rt.Method)
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      &routers.Route{Spec: c.doc, Path: rt.Path, PathItem: pathItem, Method: rt.Method, Operation: op},
		},
		Status:  r.status,
		Header:  r.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	input.SetBodyBytes(r.body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		t.Errorf("%s %s answered %d %s, which openapi.json does not allow: %v", req.Method, req.URL.Path, r.status, r.body, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[op.OperationID] == nil {
		c.seen[op.OperationID] = map[int]bool{}
	}
	c.seen[op.OperationID][r.status] = true
}

// matchRoute finds the route table entry of a request path, with its path parameters.
func matchRoute(method, path string) (httpapi.Route, map[string]string, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for _, rt := range httpapi.Routes {
		tmpl := strings.Split(strings.Trim(rt.Path, "/"), "/")
		if rt.Method != method || len(tmpl) != len(parts) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, seg := range tmpl {
			if strings.HasPrefix(seg, "{") {
				params[strings.Trim(seg, "{}")] = parts[i]
			} else if seg != parts[i] {
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
