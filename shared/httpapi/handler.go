// Package httpapi is the DealerAI Integrations REST API: one net/http handler, built from the
// route table in routes.go, served on Lambda through the payload v2 adapter (Lambda) and by
// the local stack through the very same function.
//
// Every route but the health check, the OpenAPI document and the platforms' push notices
// (authenticated the platform's way, notices.go) requires a JWT, checked by API Gateway's
// authorizer. On the dealer routes the handler takes the caller's dealer from a
// claim of it and confines every read and write to that dealer (another dealer's ids answer
// 404); the admin routes (/v1/admin/..., DealerAI staff) need the admin scope in the token
// instead, which the handler checks. Errors are RFC 9457
// problem documents. The OpenAPI 3.1 document (openapi.json, served at /v1/openapi.json)
// describes all of it; a test checks the handler's real responses against it.
package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/internal/errref"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/signing"
	"github.com/dealerai/integrations/shared/subscriptions"
)

// SubscriptionStore keeps the dealers' subscriptions (subscriptions.Store).
type SubscriptionStore interface {
	Create(ctx context.Context, sub *subscriptions.Subscription) error
	Get(ctx context.Context, dealerID, id string) (*subscriptions.Subscription, error)
	List(ctx context.Context, dealerID string, limit int, cursor string) ([]subscriptions.Subscription, string, error)
	Update(ctx context.Context, dealerID, id string, change subscriptions.Fields, ifVersion int64) (*subscriptions.Subscription, error)
	Delete(ctx context.Context, dealerID, id string, ifVersion int64) error
	RotateSecret(ctx context.Context, dealerID, id, newSecret string, revokePrevious bool) (*subscriptions.Subscription, error)
}

// DeliveryLog reads the delivery log and records the deliveries the API starts
// (deliverylog.Store).
type DeliveryLog interface {
	Get(ctx context.Context, dealerID string, target deliveryq.Target, deliveryID string, consistent bool) (*deliverylog.Record, error)
	List(ctx context.Context, dealerID string, target deliveryq.Target, status string, limit int, cursor string) ([]deliverylog.Record, string, error)
	CreatePending(ctx context.Context, rec *deliverylog.Record) error
	MarkRetried(ctx context.Context, dealerID string, target deliveryq.Target, deliveryID, retryID string) error
	UnmarkRetried(ctx context.Context, dealerID string, target deliveryq.Target, deliveryID, retryID string) error
	ListFailed(ctx context.Context, dealerID string, target deliveryq.Target, since time.Time, limit, scanLimit int, cursor string) ([]deliverylog.Record, string, error)
}

// Queue sends delivery messages (*sqs.Client).
type Queue interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// RateLimiter counts a dealer's costly actions (ratelimit.Limiter): nil when allowed, a
// *ratelimit.ExceededError (answered 429 with Retry-After) when over the action's limit.
type RateLimiter interface {
	Allow(ctx context.Context, dealerID, action string) error
}

// Defaults of the claims the handler reads (DEALER_ID_CLAIM, ADMIN_SCOPE_CLAIM, ADMIN_SCOPE).
const (
	DefaultDealerIDClaim   = "dealer_id"
	DefaultAdminScopeClaim = "scope"
	DefaultAdminScope      = "dealerai:admin"
)

