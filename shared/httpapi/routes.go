package httpapi

import "time"

// Route is one entry of the API's route table, which the handler, the OpenAPI test and the
// CDK stack's HTTP API routes are all built from.
type Route struct {
	Method string
	// Path in API Gateway form, e.g. "/v1/subscriptions/{id}".
	Path string
	// Auth is true when the JWT authorizer guards the route.
	Auth bool
	// OperationID names the operation in the OpenAPI document.
	OperationID string
}

// Routes is the route table.
var Routes = []Route{
	{"GET", "/healthz", false, "getHealth"},
	{"GET", "/v1/openapi.json", false, "getOpenAPI"},
	{"GET", "/v1/event-types", true, "listEventTypes"},

	{"POST", "/v1/subscriptions", true, "createSubscription"},
	{"GET", "/v1/subscriptions", true, "listSubscriptions"},
	{"GET", "/v1/subscriptions/{id}", true, "getSubscription"},
	{"PATCH", "/v1/subscriptions/{id}", true, "updateSubscription"},
	{"DELETE", "/v1/subscriptions/{id}", true, "deleteSubscription"},
	{"GET", "/v1/subscriptions/{id}/secret", true, "getSubscriptionSecret"},
	{"POST", "/v1/subscriptions/{id}/rotate-secret", true, "rotateSubscriptionSecret"},
	{"POST", "/v1/subscriptions/{id}/test", true, "testSubscription"},
	{"GET", "/v1/subscriptions/{id}/deliveries", true, "listSubscriptionDeliveries"},
	{"GET", "/v1/subscriptions/{id}/deliveries/{deliveryId}", true, "getSubscriptionDelivery"},
	{"POST", "/v1/subscriptions/{id}/deliveries/{deliveryId}/retry", true, "retrySubscriptionDelivery"},

	{"GET", "/v1/agents", true, "listAgents"},
	{"GET", "/v1/agents/{platform}", true, "getAgent"},
	{"PUT", "/v1/agents/{platform}", true, "putAgent"},
	{"DELETE", "/v1/agents/{platform}", true, "deleteAgent"},
	{"GET", "/v1/agents/{platform}/deliveries", true, "listAgentDeliveries"},
	{"GET", "/v1/agents/{platform}/deliveries/{deliveryId}", true, "getAgentDelivery"},
	{"POST", "/v1/agents/{platform}/deliveries/{deliveryId}/retry", true, "retryAgentDelivery"},
}

// CORSPolicy is how the API answers browsers that call it from other origins (the
// Integrations page embedded in the dealership portal). The allowed origins belong to each
// deployment; the rest is the API's and the same everywhere.
type CORSPolicy struct {
	// AllowHeaders are the request headers pages may send.
	AllowHeaders []string
	// ExposeHeaders are the response headers pages may read (ETag for If-Match).
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
	ExposeHeaders: []string{"etag", "location"},
	AllowMethods:  []string{"GET", "POST", "PUT", "PATCH", "DELETE"},
	MaxAge:        time.Hour,
}
