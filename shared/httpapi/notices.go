package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/notices"
	"github.com/dealerai/integrations/shared/validation"
)

// Push notices: the platforms that send notices of changes (VinSolutions' Connect Event
// Service, Fortellis Event Relay) post them to a public route of their own, authenticated the
// platform's way rather than by the dealer JWT. A notice is only a trigger: it makes the
// agent's sync run now (nothing in it is trusted as data; the sync reads the platform). It
// is deduplicated on its id, answered 202 as the platforms expect, and a notice that is not
// authenticated (401) or not well formed (400) is logged without its body.

// NoticeStore deduplicates notices on their ids and knows the dealer of a platform's data
// owner (*notices.Store).
type NoticeStore interface {
	Mark(ctx context.Context, platform, id, dealerID string) (bool, error)
	Unmark(ctx context.Context, platform, id string) error
	Owner(ctx context.Context, platform, owner string) (string, error)
	Claim(ctx context.Context, platform, owner, dealerID, prev string) error
}

var _ NoticeStore = (*notices.Store)(nil)

// TokenVerifier checks a platform's signed bearer token (*notices.Verifier).
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*notices.Claims, error)
}

// The platforms' ids, and the settings and credentials of their notices.
const (
	noticesVinSolutions = "vinsolutions"
	noticesFortellis    = "fortellis"
	// NoticeHeaderSetting names the header VinSolutions' subscriber sends the secret in.
	NoticeHeaderSetting = "noticeHeader"
	// NoticeSecretCredential is the secret the header must carry.
	NoticeSecretCredential = "noticeSecret"
	// DataOwnerSetting is the dealer's Fortellis organization, as Event Relay's Data-Owner-Id.
	DataOwnerSetting = "dataOwnerId"
)

// maxNoticeID bounds a notice id (and a data owner id): they become table keys.
const maxNoticeID = 200

// vinNotice is the VinSolutions notice: {Type, TrackingId, OccurredUtc, LeadId, CustomerId,
// DealerId, Version}; only Type and TrackingId are read.
type vinNotice struct {
	Type       *string `json:"Type"`
	TrackingID *string `json:"TrackingId"`
}

// receiveVinSolutionsNotice is POST /v1/notices/vinsolutions/{dealerId}: a notice of VinSolutions'
// Connect Event Service for the dealer's VinSolutions agent, authenticated by the secret the
// agent's subscriber sends in its header (the agent's noticeHeader setting, its noticeSecret
// credential), compared in constant time.
func (a *API) receiveVinSolutionsNotice(w http.ResponseWriter, r *http.Request) error {
	p, err := a.noticePlatform(noticesVinSolutions)
	if err != nil {
		return err
	}
	dealer := r.PathValue("dealerId")
	if !validDealerID(dealer) {
		return a.refuseNotice(r, p, "", http.StatusUnauthorized, "the notice is not authenticated")
	}
	ag, err := a.agent(r.Context(), dealer, p.ID)
	if err != nil {
		return err
	}
	settings := p.WithDefaults(ag.Settings)
	secret := ag.Credentials[NoticeSecretCredential]
	if !ag.Enabled || secret == "" || !sameSecret(r.Header.Get(settings[NoticeHeaderSetting]), secret) {
		return a.refuseNotice(r, p, dealer, http.StatusUnauthorized, "the notice is not authenticated")
	}
	body, err := readBody(r, mediaJSON)
	if err != nil {
		return a.refuseNoticeProblem(r, p, dealer, err)
	}
	var n vinNotice
	if err := json.Unmarshal(body, &n); err != nil {
		return a.refuseNotice(r, p, dealer, http.StatusBadRequest, "the notice is not a JSON object")
	}
	var errs []validation.FieldError
	if n.Type == nil || *n.Type == "" {
		errs = append(errs, validation.FieldError{Field: "Type", Message: "is required"})
	}
	if n.TrackingID == nil || !validNoticeID(*n.TrackingID) {
		errs = append(errs, validation.FieldError{Field: "TrackingId", Message: "is required: 1 to 200 printable ASCII characters"})
	}
	if len(errs) > 0 {
		return a.refuseNotice(r, p, dealer, http.StatusBadRequest, "the notice is not well formed", errs...)
	}
	return a.triggerSync(w, r, p, ag, *n.TrackingID)
}

