package app

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/circuit"
	"github.com/dealerai/integrations/shared/delivery"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/routing"
	"github.com/dealerai/integrations/shared/safeurl"
	"github.com/dealerai/integrations/shared/subscriptions"
	"github.com/dealerai/integrations/shared/targets"
)

// SQSHandler is the function the router and delivery Lambdas hand to lambda.Start.
type SQSHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// TargetCacheTTL is how long the delivery handler keeps a dealer's targets (and secrets): a
// change to a subscription takes effect within it.
const TargetCacheTTL = 30 * time.Second

// RouterTargetCacheTTL is how long the router keeps a dealer's targets: at most one Query per
// dealer per 5 s instead of one per dealer per batch (with many dealers, one per event), well
// within the 30 s in which a change to a subscription takes effect.
const RouterTargetCacheTTL = 5 * time.Second

// NewRouter builds the router function: events queue → one delivery message per target.
func NewRouter(ctx context.Context, awsCfg aws.Config, cfg Config) (SQSHandler, error) {
	if err := cfg.Require("CONFIG_TABLE", "DELIVERIES_QUEUE_URL", "EVENTS_DLQ_URL"); err != nil {
		return nil, err
	}
	platforms, err := cfg.Platforms()
	if err != nil {
		return nil, err
	}
	loader := &targets.Loader{DB: dynamodb.NewFromConfig(awsCfg), Table: cfg.ConfigTable, AgentEvents: platforms.Events, Plans: cfg.planPolicy()}
	r := &routing.Router{
		Targets:            targets.NewCache(loader, RouterTargetCacheTTL),
		SQS:                sqs.NewFromConfig(awsCfg),
		DeliveriesQueueURL: cfg.DeliveriesQueueURL,
		EventsDLQURL:       cfg.EventsDLQURL,
		Log:                cfg.logger(),
	}
	return r.Handle, nil
}

// NewDelivery builds the delivery function with the endpoint policy of ALLOW_ENDPOINT_CIDRS
// and ALLOW_HTTP_ENDPOINTS.
func NewDelivery(ctx context.Context, awsCfg aws.Config, cfg Config) (SQSHandler, error) {
	policy, err := cfg.EndpointPolicy()
	if err != nil {
		return nil, err
	}
	h, err := NewDeliveryHandler(awsCfg, cfg, policy)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}

// NewDeliveryHandler wires the delivery handler for a given endpoint policy (tests inject a
// policy with a fake resolver). The SDK and HTTP clients are built here, once per container.
func NewDeliveryHandler(awsCfg aws.Config, cfg Config, policy safeurl.Policy) (*delivery.Handler, error) {
	if err := cfg.Require("CONFIG_TABLE", "DELIVERY_LOG_TABLE", "DELIVERIES_QUEUE_URL"); err != nil {
		return nil, err
	}
	if len(cfg.DeliveryBackoff) == 0 {
		cfg.DeliveryBackoff, _ = ParseBackoff("")
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = 10 * time.Second
	}
	platforms, err := cfg.Platforms()
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(awsCfg)
	// One SSRF-safe client for webhooks and platform APIs alike (each agent delivery narrows
	// it to its platform's hosts); one Dispatcher (and so one OAuth token cache) per container.
	client := policy.NewClient(cfg.DeliveryTimeout)
	dispatcher := agents.NewDispatcher(agents.NewCorrelationStore(db, cfg.ConfigTable), client, platforms)
	breaker := cfg.Circuit.WithDefaults()
	// A delivery that meets an open circuit still has an attempt after the next probe: the
	// cool-down stays under the last retry wait (less its jitter).
	if last := cfg.DeliveryBackoff[len(cfg.DeliveryBackoff)-1]; last > 0 {
		breaker.MaxCooldown = min(breaker.MaxCooldown, time.Duration(float64(last)*(1-delivery.Jitter)))
		breaker.Cooldown = min(breaker.Cooldown, breaker.MaxCooldown)
	}
	// A claimed probe outlasts the attempt it makes.
	breaker.ProbeLease = max(breaker.ProbeLease, AgentAttemptTimeout(cfg.DeliveryTimeout)+5*time.Second)
	return &delivery.Handler{
		Targets:  targets.NewCache(&targets.Loader{DB: db, Table: cfg.ConfigTable, AgentEvents: platforms.Events, Plans: cfg.planPolicy()}, TargetCacheTTL),
		Log:      deliverylog.NewStore(db, cfg.DeliveryLogTable),
		Queue:    sqs.NewFromConfig(awsCfg),
		QueueURL: cfg.DeliveriesQueueURL,
		HTTP:     client,
		CheckURL: policy.CheckSyntax,
		Timeout:  cfg.DeliveryTimeout,
		Backoff:  cfg.DeliveryBackoff,
		Disabler: subscriptions.NewStore(db, cfg.ConfigTable),
		Secrets:  subscriptions.NewStore(db, cfg.ConfigTable),
		Agents:   &AgentDeliverer{Dispatcher: dispatcher, Timeout: AgentAttemptTimeout(cfg.DeliveryTimeout)},
		Circuit:  &circuit.Breaker{Store: &circuit.Store{DB: db, Table: cfg.ConfigTable}, Settings: breaker},
		Logger:   cfg.logger(),
		Metrics:  os.Stdout,
	}, nil
}

// logger is the functions' logger: cfg.Logger, else JSON on stdout (CloudWatch Logs in Lambda).
func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, nil))
}
