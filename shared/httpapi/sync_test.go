package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/httpapi"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/resources"
)

// funcFeed is a change feed written as a function.
type funcFeed func(ctx context.Context, req *changefeed.Request) (*changefeed.Page, error)

func (f funcFeed) Changes(ctx context.Context, req *changefeed.Request) (*changefeed.Page, error) {
	return f(ctx, req)
}

// withFeed is the catalog with Fortellis's change feed replaced by a stand-in (one lead
// sold, then whatever err says), and VinSolutions without one.
func withFeed(catalog platform.Catalog, err *error) (platform.Catalog, platform.Platform) {
	return withFeedOn(catalog, "fortellis", err)
}

// withFeedOn is withFeed for platform id (VinSolutions keeps none unless it is id).
func withFeedOn(catalog platform.Catalog, id string, err *error) (platform.Catalog, platform.Platform) {
	out := append(platform.Catalog{}, catalog...)
	for i := range out {
		if out[i].ID == "vinsolutions" && id != "vinsolutions" {
			out[i].NewChangeFeed = nil // a platform without a feed
		}
	}
	for i := range out {
		if out[i].ID != id {
			continue
		}
		out[i].NewChangeFeed = func(platform.Deps) changefeed.Feed {
			return funcFeed(func(_ context.Context, req *changefeed.Request) (*changefeed.Page, error) {
				if *err != nil {
					return nil, *err
				}
				changed := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
				return &changefeed.Page{RecordsRead: 1, Next: changefeed.Cursor{Value: "1", Time: changed}, Changes: []changefeed.Change{{
					RecordKind: "lead", RecordID: "L-1", Version: "3", ChangedAt: changed, EventType: events.TypeCRMLeadUpdated,
					PlatformIDs: map[string]string{"leadId": "L-1"}, State: inbound.State{Status: "Sold"},
				}}}, nil
			})
		}
		return out, out[i]
	}
	panic("no " + id)
}

type agentSync struct {
	Platform   string          `json:"platform"`
	Enabled    bool            `json:"enabled"`
	Supported  bool            `json:"supported"`
	State      string          `json:"state"`
	Detail     string          `json:"detail"`
	LastRun    *agentsync.Run  `json:"lastRun"`
	CursorTime *time.Time      `json:"cursorTime"`
	NextRunAt  *time.Time      `json:"nextRunAt"`
	Notes      json.RawMessage `json:"notes"`
}