// Options are the handler's dependencies and settings.
type Options struct {
	Subscriptions SubscriptionStore
	// Agents keeps the integration agents' configurations (agents.Store).
	Agents AgentStore
	// Platforms are the platforms agents can be configured for (registry.Platforms, with
	// the deployment's extra hosts): the API's /v1/agents lists them, in order.
	Platforms platform.Catalog
	// Entitlements keeps the dealers' plans (plans.Store); nil: no plan applies (every
	// platform is available) and the admin routes answer 501.
	Entitlements EntitlementStore
	// Plans resolves a dealer's platforms when none are stored: Plans.Default, every
	// platform when nil (an empty, non-nil Default is none).
	Plans      plans.Policy
	Deliveries DeliveryLog
	// Queue and DeliveriesQueueURL receive the deliveries of manual retries and test sends.
	Queue              Queue
	DeliveriesQueueURL string
	// RateLimits limits each dealer's test sends and manual retries (a *ratelimit.Limiter on
	// the config table, shared by every container); nil: no limit.
	RateLimits RateLimiter
	// MaxSubscriptionsPerHost caps a dealer's subscriptions to one endpoint host (a create or
	// a URL change past it is 422 naming url): DefaultMaxSubscriptionsPerHost when 0, none
	// when negative.
	MaxSubscriptionsPerHost int
	// Sync shows the agents' two-way sync and queues runs (an *agentsync.Service); nil: the
	// sync routes answer 501.
	Sync SyncService
	// Circuits shows the subscriptions' circuit breakers (GET /v1/subscriptions/{id}); nil:
	// not shown.
	Circuits CircuitStore
	// RecoverBatch is the most deliveries one recover request queues (RecoverBatch when 0).
	RecoverBatch int
	// Notices deduplicates the platforms' push notices and knows which dealer a Fortellis
	// data owner is (a *notices.Store); nil: the notice routes answer 501.
	Notices NoticeStore
	// FortellisNotices verifies Fortellis Event Relay's bearer tokens (a *notices.Verifier
	// on the deployment's JWKS URL and audience); nil: the Fortellis notice route answers 501.
	FortellisNotices TokenVerifier
	// Inventory reads the dealers' vehicle inventories (an *inventory.Store); nil: the
	// inventory routes answer 501.
	Inventory InventoryStore
	// URLs checks webhook URLs and the URLs of agent settings (a safeurl.Policy: the
	// delivery client's own checker).
	URLs subscriptions.URLChecker
	// DealerIDClaim is the JWT claim holding the caller's dealer id ("dealer_id" if empty).
	DealerIDClaim string
	// AdminScopeClaim and AdminScope are the claim and the scope in it that the admin routes
	// require ("scope" and "dealerai:admin" if empty). The claim's value is an OAuth 2.0
	// space-delimited list of scopes, or an array of them.
	AdminScopeClaim string
	AdminScope      string
	// NewSecret makes signing secrets (signing.NewSecret if nil).
	NewSecret func() (string, error)
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Logger receives one line per request (slog.Default() if nil). Bodies, secrets and
	// the Authorization header are never logged.
	Logger *slog.Logger
}

// API is the REST API handler.
type API struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
}

// New builds the handler from the route table: every route's operation, with the JWT dealer
// check in front of those that require auth, and problem+json 404/405 for anything else.
func New(opts Options) *API {
	opts.DealerIDClaim = cmp.Or(opts.DealerIDClaim, DefaultDealerIDClaim)
	opts.AdminScopeClaim = cmp.Or(opts.AdminScopeClaim, DefaultAdminScopeClaim)
	opts.AdminScope = cmp.Or(opts.AdminScope, DefaultAdminScope)
	if opts.Plans.Default == nil {
		opts.Plans.Default = opts.Platforms.IDs()
	}
	if opts.NewSecret == nil {
		opts.NewSecret = signing.NewSecret
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &API{opts: opts, log: cmp.Or(opts.Logger, slog.Default()), mux: http.NewServeMux()}

	ops := a.operations()
	methods := map[string][]string{}
	for _, rt := range Routes {
		h, ok := ops[rt.OperationID]
		if !ok {
			h = notImplemented
		}
		switch rt.Auth {
		case Dealer:
			h = a.requireDealer(h)
		case Admin:
			h = a.requireAdmin(h)
		}
		a.mux.Handle(rt.Method+" "+rt.Path, h)
		methods[rt.Path] = append(methods[rt.Path], rt.Method)
	}
	for path, ms := range methods {
		a.mux.Handle(path, methodNotAllowed(ms))
	}
	a.mux.Handle("/", handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return NewProblem(http.StatusNotFound, "no such route")
	}))
	return a
}

