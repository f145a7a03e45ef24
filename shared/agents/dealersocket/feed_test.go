package dealersocket_test

// The change feed against the fake DealerSocket: the event search per customer DealerAI
// pushed ([CODE S18] EventSearchClient: {vendor, dealerId, entityId, eventCategory}, signed
// as the other APIs; the answer's events with their status codes), with small in-memory
// stand-ins for what the sync gives a feed (the pushed customers, what it remembered).

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/dealersocket"
	"github.com/dealerai/integrations/shared/agents/dealersocket/dealersockettest"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// feedRun is an agent's sync as the sync drives the feed (agenttest.FeedRun), on the fake.
type feedRun struct {
	*agenttest.FeedRun
	t      testing.TB
	f      *dealersockettest.Server
	pushed *agenttest.Pushed
	creds  map[string]string
	now    time.Time
}

func newFeedRun(t testing.TB, f *dealersockettest.Server) *feedRun {
	r := &feedRun{t: t, f: f, pushed: &agenttest.Pushed{Name: "customerId"}, now: time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC),
		creds: map[string]string{"publicKey": cfg.PublicKey, "secretKey": cfg.SecretKey}}
	r.FeedRun = &agenttest.FeedRun{T: t, Feed: dealersocket.NewFeed(), Request: r.request, Seen: agenttest.Memory{}}
	return r
}

func (r *feedRun) request(maxRecords int) *changefeed.Request {
	return &changefeed.Request{DealerID: "dlr_42", Settings: dealersocket.Platform.WithDefaults(r.f.Settings()), Credentials: r.creds,
		Cursor: r.Cursor, MaxRecords: maxRecords, HTTP: &http.Client{}, Pushed: r.pushed, Seen: r.Seen, Now: r.now}
}

// customers adds n customers DealerSocket has, each with one sales event, as pushed by
// DealerAI; it returns their event ids.
func (r *feedRun) customers(n int) []string {
	var evs []string
	for i := range n {
		evs = append(evs, r.f.AddCustomer(dealersockettest.Customer{GivenName: "Ana", FamilyName: fmt.Sprint("Diaz", i)}))
	}
	for _, e := range r.f.Events() {
		if slices.Contains(evs, e.EventID) {
			r.pushed.Add(e.EntityID)
		}
	}
	return evs
}

func searches(f *dealersockettest.Server) int {
	return len(f.Requests(dealersockettest.EventSearchPath))
}

func TestFeedRotatesThroughThePushedCustomers(t *testing.T) {
	f := newFake(t)
	r := newFeedRun(t, f)
	evs := r.customers(30)

	first := r.Page(100)
	if len(first.Changes) != dealersocket.PageCustomers || first.RecordsRead != dealersocket.PageCustomers || !first.More || first.Next.Value == "" {
		t.Fatalf("first page: %d changes, %d read, more %v, next %+v", len(first.Changes), first.RecordsRead, first.More, first.Next)
	}
	second := r.Page(100)
	if len(second.Changes) != 5 || second.More || second.Next.Value != "" || !second.Next.Time.Equal(r.now) {
		t.Fatalf("second page: %d changes, more %v, next %+v; want the rotation over, the cursor time its start", len(second.Changes), second.More, second.Next)
	}
	if n := searches(f); n != 30 {
		t.Errorf("%d event searches for 30 customers, want one each", n)
	}
	// the body S18 sends, signed like the other APIs
	req := f.Requests(dealersockettest.EventSearchPath)[0]
	if body := req.JSON(t); body["vendor"] != cfg.Vendor || body["dealerId"] != cfg.DealerID || body["eventCategory"] != "Sales" {
		t.Errorf("event search body %s", req.Body)
	}
	if req.Header.Get("Authentication") != dealersocket.Sign(cfg.PublicKey, cfg.SecretKey, req.Body) {
		t.Error("the event search is not signed")
	}
	// every event is new: created in DealerSocket, as the event search answers it
	c := first.Changes[0]
	e := f.Events()[0]
	if c.RecordKind != dealersocket.RecordKindLead || c.RecordID != evs[0] || !c.Created || c.EventType != events.TypeCRMLeadCreated ||
		c.PlatformIDs["leadId"] != evs[0] || c.PlatformIDs["customerId"] != e.EntityID || c.Remember == "" {
		t.Errorf("change %+v", c)
	}
	if c.State.Status != "Unqualified" || c.State.Assignee == nil || c.State.Assignee.Name != dealersockettest.DefaultAssignee || c.State.FirstName != "Ana" || c.State.LastName != "Diaz0" {
		t.Errorf("state %+v", c.State)
	}
	if c.Version != e.UpdateDate.Format("2006-01-02T15:04:05.000") || !c.ChangedAt.Equal(e.UpdateDate.Truncate(time.Millisecond)) {
		t.Errorf("version %q, changedAt %v; want the updateDate %v", c.Version, c.ChangedAt, e.UpdateDate)
	}

	// nothing changed: the next rotation reads every customer again and returns nothing
	r.now = r.now.Add(5 * time.Minute)
	if again := r.Rotation(); len(again) != 0 {
		t.Errorf("an unchanged rotation returned %d changes", len(again))
	}
	if n := searches(f); n != 60 {
		t.Errorf("%d event searches after two rotations, want 60", n)
	}
	if !r.Cursor.Time.Equal(r.now) {
		t.Errorf("cursor time %v, want the second rotation's start %v", r.Cursor.Time, r.now)
	}
}

