package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/inventory"
	"github.com/dealerai/integrations/shared/plans"
)

// NewSync builds the sync function: the sync-jobs queue's ticks and jobs → the platforms'
// change feeds → inbound events on the inbound queue (docs/agents.md#two-way-sync).
func NewSync(ctx context.Context, awsCfg aws.Config, cfg Config) (SQSHandler, error) {
	policy, err := cfg.EndpointPolicy()
	if err != nil {
		return nil, err
	}
	platforms, err := cfg.Platforms()
	if err != nil {
		return nil, err
	}
	h, err := NewSyncHandler(awsCfg, cfg, policy.NewClient(cfg.DeliveryTimeout), platforms)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}

// NewSyncHandler wires the sync handler for a platform client and a platform list (tests
// give platforms with change feeds of their own). The SDK clients, the feeds and their token
// cache are built here, once per container.
func NewSyncHandler(awsCfg aws.Config, cfg Config, client *http.Client, platforms platform.Catalog) (*agentsync.Handler, error) {
	if err := cfg.Require("CONFIG_TABLE", "INVENTORY_TABLE", "INBOUND_QUEUE_URL", "SYNC_JOBS_QUEUE_URL"); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	db := dynamodb.NewFromConfig(awsCfg)
	queue := sqs.NewFromConfig(awsCfg)
	store := agents.NewStore(db, cfg.ConfigTable)
	log := cfg.logger()

	s := agentsync.NewSyncer(platforms, platform.Deps{Tokens: oauth.NewCache()})
	s.Agents = store
	s.Records = agents.NewCorrelationStore(db, cfg.ConfigTable)
	s.States = &agentsync.StateStore{DB: db, Table: cfg.ConfigTable}
	// The inventory's vehicles are kept in the inventory table, what other feeds remember in
	// the config table.
	s.Seen = agentsync.SeenByKind{Default: &agentsync.SeenStore{DB: db, Table: cfg.ConfigTable},
		Kinds: map[string]agentsync.Seen{inventory.RecordKind: inventory.NewStore(db, cfg.InventoryTable)}}
	s.HTTP = client
	s.Inbound, s.InboundQueueURL = queue, cfg.InboundQueueURL
	s.Jobs, s.JobsQueueURL = queue, cfg.SyncJobsQueueURL
	s.Interval = cfg.SyncInterval
	s.Log = log
	s.Metrics = os.Stdout // each job's line is an EMF document, as the delivery batches' are
	s.Entitlements = planEntitlements{store: plans.NewStore(db, cfg.ConfigTable), policy: cfg.planPolicy()}
	return &agentsync.Handler{
		Syncer: s,
		Scheduler: &agentsync.Scheduler{DB: db, Table: cfg.ConfigTable, Agents: store, Platforms: platforms,
			Jobs: queue, JobsQueueURL: cfg.SyncJobsQueueURL},
		Log: log,
	}, nil
}

// planEntitlements is agentsync.Entitlements over the dealers' plans: a dealer's stored plan,
// else the deployment's default (DEFAULT_AGENT_PLATFORMS).
type planEntitlements struct {
	store  *plans.Store
	policy *plans.Policy
}

var _ agentsync.Entitlements = planEntitlements{}

func (e planEntitlements) Includes(ctx context.Context, dealerID, platform string) (bool, error) {
	stored, err := e.store.Get(ctx, dealerID)
	switch {
	case errors.Is(err, plans.ErrNotFound):
		stored = nil
	case err != nil:
		return false, err
	}
	plan, _ := e.policy.Resolve(dealerID, stored)
	return plan.Includes(platform), nil
}
