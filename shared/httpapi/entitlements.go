package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/validation"
)

// EntitlementStore keeps the dealers' plans (plans.Store).
type EntitlementStore interface {
	Get(ctx context.Context, dealerID string) (*plans.Entitlement, error)
	Put(ctx context.Context, e *plans.Entitlement) (*plans.Entitlement, error)
}

var _ EntitlementStore = (*plans.Store)(nil)

// entitlementPutAttempts bounds the read-write rounds of a PUT without If-Match that meets
// concurrent writes, as for agents.
const entitlementPutAttempts = 5

// entitlement is the dealer's plan: the one stored, else the deployment default (isDefault).
func (a *API) entitlement(ctx context.Context, dealerID string) (e *plans.Entitlement, isDefault bool, err error) {
	if a.opts.Entitlements == nil {
		return &plans.Entitlement{DealerID: dealerID, Platforms: plans.Normalize(a.opts.Platforms.IDs())}, true, nil
	}
	stored, err := a.opts.Entitlements.Get(ctx, dealerID)
	switch {
	case errors.Is(err, plans.ErrNotFound):
		stored = nil
	case err != nil:
		return nil, false, err
	}
	e, isDefault = a.opts.Plans.Resolve(dealerID, stored)
	return e, isDefault, nil
}

// agentView is an agent as the API shows it: agents.Public, and whether the dealer's plan
// includes its platform. An agent out of the plan keeps its stored enabled, and receives
// nothing.
type agentView struct {
	agents.PublicAgent
	Available bool `json:"available"`
	// UnavailableReason says why, when not available.
	UnavailableReason string `json:"unavailableReason,omitempty"`
	// Circuit is the circuit breaker of the agent's deliveries to its platform (GET of one
	// agent only).
	Circuit *circuitView `json:"circuit,omitempty"`
}

func agentViewOf(p platform.Platform, ag *agents.Agent, plan *plans.Entitlement) agentView {
	v := agentView{PublicAgent: agents.Public(p, ag), Available: plan.Includes(p.ID)}
	if !v.Available {
		v.UnavailableReason = plans.UnavailableReason
	}
	return v
}

// notInPlan is the 403 of a dealer turning on an agent its plan does not include.
// requireInPlan refuses (403) a request that would make an agent of platform p work when the
// caller's plan does not include p.
func (a *API) requireInPlan(r *http.Request, p platform.Platform) error {
	plan, _, err := a.entitlement(r.Context(), dealerOf(r))
	if err != nil {
		return err
	}
	if !plan.Includes(p.ID) {
		return notInPlan(p)
	}
	return nil
}

func notInPlan(p platform.Platform) *Problem {
	return NewProblem(http.StatusForbidden, p.Name+" is not in your plan: contact your DealerAI account manager to enable additional integration agents")
}

// turnsOn reports whether a PUT turns the agent on: it is not on now (not configured, or
// disabled) and the request enables it — explicitly, or by configuring a new agent, which is
// enabled unless the request says otherwise.
func turnsOn(in agents.PutRequest, stored *agents.Agent) bool {
	if stored != nil && stored.Enabled {
		return false
	}
	if in.Enabled != nil {
		return *in.Enabled
	}
	return stored == nil
}

// entitlementView is a dealer's plan as the admin routes show it.
type entitlementView struct {
	DealerID  string   `json:"dealerId"`
	Platforms []string `json:"platforms"`
	// Default: no plan is stored for the dealer; the deployment default applies.
	Default   bool       `json:"default"`
	UpdatedAt *time.Time `json:"updatedAt"`
	UpdatedBy *string    `json:"updatedBy"`
}

func entitlementViewOf(e *plans.Entitlement, isDefault bool) entitlementView {
	v := entitlementView{DealerID: e.DealerID, Platforms: e.Platforms, Default: isDefault}
	if v.Platforms == nil {
		v.Platforms = []string{}
	}
	if !isDefault {
		t, by := e.UpdatedAt, e.UpdatedBy
		v.UpdatedAt, v.UpdatedBy = &t, &by
	}
	return v
}