// operations maps each operation of the route table to its handler. An operation without
// one answers 501.
func (a *API) operations() map[string]http.Handler {
	ops := map[string]http.Handler{
		"getHealth":                  handlerFunc(a.health),
		"getOpenAPI":                 handlerFunc(a.openAPI),
		"listEventTypes":             handlerFunc(a.listEventTypes),
		"createSubscription":         handlerFunc(a.createSubscription),
		"listSubscriptions":          handlerFunc(a.listSubscriptions),
		"getSubscription":            handlerFunc(a.getSubscription),
		"recoverSubscription":        handlerFunc(a.recoverSubscription),
		"recoverAgent":               handlerFunc(a.recoverAgent),
		"updateSubscription":         handlerFunc(a.updateSubscription),
		"deleteSubscription":         handlerFunc(a.deleteSubscription),
		"getSubscriptionSecret":      handlerFunc(a.getSubscriptionSecret),
		"rotateSubscriptionSecret":   handlerFunc(a.rotateSubscriptionSecret),
		"testSubscription":           handlerFunc(a.testSubscription),
		"listSubscriptionDeliveries": handlerFunc(a.listSubscriptionDeliveries),
		"getSubscriptionDelivery":    handlerFunc(a.getSubscriptionDelivery),
		"retrySubscriptionDelivery":  handlerFunc(a.retrySubscriptionDelivery),
		"listAgents":                 handlerFunc(a.listAgents),
		"getAgent":                   handlerFunc(a.getAgent),
		"putAgent":                   handlerFunc(a.putAgent),
		"deleteAgent":                handlerFunc(a.deleteAgent),
		"listAgentDeliveries":        handlerFunc(a.listAgentDeliveries),
		"getAgentDelivery":           handlerFunc(a.getAgentDelivery),
		"retryAgentDelivery":         handlerFunc(a.retryAgentDelivery),
		"getAgentSync":               handlerFunc(a.getAgentSync),
		"runAgentSync":               handlerFunc(a.runAgentSync),
		"receiveVinSolutionsNotice":  handlerFunc(a.receiveVinSolutionsNotice),
		"receiveFortellisNotice":     handlerFunc(a.receiveFortellisNotice),
	}
	if a.opts.Inventory != nil {
		ops["listInventory"] = handlerFunc(a.listInventory)
		ops["getInventoryVehicle"] = handlerFunc(a.getInventoryVehicle)
	}
	if a.opts.Entitlements != nil {
		ops["getDealerEntitlements"] = handlerFunc(a.getDealerEntitlements)
		ops["putDealerEntitlements"] = handlerFunc(a.putDealerEntitlements)
	}
	return ops
}

// handlerFunc is an operation that returns its error; errors become problem documents.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (h handlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		p, internal := problemFor(err)
		if internal {
			// Our failure: the answer carries a reference, the request's log line the detail.
			info := infoOf(r.Context())
			info.err, info.ref = err, errref.New()
			p.Detail += " (ref " + info.ref + ")"
		}
		writeProblem(w, p)
	}
}

var notImplemented = handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	return NewProblem(http.StatusNotImplemented, "not implemented yet")
})

func methodNotAllowed(methods []string) http.Handler {
	allow := strings.Join(methods, ", ")
	return handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return NewProblem(http.StatusMethodNotAllowed, "method not allowed; allowed: "+allow)
	})
}

// requestInfo is what the handler learns about a request as it serves it, for the log line.
type requestInfo struct {
	// dealerID is the dealer the request concerns: the caller's on the dealer routes, the
	// path's on the admin routes.
	dealerID string
	// admin is the sub claim of the DealerAI staff member calling an admin route.
	admin string
	err   error
	// ref is the reference an internal error's answer carries.
	ref string
}

type requestInfoKey struct{}

func infoOf(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{}
}

// allow counts one action of the caller's dealer against its rate limit (ratelimit): an
// error (a 429 problem when over the limit) when it may not go ahead.
func (a *API) allow(r *http.Request, action string) error {
	if a.opts.RateLimits == nil {
		return nil
	}
	return a.opts.RateLimits.Allow(r.Context(), dealerOf(r), action)
}

// dealerOf is the caller's dealer, set by requireDealer.
func dealerOf(r *http.Request) string { return infoOf(r.Context()).dealerID }

// claimsOf are the claims of the JWT that API Gateway's authorizer checked: a 401 problem
// without an authorizer context (the gateway should have refused the request already).
func claimsOf(r *http.Request) (map[string]string, error) {
	gw := GatewayRequest(r.Context())
	if gw == nil || gw.RequestContext.Authorizer == nil || gw.RequestContext.Authorizer.JWT == nil {
		return nil, NewProblem(http.StatusUnauthorized, "a valid bearer token is required")
	}
	return gw.RequestContext.Authorizer.JWT.Claims, nil
}

// subjectOf is the "sub" claim of the request's JWT: who made a change ("" when absent).
func subjectOf(r *http.Request) string {
	claims, err := claimsOf(r)
	if err != nil {
		return ""
	}
	return claims["sub"]
}

// requireDealer lets a request through only with the dealer claim of the JWT that API
// Gateway's authorizer checked: 401 without an authorizer context, 403 for a valid token
// without a usable dealer claim.
func (a *API) requireDealer(next http.Handler) http.Handler {
	return handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		claims, err := claimsOf(r)
		if err != nil {
			return err
		}
		dealer := claims[a.opts.DealerIDClaim]
		if !validDealerID(dealer) {
			return NewProblem(http.StatusForbidden, "the token has no usable "+a.opts.DealerIDClaim+" claim")
		}
		infoOf(r.Context()).dealerID = dealer
		next.ServeHTTP(w, r)
		return nil
	})
}

