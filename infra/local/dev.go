package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/resources"
)

// DevConfig is what `make dev` can be told through the environment.
type DevConfig struct {
	APIPort, DynamoDBPort, SQSPort int
	// UIPort serves the Integrations page's standalone host page (PageServer).
	UIPort int
	// CORSOrigins are more origins the local API answers CORS for (CORS_ORIGINS,
	// comma-separated), besides the standalone page's own.
	CORSOrigins []string
	// BatchingWindow is the pollers' batching window of the events and deliveries queues
	// (BATCHING_WINDOW, as the CDK context batchingWindow: whole seconds, 0–20s; default 0).
	BatchingWindow string
	// Prefix of the local tables and queues.
	Prefix string
	// Defaults are the function settings make dev sets unless the caller did.
	Defaults map[string]string
}

// DevConfigFromEnv reads API_PORT, DYNAMODB_PORT, SQS_PORT and UI_PORT (defaults 8080, 8000,
// 9324, 8081) and CORS_ORIGINS.
func DevConfigFromEnv(getenv func(string) string) DevConfig {
	port := func(name string, def int) int {
		if v, err := strconv.Atoi(getenv(name)); err == nil && v > 0 {
			return v
		}
		return def
	}
	return DevConfig{
		APIPort:        port("API_PORT", 8080),
		DynamoDBPort:   port("DYNAMODB_PORT", 8000),
		SQSPort:        port("SQS_PORT", 9324),
		UIPort:         port("UI_PORT", 8081),
		CORSOrigins:    splitList(getenv("CORS_ORIGINS")),
		BatchingWindow: getenv("BATCHING_WINDOW"),
		Prefix:         "dealerai-local",
		Defaults: map[string]string{
			// local-only endpoint exceptions: receivers and fake platforms on this machine,
			// plain http
			"ALLOW_ENDPOINT_CIDRS": "127.0.0.0/8,::1/128",
			"ALLOW_HTTP_ENDPOINTS": "true",
			"AGENT_EXTRA_HOSTS":    "127.0.0.1,::1,localhost",
			// the deployment default of the CDK stack: every platform
			"DEFAULT_AGENT_PLATFORMS": strings.Join(plans.Normalize(registry.Platforms().IDs()), ","),
		},
	}
}

