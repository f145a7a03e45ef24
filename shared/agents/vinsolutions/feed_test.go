package vinsolutions_test

// The change feed against the fake CRM: GET /leads?dealerId&limit&pagenumber&sortby=date,
// newest first ([CODE S16] a CRM pusher's lead paging; [CODE S12] the v3 lead shape), with a
// small in-memory stand-in for what the sync remembers.

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/vinsolutions"
	"github.com/dealerai/integrations/shared/agents/vinsolutions/vinsolutionstest"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// leadsRun is an agent's sync as the sync drives the feed (agenttest.FeedRun), on a clock it
// shares with the fake; a pass lets SYNC_INTERVAL go by after it.
type leadsRun struct {
	*agenttest.FeedRun
	f        *fake
	feed     *vinsolutions.Feed
	seen     agenttest.Memory
	settings map[string]string
	creds    map[string]string
	clock    *agenttest.Clock
}

// newLeadsRun is a feed past its first sync (which reads nothing).
func newLeadsRun(t testing.TB, f *fake, syncDays string) *leadsRun {
	r := &leadsRun{f: f, feed: vinsolutions.NewFeed(oauth.NewCache()), seen: agenttest.Memory{}, clock: agenttest.NewClock(time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)),
		settings: vinsolutions.Platform.WithDefaults(map[string]string{"baseUrl": f.URL, "tokenUrl": f.URL + "/connect/token",
			"dealerId": "5001", "userId": "7001", "leadSourceId": "9001", "syncDays": syncDays}),
		creds: map[string]string{"clientId": "vs-client", "clientSecret": "vs-secret", "apiKey": apiKey}}
	r.FeedRun = &agenttest.FeedRun{T: t, Feed: r.feed, Seen: r.seen, Request: func(maxRecords int) *changefeed.Request {
		return r.request(r.Cursor, maxRecords)
	}}
	f.Now = r.clock.Now
	if first := r.Page(100); len(f.rec.Requests("/leads")) != 0 || first.More || len(first.Notes) != 1 || !strings.Contains(first.Notes[0], "first sync") {
		t.Fatalf("the first sync: %+v", first)
	}
	r.clock.Advance(time.Second)
	return r
}

func (r *leadsRun) request(c changefeed.Cursor, maxRecords int) *changefeed.Request {
	return &changefeed.Request{DealerID: "dlr_42", Settings: r.settings, Credentials: r.creds, Cursor: c,
		MaxRecords: maxRecords, HTTP: &http.Client{}, Seen: r.seen, Now: r.clock.Now()}
}

// pass reads a whole pass, then lets SYNC_INTERVAL go by.
func (r *leadsRun) pass(maxRecords int) []changefeed.Change {
	r.T.Helper()
	out := r.Pass(maxRecords)
	r.clock.Advance(5 * time.Minute)
	return out
}