func TestFeedReportsStatusAndAssigneeChangesAndNewEvents(t *testing.T) {
	f := newFake(t)
	clock := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	f.SetClock(func() time.Time { return clock })
	r := newFeedRun(t, f)
	evs := r.customers(3)
	r.Rotation()

	clock = clock.Add(time.Hour)
	f.ChangeEvent(evs[0], func(e *dealersockettest.Event) { e.Status = dealersockettest.StatusSold })
	f.ChangeEvent(evs[1], func(e *dealersockettest.Event) { e.PrimaryAssigned = "Luis Ortega" })
	f.ChangeEvent(evs[2], func(e *dealersockettest.Event) { e.Vehicle.Model = "RAV4 XLE" }) // neither status nor assignee
	entity := f.Events()[2].EntityID
	walkIn := f.AddEvent(dealersockettest.Event{EntityID: entity, Status: dealersockettest.StatusStoreVisit, PrimaryAssigned: "Luis Ortega"})

	// a job that dies after publishing, before remembering: the page read again gives the
	// same changes with the same versions (the same event ids)
	crashed, err := dealersocket.NewFeed().Changes(context.Background(), r.request(100))
	if err != nil {
		t.Fatal(err)
	}
	got := r.Rotation()
	if len(got) != 3 || len(crashed.Changes) != 3 {
		t.Fatalf("%d changes (%d before the crash), want the sale, the reassignment and the new event: %+v", len(got), len(crashed.Changes), got)
	}
	for i := range got {
		if got[i].RecordID != crashed.Changes[i].RecordID || got[i].Version != crashed.Changes[i].Version {
			t.Errorf("re-read %s@%s, first read %s@%s", got[i].RecordID, got[i].Version, crashed.Changes[i].RecordID, crashed.Changes[i].Version)
		}
	}
	byID := map[string]changefeed.Change{}
	for _, c := range got {
		byID[c.RecordID] = c
	}
	want := clock.Format("2006-01-02T15:04:05.000")
	if c := byID[evs[0]]; c.EventType != events.TypeCRMLeadUpdated || c.Created || c.State.Status != "Sold" || c.Version != want || !c.ChangedAt.Equal(clock) {
		t.Errorf("the sale: %+v", c)
	}
	if c := byID[evs[1]]; c.EventType != events.TypeCRMLeadUpdated || c.State.Assignee == nil || c.State.Assignee.ID != "Luis Ortega" || c.State.Status != "Unqualified" {
		t.Errorf("the reassignment: %+v", c)
	}
	if c := byID[walkIn]; c.EventType != events.TypeCRMLeadCreated || !c.Created || c.State.Status != "Store Visit" || c.PlatformIDs["customerId"] != entity {
		t.Errorf("the new event: %+v", c)
	}
	if again := r.Rotation(); len(again) != 0 {
		t.Errorf("the changes came back in the next rotation: %+v", again)
	}
}

// An API whose updateDate does not move with a change: the change is still found (the
// status and assignee are compared), versioned by its state, each state its own version.
func TestFeedVersionsByStateWhenTheUpdateDateStays(t *testing.T) {
	f := newFake(t)
	r := newFeedRun(t, f)
	ev := r.customers(1)[0]
	first := r.Rotation()[0]
	f.StaleUpdateDates(true)

	f.ChangeEvent(ev, func(e *dealersockettest.Event) { e.Status = dealersockettest.StatusDemo })
	demo := r.Rotation()
	f.ChangeEvent(ev, func(e *dealersockettest.Event) { e.Status = dealersockettest.StatusUnqualified })
	back := r.Rotation()
	if len(demo) != 1 || len(back) != 1 {
		t.Fatalf("changes %+v then %+v", demo, back)
	}
	if demo[0].Version != changefeed.StateVersion(demo[0].State) || !demo[0].ChangedAt.IsZero() || demo[0].State.Status != "Demo" {
		t.Errorf("demo: %+v", demo[0])
	}
	if back[0].Version == first.Version || back[0].Version == demo[0].Version || back[0].State.Status != "Unqualified" {
		t.Errorf("back to Unqualified: version %q (first %q, demo %q)", back[0].Version, first.Version, demo[0].Version)
	}
}

