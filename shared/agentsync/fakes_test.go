package agentsync_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agentsync"
)

// Small fakes of the syncer's own interfaces, for the unit tests; the integration tests run
// the real stores on DynamoDB Local and the SQS emulator.

type fakeAgents struct {
	mu     sync.Mutex
	agents map[string]*agents.Agent // dealer/platform
	due    map[string]time.Time
}

func (f *fakeAgents) Get(_ context.Context, dealerID, platform string) (*agents.Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.agents[dealerID+"/"+platform]
	if !ok {
		return nil, agents.ErrNotFound
	}
	c := *a
	return &c, nil
}

func (f *fakeAgents) SetSyncDue(_ context.Context, dealerID, platform string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a, ok := f.agents[dealerID+"/"+platform]; !ok || !a.Enabled {
		return agents.ErrNotScheduled
	}
	f.due[dealerID+"/"+platform] = at
	return nil
}

func (f *fakeAgents) ClaimSync(context.Context, string, string, time.Time, time.Time) error {
	return errors.New("not used")
}

func (f *fakeAgents) dueOf(dealerID, platform string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.due[dealerID+"/"+platform]
}

type fakeRecords struct {
	pointers map[agents.PlatformID]agents.ReversePointer
	pushed   map[string]map[string]string // first correlation key → state
}

func (f *fakeRecords) Pointers(_ context.Context, _, _ string, ids []agents.PlatformID) (map[agents.PlatformID]agents.ReversePointer, error) {
	out := map[agents.PlatformID]agents.ReversePointer{}
	for _, id := range ids {
		if p, ok := f.pointers[id]; ok {
			out[id] = p
		}
	}
	return out, nil
}

func (f *fakeRecords) PushedState(_ context.Context, _, _ string, keys, _ []string) (map[string]string, error) {
	return maps.Clone(f.pushed[keys[0]]), nil
}

func (f *fakeRecords) PushedIDs(context.Context, string, string, string, string, int) ([]string, error) {
	return nil, nil
}

// fakeStates keeps states in memory with the store's lease rules.
type fakeStates struct {
	mu     sync.Mutex
	states map[string]*agentsync.State
	// advances counts the cursor writes; failAdvance fails the next ones (DynamoDB down)
	advances    int
	failAdvance int
}

func (f *fakeStates) get(dealerID, platform string) *agentsync.State {
	st, ok := f.states[dealerID+"/"+platform]
	if !ok {
		st = &agentsync.State{}
		f.states[dealerID+"/"+platform] = st
	}
	return st
}

func (f *fakeStates) Get(_ context.Context, dealerID, platform string) (*agentsync.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := *f.get(dealerID, platform)
	return &c, nil
}

func (f *fakeStates) Lease(_ context.Context, dealerID, platform, owner string, now, until time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.get(dealerID, platform)
	if st.LeaseOwner != "" && !st.LeaseUntil.Before(now) {
		return agentsync.ErrBusy
	}
	st.LeaseOwner, st.LeaseUntil = owner, until
	return nil
}

func (f *fakeStates) holds(st *agentsync.State, owner string, now time.Time) bool {
	return st.LeaseOwner == owner && !st.LeaseUntil.Before(now)
}

func (f *fakeStates) Advance(_ context.Context, dealerID, platform, owner string, now time.Time, c changefeed.Cursor) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.get(dealerID, platform)
	if !f.holds(st, owner, now) {
		return agentsync.ErrLeaseLost
	}
	if f.failAdvance > 0 {
		f.failAdvance--
		return errors.New("DynamoDB unavailable")
	}
	st.Cursor = c
	f.advances++
	return nil
}

func (f *fakeStates) Finish(_ context.Context, dealerID, platform, owner string, now time.Time, o agentsync.Outcome) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.get(dealerID, platform)
	if !f.holds(st, owner, now) {
		return agentsync.ErrLeaseLost
	}
	run := o.Run
	st.LastRun, st.State, st.Failures, st.Reason, st.Notes = &run, o.State, o.Failures, o.Reason, o.Notes
	st.LeaseOwner, st.LeaseUntil = "", time.Time{}
	return nil
}

func (f *fakeStates) Release(_ context.Context, dealerID, platform, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.get(dealerID, platform)
	if st.LeaseOwner == owner {
		st.LeaseOwner, st.LeaseUntil = "", time.Time{}
	}
	return nil
}

func (f *fakeStates) Request(context.Context, string, string, time.Time, time.Duration) error {
	return nil
}

// fakeQueue keeps what is sent; the calls numbered in failCalls (from 1) fail.
type fakeQueue struct {
	mu        sync.Mutex
	sent      []types.SendMessageBatchRequestEntry
	calls     int
	failCalls map[int]bool
}

func (q *fakeQueue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	if q.failCalls[q.calls] {
		return nil, errors.New("SQS unavailable")
	}
	q.sent = append(q.sent, in.Entries...)
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func (q *fakeQueue) bodies() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, e := range q.sent {
		out = append(out, aws.ToString(e.MessageBody))
	}
	return out
}

// unit is a Syncer on the fakes with one TestCRM agent per dealer given, each against its own
// fake CRM, and a fixed clock that tests move.
type unit struct {
	s       *agentsync.Syncer
	agents  *fakeAgents
	records *fakeRecords
	states  *fakeStates
	inbound *fakeQueue
	jobs    *fakeQueue
	crm     map[string]*fakeCRM
	now     time.Time
}

func newUnit(t *testing.T, dealers ...string) *unit {
	u := &unit{
		agents:  &fakeAgents{agents: map[string]*agents.Agent{}, due: map[string]time.Time{}},
		records: &fakeRecords{pointers: map[agents.PlatformID]agents.ReversePointer{}, pushed: map[string]map[string]string{}},
		states:  &fakeStates{states: map[string]*agentsync.State{}},
		inbound: &fakeQueue{}, jobs: &fakeQueue{},
		crm: map[string]*fakeCRM{},
		now: time.Now().UTC(), // the feed calls' deadlines are real
	}
	for _, d := range dealers {
		crm := newFakeCRM(t)
		u.crm[d] = crm
		u.agents.agents[d+"/"+testCRM.ID] = &agents.Agent{DealerID: d, Platform: testCRM.ID, Enabled: true, Version: 1,
			Settings: map[string]string{"baseUrl": crm.srv.URL}, Credentials: map[string]string{"key": "good-key"}}
	}
	u.s = agentsync.NewSyncer(platform.Catalog{testCRM}, platform.Deps{})
	u.s.Agents, u.s.Records, u.s.States = u.agents, u.records, u.states
	u.s.HTTP = &http.Client{}
	u.s.Inbound, u.s.InboundQueueURL = u.inbound, "inbound"
	u.s.Jobs, u.s.JobsQueueURL = u.jobs, "jobs"
	u.s.Now = func() time.Time { return u.now }
	u.s.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	return u
}
