package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/notices"
	"github.com/dealerai/integrations/shared/validation"
)

// AgentStore keeps the dealers' agent configurations (agents.Store).
type AgentStore interface {
	Get(ctx context.Context, dealerID, platform string) (*agents.Agent, error)
	List(ctx context.Context, dealerID string) ([]agents.Agent, error)
	Put(ctx context.Context, a *agents.Agent) (*agents.Agent, error)
	Delete(ctx context.Context, dealerID, platform string) error
	DeleteVersion(ctx context.Context, dealerID, platform string, version int) error
}

var _ AgentStore = (*agents.Store)(nil)

// An agent exists for every platform, configured or not: an agent never configured (or
// deleted) is shown disabled, without settings or credentials, updatedAt null, at version 0
// (ETag "0"). So GET of a known platform is never 404, and DELETE is idempotent.
//
// The view is agents.Public — the settings, and in credentialsSet the sorted names of the
// credentials stored, never their values — and whether the dealer's plan includes the
// platform (agentView).

// agentPutAttempts bounds the read-validate-write rounds of a PUT without If-Match that
// meets concurrent writes (each round lost is another writer's success, so this many
// concurrent PUTs all apply).
const agentPutAttempts = 5

func (a *API) listAgents(w http.ResponseWriter, r *http.Request) error {
	plan, _, err := a.entitlement(r.Context(), dealerOf(r))
	if err != nil {
		return err
	}
	stored, err := a.opts.Agents.List(r.Context(), dealerOf(r))
	if err != nil {
		return err
	}
	byPlatform := make(map[string]*agents.Agent, len(stored))
	for i := range stored {
		byPlatform[stored[i].Platform] = &stored[i]
	}
	items := make([]agentView, 0, len(a.opts.Platforms))
	for _, p := range a.opts.Platforms {
		ag := byPlatform[p.ID]
		if ag == nil {
			ag = &agents.Agent{Platform: p.ID}
		}
		items = append(items, agentViewOf(p, ag, plan))
	}
	writeJSON(w, http.StatusOK, struct {
		Items []agentView `json:"items"`
	}{items})
	return nil
}

func (a *API) getAgent(w http.ResponseWriter, r *http.Request) error {
	p, err := a.agentPlatform(r)
	if err != nil {
		return err
	}
	plan, _, err := a.entitlement(r.Context(), dealerOf(r))
	if err != nil {
		return err
	}
	ag, err := a.agent(r.Context(), dealerOf(r), p.ID)
	if err != nil {
		return err
	}
	v := agentViewOf(p, ag, plan)
	if v.Circuit, err = a.circuitOf(r.Context(), dealerOf(r), deliveryq.Target{Kind: deliveryq.KindAgent, ID: p.ID}); err != nil {
		return err
	}
	w.Header().Set("ETag", etag(int64(ag.Version)))
	writeJSON(w, http.StatusOK, v)
	return nil
}

// putAgent configures an agent: agents.Validate merges the request into what is stored
// (settings replaced, credentials merged key by key, absent members kept) and the result is
// written at the version read. With If-Match the write applies to that version only (412);
// without, a concurrent write makes it read and validate again. A change of a URL setting
// (which Validate lets through only with every credential sent again) is logged with who made
// it. Turning on an agent whose platform the dealer's plan does not include is 403; one
// already on can still be changed and turned off.
func (a *API) putAgent(w http.ResponseWriter, r *http.Request) error {
	p, err := a.agentPlatform(r)
	if err != nil {
		return err
	}
	want, conditional, err := agentIfMatch(r)
	if err != nil {
		return err
	}
	body, err := readBody(r, mediaJSON)
	if err != nil {
		return err
	}
	in, err := decodeAgentPut(body)
	if err != nil {
		return err
	}
	ctx, dealer := r.Context(), dealerOf(r)
	plan, _, err := a.entitlement(ctx, dealer)
	if err != nil {
		return err
	}
	for try := 1; ; try++ {
		stored, err := a.opts.Agents.Get(ctx, dealer, p.ID)
		switch {
		case errors.Is(err, agents.ErrNotFound):
			stored = nil
		case err != nil:
			return err
		}
		if conditional && want != versionOf(stored) {
			return agents.ErrVersionMismatch
		}
		if turnsOn(in, stored) && !plan.Includes(p.ID) {
			return notInPlan(p)
		}
		next, err := agents.Validate(ctx, p, in, stored, a.opts.URLs.Check)
		if err != nil {
			return err
		}
		next.DealerID = dealer
		if err := a.claimDataOwner(ctx, p, stored, next); err != nil {
			return err
		}
		saved, err := a.opts.Agents.Put(ctx, next)
		if errors.Is(err, agents.ErrVersionMismatch) && !conditional {
			if try < agentPutAttempts {
				continue
			}
			return NewProblem(http.StatusConflict, "the agent is being changed concurrently; try again")
		}
		if err != nil {
			return err
		}
		if changed := agents.ChangedURLSettings(p, stored, saved); len(changed) > 0 {
			a.logURLChange(r, p, changed, saved)
		}
		w.Header().Set("ETag", etag(int64(saved.Version)))
		writeJSON(w, http.StatusOK, agentViewOf(p, saved, plan))
		return nil
	}
}