// GET and POST /v1/agents/{platform}/sync: the state of each case, a run queued (once per
// 30 s), its outcome shown, a refused credential shown as failing; 404 for an unknown
// platform, another dealer's agent is not this dealer's.
func TestAgentSyncRoutes(t *testing.T) {
	ctx := context.Background()
	var feedErr error
	var crm platform.Platform
	at := newAPITest(t, func(o *httpapi.Options) { o.Platforms, crm = withFeed(o.Platforms, &feedErr) })
	tok := at.token("dlr_sync")
	get := func(p string) agentSync {
		t.Helper()
		r := at.do("GET", "/v1/agents/"+p+"/sync", tok, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s sync: %d %s", p, r.status, r.body)
		}
		var s agentSync
		r.json(t, &s)
		return s
	}

	at.do("GET", "/v1/agents/nosuch/sync", tok, nil).problem(t, http.StatusNotFound)
	at.do("POST", "/v1/agents/nosuch/sync", tok, nil).problem(t, http.StatusNotFound)
	if s := get("vinsolutions"); s.Supported || s.State != agentsync.StateIdle || !strings.Contains(s.Detail, "no change feed") || s.NextRunAt != nil {
		t.Errorf("a platform without a feed: %+v", s)
	}
	if p := at.do("POST", "/v1/agents/vinsolutions/sync", tok, nil).problem(t, http.StatusConflict); !strings.Contains(p.Detail, "no change feed") {
		t.Errorf("POST to a platform without a feed: %+v", p)
	}
	if s := get(crm.ID); !s.Supported || s.Enabled || !strings.Contains(s.Detail, "not configured") || s.LastRun != nil {
		t.Errorf("not configured: %+v", s)
	}
	if p := at.do("POST", "/v1/agents/"+crm.ID+"/sync", tok, nil).problem(t, http.StatusConflict); !strings.Contains(p.Detail, "not configured") {
		t.Errorf("POST, not configured: %+v", p)
	}

	// Configured but disabled, then enabled.
	put := validAgentPut(crm.ID)
	put["enabled"] = false
	r := at.do("PUT", "/v1/agents/"+crm.ID, tok, put)
	if r.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	if s := get(crm.ID); s.Enabled || !strings.Contains(s.Detail, "disabled") || s.NextRunAt != nil {
		t.Errorf("disabled: %+v", s)
	}
	if p := at.do("POST", "/v1/agents/"+crm.ID+"/sync", tok, nil).problem(t, http.StatusConflict); !strings.Contains(p.Detail, "disabled") {
		t.Errorf("POST, disabled: %+v", p)
	}
	at.do("PUT", "/v1/agents/"+crm.ID, tok, map[string]any{"enabled": true})
	s := get(crm.ID)
	if !s.Enabled || s.State != agentsync.StateIdle || s.NextRunAt == nil || time.Since(*s.NextRunAt) > time.Minute || s.LastRun != nil || string(s.Notes) != "[]" {
		t.Errorf("enabled, never run: %+v", s)
	}

	// POST queues one job; a second POST at once queues nothing more.
	r = at.do("POST", "/v1/agents/"+crm.ID+"/sync", tok, nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	var run struct {
		Platform    string    `json:"platform"`
		RequestedAt time.Time `json:"requestedAt"`
	}
	r.json(t, &run)
	r = at.do("POST", "/v1/agents/"+crm.ID+"/sync", tok, nil)
	var again struct{ RequestedAt time.Time }
	r.json(t, &again)
	if r.status != http.StatusAccepted || !again.RequestedAt.Equal(run.RequestedAt) {
		t.Errorf("second POST: %d %s; want 202 with the first one's time %v", r.status, r.body, run.RequestedAt)
	}
	out, err := at.env.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(at.env.QueueURL(resources.SyncJobsQueue)), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("%d jobs queued, want 1", len(out.Messages))
	}
	m, err := agentsync.DecodeMessage(aws.ToString(out.Messages[0].Body))
	if err != nil || m.DealerID != "dlr_sync" || m.Platform != crm.ID || m.Reason != agentsync.ReasonManual {
		t.Fatalf("job %+v %v", m, err)
	}

	// The job runs; GET shows its outcome.
	syncer := agentsync.NewSyncer(platform.Catalog{crm}, platform.Deps{})
	syncer.Agents, syncer.States = at.agents, at.states
	syncer.Records = agents.NewCorrelationStore(at.env.DynamoDB, at.env.Table(resources.ConfigTable))
	syncer.HTTP = &http.Client{}
	syncer.Inbound, syncer.InboundQueueURL = at.env.SQS, at.env.QueueURL(resources.InboundQueue)
	syncer.Jobs, syncer.JobsQueueURL = at.env.SQS, at.env.QueueURL(resources.SyncJobsQueue)
	if err := syncer.Run(ctx, m.DealerID, m.Platform); err != nil {
		t.Fatal(err)
	}
	s = get(crm.ID)
	if s.State != agentsync.StateIdle || s.LastRun == nil || s.LastRun.RecordsRead != 1 || s.LastRun.EventsPublished != 1 || s.LastRun.Error != "" ||
		s.CursorTime == nil || !s.CursorTime.Equal(time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)) ||
		s.NextRunAt == nil || s.NextRunAt.Sub(s.LastRun.FinishedAt) != agentsync.DefaultInterval {
		t.Errorf("after a run: %+v %+v", s, s.LastRun)
	}
	if n := at.env.Visible(t, resources.InboundQueue); n != 1 {
		t.Errorf("%d inbound events, want 1", n)
	}

	// The platform refuses the credentials: failing, with the reason.
	feedErr = changefeed.Errorf(changefeed.CredentialsRefused, "Fortellis changes: HTTP 401")
	if err := syncer.Run(ctx, m.DealerID, m.Platform); err != nil {
		t.Fatal(err)
	}
	s = get(crm.ID)
	if s.State != agentsync.StateFailing || s.Detail != "Fortellis changes: HTTP 401" || s.LastRun.Error != s.Detail {
		t.Errorf("refused credentials: %+v", s)
	}

	// Out of the dealer's plan: not synced, and not run.
	if _, err := at.plans.Put(ctx, &plans.Entitlement{DealerID: "dlr_sync", Platforms: []string{"xtime"}, UpdatedBy: "staff"}); err != nil {
		t.Fatal(err)
	}
	if s = get(crm.ID); s.State != agentsync.StateIdle || !strings.Contains(s.Detail, "not in your plan") || s.NextRunAt != nil {
		t.Errorf("out of the plan: %+v", s)
	}
	if p := at.do("POST", "/v1/agents/"+crm.ID+"/sync", tok, nil).problem(t, http.StatusForbidden); !strings.Contains(p.Detail, "not in your plan") {
		t.Errorf("POST out of the plan: %+v", p)
	}

	// Another dealer sees its own (unconfigured) agent.
	other := at.do("GET", "/v1/agents/"+crm.ID+"/sync", at.token("dlr_other"), nil)
	var o agentSync
	other.json(t, &o)
	if o.Enabled || o.LastRun != nil || !strings.Contains(o.Detail, "not configured") {
		t.Errorf("another dealer: %+v", o)
	}
}
