package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/shared/app"
)

// apiRequests is how many requests of each kind APIBench times.
const apiRequests = 500

// APIBench measures the api function as lambda.Start runs it (app.NewAPI, the API Gateway
// payload handed over directly) on DynamoDB Local: per request latency (p50, p99) and heap
// allocations (the process's, SDK transport included) of create, get and list; then it runs
// shared/httpapi's own Go benchmarks (BenchmarkCreate, Get, List) and prints their lines.
func APIBench(ctx context.Context, w io.Writer, sum *summary) error {
	ddbURL, sqsURL := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"), os.Getenv("AWS_ENDPOINT_URL_SQS")
	awsCfg, err := local.AWSConfig(ctx, ddbURL, sqsURL)
	if err != nil {
		return err
	}
	ddb, sq := local.Clients(awsCfg)
	names, err := local.Provision(ctx, ddb, sq, fmt.Sprintf("benchapi-%d", time.Now().UnixNano()%1e9))
	if err != nil {
		return err
	}
	defer local.Deprovision(ddb, sq, names)
	env := names.Env()
	env["ALLOW_ENDPOINT_CIDRS"] = "127.0.0.0/8"
	env["MAX_SUBSCRIPTIONS_PER_HOST"] = "50" // the bench makes a dealer's 50 subscriptions to one host
	cfg, err := app.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil)) // the API's logs are not measured here
	fn, err := app.NewAPI(ctx, awsCfg, cfg)
	if err != nil {
		return err
	}
	call := func(method, path, query, dealer, body string) (lambdaevents.APIGatewayV2HTTPResponse, error) {
		return fn(ctx, lambdaevents.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "$default", RawPath: path, RawQueryString: query, Body: body,
			Headers: map[string]string{"content-type": "application/json", "host": "api.example.com"},
			RequestContext: lambdaevents.APIGatewayV2HTTPRequestContext{
				RequestID: "bench",
				HTTP:      lambdaevents.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path},
				Authorizer: &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerDescription{
					JWT: &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"dealer_id": dealer}},
				},
			},
		})
	}
	const body = `{"url":"https://127.0.0.1:9443/dealerai","events":["lead.*","appointment.created"],"description":"bench"}`
	const perDealer = 50 // subscriptions.MaxPerDealer
	run := func(name string, req func(i int) (int, error)) error {
		var lat []time.Duration
		var ms0, ms1 runtime.MemStats
		for i := range 20 { // warm-up
			if _, err := req(-1 - i); err != nil {
				return err
			}
		}
		runtime.ReadMemStats(&ms0)
		for i := range apiRequests {
			start := time.Now()
			if _, err := req(i); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			lat = append(lat, time.Since(start))
		}
		runtime.ReadMemStats(&ms1)
		slices.Sort(lat)
		allocs := float64(ms1.Mallocs-ms0.Mallocs) / apiRequests
		fmt.Fprintf(w, "  %-6s p50 %s, p99 %s, %.0f allocations and %.1f KB allocated per request (%d requests, DynamoDB Local)\n",
			name, ms(pct(lat, 0.5)), ms(pct(lat, 0.99)), allocs, float64(ms1.TotalAlloc-ms0.TotalAlloc)/apiRequests/1024, apiRequests)
		sum.add("API "+name+" p50 / allocations per request", fmt.Sprintf("%s / %.0f", ms(pct(lat, 0.5)), allocs), "", true, "reported, no target")
		return nil
	}
	expect := func(resp lambdaevents.APIGatewayV2HTTPResponse, err error, status int) (int, error) {
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != status {
			return 0, fmt.Errorf("status %d: %s", resp.StatusCode, resp.Body)
		}
		return resp.StatusCode, nil
	}
	stamp := time.Now().UnixNano()
	if err := run("create", func(i int) (int, error) {
		resp, err := call("POST", "/v1/subscriptions", "", fmt.Sprintf("benchapi_%d_%d", stamp, (i+100)/perDealer), body)
		return expect(resp, err, 201)
	}); err != nil {
		return err
	}
	var id string
	for range perDealer {
		resp, err := call("POST", "/v1/subscriptions", "", "benchapi_list", body)
		if _, err := expect(resp, err, 201); err != nil {
			return err
		}
		var created struct{ ID string }
		_ = json.Unmarshal([]byte(resp.Body), &created)
		id = created.ID
	}
	if err := run("get", func(int) (int, error) {
		resp, err := call("GET", "/v1/subscriptions/"+id, "", "benchapi_list", "")
		return expect(resp, err, 200)
	}); err != nil {
		return err
	}
	if err := run("list", func(int) (int, error) {
		resp, err := call("GET", "/v1/subscriptions", "limit=50", "benchapi_list", "")
		return expect(resp, err, 200)
	}); err != nil {
		return err
	}

	// shared/httpapi's own benchmarks (mean ns/op, B/op, allocs/op, DynamoDB calls/op).
	root, err := local.RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^Benchmark(Create|Get|List)$", "-benchmem", "-benchtime", "300x", "./shared/httpapi")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench ./shared/httpapi: %v: %s", err, out)
	}
	fmt.Fprintf(w, "  go test -bench ./shared/httpapi (mean per op):\n")
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Benchmark") {
			fmt.Fprintf(w, "    %s\n", strings.Join(strings.Fields(line), " "))
		}
	}
	return nil
}
