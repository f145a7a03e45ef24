package targets_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/targets"
)

// countingQuerier counts the Query calls that reach DynamoDB.
type countingQuerier struct {
	db    *dynamodb.Client
	calls atomic.Int32
}

func (q *countingQuerier) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	q.calls.Add(1)
	return q.db.Query(ctx, in, optFns...)
}

type planFixture struct {
	env    *localtest.Env
	table  string
	agents *agents.Store
	plans  *plans.Store
	db     *countingQuerier
}

func newPlanFixture(t *testing.T) *planFixture {
	env := localtest.New(t)
	table := env.Table(resources.ConfigTable)
	return &planFixture{env: env, table: table, agents: agents.NewStore(env.DynamoDB, table), plans: plans.NewStore(env.DynamoDB, table),
		db: &countingQuerier{db: env.DynamoDB}}
}

// agent stores an enabled agent of the dealer.
func (f *planFixture) agent(t *testing.T, dealer, platform string) {
	t.Helper()
	if _, err := f.agents.Put(context.Background(), &agents.Agent{DealerID: dealer, Platform: platform, Enabled: true, Events: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
}

func (f *planFixture) setPlan(t *testing.T, dealer string, platforms ...string) {
	t.Helper()
	ctx := context.Background()
	version := 0
	if e, err := f.plans.Get(ctx, dealer); err == nil {
		version = e.Version
	}
	if _, err := f.plans.Put(ctx, &plans.Entitlement{DealerID: dealer, Platforms: platforms, UpdatedBy: "staff", Version: version}); err != nil {
		t.Fatal(err)
	}
}

func byID(all []targets.Target) map[string]targets.Target {
	out := map[string]targets.Target{}
	for _, tg := range all {
		out[tg.ID] = tg
	}
	return out
}

// TestLoaderAppliesThePlan: the plan comes back in the one targets Query; agents whose
// platform it does not include are unavailable and match nothing, enabled or not; a dealer
// with no plan has the default; without a policy nothing is applied.
func TestLoaderAppliesThePlan(t *testing.T) {
	ctx := context.Background()
	f := newPlanFixture(t)
	for _, p := range []string{"xtime", "vinsolutions"} {
		f.agent(t, "d1", p)
		f.agent(t, "d2", p)
	}
	f.setPlan(t, "d1", "xtime", "fortellis")
	loader := &targets.Loader{DB: f.db, Table: f.table, Plans: &plans.Policy{Default: []string{"vinsolutions"}}}

	all, err := loader.Load(ctx, "d1")
	if err != nil {
		t.Fatal(err)
	}
	if n := f.db.calls.Load(); n != 1 {
		t.Errorf("%d queries for the targets and the plan, want 1", n)
	}
	got := byID(all)
	if len(all) != 2 {
		t.Fatalf("targets %+v: the plan item is no target", all)
	}
	if xt := got["xtime"]; xt.Unavailable != "" || !xt.Matches("appointment.created") {
		t.Errorf("xtime in the plan: %+v", xt)
	}
	if vs := got["vinsolutions"]; vs.Unavailable != plans.SkipReason || !vs.Enabled || vs.Matches("lead.created") || vs.Deliverable() {
		t.Errorf("vinsolutions out of the plan: %+v", vs)
	}

	// no plan stored: the default
	all, err = loader.Load(ctx, "d2")
	if err != nil {
		t.Fatal(err)
	}
	if got := byID(all); got["vinsolutions"].Unavailable != "" || got["xtime"].Unavailable == "" {
		t.Errorf("default plan [vinsolutions]: %+v", all)
	}

	// no policy: every agent available
	all, err = (&targets.Loader{DB: f.db, Table: f.table}).Load(ctx, "d1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range all {
		if tg.Unavailable != "" {
			t.Errorf("no policy, yet %s is unavailable", tg.ID)
		}
	}
}

// TestLoaderRefusesAPlanItCannotRead: a plan item that does not decode fails the load (the
// router retries the dealer's events) instead of delivering on a guess.
func TestLoaderRefusesAPlanItCannotRead(t *testing.T) {
	f := newPlanFixture(t)
	f.agent(t, "d1", "xtime")
	_, err := f.env.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(f.table),
		Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: resources.DealerKey("d1")}, "sk": &types.AttributeValueMemberS{Value: resources.PlanKey},
			"platforms": &types.AttributeValueMemberS{Value: "xtime"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	loader := &targets.Loader{DB: f.db, Table: f.table, Plans: &plans.Policy{Default: []string{"xtime"}}}
	if all, err := loader.Load(context.Background(), "d1"); err == nil {
		t.Errorf("loaded %+v on a plan that does not decode", all)
	}
}

// TestCacheSeesAPlatformBackInThePlan: the delivery handler's cache holds an agent as out of
// the plan; the plan changes and the router, with its own cache, routes a delivery: Find
// loads afresh rather than skip it.
func TestCacheSeesAPlatformBackInThePlan(t *testing.T) {
	ctx := context.Background()
	f := newPlanFixture(t)
	f.agent(t, "d1", "xtime")
	f.setPlan(t, "d1")
	cache := targets.NewCache(&targets.Loader{DB: f.db, Table: f.table, Plans: &plans.Policy{}}, time.Hour)
	target := deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}

	tg, err := cache.Find(ctx, "d1", target)
	if err != nil || tg == nil || tg.Unavailable == "" {
		t.Fatalf("Find before = %+v, %v", tg, err)
	}
	f.setPlan(t, "d1", "xtime")
	tg, err = cache.Find(ctx, "d1", target)
	if err != nil || tg == nil || !tg.Deliverable() {
		t.Fatalf("Find after the plan change = %+v, %v", tg, err)
	}
	before := f.db.calls.Load()
	if tg, _ := cache.Find(ctx, "d1", target); tg == nil || f.db.calls.Load() != before {
		t.Errorf("a deliverable target was loaded again (%d queries more)", f.db.calls.Load()-before)
	}
}
