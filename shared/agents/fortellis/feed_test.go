package fortellis_test

// The Elead change feed against the fake Fortellis: searchDelta ([SPEC S1] the past 7 days;
// [CODE S8] /sales/v2/elead/opportunities/searchDelta?dateFrom&page&pageSize, 404 when nothing
// changed) and the activity history of each opportunity ([CODE S7, S8]), with a small
// in-memory stand-in for what the sync remembers.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/fortellis"
	"github.com/dealerai/integrations/shared/agents/fortellis/fortellistest"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// deltaRun is an agent's sync as the sync drives the feed (agenttest.FeedRun), on a clock it
// shares with the fake; a pass lets SYNC_INTERVAL go by after it.
type deltaRun struct {
	*agenttest.FeedRun
	f     *fortellistest.Fake
	feed  *fortellis.Feed
	clock *agenttest.Clock
	creds map[string]string
	seen  agenttest.Memory
}

// newDeltaRun is a feed past its first sync (which reads nothing) on a fake whose clock it
// shares.
func newDeltaRun(t testing.TB, f *fortellistest.Fake) *deltaRun {
	r := &deltaRun{f: f, feed: fortellis.NewFeed(oauth.NewCache()), seen: agenttest.Memory{},
		clock: agenttest.NewClock(time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)), creds: map[string]string{"apiKey": apiKey, "apiSecret": apiSecret}}
	r.FeedRun = &agenttest.FeedRun{T: t, Feed: r.feed, Seen: r.seen, Request: func(maxRecords int) *changefeed.Request {
		return r.request(r.Cursor, maxRecords)
	}}
	f.SetClock(r.clock.Now)
	first := r.Page(100)
	if len(f.Requests(fortellis.SearchDeltaPath)) != 0 || first.More || len(first.Notes) != 1 || !strings.Contains(first.Notes[0], "first sync") {
		t.Fatalf("the first sync: %+v", first)
	}
	r.clock.Advance(time.Second)
	return r
}

func (r *deltaRun) request(c changefeed.Cursor, maxRecords int) *changefeed.Request {
	return &changefeed.Request{DealerID: "dlr_42", Settings: fortellis.Platform.WithDefaults(r.f.Settings()), Credentials: r.creds,
		Cursor: c, MaxRecords: maxRecords, HTTP: &http.Client{}, Seen: r.seen, Now: r.clock.Now()}
}

// pass reads a whole pass, then lets SYNC_INTERVAL go by.
func (r *deltaRun) pass(maxRecords int) []changefeed.Change {
	r.T.Helper()
	out := r.Pass(maxRecords)
	r.clock.Advance(time.Minute)
	return out
}

// opportunity adds a customer and an opportunity Elead has (entered by the dealership).
func (r *deltaRun) opportunity(first string) (customerID, opportunityID string) {
	customerID = r.f.Add(fortellistest.Customers, map[string]any{"firstName": first, "lastName": "Diaz"})
	opportunityID = r.f.Add(fortellistest.Opportunities, map[string]any{"customerId": customerID, "source": "Walk-in", "upType": "Showroom",
		"dateIn": r.clock.Now().Format(time.RFC3339)})
	return customerID, opportunityID
}

func byRecord(changes []changefeed.Change) map[string]changefeed.Change {
	out := map[string]changefeed.Change{}
	for _, c := range changes {
		out[c.RecordKind+"/"+c.RecordID] = c
	}
	return out
}

