package agentsync

import (
	"context"
	"errors"
	"time"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/platform"
)

// Status is an agent's sync as GET /v1/agents/{platform}/sync shows it.
type Status struct {
	Platform string `json:"platform"`
	// Enabled is the agent's: a disabled (or never configured) agent is not synced.
	Enabled bool `json:"enabled"`
	// Supported: the platform has a change feed; without one nothing is synced yet.
	Supported bool   `json:"supported"`
	State     string `json:"state"`
	// Detail says why the agent is not syncing, backing off or failing.
	Detail     string     `json:"detail"`
	LastRun    *Run       `json:"lastRun"`
	CursorTime *time.Time `json:"cursorTime"`
	NextRunAt  *time.Time `json:"nextRunAt"`
	// Notes are the change feed's notes of the last run.
	Notes []string `json:"notes"`
}

// RequestGap is the least time between two runs asked for through the API: a second request
// within it queues nothing (the first one's job is on its way).
const RequestGap = 30 * time.Second

// Service is what the API asks of the sync.
type Service struct {
	States       States
	Jobs         Queue
	JobsQueueURL string
	Now          func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Status is the sync of agent a (an agent never configured: disabled, no settings) of
// platform p.
func (s *Service) Status(ctx context.Context, p platform.Platform, a *agents.Agent) (*Status, error) {
	st := &Status{Platform: p.ID, Enabled: a.Enabled, Supported: p.NewChangeFeed != nil, State: StateIdle, Notes: []string{}}
	switch {
	case !st.Supported:
		st.Detail = p.Name + " has no change feed yet: nothing is read back from it"
		return st, nil
	case a.DealerID == "" || a.Version == 0:
		st.Detail = "the agent is not configured: nothing is synced"
		return st, nil
	}
	state, err := s.States.Get(ctx, a.DealerID, p.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if state.State != "" {
		st.State = state.State
	}
	st.Detail = state.Reason
	st.LastRun = state.LastRun
	if state.Notes != nil {
		st.Notes = state.Notes
	}
	if t := state.Cursor.Time; !t.IsZero() {
		st.CursorTime = &t
	}
	if state.LeaseOwner != "" && state.LeaseUntil.After(now) {
		st.State = StateRunning
	}
	if !a.Enabled {
		st.State = StateIdle
		st.Detail = "the agent is disabled: nothing is synced"
		return st, nil
	}
	if t := a.SyncDue; !t.IsZero() {
		st.NextRunAt = &t
	}
	return st, nil
}

// ErrNotSyncable: the agent is not enabled, or its platform has no change feed.
var ErrNotSyncable = errors.New("the agent cannot be synced")

// RunNow queues a job of agent a at once, and returns when it was asked for: ErrNotSyncable
// for an agent that is not enabled or a platform without a change feed. A second request
// within RequestGap queues nothing and returns the first one's time.
func (s *Service) RunNow(ctx context.Context, p platform.Platform, a *agents.Agent) (time.Time, error) {
	if p.NewChangeFeed == nil || !a.Enabled {
		return time.Time{}, ErrNotSyncable
	}
	now := s.now().Truncate(time.Millisecond) // as stored
	err := s.States.Request(ctx, a.DealerID, p.ID, now, RequestGap)
	if errors.Is(err, ErrRecentlyRequested) {
		st, err := s.States.Get(ctx, a.DealerID, p.ID)
		if err != nil {
			return time.Time{}, err
		}
		return st.RequestedAt, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return now, enqueueJobs(ctx, s.Jobs, s.JobsQueueURL, []Message{{Kind: KindJob, DealerID: a.DealerID, Platform: p.ID, Reason: ReasonManual}})
}
