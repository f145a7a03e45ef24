package fortellis_test

// The inventory feed against the fake MVS2 (fortellistest.Inventory), which enforces what
// CDK's guide says of Merchandisable Vehicles v2 (§1.4 of the team's platform facts, [NOTE S9]):
// the scope, limit ≤ 100, offset, modifiedTimeRange's format, deleted=true, 429.

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/fortellis"
	"github.com/dealerai/integrations/shared/agents/fortellis/fortellistest"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/inventory"
)

// memSeen is the inventory store's part the feed relies on, in memory: what the sync
// remembers once a page's events are published.
type memSeen map[string]string

func (m memSeen) Remembered(_ context.Context, kind string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		if v, ok := m[id]; ok && kind == inventory.RecordKind {
			out[id] = v
		}
	}
	return out, nil
}

func (m memSeen) apply(changes []changefeed.Change) {
	for _, c := range changes {
		if c.Forget {
			delete(m, c.RecordID)
		} else if c.Remember != "" {
			m[c.RecordID] = c.Remember
		}
	}
}

type invHarness struct {
	t      *testing.T
	fake   *fortellistest.Fake
	inv    *fortellistest.Inventory
	feed   *fortellis.InventoryFeed
	seen   memSeen
	cursor changefeed.Cursor
	now    time.Time
}