// RunDev runs the whole system on this machine until ctx ends: emulators, tables and queues,
// the API behind the local gateway, the router, delivery and sync pollers, and the sync's
// schedule.
func RunDev(ctx context.Context, dc DevConfig, out io.Writer) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(out, nil))
	slog.SetDefault(logger)

	fmt.Fprintln(out, "starting DynamoDB Local and the SQS emulator...")
	em, err := StartEmulators(ctx, EmulatorOptions{
		DynamoDBPort: dc.DynamoDBPort, SQSPort: dc.SQSPort,
		Log: PrefixLines("[emulators] ", out),
	})
	if err != nil {
		return err
	}
	defer em.Stop()

	awsCfg, err := AWSConfig(ctx, em.DynamoDBEndpoint, em.SQSEndpoint)
	if err != nil {
		return err
	}
	ddb, sq := Clients(awsCfg)
	names, err := Provision(ctx, ddb, sq, dc.Prefix)
	if err != nil {
		return err
	}

	// The functions read their settings from the environment, as on Lambda.
	env := names.Env()
	env["AWS_ENDPOINT_URL_DYNAMODB"] = em.DynamoDBEndpoint
	env["AWS_ENDPOINT_URL_SQS"] = em.SQSEndpoint
	env["AWS_REGION"] = Region
	env["AWS_ACCESS_KEY_ID"] = AccessKeyID
	env["AWS_SECRET_ACCESS_KEY"] = SecretAccessKey
	env["API_URL"] = fmt.Sprintf("http://127.0.0.1:%d", dc.APIPort)
	env["UI_URL"] = fmt.Sprintf("http://127.0.0.1:%d", dc.UIPort)
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	for k, v := range dc.Defaults {
		if os.Getenv(k) == "" {
			_ = os.Setenv(k, v)
		}
	}
	cfg, err := app.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}

	api, err := app.NewAPI(ctx, awsCfg, cfg)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	router, err := app.NewRouter(ctx, awsCfg, cfg)
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	delivery, err := app.NewDelivery(ctx, awsCfg, cfg)
	if err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	syncFn, err := app.NewSync(ctx, awsCfg, cfg)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}

	issuer, err := NewIssuer(root)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", dc.APIPort))
	if err != nil {
		return fmt.Errorf("API port: %w", err)
	}
	uiLn, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", dc.UIPort))
	if err != nil {
		ln.Close()
		return fmt.Errorf("UI port: %w", err)
	}
	origins := append([]string{env["UI_URL"]}, dc.CORSOrigins...)
	server := &http.Server{Handler: &Gateway{Issuer: issuer, API: api, CORSOrigins: origins,
		AdminScopeClaim: cfg.AdminScopeClaim, AdminScope: cfg.AdminScope}, ReadHeaderTimeout: 10 * time.Second}
	page := &PageServer{Dir: filepath.Join(root, "build", "web"), APIURL: env["API_URL"], Issuer: issuer, DealerClaim: os.Getenv("DEALER_ID_CLAIM")}
	uiServer := &http.Server{Handler: page, ReadHeaderTimeout: 10 * time.Second}

	window, err := resources.ParseBatchingWindow(dc.BatchingWindow)
	if err != nil {
		return fmt.Errorf("BATCHING_WINDOW: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	pollers := []*SQSPoller{
		{SQS: sq, QueueURL: names.QueueURLs[resources.EventsQueue.ID], QueueARN: names.QueueARNs[resources.EventsQueue.ID], Handler: router, Concurrency: 2, Timeout: resources.RouterTimeout, BatchingWindow: window},
		{SQS: sq, QueueURL: names.QueueURLs[resources.DeliveriesQueue.ID], QueueARN: names.QueueARNs[resources.DeliveriesQueue.ID], Handler: delivery, Concurrency: 8, Timeout: resources.DeliveryTimeout, BatchingWindow: window},
		{SQS: sq, QueueURL: names.QueueURLs[resources.SyncJobsQueue.ID], QueueARN: names.QueueARNs[resources.SyncJobsQueue.ID], Handler: syncFn, BatchSize: 5, Concurrency: 4, Timeout: resources.SyncTimeout},
	}
	for _, p := range pollers {
		wg.Add(1)
		go func() { defer wg.Done(); p.Run(runCtx) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		RunSyncSchedule(runCtx, sq, names.QueueURLs[resources.SyncJobsQueue.ID], SyncTickEvery(cfg.SyncInterval), logger)
	}()
	serve := []struct {
		name   string
		server *http.Server
		ln     net.Listener
	}{{"api server", server, ln}, {"ui server", uiServer, uiLn}}
	for _, s := range serve {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.server.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error(s.name, "error", err.Error())
				cancel()
			}
		}()
	}

	if err := writeStackEnv(root, env, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "ready: API at %s — token: make token DEALER=<id> (DealerAI staff: make token ADMIN=1); Ctrl-C stops everything\n", env["API_URL"])
	fmt.Fprintf(out, "Integrations page (local stack, pick a dealer there): %s\n", env["UI_URL"])

	<-runCtx.Done()
	fmt.Fprintln(out, "stopping...")
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	_ = server.Shutdown(shutdown)
	_ = uiServer.Shutdown(shutdown)
	wg.Wait()
	return nil
}

// stackEnvKeys are the variables .local/stack.env carries (docs/local-stack.md).
var stackEnvKeys = []string{
	"API_URL", "UI_URL", "EVENTS_QUEUE_URL", "EVENTS_DLQ_URL", "DELIVERIES_QUEUE_URL", "DELIVERIES_DLQ_URL",
	"INBOUND_QUEUE_URL", "INBOUND_DLQ_URL", "SYNC_JOBS_QUEUE_URL", "SYNC_JOBS_DLQ_URL",
	"CONFIG_TABLE", "DELIVERY_LOG_TABLE", "INVENTORY_TABLE", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB",
	"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
}

func writeStackEnv(root string, env map[string]string, out io.Writer) error {
	var b strings.Builder
	keys := append([]string(nil), stackEnvKeys...)
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, env[k])
	}
	path := filepath.Join(root, ".local", "stack.env")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s:\n%s", path, b.String())
	return nil
}

// ReadStackEnv reads the .local/stack.env the running stack wrote.
func ReadStackEnv(root string) (map[string]string, error) {
	raw, err := os.ReadFile(filepath.Join(root, ".local", "stack.env"))
	if err != nil {
		return nil, fmt.Errorf("no .local/stack.env: is `make dev` running? (%w)", err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