// lead adds a lead entered in VinSolutions (not by DealerAI), a second later than the last.
func (r *leadsRun) lead(first string) (leadID, contactID int64) {
	contactID = r.f.AddContact(first, "Diaz", "", "")
	leadID = r.f.AddLead(contactID, 9001, "")
	r.clock.Advance(20 * time.Second) // past the settle time of a new lead
	return leadID, contactID
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

func TestLeadsFeedReportsNewLeadsAndStatusChanges(t *testing.T) {
	f := newFake(t)
	r := newLeadsRun(t, f, "7")
	lead, contact := r.lead("Ana")

	got := r.pass(100)
	if len(got) != 1 || got[0].EventType != events.TypeCRMLeadCreated || !got[0].Created || got[0].RecordID != id(lead) ||
		got[0].PlatformIDs["leadId"] != id(lead) || got[0].PlatformIDs["contactId"] != id(contact) || got[0].State.Status != "ACTIVE" ||
		got[0].State.SubStatus != "ACTIVE_NEW_LEAD" || got[0].ChangedAt.IsZero() {
		t.Fatalf("the lead entered in VinSolutions: %+v", got)
	}
	if again := r.pass(100); len(again) != 0 {
		t.Errorf("read again without a change: %+v", again)
	}
	for _, req := range f.rec.Requests("/leads") {
		if q := req.Query; q.Get("sortby") != "date" || q.Get("dealerId") != "5001" || q.Get("limit") == "" || q.Get("pagenumber") == "" ||
			req.Header.Get("Accept") != vinsolutions.LeadsMediaType {
			t.Errorf("GET /leads %v %v", q, req.Header)
		}
	}

	f.SetStatus(lead, "SOLD", "SOLD_DELIVERED")
	sold := r.pass(100)
	if len(sold) != 1 || sold[0].EventType != events.TypeCRMLeadUpdated || sold[0].Created || sold[0].State.Status != "SOLD" ||
		sold[0].State.SubStatus != "SOLD_DELIVERED" || sold[0].Version == got[0].Version {
		t.Errorf("sold: %+v", sold)
	}
	// a lead older than syncDays is no longer followed
	r.clock.Advance(8 * 24 * time.Hour)
	f.SetStatus(lead, "LOST", "LOST_BOUGHT_ELSEWHERE")
	if late := r.pass(100); len(late) != 0 {
		t.Errorf("a lead 8 days old, syncDays 7: %+v", late)
	}
}

func TestLeadsFeedPagesNewestFirstWithinBounds(t *testing.T) {
	f := newFake(t)
	f.Now = func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }
	before := f.AddLead(f.AddContact("Old", "Lead", "", ""), 9001, "") // before the sync started: not followed
	r := newLeadsRun(t, f, "7")
	want := map[string]bool{}
	for range 25 {
		lead, _ := r.lead("Ana")
		want[id(lead)] = true
	}
	seen := map[string]int{}
	calls := 0
	for range 100 {
		p := r.Page(10)
		calls++
		if p.RecordsRead > 10 {
			t.Fatalf("%d records read, bound 10", p.RecordsRead)
		}
		for _, c := range p.Changes {
			seen[c.RecordID]++
		}
		if calls == 1 {
			// a lead entered while the pass goes on: newest first, it pushes the others
			// back a place (read twice, not skipped), and comes with the next pass
			lead, _ := r.lead("Mia")
			want[id(lead)] = true
		}
		if !p.More {
			break
		}
	}
	next := r.pass(100)
	for _, c := range next {
		seen[c.RecordID]++
	}
	for lead := range want {
		if seen[lead] != 1 {
			t.Errorf("lead %s reported %d times", lead, seen[lead])
		}
	}
	if seen[id(before)] != 0 || calls != 3 {
		t.Errorf("the lead from before the sync: %d; %d calls", seen[id(before)], calls)
	}
}

func TestLeadsFeedUntilAlreadySeen(t *testing.T) {
	f := newFake(t)
	r := newLeadsRun(t, f, "0")
	old, _ := r.lead("Ana")
	r.pass(100)
	f.SetStatus(old, "SOLD", "SOLD_DELIVERED") // not followed with syncDays 0
	var fresh []string
	for range 12 {
		lead, _ := r.lead("Mia")
		fresh = append(fresh, id(lead))
	}
	reads := len(f.rec.Requests("/leads"))
	got := r.pass(5)
	if len(got) != 12 || len(f.rec.Requests("/leads"))-reads != 3 {
		t.Errorf("%d changes in %d pages, want the 12 new leads in 3 pages of 5 (the third ends at the lead seen)", len(got), len(f.rec.Requests("/leads"))-reads)
	}
	for _, c := range got {
		if !c.Created || c.RecordID == id(old) {
			t.Errorf("change %+v", c)
		}
	}
}

