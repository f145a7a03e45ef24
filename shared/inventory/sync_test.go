package inventory_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/fortellis"
	"github.com/dealerai/integrations/shared/agents/fortellis/fortellistest"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/inventory"
	"github.com/dealerai/integrations/shared/resources"
)

// syncStack is the sync function as app builds it, on fresh tables and queues of the
// emulators, against a fake Fortellis with a generated inventory.
type syncStack struct {
	t     testing.TB
	env   *localtest.Env
	h     *agentsync.Handler
	fake  *fortellistest.Fake
	inv   *fortellistest.Inventory
	store *inventory.Store
	mu    sync.Mutex
	// offset is how far the platform's and the sync's clock is ahead of the real one: the
	// real clock runs on (a job's deadline is the sync's clock plus its budget), and tests
	// move it ahead.
	offset time.Duration
}

const dealer = "dlr_inv"

func newSyncStack(t testing.TB, vehicles int, apiOptions ...func(*middleware.Stack) error) *syncStack {
	t.Helper()
	localtest.Integration(t)
	env := localtest.New(t)
	awsCfg := env.AWS.Copy()
	awsCfg.APIOptions = append(awsCfg.APIOptions, apiOptions...)
	vars := env.Names.Env()
	cfg, err := app.ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	// The fake listens on 127.0.0.1: the deployment adds it to Fortellis's hosts.
	cat, err := registry.Platforms().WithExtraHosts([]platform.ExtraHost{{Platform: fortellis.Platform.ID, Host: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := app.NewSyncHandler(awsCfg, cfg, &http.Client{Timeout: 10 * time.Second}, cat)
	if err != nil {
		t.Fatal(err)
	}
	h.Syncer.Metrics = nil
	s := &syncStack{t: t, env: env, h: h}
	h.Syncer.Now = s.now
	s.fake = fortellistest.New(t, "key", "secret", "sub-1")
	s.inv = fortellistest.NewInventory("D100", vehicles, 42, s.now())
	s.inv.Now = s.now
	s.fake.SetInventory(s.inv)
	s.store = inventory.NewStore(env.DynamoDB, env.Table(resources.InventoryTable))
	settings := s.fake.Settings()
	settings["dealerCode"] = "D100"
	settings["inventoryUrl"] = s.fake.URL + fortellistest.InventoryPath
	if _, err := agents.NewStore(env.DynamoDB, env.Table(resources.ConfigTable)).Put(context.Background(), &agents.Agent{
		DealerID: dealer, Platform: fortellis.Platform.ID, Enabled: true, Events: fortellis.Platform.Events,
		Settings: settings, Credentials: map[string]string{"apiKey": "key", "apiSecret": "secret"},
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *syncStack) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().UTC().Add(s.offset)
}

func (s *syncStack) advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// job runs one sync job of the dealer's Fortellis agent and returns its state after.
func (s *syncStack) job() *agentsync.State {
	s.t.Helper()
	if err := s.h.Syncer.Run(context.Background(), dealer, fortellis.Platform.ID); err != nil {
		s.t.Fatalf("sync job: %v", err)
	}
	st, err := s.h.Syncer.States.Get(context.Background(), dealer, fortellis.Platform.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

// settle runs jobs until the inventory is synced (its cursor idle), at most n.
func (s *syncStack) settle(n int) int {
	s.t.Helper()
	for i := 1; i <= n; i++ {
		if st := s.job(); inventoryIdle(st.Cursor.Value) && st.State == agentsync.StateIdle {
			return i
		}
	}
	s.t.Fatalf("the inventory was not synced in %d jobs", n)
	return 0
}

// inventoryIdle reads Fortellis's joint cursor (changefeed.Join): whether its inventory part
// has synced the inventory (its phase idle).
func inventoryIdle(cursor string) bool {
	var joint struct {
		C map[string]struct{ Value string } `json:"c"`
	}
	if json.Unmarshal([]byte(cursor), &joint) != nil {
		return false
	}
	var inv struct {
		Phase string `json:"p"`
	}
	return json.Unmarshal([]byte(joint.C["inventory"].Value), &inv) == nil && inv.Phase == "idle"
}

// inbound takes the inbound queue's messages off it, each validated: at least want of them
// (waiting up to a minute for them), and then whatever else is there.
func (s *syncStack) inbound(want int) []*inbound.Event {
	s.t.Helper()
	var out []*inbound.Event
	got := map[string]bool{} // a receive whose answer was lost (a retried call) comes again
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := s.env.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.env.QueueURL(resources.InboundQueue)), MaxNumberOfMessages: 10, VisibilityTimeout: 5, WaitTimeSeconds: 1,
		})
		if err != nil {
			s.t.Fatal(err)
		}
		if len(res.Messages) == 0 && (len(out) >= want || time.Now().After(deadline)) {
			return out
		}
		for _, m := range res.Messages {
			ev, err := inbound.Parse([]byte(aws.ToString(m.Body)))
			if err != nil {
				s.t.Fatalf("inbound message: %v", err)
			}
			if !got[aws.ToString(m.MessageId)] {
				got[aws.ToString(m.MessageId)] = true
				out = append(out, ev)
			}
			if _, err := s.env.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{
				QueueUrl: aws.String(s.env.QueueURL(resources.InboundQueue)), ReceiptHandle: m.ReceiptHandle}); err != nil {
				s.t.Fatal(err)
			}
		}
	}
}

// stored lists every vehicle of the dealer in the table (through the API's list).
func (s *syncStack) stored() map[string]inventory.Vehicle {
	s.t.Helper()
	out := map[string]inventory.Vehicle{}
	q, _ := inventory.ParseQuery(url.Values{"limit": {"100"}})
	for {
		p, err := s.store.List(context.Background(), dealer, q)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, v := range p.Vehicles {
			if _, dup := out[v.VIN]; dup {
				s.t.Fatalf("vehicle %s listed twice", v.VIN)
			}
			out[v.VIN] = v
		}
		if p.Next == "" {
			return out
		}
		q.Cursor = p.Next
	}
}

// TestInventorySyncEndToEnd: a first load of 3,000 vehicles interrupted by the plan's quota
// resumes without duplicates; then a price change, an arrival and a sale are exactly three
// changes in the table and on the inbound queue.
func TestInventorySyncEndToEnd(t *testing.T) {
	s := newSyncStack(t, 3000)

	// The first job reads 500 vehicles; the second is refused after two pages (429).
	s.job()
	s.inv.RateLimitAfter(2, 1)
	if st := s.job(); st.State != agentsync.StateBackingOff || !strings.Contains(st.Reason, "QUOTA-EXCEEDED") {
		t.Fatalf("after the 429: state %q, reason %q", st.State, st.Reason)
	}
	if n := len(s.stored()); n != 700 {
		t.Fatalf("%d vehicles stored when the load was interrupted, want 700", n)
	}
	jobs := s.settle(20)
	evs := s.inbound(3000)
	ids := map[string]bool{}
	vins := map[string]bool{}
	for _, ev := range evs {
		if ev.Type != events.TypeInventoryVehicleAdded || ev.DealerID != dealer || ev.Platform != "fortellis" || ev.PlatformIDs["vin"] != ev.VIN {
			t.Fatalf("first load event %+v", ev)
		}
		ids[ev.ID], vins[ev.VIN] = true, true
	}
	if len(evs) != 3000 || len(ids) != 3000 || len(vins) != 3000 {
		t.Fatalf("first load: %d events, %d ids, %d VINs; want 3000 of each", len(evs), len(ids), len(vins))
	}
	stored := s.stored()
	if len(stored) != 3000 {
		t.Fatalf("%d vehicles stored, want 3000", len(stored))
	}
	for _, v := range s.inv.Vehicles() {
		got := stored[v.VIN]
		price := v.Price
		if price == 0 {
			price = v.MSRP - 500 // the fake's base retail price, the price when none is advertised
		}
		if got.Price != price || got.Make != v.Make || got.Year != v.Year || got.Mileage != v.Odometer || got.Condition != v.Category {
			t.Fatalf("stored %+v, the fake has %+v", got, v)
		}
	}
	t.Logf("first load of 3000 vehicles: %d jobs after the interrupted one, %d MVS2 calls", jobs, s.inv.Calls())

	// An unchanged run publishes and writes nothing.
	written := s.syncedAt()
	s.advance(5 * time.Minute)
	s.settle(1)
	if evs := s.inbound(0); len(evs) != 0 {
		t.Fatalf("unchanged run: %d events", len(evs))
	}
	if again := s.syncedAt(); !maps.Equal(written, again) {
		t.Fatal("an unchanged run wrote vehicles")
	}

	// A price change, a new arrival and a sale.
	vs := s.inv.Vehicles()
	priced, sold := vs[100], vs[2000]
	s.advance(time.Minute)
	s.inv.SetPrice(priced.VIN, priced.Price-750)
	arrived := s.inv.Arrive(7)
	s.inv.Sell(sold.VIN)
	s.advance(4 * time.Minute)
	s.settle(2)
	evs = s.inbound(3)
	slices.SortFunc(evs, func(a, b *inbound.Event) int { return strings.Compare(a.Type, b.Type) })
	if len(evs) != 3 {
		st, _ := s.h.Syncer.States.Get(context.Background(), dealer, fortellis.Platform.ID)
		t.Logf("state %+v, run %+v", st, st.LastRun)
		for _, r := range s.fake.Requests(fortellistest.InventoryPath)[31:] {
			t.Logf("request %v", r.Query)
		}
	}
	if len(evs) != 3 || evs[0].Type != events.TypeInventoryVehicleAdded || evs[1].Type != events.TypeInventoryVehicleRemoved || evs[2].Type != events.TypeInventoryVehicleUpdated {
		t.Fatalf("events after the changes: %+v", evs)
	}
	if evs[0].VIN != arrived.VIN || evs[0].Make != arrived.Make || evs[1].VIN != sold.VIN || evs[1].Make != sold.Make ||
		evs[2].VIN != priced.VIN || evs[2].ChangedFields != "price" || evs[2].Price != priced.Price-750 || evs[2].Make != "" {
		t.Errorf("events: %+v %+v %+v", evs[0], evs[1], evs[2])
	}
	after := s.stored()
	if len(after) != 3000 || after[priced.VIN].Price != priced.Price-750 || after[arrived.VIN].VIN == "" {
		t.Errorf("after the changes: %d stored, price %v, arrival %+v", len(after), after[priced.VIN].Price, after[arrived.VIN])
	}
	if _, ok := after[sold.VIN]; ok {
		t.Error("the sold vehicle is still stored")
	}
	changed := 0
	for vin, v := range after {
		if old, ok := stored[vin]; ok && old.Digest() != v.Digest() {
			changed++
		}
	}
	if changed != 1 {
		t.Errorf("%d stored vehicles changed, want 1 (the price change)", changed)
	}
	// Nothing else was written: every other item keeps its syncedAt.
	rewritten := 0
	for sk, at := range s.syncedAt() {
		if written[sk] != at {
			rewritten++
		}
	}
	if rewritten != 2 {
		t.Errorf("%d items written by the last run, want 2 (the price change and the arrival)", rewritten)
	}
}

// syncedAt reads every item's syncedAt, by sort key.
func (s *syncStack) syncedAt() map[string]string {
	s.t.Helper()
	out := map[string]string{}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.env.Table(resources.InventoryTable)), KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: resources.DealerKey(dealer)}},
	}
	for {
		res, err := s.env.DynamoDB.Query(context.Background(), in)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, it := range res.Items {
			out[it["sk"].(*ddbtypes.AttributeValueMemberS).Value] = it["syncedAt"].(*ddbtypes.AttributeValueMemberS).Value
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}
