package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/httpapi"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/safeurl"
	"github.com/dealerai/integrations/shared/subscriptions"
)

// callCounter counts DynamoDB requests by operation name.
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *callCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

func (c *callCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = map[string]int{}
}

// countingDynamoDB is a DynamoDB client of env that counts its requests: a tiny Initialize
// middleware keyed by operation name.
func countingDynamoDB(env *localtest.Env, c *callCounter) *dynamodb.Client {
	c.reset()
	return dynamodb.NewFromConfig(env.AWS, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("countCalls",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					c.mu.Lock()
					c.calls[awsmiddleware.GetOperationName(ctx)]++
					c.mu.Unlock()
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	})
}

// benchAPI is the Lambda function as lambda.Start runs it, on the emulators, with counted
// DynamoDB calls; requests carry the authorizer's claims as API Gateway hands them over.
type benchAPI struct {
	fn    httpapi.LambdaFunc
	calls *callCounter
}

func newBenchAPI(b *testing.B) *benchAPI {
	env := localtest.New(b)
	calls := &callCounter{}
	ddb := countingDynamoDB(env, calls)
	h := httpapi.New(httpapi.Options{
		Subscriptions:      subscriptions.NewStore(ddb, env.Table(resources.ConfigTable)),
		Deliveries:         deliverylog.NewStore(ddb, env.Table(resources.DeliveryLogTable)),
		Queue:              env.SQS,
		DeliveriesQueueURL: env.QueueURL(resources.DeliveriesQueue),
		URLs:               safeurl.Policy{Resolver: resolver},
		Logger:             slog.New(slog.NewJSONHandler(io.Discard, nil)),
		// a dealer's 50 subscriptions to one host
		MaxSubscriptionsPerHost: subscriptions.MaxPerDealer,
	})
	return &benchAPI{fn: httpapi.Lambda(h), calls: calls}
}

func (ba *benchAPI) call(b *testing.B, method, path, query, dealer, body string, want int) lambdaevents.APIGatewayV2HTTPResponse {
	req := lambdaevents.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: path, RawQueryString: query, Body: body,
		Headers: map[string]string{"content-type": "application/json", "host": "api.example.com"},
		RequestContext: lambdaevents.APIGatewayV2HTTPRequestContext{
			RequestID: "bench",
			HTTP:      lambdaevents.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path},
			Authorizer: &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"dealer_id": dealer}},
			},
		},
	}
	resp, err := ba.fn(context.Background(), req)
	if err != nil || resp.StatusCode != want {
		b.Fatalf("%s %s: %d %s %v", method, path, resp.StatusCode, resp.Body, err)
	}
	return resp
}

const benchBody = `{"url":"https://hooks.example.com/dealerai","events":["lead.*","appointment.created"],"description":"bench"}`

func (ba *benchAPI) report(b *testing.B) {
	b.ReportMetric(float64(ba.calls.total())/float64(b.N), "ddb-calls/op")
}

// createN creates n subscriptions of dealer and returns the last one's id.
func (ba *benchAPI) createN(b *testing.B, dealer string, n int) string {
	var id string
	for range n {
		resp := ba.call(b, "POST", "/v1/subscriptions", "", dealer, benchBody, 201)
		id = resp.Headers["Location"][len("/v1/subscriptions/"):]
	}
	return id
}

func BenchmarkCreate(b *testing.B) {
	ba := newBenchAPI(b)
	b.ReportAllocs()
	ba.calls.reset()
	start := time.Now().UnixNano()
	for i := 0; b.Loop(); i++ {
		// a fresh dealer every 50 creates: the limit
		ba.call(b, "POST", "/v1/subscriptions", "", fmt.Sprintf("bench_%d_%d", start, i/subscriptions.MaxPerDealer), benchBody, 201)
	}
	ba.report(b)
}

func BenchmarkGet(b *testing.B) {
	ba := newBenchAPI(b)
	id := ba.createN(b, "bench", 1)
	b.ReportAllocs()
	ba.calls.reset()
	for b.Loop() {
		ba.call(b, "GET", "/v1/subscriptions/"+id, "", "bench", "", 200)
	}
	ba.report(b)
}

// BenchmarkList lists a full page of 50 subscriptions.
func BenchmarkList(b *testing.B) {
	ba := newBenchAPI(b)
	ba.createN(b, "bench", subscriptions.MaxPerDealer)
	b.ReportAllocs()
	ba.calls.reset()
	for b.Loop() {
		ba.call(b, "GET", "/v1/subscriptions", "limit=50", "bench", "", 200)
	}
	ba.report(b)
}

// memStore is a SubscriptionStore of one subscription, to measure the handler and the
// adapter alone.
type memStore struct{ sub subscriptions.Subscription }

func (m *memStore) Create(context.Context, *subscriptions.Subscription) error { return nil }
func (m *memStore) Get(context.Context, string, string) (*subscriptions.Subscription, error) {
	s := m.sub
	return &s, nil
}
func (m *memStore) List(context.Context, string, int, string) ([]subscriptions.Subscription, string, error) {
	return []subscriptions.Subscription{m.sub}, "", nil
}
func (m *memStore) Update(context.Context, string, string, subscriptions.Fields, int64) (*subscriptions.Subscription, error) {
	s := m.sub
	return &s, nil
}
func (m *memStore) Delete(context.Context, string, string, int64) error { return nil }
func (m *memStore) RotateSecret(context.Context, string, string, string, bool) (*subscriptions.Subscription, error) {
	s := m.sub
	return &s, nil
}

// BenchmarkGetHandlerOnly: GET of one subscription from memory, through the Lambda adapter,
// the routing, the dealer check, the JSON encoding and the log line (no emulator needed).
func BenchmarkGetHandlerOnly(b *testing.B) {
	url := "https://hooks.example.com/dealerai"
	sub := subscriptions.New("bench", subscriptions.Fields{URL: &url, Events: []string{"lead.*"}}, "whsec_x", time.Now())
	h := httpapi.New(httpapi.Options{
		Subscriptions: &memStore{*sub},
		Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	ba := &benchAPI{fn: httpapi.Lambda(h), calls: &callCounter{}}
	b.ReportAllocs()
	for b.Loop() {
		ba.call(b, "GET", "/v1/subscriptions/"+sub.ID, "", "bench", "", 200)
	}
}