// deleteAgent disables the agent and erases its settings and credentials (its item is
// deleted). An agent not configured is already in that state: 204 as well. With If-Match
// only that version is deleted ("0": only if not configured, i.e. nothing to do).
func (a *API) deleteAgent(w http.ResponseWriter, r *http.Request) error {
	p, err := a.agentPlatform(r)
	if err != nil {
		return err
	}
	version, conditional, err := agentIfMatch(r)
	if err != nil {
		return err
	}
	ctx, dealer := r.Context(), dealerOf(r)
	switch {
	case !conditional:
		err = a.opts.Agents.Delete(ctx, dealer, p.ID)
		if errors.Is(err, agents.ErrNotFound) {
			err = nil
		}
	case version == 0:
		var ag *agents.Agent
		if ag, err = a.agent(ctx, dealer, p.ID); err == nil && ag.Version != 0 {
			err = agents.ErrVersionMismatch
		}
	default:
		err = a.opts.Agents.DeleteVersion(ctx, dealer, p.ID, version)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listAgentDeliveries(w http.ResponseWriter, r *http.Request) error {
	return a.listDeliveries(w, r, a.agentTarget)
}

func (a *API) getAgentDelivery(w http.ResponseWriter, r *http.Request) error {
	target, err := a.agentTarget(r)
	if err != nil {
		return err
	}
	rec, err := a.readDelivery(r, target)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deliveryDetailOf(rec))
	return nil
}

// retryAgentDelivery starts a new delivery of an agent's failed or skipped delivery, as for
// subscriptions; the agent must be configured and enabled (409 otherwise), and its platform
// in the dealer's plan (403 otherwise).
func (a *API) retryAgentDelivery(w http.ResponseWriter, r *http.Request) error {
	target, err := a.agentTarget(r)
	if err != nil {
		return err
	}
	orig, err := a.readDelivery(r, target)
	if err != nil {
		return err
	}
	disabled, err := a.agentDeliverable(r, target)
	if err != nil {
		return err
	}
	return a.retryDelivery(w, r, orig, target, disabled)
}

// agentDeliverable checks that the agent may be sent deliveries again (a retry, a recovery):
// its platform in the dealer's plan (403 otherwise); disabled, when not empty, says why it
// cannot take them now (not configured, or disabled: the caller's 409).
func (a *API) agentDeliverable(r *http.Request, target deliveryq.Target) (disabled string, err error) {
	ag, err := a.agent(r.Context(), dealerOf(r), target.ID)
	if err != nil {
		return "", err
	}
	p, _ := a.opts.Platforms.Get(target.ID)
	if err := a.requireInPlan(r, p); err != nil {
		return "", err
	}
	switch {
	case ag.Version == 0:
		return "the agent is not configured; configure it first (PUT /v1/agents/" + target.ID + ")", nil
	case !ag.Enabled:
		return "the agent is disabled; enable it first", nil
	}
	return "", nil
}

// agent reads the dealer's agent of a platform; one never configured is the zero agent
// (version 0).
func (a *API) agent(ctx context.Context, dealerID, platform string) (*agents.Agent, error) {
	ag, err := a.opts.Agents.Get(ctx, dealerID, platform)
	if errors.Is(err, agents.ErrNotFound) {
		return &agents.Agent{DealerID: dealerID, Platform: platform}, nil
	}
	return ag, err
}

func versionOf(ag *agents.Agent) int {
	if ag == nil {
		return 0
	}
	return ag.Version
}

// agentPlatform is the platform the path's {platform} names, one of Options.Platforms;
// another is not found.
func (a *API) agentPlatform(r *http.Request) (platform.Platform, error) {
	p, ok := a.opts.Platforms.Get(r.PathValue("platform"))
	if !ok {
		return platform.Platform{}, NewProblem(http.StatusNotFound, "no such agent platform; the platforms are "+strings.Join(a.opts.Platforms.IDs(), ", "))
	}
	return p, nil
}

func (a *API) agentTarget(r *http.Request) (deliveryq.Target, error) {
	p, err := a.agentPlatform(r)
	if err != nil {
		return deliveryq.Target{}, err
	}
	return deliveryq.Target{Kind: deliveryq.KindAgent, ID: p.ID}, nil
}

// logURLChange records who pointed an agent at other URLs: the dealer, the token's subject,
// the settings changed and their new hosts — never a credential.
func (a *API) logURLChange(r *http.Request, p platform.Platform, changed []string, saved *agents.Agent) {
	hosts := make([]string, 0, len(changed))
	for _, field := range changed {
		host := ""
		if u, err := url.Parse(saved.Settings[strings.TrimPrefix(field, "settings.")]); err == nil {
			host = u.Hostname()
		}
		hosts = append(hosts, host)
	}
	a.log.LogAttrs(r.Context(), slog.LevelWarn, "agent URL settings changed",
		slog.String("dealerId", dealerOf(r)),
		slog.String("sub", subjectOf(r)),
		slog.String("platform", p.ID),
		slog.Any("settings", changed),
		slog.Any("hosts", hosts),
		slog.Int("version", saved.Version),
	)
}

// agentIfMatch reads If-Match for an agent: version 0 is the state of an agent not
// configured.
func agentIfMatch(r *http.Request) (version int, conditional bool, err error) {
	v, conditional, err := ifMatch(r, agents.ErrVersionMismatch)
	return int(v), conditional, err
}

// decodeAgentPut decodes the body of PUT /v1/agents/{platform}: {enabled?, settings?,
// credentials?}, settings and credentials objects of strings. A null member counts as absent.
func decodeAgentPut(body []byte) (agents.PutRequest, error) {
	members, err := decodeObject(body, "enabled", "settings", "credentials")
	if err != nil {
		return agents.PutRequest{}, err
	}
	f := fields{members: members}
	in := agents.PutRequest{
		Enabled:     f.bool("enabled"),
		Settings:    f.stringMap("settings"),
		Credentials: f.stringMap("credentials"),
	}
	return in, f.err()
}

// stringMap returns an object-of-strings member (never nil when given, even empty); nil when
// absent or null. A value that is not a string is named "<name>.<key>"; values are never
// quoted in the errors (they may be credentials).
func (f *fields) stringMap(name string) map[string]string {
	raw, ok := f.members[name]
	if !ok || isNull(raw) {
		return nil
	}
	var members map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &members) != nil {
		f.errs = append(f.errs, validation.FieldError{Field: name, Message: "must be an object whose values are strings"})
		return nil
	}
	out := make(map[string]string, len(members))
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		var s string
		if v := members[k]; len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
			f.errs = append(f.errs, validation.FieldError{Field: name + "." + k, Message: "must be a string"})
			continue
		}
		out[k] = s
	}
	return out
}