func newInvHarness(t *testing.T, n int) *invHarness {
	f := newFake(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	inv := fortellistest.NewInventory("D100", n, 7, now)
	h := &invHarness{t: t, fake: f, inv: inv, feed: &fortellis.InventoryFeed{Tokens: oauth.NewCache()}, seen: memSeen{}, now: now}
	inv.Now = func() time.Time { return h.now }
	f.SetInventory(inv)
	return h
}

func (h *invHarness) settings() map[string]string {
	s := h.fake.Settings()
	s["dealerCode"] = "D100"
	s["inventoryUrl"] = h.fake.URL + fortellistest.InventoryPath
	return fortellis.Platform.WithDefaults(s)
}

// run reads the feed as the sync does (pages of at most 100 records, each remembered before
// the next) until it has no more, and returns the changes.
func (h *invHarness) run() []changefeed.Change {
	h.t.Helper()
	var all []changefeed.Change
	for range 1000 {
		p, err := h.feed.Changes(context.Background(), &changefeed.Request{
			DealerID: "dlr_42", Settings: h.settings(), Credentials: map[string]string{"apiKey": apiKey, "apiSecret": apiSecret},
			Cursor: h.cursor, MaxRecords: 100, HTTP: &http.Client{}, Seen: h.seen, Now: h.now,
		})
		if err != nil {
			h.t.Fatalf("Changes: %v", err)
		}
		h.seen.apply(p.Changes)
		all = append(all, p.Changes...)
		h.cursor = p.Next
		if !p.More {
			return all
		}
	}
	h.t.Fatal("the feed never finished")
	return nil
}

func TestInventoryFullLoadThenChanges(t *testing.T) {
	h := newInvHarness(t, 250)
	got := h.run()
	if len(got) != 250 || len(h.seen) != 250 {
		t.Fatalf("first load: %d changes, %d stored, want 250", len(got), len(h.seen))
	}
	for _, c := range got {
		if c.EventType != events.TypeInventoryVehicleAdded || c.RecordKind != inventory.RecordKind || c.PlatformIDs["vin"] != c.RecordID {
			t.Fatalf("first load change %+v", c)
		}
	}
	// Every call asked for at most 100 vehicles, scoped, with a fresh Request-Id (the fake
	// refuses reused ones).
	reqs := h.fake.Requests(fortellistest.InventoryPath)
	if len(reqs) != 3 {
		t.Errorf("first load of 250 vehicles: %d calls, want 3", len(reqs))
	}
	for _, r := range reqs {
		if n, err := strconv.Atoi(r.Query.Get("limit")); r.Query.Get("dealerCode") != "D100" || err != nil || n > 100 {
			t.Fatalf("request %v", r.Query)
		}
	}

	// A run with nothing changed: one call, nothing published.
	h.now = h.now.Add(5 * time.Minute)
	if got := h.run(); len(got) != 0 {
		t.Fatalf("unchanged run: %d changes", len(got))
	}

	// A price change, a touch without a change, a new arrival and a sale.
	vs := h.inv.Vehicles()
	h.now = h.now.Add(time.Minute)
	h.inv.SetPrice(vs[10].VIN, vs[10].Price+1000)
	h.inv.Touch(vs[11].VIN)
	arrived := h.inv.Arrive(99)
	h.inv.Sell(vs[12].VIN)
	h.now = h.now.Add(4 * time.Minute)
	got = h.run()
	byType := map[string]changefeed.Change{}
	for _, c := range got {
		byType[c.EventType] = c
	}
	if len(got) != 3 || len(byType) != 3 {
		t.Fatalf("changes %+v, want one update, one arrival and one removal", got)
	}
	if u := byType[events.TypeInventoryVehicleUpdated]; u.RecordID != vs[10].VIN || u.State.ChangedFields != "price" || u.State.Price != vs[10].Price+1000 || u.State.Make != "" {
		t.Errorf("update %+v", u)
	}
	if a := byType[events.TypeInventoryVehicleAdded]; a.RecordID != arrived.VIN || a.State.Make != arrived.Make {
		t.Errorf("arrival %+v", a)
	}
	if r := byType[events.TypeInventoryVehicleRemoved]; r.RecordID != vs[12].VIN || !r.Forget || r.State.Make != vs[12].Make {
		t.Errorf("removal %+v", r)
	}
	if _, ok := h.seen[vs[12].VIN]; ok || len(h.seen) != 250 {
		t.Errorf("stored %d vehicles; the sold one still stored: %v", len(h.seen), ok)
	}

	// The same window read again (a crash before the cursor was stored) changes nothing more.
	if got := h.run(); len(got) != 0 {
		t.Fatalf("re-run: %d changes", len(got))
	}
}

func TestInventoryReloadOfUnchangedInventoryChangesNothing(t *testing.T) {
	h := newInvHarness(t, 120)
	h.run()
	h.cursor = changefeed.Cursor{} // a full load again
	if got := h.run(); len(got) != 0 {
		t.Fatalf("reload: %d changes", len(got))
	}
}

func TestInventoryRemovalDuringLoadSkipsNothing(t *testing.T) {
	h := newInvHarness(t, 300)
	// The first page, then five vehicles of it are sold before the next page.
	p, err := h.feed.Changes(context.Background(), &changefeed.Request{
		DealerID: "dlr_42", Settings: h.settings(), Credentials: map[string]string{"apiKey": apiKey, "apiSecret": apiSecret},
		MaxRecords: 100, HTTP: &http.Client{}, Seen: h.seen, Now: h.now,
	})
	if err != nil || !p.More || len(p.Changes) != 100 {
		t.Fatalf("first page: %v, %+v", err, p)
	}
	h.seen.apply(p.Changes)
	h.cursor = p.Next
	vs := h.inv.Vehicles()
	for i := range 5 {
		h.inv.Sell(vs[i*10].VIN)
	}
	h.run()
	for _, v := range h.inv.Vehicles() {
		if _, ok := h.seen[v.VIN]; !ok && !v.Deleted {
			t.Fatalf("vehicle %s (created %s) was skipped", v.VIN, v.Created)
		}
	}
}

func TestInventoryRateLimited(t *testing.T) {
	h := newInvHarness(t, 10)
	h.inv.RateLimit(1)
	_, err := h.feed.Changes(context.Background(), &changefeed.Request{
		DealerID: "dlr_42", Settings: h.settings(), Credentials: map[string]string{"apiKey": apiKey, "apiSecret": apiSecret},
		MaxRecords: 100, HTTP: &http.Client{}, Seen: h.seen, Now: h.now,
	})
	if fe := changefeed.Classify(err); fe.Failure != changefeed.RateLimited || fe.RetryAfter != time.Second {
		t.Fatalf("err = %v, classified %+v; want rate limited for 1s", err, fe)
	}
	if got := h.run(); len(got) != 10 {
		t.Fatalf("after the 429: %d changes, want 10", len(got))
	}
}

func TestInventoryNotConfigured(t *testing.T) {
	h := newInvHarness(t, 10)
	s := h.settings()
	delete(s, "dealerCode")
	p, err := h.feed.Changes(context.Background(), &changefeed.Request{DealerID: "dlr_42", Settings: s, MaxRecords: 100, HTTP: &http.Client{}, Seen: h.seen, Now: h.now})
	if err != nil || p.More || len(p.Changes) != 0 || h.inv.Calls() != 0 {
		t.Fatalf("without a scope: %v %+v, %d calls", err, p, h.inv.Calls())
	}
}

func TestInventorySettings(t *testing.T) {
	for _, c := range []struct {
		settings map[string]string
		field    string
	}{
		{map[string]string{"dealerCode": "D1", "webId": "w1"}, "settings.webId"},
		{map[string]string{"dealerCode": "D 1"}, "settings.dealerCode"},
		{map[string]string{"dealerCode": "D1", "inventoryUrl": "https://api.fortellis.io/cdk/sales/inventory/v2/merchandisable-vehicles/?limit=5"}, "settings.inventoryUrl"},
		{map[string]string{"dealerCode": "D1", "inventoryUrl": "https://api.fortellis.io/cdk-test/sales/inventory/v2/merchandisable-vehicles/"}, ""},
	} {
		s := map[string]string{"subscriptionId": "s"}
		for k, v := range c.settings {
			s[k] = v
		}
		errs := fortellis.Platform.Check(fortellis.Platform.WithDefaults(s), nil)
		found := ""
		for _, e := range errs {
			found = e.Field
		}
		if found != c.field {
			t.Errorf("%v: errors %v, want one on %q", c.settings, errs, c.field)
		}
	}
}
