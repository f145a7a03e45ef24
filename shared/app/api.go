package app

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/httpapi"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/subscriptions"
)

// APIHandler is the function the api Lambda hands to lambda.Start.
type APIHandler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// NewAPI builds the api function: the REST handler of package httpapi on the config table
// (subscriptions, agents and the dealers' plans), the delivery log and the deliveries queue, behind the API
// Gateway payload v2 adapter. Clients are built once here (once per cold start).
func NewAPI(ctx context.Context, awsCfg aws.Config, cfg Config) (APIHandler, error) {
	if err := cfg.Require("CONFIG_TABLE", "DELIVERY_LOG_TABLE", "DELIVERIES_QUEUE_URL"); err != nil {
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
	handler := httpapi.New(httpapi.Options{
		Subscriptions:      subscriptions.NewStore(ddb, cfg.ConfigTable),
		Agents:             agents.NewStore(ddb, cfg.ConfigTable),
		Platforms:          platforms,
		Entitlements:       plans.NewStore(ddb, cfg.ConfigTable),
		Plans:              *cfg.planPolicy(),
		Deliveries:         deliverylog.NewStore(ddb, cfg.DeliveryLogTable),
		Queue:              sqs.NewFromConfig(awsCfg),
		DeliveriesQueueURL: cfg.DeliveriesQueueURL,
		URLs:               policy,
		DealerIDClaim:      cfg.DealerIDClaim,
		AdminScopeClaim:    cfg.AdminScopeClaim,
		AdminScope:         cfg.AdminScope,
		Logger:             cfg.Logger, // nil: slog.Default()
	})
	return httpapi.Lambda(handler), nil
}
