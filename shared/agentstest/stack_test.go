// Package agentstest holds the end-to-end tests of the integration agents: an agent enabled
// through the REST API (behind the local stack's gateway, with real JWTs), events sent to
// the events queue, the router and delivery handlers built by package app and driven by
// infra/local's SQSPoller exactly as the local stack drives them, and fake platform servers
// that check what the real platforms check (token grant, auth headers, media types).
//
// Run with the emulators:
//
//	go run ./infra/local/cmd/stack emulators -- go test ./shared/agentstest/...
package agentstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/resources"
)

const dealer = "dlr_42"

// stack is one test's system: fresh tables and queues, the API behind the local gateway, the
// router and delivery handlers built by package app from the configuration, pollers feeding
// them. Everything the system writes that a credential must never reach is captured: every
// log line (app's logger and slog's default), every API response body and every message
// the delivery handler receives; at cleanup each is scanned for the credentials the test
// configured.
type stack struct {
	t      testing.TB
	env    *localtest.Env
	cfg    app.Config
	log    *deliverylog.Store
	api    *httptest.Server
	issuer *local.Issuer

	logs      *localtest.Buffer // JSON log lines
	responses *localtest.Buffer // API response bodies
	messages  *localtest.Buffer // delivery message bodies

	mu      sync.Mutex
	secrets []string // every credential value configured
}