// pathDealer is the path's {dealerId} of an admin route, which the request log names; one
// that cannot be a dealer id is not found.
func pathDealer(r *http.Request) (string, error) {
	d := r.PathValue("dealerId")
	if !validDealerID(d) {
		return "", NewProblem(http.StatusNotFound, "no such dealer: a dealer id is 1 to 128 printable ASCII characters other than #")
	}
	infoOf(r.Context()).dealerID = d
	return d, nil
}

func (a *API) getDealerEntitlements(w http.ResponseWriter, r *http.Request) error {
	dealer, err := pathDealer(r)
	if err != nil {
		return err
	}
	e, isDefault, err := a.entitlement(r.Context(), dealer)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(int64(e.Version)))
	writeJSON(w, http.StatusOK, entitlementViewOf(e, isDefault))
	return nil
}

// putDealerEntitlements sets the platforms of a dealer's plan, as the admin (the token's sub)
// who made the change, and logs the change with the platforms before and after. With
// If-Match it applies to that version only ("0": only while the default applies).
func (a *API) putDealerEntitlements(w http.ResponseWriter, r *http.Request) error {
	dealer, err := pathDealer(r)
	if err != nil {
		return err
	}
	want, conditional, err := ifMatch(r, plans.ErrVersionMismatch)
	if err != nil {
		return err
	}
	body, err := readBody(r, mediaJSON)
	if err != nil {
		return err
	}
	platforms, err := decodeEntitlementPut(body, a.opts.Platforms.IDs())
	if err != nil {
		return err
	}
	ctx, admin := r.Context(), infoOf(r.Context()).admin
	for try := 1; ; try++ {
		before, wasDefault, err := a.entitlement(ctx, dealer)
		if err != nil {
			return err
		}
		if conditional && want != int64(before.Version) {
			return plans.ErrVersionMismatch
		}
		saved, err := a.opts.Entitlements.Put(ctx, &plans.Entitlement{
			DealerID: dealer, Platforms: platforms, UpdatedBy: admin, Version: before.Version,
		})
		if errors.Is(err, plans.ErrVersionMismatch) && !conditional {
			if try < entitlementPutAttempts {
				continue
			}
			return NewProblem(http.StatusConflict, "the entitlement is being changed concurrently; try again")
		}
		if err != nil {
			return err
		}
		a.log.LogAttrs(ctx, slog.LevelInfo, "dealer entitlement changed",
			slog.String("dealerId", dealer), slog.String("by", admin),
			slog.Any("before", before.Platforms), slog.Bool("beforeWasDefault", wasDefault),
			slog.Any("after", saved.Platforms), slog.Int("version", saved.Version))
		w.Header().Set("ETag", etag(int64(saved.Version)))
		writeJSON(w, http.StatusOK, entitlementViewOf(saved, false))
		return nil
	}
}

// decodeEntitlementPut decodes the body of PUT /v1/admin/dealers/{dealerId}/entitlements:
// {platforms}, an array of known platforms, each at most once (an empty array: no agent).
func decodeEntitlementPut(body []byte, known []string) ([]string, error) {
	members, err := decodeObject(body, "platforms")
	if err != nil {
		return nil, err
	}
	f := fields{members: members}
	platforms := f.strings("platforms")
	if err := f.err(); err != nil {
		return nil, err
	}
	if platforms == nil {
		return nil, NewProblem(http.StatusUnprocessableEntity, "the request has invalid fields",
			validation.FieldError{Field: "platforms", Message: "is required (an array of platforms; [] for none)"})
	}
	if errs := plans.Validate(platforms, known); errs != nil {
		return nil, NewProblem(http.StatusUnprocessableEntity, "the request has invalid fields", errs...)
	}
	return platforms, nil
}