func TestFeedBoundsAndDeadline(t *testing.T) {
	f := newFake(t)
	r := newFeedRun(t, f)
	r.customers(8)
	if p := r.Page(3); p.RecordsRead != 3 || len(p.Changes) != 3 || !p.More {
		t.Fatalf("MaxRecords 3: %d read, more %v", p.RecordsRead, p.More)
	}
	// near the job's deadline the page ends with what it read; the cursor continues after it
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p, err := dealersocket.NewFeed().Changes(ctx, r.request(100))
	if err != nil || p.RecordsRead != 1 || !p.More {
		t.Fatalf("near the deadline: %+v, %v", p, err)
	}
	r.Seen.Keep(p)
	r.Cursor = p.Next
	if rest := r.Rotation(); len(rest) != 4 || searches(f) != 8 {
		t.Errorf("the rest of the rotation: %d changes, %d searches; want 4 and 8 (none read twice)", len(rest), searches(f))
	}
}

func TestFeedSkipsCustomersDealerSocketNoLongerHas(t *testing.T) {
	f := newFake(t)
	r := newFeedRun(t, f)
	r.customers(2)
	r.pushed.Add("1", "not-a-number") // merged away in DealerSocket; a bad id
	got := r.Page(100)
	if len(got.Changes) != 2 || got.RecordsRead != 3 || got.More {
		t.Fatalf("%d changes, %d read, more %v", len(got.Changes), got.RecordsRead, got.More)
	}
	if notes := strings.Join(got.Notes, "\n"); !strings.Contains(notes, "customer 1 skipped: DealerSocket refused the event search (ENTITYID_INVALID)") ||
		!strings.Contains(notes, "not-a-number skipped") {
		t.Errorf("notes %q", got.Notes)
	}
}

func TestFeedFailures(t *testing.T) {
	f := newFake(t)
	r := newFeedRun(t, f)
	r.customers(2)
	changes := func(mutate func(*changefeed.Request)) *changefeed.Error {
		t.Helper()
		req := r.request(100)
		if mutate != nil {
			mutate(req)
		}
		p, err := dealersocket.NewFeed().Changes(context.Background(), req)
		if err == nil {
			t.Fatalf("no error: %+v", p)
		}
		if strings.Contains(err.Error(), cfg.SecretKey) {
			t.Errorf("the error shows the secret key: %v", err)
		}
		return changefeed.Classify(err)
	}

	f.Faults.Add(dealersockettest.EventSearchPath, agenttest.Fault{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "7"}})
	if e := changes(nil); e.Failure != changefeed.RateLimited || e.RetryAfter != 7*time.Second {
		t.Errorf("429: %+v", e)
	}
	f.Faults.Add(dealersockettest.EventSearchPath, agenttest.Fault{Status: http.StatusBadGateway})
	if e := changes(nil); e.Failure != changefeed.Transient || !strings.Contains(e.Message, "502") {
		t.Errorf("502: %+v", e)
	}
	if e := changes(func(req *changefeed.Request) {
		req.Credentials = map[string]string{"publicKey": cfg.PublicKey, "secretKey": "rotated"}
	}); e.Failure != changefeed.CredentialsRefused {
		t.Errorf("a signature DealerSocket refuses: %+v", e)
	}
	if e := changes(func(req *changefeed.Request) { req.Credentials = map[string]string{} }); e.Failure != changefeed.CredentialsRefused || !strings.Contains(e.Message, "publicKey") {
		t.Errorf("no signed API keys: %+v", e)
	}
	if e := changes(func(req *changefeed.Request) { req.Settings["apiVendor"] = "Other" }); e.Failure != changefeed.Transient || !strings.Contains(e.Message, "VENDOR_INVALID") {
		t.Errorf("another vendor: %+v", e)
	}
	if r.Cursor.Value != "" || len(r.Seen) != 0 {
		t.Errorf("a failed page moved something: %+v", r.Cursor)
	}
}

func TestFeedStartsOverFromABadCursor(t *testing.T) {
	f := newFake(t)
	r := newFeedRun(t, f)
	r.customers(2)
	r.Cursor = changefeed.Cursor{Value: "%zz"}
	if p := r.Page(100); p.RecordsRead != 2 || p.More {
		t.Errorf("%d read, more %v", p.RecordsRead, p.More)
	}
}

// BenchmarkFeedRotation is our side of a rotation over 100 customers against the fake on
// loopback (no DealerSocket latency): ns/customer is the feed's own cost per customer —
// signing, the request, parsing, comparing — beside which DealerSocket's answer time is what
// a real rotation takes (docs/agents.md#dealersocket).
func BenchmarkFeedRotation(b *testing.B) {
	f := dealersockettest.New(b, cfg)
	r := newFeedRun(b, f)
	r.customers(100)
	r.Rotation() // every event seen: the rotations measured find nothing changed, as most do
	b.ResetTimer()
	for b.Loop() {
		if got := r.Rotation(); len(got) != 0 {
			b.Fatalf("%d changes", len(got))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/customer")
}
