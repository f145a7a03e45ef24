package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/circuit"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/httpapi"
	"github.com/dealerai/integrations/shared/inventory"
	"github.com/dealerai/integrations/shared/notices"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/ratelimit"
	"github.com/dealerai/integrations/shared/subscriptions"
)

// APIHandler is the function the api Lambda hands to lambda.Start.
type APIHandler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// NewAPI builds the api function: the REST handler of package httpapi on the config table
// (subscriptions, agents, their sync state, the dealers' plans), the delivery log, the
// deliveries queue and the sync-jobs queue (a sync run asked for), behind the API Gateway
// payload v2 adapter. Clients are built once here (once per cold start).
func NewAPI(ctx context.Context, awsCfg aws.Config, cfg Config) (APIHandler, error) {
	if err := cfg.Require("CONFIG_TABLE", "DELIVERY_LOG_TABLE", "INVENTORY_TABLE", "DELIVERIES_QUEUE_URL", "SYNC_JOBS_QUEUE_URL"); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	policy, err := cfg.EndpointPolicy()
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	platforms, err := cfg.Platforms()
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	ddb := dynamodb.NewFromConfig(awsCfg)
	queue := sqs.NewFromConfig(awsCfg)
	limits := cfg.RateLimits
	if limits == nil {
		limits = ratelimit.DefaultLimits
	}
	handler := httpapi.New(httpapi.Options{
		Subscriptions:           subscriptions.NewStore(ddb, cfg.ConfigTable),
		Agents:                  agents.NewStore(ddb, cfg.ConfigTable),
		Platforms:               platforms,
		Entitlements:            plans.NewStore(ddb, cfg.ConfigTable),
		Plans:                   *cfg.planPolicy(),
		Deliveries:              deliverylog.NewStore(ddb, cfg.DeliveryLogTable),
		Queue:                   queue,
		DeliveriesQueueURL:      cfg.DeliveriesQueueURL,
		RateLimits:              &ratelimit.Limiter{DB: ddb, Table: cfg.ConfigTable, Limits: limits},
		MaxSubscriptionsPerHost: cfg.MaxSubscriptionsPerHost,
		Sync:                    &agentsync.Service{States: &agentsync.StateStore{DB: ddb, Table: cfg.ConfigTable}, Jobs: queue, JobsQueueURL: cfg.SyncJobsQueueURL},
		Circuits:                &circuit.Store{DB: ddb, Table: cfg.ConfigTable},
		Inventory:               inventory.NewStore(ddb, cfg.InventoryTable),
		URLs:                    policy,
		DealerIDClaim:           cfg.DealerIDClaim,
		AdminScopeClaim:         cfg.AdminScopeClaim,
		AdminScope:              cfg.AdminScope,
		Logger:                  cfg.Logger, // nil: slog.Default()
		Notices:                 &notices.Store{DB: ddb, Table: cfg.ConfigTable},
		FortellisNotices:        cfg.fortellisNotices(),
	})
	return httpapi.Lambda(handler), nil
}

// fortellisNotices verifies Fortellis Event Relay's tokens; nil when not configured.
func (c Config) fortellisNotices() httpapi.TokenVerifier {
	if c.FortellisNoticeJWKSURL == "" || c.FortellisNoticeAudience == "" {
		return nil
	}
	return &notices.Verifier{JWKSURL: c.FortellisNoticeJWKSURL, Audience: c.FortellisNoticeAudience, Issuer: c.FortellisNoticeIssuer,
		HTTP: &http.Client{Timeout: 5 * time.Second}}
}