// receiveFortellisNotice is POST /v1/notices/fortellis: a delivery of Fortellis Event Relay,
// authenticated by its bearer JWT (RS256, verified against the configured JWKS and audience);
// its Data-Owner-Id names the dealer's organization (the Fortellis agent's dataOwnerId
// setting), its X-Request-Id the delivery.
func (a *API) receiveFortellisNotice(w http.ResponseWriter, r *http.Request) error {
	p, err := a.noticePlatform(noticesFortellis)
	if err != nil {
		return err
	}
	if a.opts.FortellisNotices == nil {
		return NewProblem(http.StatusNotImplemented, "Fortellis notices are not set up in this deployment (no JWKS URL and audience)")
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return a.refuseNotice(r, p, "", http.StatusUnauthorized, "a Fortellis bearer token is required")
	}
	if _, err := a.opts.FortellisNotices.Verify(r.Context(), strings.TrimSpace(token)); err != nil {
		if errors.Is(err, notices.ErrUnauthenticated) {
			a.log.Warn("notice refused", "platform", p.ID, "status", http.StatusUnauthorized, "reason", err.Error())
			return NewProblem(http.StatusUnauthorized, "the Fortellis token does not verify")
		}
		a.log.Error("notice: the Fortellis keys cannot be read", "error", err.Error())
		return NewProblem(http.StatusServiceUnavailable, "the Fortellis token cannot be checked now; deliver it again")
	}
	var errs []validation.FieldError
	owner, requestID := r.Header.Get("Data-Owner-Id"), r.Header.Get("X-Request-Id")
	if !validNoticeID(owner) {
		errs = append(errs, validation.FieldError{Field: "Data-Owner-Id", Message: "header is required: 1 to 200 printable ASCII characters"})
	}
	if !validNoticeID(requestID) {
		errs = append(errs, validation.FieldError{Field: "X-Request-Id", Message: "header is required: 1 to 200 printable ASCII characters"})
	}
	body, err := readBody(r, mediaJSON)
	if err != nil {
		return a.refuseNoticeProblem(r, p, "", err)
	}
	if !json.Valid(body) {
		errs = append(errs, validation.FieldError{Field: "body", Message: "is not JSON"})
	}
	if len(errs) > 0 {
		return a.refuseNotice(r, p, "", http.StatusBadRequest, "the notice is not well formed", errs...)
	}
	dealer, err := a.opts.Notices.Owner(r.Context(), p.ID, owner)
	if err != nil {
		return err
	}
	if dealer == "" {
		a.log.Info("notice ignored: no dealer's Fortellis agent names its data owner", "platform", p.ID)
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	ag, err := a.agent(r.Context(), dealer, p.ID)
	if err != nil {
		return err
	}
	if ag.Settings[DataOwnerSetting] != owner {
		a.log.Info("notice ignored: the dealer's Fortellis agent no longer names its data owner", "platform", p.ID, "dealerId", dealer)
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return a.triggerSync(w, r, p, ag, requestID)
}

// noticePlatform is platform id, when the deployment takes notices.
func (a *API) noticePlatform(id string) (platform.Platform, error) {
	p, ok := a.opts.Platforms.Get(id)
	if !ok {
		return p, NewProblem(http.StatusNotFound, "no such route")
	}
	if a.opts.Notices == nil || a.opts.Sync == nil {
		return p, NewProblem(http.StatusNotImplemented, "push notices are not set up in this deployment")
	}
	return p, nil
}

// triggerSync runs the agent's sync now for notice id, unless that notice was seen before;
// 202 either way. The mark is taken back when the run cannot be queued, for the platform's
// redelivery to queue it.
func (a *API) triggerSync(w http.ResponseWriter, r *http.Request, p platform.Platform, ag *agents.Agent, id string) error {
	ctx := r.Context()
	first, err := a.opts.Notices.Mark(ctx, p.ID, id, ag.DealerID)
	if err != nil {
		return err
	}
	result := "duplicate"
	if first {
		_, err := a.opts.Sync.RunNow(ctx, p, ag)
		switch {
		case errors.Is(err, agentsync.ErrNotSyncable):
			result = "not synced (agent disabled or no change feed)"
		case err != nil:
			if uerr := a.opts.Notices.Unmark(ctx, p.ID, id); uerr != nil {
				a.log.Error("notice: the mark could not be taken back", "platform", p.ID, "dealerId", ag.DealerID, "error", uerr.Error())
			}
			return err
		default:
			result = "sync queued"
		}
	}
	a.log.Info("notice accepted", "platform", p.ID, "dealerId", ag.DealerID, "result", result)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// refuseNotice logs a refused notice (never its body or its headers' values) and returns
// its problem.
func (a *API) refuseNotice(r *http.Request, p platform.Platform, dealer string, status int, detail string, errs ...validation.FieldError) error {
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	a.log.Warn("notice refused", "platform", p.ID, "dealerId", dealer, "status", status, "reason", detail, "fields", fields,
		"bytes", r.ContentLength)
	return NewProblem(status, detail, errs...)
}

// refuseNoticeProblem logs a notice refused by readBody (its media type, size or encoding).
func (a *API) refuseNoticeProblem(r *http.Request, p platform.Platform, dealer string, err error) error {
	var pr *Problem
	if errors.As(err, &pr) {
		return a.refuseNotice(r, p, dealer, pr.Status, pr.Detail)
	}
	return err
}

// sameSecret compares a presented secret with the stored one in constant time (digests of
// both, so that neither length shows).
func sameSecret(presented, stored string) bool {
	a, b := sha256.Sum256([]byte(presented)), sha256.Sum256([]byte(stored))
	return presented != "" && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// validNoticeID accepts 1 to maxNoticeID printable ASCII characters (no "#": they become
// table keys).
func validNoticeID(id string) bool {
	if id == "" || len(id) > maxNoticeID {
		return false
	}
	for _, c := range id {
		if c < 0x21 || c > 0x7e || c == '#' {
			return false
		}
	}
	return true
}
