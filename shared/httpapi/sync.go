package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/plans"
)

// SyncService is the agents' two-way sync as the API sees it (*agentsync.Service).
type SyncService interface {
	Status(ctx context.Context, p platform.Platform, a *agents.Agent) (*agentsync.Status, error)
	RunNow(ctx context.Context, p platform.Platform, a *agents.Agent) (time.Time, error)
}

var _ SyncService = (*agentsync.Service)(nil)

// getAgentSync shows an agent's two-way sync: its state, last run, cursor time and next run.
// Every known platform answers, configured or not (a disabled agent, a platform without a
// change feed, or one out of the dealer's plan, says so in detail).
func (a *API) getAgentSync(w http.ResponseWriter, r *http.Request) error {
	p, ag, err := a.syncAgent(r)
	if err != nil {
		return err
	}
	st, err := a.opts.Sync.Status(r.Context(), p, ag)
	if err != nil {
		return err
	}
	plan, _, err := a.entitlement(r.Context(), dealerOf(r))
	if err != nil {
		return err
	}
	if !plan.Includes(p.ID) && st.State != agentsync.StateRunning {
		st.State, st.Detail, st.NextRunAt = agentsync.StateIdle, p.Name+" is "+plans.UnavailableReason+": nothing is synced", nil
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// syncRun is the answer of POST /v1/agents/{platform}/sync.
type syncRun struct {
	Platform    string    `json:"platform"`
	RequestedAt time.Time `json:"requestedAt"`
}

// runAgentSync queues a sync of the agent at once (202). An agent not configured or
// disabled, or a platform without a change feed, is a 409 saying so; a platform out of the
// dealer's plan a 403. A request moments after
// another queues nothing more and answers the first one's time.
func (a *API) runAgentSync(w http.ResponseWriter, r *http.Request) error {
	p, ag, err := a.syncAgent(r)
	if err != nil {
		return err
	}
	if err := a.requireInPlan(r, p); err != nil {
		return err
	}
	at, err := a.opts.Sync.RunNow(r.Context(), p, ag)
	if errors.Is(err, agentsync.ErrNotSyncable) {
		switch {
		case p.NewChangeFeed == nil:
			return NewProblem(http.StatusConflict, p.Name+" has no change feed yet: nothing can be synced from it")
		case ag.Version == 0:
			return NewProblem(http.StatusConflict, "the agent is not configured; configure and enable it first (PUT /v1/agents/"+p.ID+")")
		default:
			return NewProblem(http.StatusConflict, "the agent is disabled; enable it first")
		}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, syncRun{Platform: p.ID, RequestedAt: at})
	return nil
}

// syncAgent is the platform of the path and the dealer's agent of it (the zero agent when
// never configured).
func (a *API) syncAgent(r *http.Request) (platform.Platform, *agents.Agent, error) {
	if a.opts.Sync == nil {
		return platform.Platform{}, nil, NewProblem(http.StatusNotImplemented, "the two-way sync is not set up in this deployment")
	}
	p, err := a.agentPlatform(r)
	if err != nil {
		return p, nil, err
	}
	ag, err := a.agent(r.Context(), dealerOf(r), p.ID)
	return p, ag, err
}