// requireAdmin lets a request through only with the admin scope in the admin scope claim of
// the JWT, and a sub claim to record who made the change: 401 without an authorizer context,
// 403 for any other token — a dealer's among them.
func (a *API) requireAdmin(next http.Handler) http.Handler {
	return handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		claims, err := claimsOf(r)
		if err != nil {
			return err
		}
		if !hasScope(claims[a.opts.AdminScopeClaim], a.opts.AdminScope) {
			return NewProblem(http.StatusForbidden, "this route is for DealerAI staff: the token does not carry the admin scope")
		}
		sub := claims["sub"]
		if !usableSub(sub) {
			return NewProblem(http.StatusForbidden, "the token has no usable sub claim: changes are recorded with who made them")
		}
		infoOf(r.Context()).admin = sub
		next.ServeHTTP(w, r)
		return nil
	})
}

// hasScope reports whether a claim's value, as the authorizer context holds it, carries
// scope: an OAuth 2.0 space-delimited list ("read dealerai:admin"), or an array of strings,
// which API Gateway (and the local gateway) renders "[a b]"; a JSON array is read too. Scopes
// compare exactly.
func hasScope(claim, scope string) bool {
	v := strings.TrimSpace(claim)
	if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
		var list []string
		if json.Unmarshal([]byte(v), &list) == nil {
			return slices.Contains(list, scope)
		}
		v = v[1 : len(v)-1]
	}
	return slices.Contains(strings.Fields(v), scope)
}

// usableSub accepts a sub claim that can name who made a change in a log line: 1 to 256
// bytes of UTF-8 without control characters.
func usableSub(sub string) bool {
	if sub == "" || len(sub) > 256 || !utf8.ValidString(sub) {
		return false
	}
	return !strings.ContainsFunc(sub, unicode.IsControl)
}

// validDealerID accepts a dealer id: a plain string of 1 to 128 letters, digits and '.', '_',
// ':', '-' ([A-Za-z0-9._:-]+). Nothing else can be part of a table key or a queue's group id
// unescaped, and a structured claim (API Gateway renders an array ["d1"] as "[d1]", an object
// as JSON) never passes for a dealer.
func validDealerID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// ServeHTTP serves one request: routing, a recovered panic answered 500, one log line.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := &requestInfo{}
	r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			info.err, info.ref = fmt.Errorf("panic: %v", v), errref.New()
			if sw.status == 0 {
				writeProblem(sw, NewProblem(http.StatusInternalServerError, errref.Message(info.ref)))
			}
		}
		a.logRequest(r, sw.status, time.Since(start), info)
	}()
	if p := r.URL.Path; p != path.Clean(p) {
		// Dot or empty segments: no route has them, and ServeMux would redirect to the
		// cleaned path — another route than the one API Gateway matched and authorized.
		writeProblem(sw, NewProblem(http.StatusNotFound, "no such route"))
		return
	}
	a.mux.ServeHTTP(sw, r)
}

func (a *API) logRequest(r *http.Request, status int, took time.Duration, info *requestInfo) {
	if status == 0 {
		status = http.StatusOK
	}
	attrs := make([]slog.Attr, 0, 9)
	attrs = append(attrs,
		slog.String("method", r.Method),
		slog.String("route", r.Pattern),
		slog.Int("status", status),
		slog.Int64("durationMs", took.Milliseconds()),
	)
	if info.dealerID != "" {
		attrs = append(attrs, slog.String("dealerId", info.dealerID))
	}
	if info.admin != "" {
		attrs = append(attrs, slog.String("adminSub", info.admin))
	}
	if strings.Contains(r.Pattern, " /v1/subscriptions/{id}") {
		attrs = append(attrs, slog.String("subscriptionId", r.PathValue("id")))
	}
	if strings.Contains(r.Pattern, " /v1/agents/{platform}") {
		attrs = append(attrs, slog.String("platform", r.PathValue("platform")))
	}
	if id := r.PathValue("deliveryId"); id != "" {
		attrs = append(attrs, slog.String("deliveryId", id))
	}
	if gw := GatewayRequest(r.Context()); gw != nil {
		attrs = append(attrs, slog.String("requestId", gw.RequestContext.RequestID))
	}
	level := slog.LevelInfo
	if info.err != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", info.err.Error()), slog.String("ref", info.ref))
	}
	a.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, status, "application/json", v)
}

func writeJSONAs(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only our own view types are written: cannot happen
		body, status, contentType = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"internal error","errors":[]}`), http.StatusInternalServerError, "application/problem+json"
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
