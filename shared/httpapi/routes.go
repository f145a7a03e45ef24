package httpapi

import "time"

// Route is one entry of the API's route table, which the handler, the OpenAPI test and the
// CDK stack's HTTP API routes are all built from.
type Route struct {
	Method string
	// Path in API Gateway form, e.g. "/v1/subscriptions/{id}".
	Path string
	// Auth is who may call the route.
	Auth Access
	// OperationID names the operation in the OpenAPI document.
	OperationID string
}

// Access is who may call a route.
type Access int

const (
	// Public: anyone, without a token.
	Public Access = iota
	// Dealer: a token (checked by the JWT authorizer) with the caller's dealer in its dealer
	// claim; the route acts on that dealer's resources only.
	Dealer
	// Admin: a token with the admin scope in its admin scope claim (DealerAI staff); the
	// route names the dealer it acts on in its path.
	Admin
)

// RequiresToken reports whether the JWT authorizer guards routes of this access.
func (a Access) RequiresToken() bool { return a != Public }

// AuthorizationScopes are the scopes API Gateway's JWT authorizer requires of the route, given
// the admin scope settings: on an admin route, the admin scope, when its claim is one the
// authorizer reads scopes from (scope or scp); none otherwise. The handler checks the claim
// itself on every admin route either way.
func (r Route) AuthorizationScopes(adminScopeClaim, adminScope string) []string {
	if r.Auth == Admin && (adminScopeClaim == "scope" || adminScopeClaim == "scp") && adminScope != "" {
		return []string{adminScope}
	}
	return nil
}

// Routes is the route table.
var Routes = []Route{
	{"GET", "/healthz", Public, "getHealth"},
	{"GET", "/v1/openapi.json", Public, "getOpenAPI"},
	{"GET", "/v1/event-types", Dealer, "listEventTypes"},

	{"POST", "/v1/subscriptions", Dealer, "createSubscription"},
	{"GET", "/v1/subscriptions", Dealer, "listSubscriptions"},
	{"GET", "/v1/subscriptions/{id}", Dealer, "getSubscription"},
	{"PATCH", "/v1/subscriptions/{id}", Dealer, "updateSubscription"},
	{"DELETE", "/v1/subscriptions/{id}", Dealer, "deleteSubscription"},
	{"GET", "/v1/subscriptions/{id}/secret", Dealer, "getSubscriptionSecret"},
	{"POST", "/v1/subscriptions/{id}/rotate-secret", Dealer, "rotateSubscriptionSecret"},
	{"POST", "/v1/subscriptions/{id}/test", Dealer, "testSubscription"},
	{"GET", "/v1/subscriptions/{id}/deliveries", Dealer, "listSubscriptionDeliveries"},
	{"GET", "/v1/subscriptions/{id}/deliveries/{deliveryId}", Dealer, "getSubscriptionDelivery"},
	{"POST", "/v1/subscriptions/{id}/deliveries/{deliveryId}/retry", Dealer, "retrySubscriptionDelivery"},
	{"POST", "/v1/subscriptions/{id}/recover", Dealer, "recoverSubscription"},

	{"GET", "/v1/agents", Dealer, "listAgents"},
	{"GET", "/v1/agents/{platform}", Dealer, "getAgent"},
	{"PUT", "/v1/agents/{platform}", Dealer, "putAgent"},
	{"DELETE", "/v1/agents/{platform}", Dealer, "deleteAgent"},
	{"GET", "/v1/agents/{platform}/deliveries", Dealer, "listAgentDeliveries"},
	{"GET", "/v1/agents/{platform}/deliveries/{deliveryId}", Dealer, "getAgentDelivery"},
	{"POST", "/v1/agents/{platform}/deliveries/{deliveryId}/retry", Dealer, "retryAgentDelivery"},
	{"POST", "/v1/agents/{platform}/recover", Dealer, "recoverAgent"},
	{"GET", "/v1/agents/{platform}/sync", Dealer, "getAgentSync"},
	{"POST", "/v1/agents/{platform}/sync", Dealer, "runAgentSync"},

	// The platforms' push notices: authenticated the platform's way, not by the dealer JWT.
	{"POST", "/v1/notices/vinsolutions/{dealerId}", Public, "receiveVinSolutionsNotice"},
	{"POST", "/v1/notices/fortellis", Public, "receiveFortellisNotice"},

	{"GET", "/v1/inventory", Dealer, "listInventory"},
	{"GET", "/v1/inventory/{vin}", Dealer, "getInventoryVehicle"},

	{"GET", "/v1/admin/dealers/{dealerId}/entitlements", Admin, "getDealerEntitlements"},
	{"PUT", "/v1/admin/dealers/{dealerId}/entitlements", Admin, "putDealerEntitlements"},
}

// CORSPolicy is how the API answers browsers that call it from other origins (the
// Integrations page embedded in the dealership portal). The allowed origins belong to each
// deployment; the rest is the API's and the same everywhere.
type CORSPolicy struct {
	// AllowHeaders are the request headers pages may send.
	AllowHeaders []string
	// ExposeHeaders are the response headers pages may read (ETag for If-Match, Retry-After
	// of a 429).
	ExposeHeaders []string
	// AllowMethods are the methods of the route table.
	AllowMethods []string
	// MaxAge is how long browsers may cache a preflight answer.
	MaxAge time.Duration
}

// CORS is the API's CORS policy, rendered by the CDK stack's HTTP API and answered by the
// local stack's gateway.
var CORS = CORSPolicy{
	AllowHeaders:  []string{"authorization", "content-type", "if-match"},
	ExposeHeaders: []string{"etag", "location", "retry-after"},
	AllowMethods:  []string{"GET", "POST", "PUT", "PATCH", "DELETE"},
	MaxAge:        time.Hour,
}