// claimDataOwner makes the dealer the one whose Fortellis notices name the agent's
// dataOwnerId setting (a conditional write): a data owner another dealer's agent names is a
// 409; one the other dealer's agent no longer names moves.
func (a *API) claimDataOwner(ctx context.Context, p platform.Platform, stored, next *agents.Agent) error {
	owner := next.Settings[DataOwnerSetting]
	if p.ID != noticesFortellis || owner == "" || a.opts.Notices == nil || (stored != nil && stored.Settings[DataOwnerSetting] == owner) {
		return nil
	}
	if !validNoticeID(owner) {
		return NewProblem(http.StatusBadRequest, "invalid agent", validation.FieldError{Field: "settings." + DataOwnerSetting, Message: "must be 1 to 200 printable ASCII characters"})
	}
	err := a.opts.Notices.Claim(ctx, p.ID, owner, next.DealerID, "")
	if !errors.Is(err, notices.ErrOwnerTaken) {
		return err
	}
	prev, err := a.opts.Notices.Owner(ctx, p.ID, owner)
	if err != nil {
		return err
	}
	if prev != "" {
		other, err := a.agent(ctx, prev, p.ID)
		if err != nil {
			return err
		}
		if other.Settings[DataOwnerSetting] != owner {
			err = a.opts.Notices.Claim(ctx, p.ID, owner, next.DealerID, prev)
			if !errors.Is(err, notices.ErrOwnerTaken) {
				return err
			}
		}
	}
	return NewProblem(http.StatusConflict, "another dealer's Fortellis agent names this data owner",
		validation.FieldError{Field: "settings." + DataOwnerSetting, Message: "is another dealer's"})
}