func TestDeltaFeedReportsOpportunitiesAndAppointments(t *testing.T) {
	f := newFake(t)
	r := newDeltaRun(t, f)
	customer, opp := r.opportunity("Ana")

	got := r.pass(100)
	if len(got) != 1 {
		t.Fatalf("changes %+v", got)
	}
	created := got[0]
	if created.EventType != events.TypeCRMLeadCreated || !created.Created || created.RecordKind != fortellis.RecordKindOpportunity || created.RecordID != opp ||
		created.PlatformIDs["opportunityId"] != opp || created.PlatformIDs["customerId"] != customer || created.State.Status != "Active" ||
		created.State.SubStatus != "New" || created.State.Source != "Walk-in" || created.State.Assignee != nil || created.ChangedAt.IsZero() || created.Version == "" {
		t.Errorf("the opportunity entered in Elead: %+v", created)
	}
	if again := r.pass(100); len(again) != 0 {
		t.Errorf("read again without a change: %+v", again)
	}

	// a BDC agent sets an appointment and assigns a salesperson; a note is not an appointment
	f.ChangeOpportunity(opp, func(o map[string]any) {
		o["subStatus"] = "Appointment Set"
		o["salesTeam"] = fortellistest.Salesperson("emp-7", "Luis", "Ortega")
	})
	due := time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC)
	act := f.AddActivity(opp, 7, "Showroom visit", due)
	f.AddActivity(opp, 37, "Called, left a message", due)
	changes := byRecord(r.pass(100))
	upd, appt := changes["opportunity/"+opp], changes["activity/"+act]
	if len(changes) != 2 || upd.EventType != events.TypeCRMLeadUpdated || upd.Created || upd.State.SubStatus != "Appointment Set" ||
		upd.State.Assignee == nil || upd.State.Assignee.ID != "emp-7" || upd.State.Assignee.Name != "Luis Ortega" || upd.Version == created.Version {
		t.Errorf("the opportunity changed: %+v", changes)
	}
	if appt.EventType != events.TypeCRMAppointmentUpdated || appt.State.AppointmentStatus != events.AppointmentStatusScheduled || !appt.State.AppointmentTime.Equal(due) ||
		appt.State.ActivityType != "Appointment" || appt.PlatformIDs["activityId"] != act || appt.PlatformIDs["opportunityId"] != opp {
		t.Errorf("the appointment set: %+v", appt)
	}

	f.MoveActivity(act, due.Add(2*time.Hour))
	if moved := r.pass(100); len(moved) != 1 || moved[0].State.AppointmentStatus != events.AppointmentStatusRescheduled || !moved[0].State.AppointmentTime.Equal(due.Add(2*time.Hour)) {
		t.Errorf("moved: %+v", moved)
	}
	f.CompleteActivity(act, "No Show")
	missed := r.pass(100)
	if len(missed) != 1 || missed[0].State.AppointmentStatus != events.AppointmentStatusNoShow || missed[0].State.Outcome != "No Show" || missed[0].ChangedAt.IsZero() {
		t.Errorf("missed: %+v", missed)
	}
	// a comment changes the opportunity in searchDelta, not its status: nothing
	r.f.ChangeOpportunity(opp, func(map[string]any) {})
	if again := r.pass(100); len(again) != 0 {
		t.Errorf("a change of nothing compared: %+v", again)
	}
	// the status set back: another version than the first time it had it
	f.ChangeOpportunity(opp, func(o map[string]any) { o["subStatus"] = "New"; o["salesTeam"] = nil })
	if back := r.pass(100); len(back) != 1 || back[0].Version == created.Version {
		t.Errorf("set back: %+v", back)
	}
}

func TestDeltaFeedPagesWithinBoundsAndMissesNothing(t *testing.T) {
	f := newFake(t)
	r := newDeltaRun(t, f)
	want := map[string]bool{}
	for i := range 230 {
		_, opp := r.opportunity(fmt.Sprint("Ana", i))
		want[opp] = true
		r.clock.Advance(time.Millisecond)
	}
	seen := map[string]int{}
	calls, changed := 0, ""
	for range 1000 {
		p := r.Page(40)
		calls++
		if p.RecordsRead > 40 {
			t.Fatalf("%d records read, bound 40", p.RecordsRead)
		}
		for _, c := range p.Changes {
			seen[c.RecordID]++
		}
		if calls == 3 && changed == "" {
			// an opportunity already read changes while the pass goes on: it moves to the
			// end of searchDelta's order, and those after it move up (one onto the page done)
			for id := range want {
				if seen[id] == 1 {
					changed = id
					f.ChangeOpportunity(id, func(o map[string]any) { o["subStatus"] = "Working" })
					break
				}
			}
		}
		if !p.More {
			break
		}
	}
	for id := range want {
		if n := seen[id]; n != 1 && id != changed || id == changed && n != 2 {
			t.Errorf("opportunity %s read as changed %d times", id, n)
		}
	}
	if pages := len(f.Requests(fortellis.SearchDeltaPath)); pages < 3 || calls < 230/39 {
		t.Errorf("%d searchDelta pages in %d calls", pages, calls)
	}
	for _, req := range f.Requests(fortellis.SearchDeltaPath) {
		if req.Query.Get("pageSize") != "100" || req.Query.Get("dateFrom") == "" {
			t.Errorf("searchDelta query %v", req.Query)
		}
	}
	// the next pass starts where this one started: the change is read again, and not sent
	r.clock.Advance(time.Minute)
	if next := r.pass(100); len(next) != 0 {
		t.Errorf("the next pass: %+v", next)
	}
}