func TestLeadsFeedRereadGivesTheSameVersions(t *testing.T) {
	f := newFake(t)
	r := newLeadsRun(t, f, "7")
	r.lead("Ana")
	first, err := r.feed.Changes(context.Background(), r.request(r.Cursor, 100))
	if err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(30 * time.Second)
	second := r.Page(100)
	if len(first.Changes) != 1 || len(second.Changes) != 1 || first.Changes[0].Version != second.Changes[0].Version {
		t.Errorf("%+v then %+v", first.Changes, second.Changes)
	}
}

func TestLeadsFeedFailures(t *testing.T) {
	f := newFake(t)
	r := newLeadsRun(t, f, "7")
	r.lead("Ana")
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
		for _, secret := range []string{"vs-secret", apiKey} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows a credential: %v", err)
			}
		}
		return changefeed.Classify(err)
	}
	f.Fail(vinsolutionstest.Fault{Path: "/leads", Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "9"}, Times: 1})
	if e := changes(nil); e.Failure != changefeed.RateLimited || e.RetryAfter != 9*time.Second {
		t.Errorf("429: %+v", e)
	}
	f.Fail(vinsolutionstest.Fault{Path: "/leads", Status: http.StatusInternalServerError, Times: 1})
	if e := changes(nil); e.Failure != changefeed.Transient {
		t.Errorf("500: %+v", e)
	}
	if e := changes(func(req *changefeed.Request) {
		req.Credentials = map[string]string{"clientId": "vs-client", "clientSecret": "rotated", "apiKey": apiKey}
	}); e.Failure != changefeed.CredentialsRefused {
		t.Errorf("refused credentials: %+v", e)
	}
	if e := changes(func(req *changefeed.Request) {
		req.Credentials = map[string]string{"clientId": "vs-client", "clientSecret": "vs-secret", "apiKey": "old"}
	}); e.Failure != changefeed.CredentialsRefused {
		t.Errorf("a wrong api_key: %+v", e)
	}
	if len(r.seen) != 0 {
		t.Errorf("a failed page remembered something: %v", r.seen)
	}
	// an expired token is fetched again within the page
	grants := f.issuer.Grants()
	f.issuer.ExpireAll()
	if got := r.pass(100); len(got) != 1 || f.issuer.Grants() != grants+1 {
		t.Errorf("after the token expired: %d changes, %d grants", len(got), f.issuer.Grants()-grants)
	}
}

// A lead created just before a pass (DealerAI's, perhaps, whose ids are kept only when its
// delivery ends) is left for the next one.
func TestLeadsFeedLeavesAJustCreatedLeadForTheNextPass(t *testing.T) {
	f := newFake(t)
	r := newLeadsRun(t, f, "7")
	lead := f.AddLead(f.AddContact("Ana", "Diaz", "", ""), 9001, "")
	r.clock.Advance(2 * time.Second)
	if got := r.pass(100); len(got) != 0 {
		t.Errorf("a lead 2 s old: %+v", got)
	}
	if got := r.pass(100); len(got) != 1 || got[0].RecordID != id(lead) {
		t.Errorf("the next pass: %+v", got)
	}
}

// BenchmarkLeadsFeed is our side of a pass over 100 leads followed, each with a changed
// status, against the fake on loopback (no VinSolutions latency): ns/lead — the page read,
// parsing, comparing — beside which VinSolutions' answer time is what a real pass takes
// (docs/agents.md#vinsolutions).
func BenchmarkLeadsFeed(b *testing.B) {
	f := newFake(b)
	r := newLeadsRun(b, f, "7")
	var leads []int64
	for range 100 {
		lead, _ := r.lead("Ana")
		leads = append(leads, lead)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for _, l := range leads {
			f.SetStatus(l, "ACTIVE", "ACTIVE_WORKING_"+strconv.Itoa(i))
		}
		b.StartTimer()
		if got := r.pass(100); len(got) != 100 {
			b.Fatalf("%d changes", len(got))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/lead")
}