func newStack(t testing.TB) *stack {
	t.Helper()
	env := localtest.New(t)
	vars := env.Names.Env()
	vars["ALLOW_ENDPOINT_CIDRS"] = "127.0.0.0/8,::1/128" // what make dev sets: fakes on this machine
	vars["ALLOW_HTTP_ENDPOINTS"] = "true"
	vars["AGENT_EXTRA_HOSTS"] = "127.0.0.1" // what make dev sets: the fake platforms' host
	vars["DELIVERY_BACKOFF"] = "1s,1s,1s"   // what DELIVERY_BACKOFF=1s,1s,1s make dev sets
	cfg, err := app.ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{
		t: t, env: env, cfg: cfg,
		log:  deliverylog.NewStore(env.DynamoDB, cfg.DeliveryLogTable),
		logs: &localtest.Buffer{}, responses: &localtest.Buffer{}, messages: &localtest.Buffer{},
	}
	logger := slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.cfg.Logger = logger
	previous := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(previous) })

	ctx := context.Background()
	api, err := app.NewAPI(ctx, env.AWS, s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.issuer, err = local.NewEphemeralIssuer(); err != nil {
		t.Fatal(err)
	}
	s.api = httptest.NewServer(&local.Gateway{Issuer: s.issuer, API: api, AdminScopeClaim: s.cfg.AdminScopeClaim, AdminScope: s.cfg.AdminScope})
	t.Cleanup(s.api.Close)

	router, err := app.NewRouter(ctx, env.AWS, s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	deliver, err := app.NewDelivery(ctx, env.AWS, s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	// the delivery function, seeing every message it is handed
	observed := func(ctx context.Context, batch lambdaevents.SQSEvent) (lambdaevents.SQSEventResponse, error) {
		for _, m := range batch.Records {
			s.messages.Write([]byte(m.Body + "\n"))
		}
		return deliver(ctx, batch)
	}
	// Registered before the pollers', so it runs after they stop.
	t.Cleanup(s.checkNoCredentialLeaked)
	env.StartPoller(t, resources.EventsQueue, router, resources.RouterTimeout, 2)
	env.StartPoller(t, resources.DeliveriesQueue, observed, resources.DeliveryTimeout, 2)
	return s
}

// checkNoCredentialLeaked scans the logs, the API's answers and the delivery messages for
// every credential value configured.
func (s *stack) checkNoCredentialLeaked() {
	s.t.Helper()
	s.mu.Lock()
	secrets := append([]string(nil), s.secrets...)
	s.mu.Unlock()
	if len(secrets) == 0 {
		s.t.Error("no credentials were configured: nothing to check")
	}
	for name, buf := range map[string]*localtest.Buffer{"a log line": s.logs, "an API response": s.responses, "a delivery message": s.messages} {
		text := buf.String()
		for _, v := range secrets {
			if strings.Contains(text, v) {
				s.t.Errorf("credential %q found in %s", v, name)
			}
		}
	}
	if s.logs.Len() == 0 || s.responses.Len() == 0 || s.messages.Len() == 0 {
		s.t.Errorf("captured %d bytes of logs, %d of responses, %d of messages: the capture is broken",
			s.logs.Len(), s.responses.Len(), s.messages.Len())
	}
}

// ---- the API ----

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

// call sends an API request as dealer d, through the gateway with a real JWT.
func (s *stack) call(method, path, d string, body any) *response {
	s.t.Helper()
	tok, err := s.issuer.Token(d, "")
	if err != nil {
		s.t.Fatal(err)
	}
	return s.send(method, path, tok, body)
}

// setPlan sets the dealer's plan as DealerAI staff (make token ADMIN=1's token) through the
// admin route.
func (s *stack) setPlan(platforms ...string) {
	s.t.Helper()
	tok, err := s.issuer.AdminToken("", "")
	if err != nil {
		s.t.Fatal(err)
	}
	if platforms == nil {
		platforms = []string{}
	}
	if r := s.send("PUT", "/v1/admin/dealers/"+dealer+"/entitlements", tok, map[string]any{"platforms": platforms}); r.status != http.StatusOK {
		s.t.Fatalf("set the plan: %d %s", r.status, r.body)
	}
}

// send sends an API request with a token, through the gateway.
func (s *stack) send(method, path, tok string, body any) *response {
	s.t.Helper()
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.api.URL+path, reader)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.api.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	s.responses.Write(append(out, '\n'))
	return &response{status: resp.StatusCode, header: resp.Header, body: out}
}

// enable configures and enables dealer's agent of platform through the API (PUT), and
// remembers its credentials for the leak check.
func (s *stack) enable(platform string, settings, credentials map[string]string) {
	s.t.Helper()
	s.enableFor(dealer, platform, settings, credentials)
}

// enableFor is enable for another dealer.
func (s *stack) enableFor(d, platform string, settings, credentials map[string]string) {
	s.t.Helper()
	s.mu.Lock()
	for _, v := range credentials {
		s.secrets = append(s.secrets, v)
	}
	s.mu.Unlock()
	r := s.call("PUT", "/v1/agents/"+platform, d, map[string]any{"enabled": true, "settings": settings, "credentials": credentials})
	if r.status != http.StatusOK {
		s.t.Fatalf("PUT /v1/agents/%s: %d %s", platform, r.status, r.body)
	}
	var a struct {
		Enabled        bool
		CredentialsSet []string
	}
	r.json(s.t, &a)
	if !a.Enabled || len(a.CredentialsSet) != len(credentials) {
		s.t.Fatalf("PUT /v1/agents/%s answered %s", platform, r.body)
	}
}

// ---- events and queues ----

// ---- the delivery log ----

func agentTarget(platform string) deliveryq.Target {
	return deliveryq.Target{Kind: deliveryq.KindAgent, ID: platform}
}

// deliveryID is the id the router gives the delivery of ev to platform's agent.
func deliveryID(platform string, ev *events.Event) string {
	return deliveryq.DeliveryID(ev.ID, ev.Timestamp, agentTarget(platform))
}

// waitRecord waits until the record of the delivery of ev to platform satisfies ok.
func (s *stack) waitRecord(platform string, ev *events.Event, timeout time.Duration, ok func(*deliverylog.Record) bool) *deliverylog.Record {
	s.t.Helper()
	return s.waitDelivery(platform, deliveryID(platform, ev), timeout, ok)
}

func (s *stack) waitDelivery(platform, id string, timeout time.Duration, ok func(*deliverylog.Record) bool) *deliverylog.Record {
	s.t.Helper()
	var rec *deliverylog.Record
	localtest.Eventually(s.t, timeout, fmt.Sprintf("delivery %s to %s", id, platform), func() bool {
		r, err := s.log.Get(context.Background(), dealer, agentTarget(platform), id, true)
		rec = r
		return err == nil && ok(r)
	})
	return rec
}

func status(want string) func(*deliverylog.Record) bool {
	return func(r *deliverylog.Record) bool { return r.Status == want }
}

// Queue and wait helpers shared with the other end-to-end suites (package localtest).

func (s *stack) publish(bodies ...[]byte) { s.t.Helper(); s.env.Publish(s.t, bodies...) }

func (s *stack) depth(q resources.Queue) int { s.t.Helper(); return s.env.Depth(s.t, q) }

func (s *stack) drain(q resources.Queue, want int) []sqstypes.Message {
	s.t.Helper()
	return s.env.Drain(s.t, q, want)
}

// example is the catalog example of eventType sent by dealer, with fields overridden.
func example(t testing.TB, eventType string, fields map[string]any) ([]byte, *events.Event) {
	t.Helper()
	return localtest.Example(t, eventType, dealer, fields)
}