func TestDeltaFeedRereadGivesTheSameVersions(t *testing.T) {
	f := newFake(t)
	r := newDeltaRun(t, f)
	_, opp := r.opportunity("Ana")
	act := f.AddActivity(opp, 7, "Test drive", time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
	// a crash after the publish: nothing remembered, the cursor not stored
	first, err := r.feed.Changes(context.Background(), r.request(r.Cursor, 100))
	if err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(30 * time.Second)
	second := r.Page(100)
	if len(first.Changes) != 2 || len(second.Changes) != 2 {
		t.Fatalf("%d then %d changes", len(first.Changes), len(second.Changes))
	}
	a, b := byRecord(first.Changes), byRecord(second.Changes)
	for _, k := range []string{"opportunity/" + opp, "activity/" + act} {
		if a[k].Version == "" || a[k].Version != b[k].Version {
			t.Errorf("%s: version %q then %q", k, a[k].Version, b[k].Version)
		}
	}
}

func TestDeltaFeedEmptyWindowAndOldCursor(t *testing.T) {
	f := newFake(t)
	r := newDeltaRun(t, f)
	p := r.Page(100)
	if len(p.Changes) != 0 || p.More || p.RecordsRead != 1 || !p.Next.Time.Equal(r.clock.Now()) {
		t.Errorf("an empty window (404): %+v", p)
	}
	// the agent was off for 10 days: the window is read again, and the notes say so
	_, opp := r.opportunity("Ana")
	r.clock.Advance(10 * 24 * time.Hour)
	p = r.Page(100)
	if len(p.Changes) != 0 || len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "7-day") {
		t.Errorf("an old cursor: %+v", p)
	}
	from, _ := time.Parse(time.RFC3339, f.Requests(fortellis.SearchDeltaPath)[1].Query.Get("dateFrom"))
	if age := r.clock.Now().Sub(from); age > fortellis.DeltaWindow || age < fortellis.DeltaWindow-time.Hour {
		t.Errorf("dateFrom %v is %v back", from, age)
	}
	f.ChangeOpportunity(opp, func(o map[string]any) { o["subStatus"] = "Working" })
	if got := r.pass(100); len(got) != 1 || got[0].RecordID != opp {
		t.Errorf("after: %+v", got)
	}
}

func TestDeltaFeedFailures(t *testing.T) {
	f := newFake(t)
	r := newDeltaRun(t, f)
	r.opportunity("Ana")
	changes := func(mutate func(*changefeed.Request)) *changefeed.Error {
		t.Helper()
		req := r.request(r.Cursor, 100)
		if mutate != nil {
			mutate(req)
		}
		p, err := r.feed.Changes(context.Background(), req)
		if err == nil {
			t.Fatalf("no error: %+v", p)
		}
		if strings.Contains(err.Error(), apiSecret) {
			t.Errorf("the error shows the secret: %v", err)
		}
		return changefeed.Classify(err)
	}
	f.Faults.Add(fortellis.SearchDeltaPath, agenttest.Fault{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "7"},
		Body: `{"code":"QUOTA-EXCEEDED","message":"quota exceeded"}`})
	if e := changes(nil); e.Failure != changefeed.RateLimited || e.RetryAfter != 7*time.Second {
		t.Errorf("429: %+v", e)
	}
	f.Faults.Add(fortellis.ActivitiesOfOpportunity+f.Records(fortellistest.Opportunities)[0]["id"].(string),
		agenttest.Fault{Status: http.StatusBadGateway, Body: `{"code":"TARGET-SYSTEM-UNREACHABLE","message":"down"}`})
	if e := changes(nil); e.Failure != changefeed.Transient {
		t.Errorf("502: %+v", e)
	}
	if e := changes(func(req *changefeed.Request) {
		req.Credentials = map[string]string{"apiKey": apiKey, "apiSecret": "rotated"}
	}); e.Failure != changefeed.CredentialsRefused {
		t.Errorf("refused credentials: %+v", e)
	}
	if e := changes(func(req *changefeed.Request) { req.Settings["subscriptionId"] = "sub-other" }); e.Failure != changefeed.CredentialsRefused {
		t.Errorf("another subscription: %+v", e)
	}
	if r.Cursor.Value == "" || len(r.seen) != 0 {
		t.Errorf("a failed page moved something: %+v %v", r.Cursor, r.seen)
	}
	// an expired token is fetched again within the page
	grants := f.Issuer.Grants()
	f.Issuer.ExpireAll()
	if got := r.pass(100); len(got) != 1 || f.Issuer.Grants() != grants+1 || f.Refused() == 0 {
		t.Errorf("after the token expired: %d changes, %d grants", len(got), f.Issuer.Grants()-grants)
	}
}

// BenchmarkDeltaFeed is our side of a pass over 100 changed opportunities against the fake
// on loopback (no Fortellis latency): ns/op per opportunity — its activity history read,
// parsing, comparing — beside which Fortellis's answer time is what a real pass takes
// (docs/agents.md#fortellis).
func BenchmarkDeltaFeed(b *testing.B) {
	f := fortellistest.New(b, apiKey, apiSecret, subscriptionID)
	r := newDeltaRun(b, f)
	var opps []string
	for i := range 100 {
		_, opp := r.opportunity(fmt.Sprint("Ana", i))
		opps = append(opps, opp)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for _, id := range opps {
			f.ChangeOpportunity(id, func(o map[string]any) { o["subStatus"] = fmt.Sprint("Working", i) })
		}
		b.StartTimer()
		if got := r.pass(200); len(got) != 100 {
			b.Fatalf("%d changes", len(got))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/opportunity")
}
