package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/subscriptions"
	"github.com/dealerai/integrations/shared/validation"
)

// subscriptionView is a subscription as the API shows it: never its secrets.
type subscriptionView struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Description    string    `json:"description"`
	Enabled        bool      `json:"enabled"`
	Status         string    `json:"status"`
	DisabledReason *string   `json:"disabledReason"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	// Circuit is the endpoint's circuit breaker (GET of one subscription only).
	Circuit *circuitView `json:"circuit,omitempty"`
}

func viewOf(s *subscriptions.Subscription) subscriptionView {
	v := subscriptionView{
		ID: s.ID, URL: s.URL, Events: s.Events, Description: s.Description, Enabled: s.Enabled,
		Status: s.Status, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
	if v.Events == nil {
		v.Events = []string{}
	}
	if s.DisabledReason != "" {
		v.DisabledReason = &s.DisabledReason
	}
	return v
}

// createdSubscription is the answer to a create: the subscription and its secret.
type createdSubscription struct {
	subscriptionView
	Secret string `json:"secret"`
}

type secretView struct {
	Secret                  string     `json:"secret"`
	PreviousSecret          string     `json:"previousSecret,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt,omitempty"`
}

type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

func newPage[T any](items []T, next string) page[T] {
	p := page[T]{Items: items}
	if p.Items == nil {
		p.Items = []T{}
	}
	if next != "" {
		p.NextCursor = &next
	}
	return p
}

func (a *API) createSubscription(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, mediaJSON)
	if err != nil {
		return err
	}
	f, err := decodeCreate(body)
	if err != nil {
		return err
	}
	if err := subscriptions.ValidateCreate(r.Context(), a.opts.URLs, f); err != nil {
		return err
	}
	if f.URL != nil {
		if err := a.checkHostCap(r, *f.URL, ""); err != nil {
			return err
		}
	}
	secret, err := a.opts.NewSecret()
	if err != nil {
		return err
	}
	sub := subscriptions.New(dealerOf(r), f, secret, a.opts.Now())
	if err := a.opts.Subscriptions.Create(r.Context(), sub); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/subscriptions/"+sub.ID)
	w.Header().Set("ETag", etag(sub.Version))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdSubscription{viewOf(sub), sub.Secret})
	return nil
}

func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	subs, next, err := a.opts.Subscriptions.List(r.Context(), dealerOf(r), limit, cursor)
	if err != nil {
		return err
	}
	views := make([]subscriptionView, len(subs))
	for i := range subs {
		views[i] = viewOf(&subs[i])
	}
	writeJSON(w, http.StatusOK, newPage(views, next))
	return nil
}

func (a *API) getSubscription(w http.ResponseWriter, r *http.Request) error {
	sub, err := a.subscription(r)
	if err != nil {
		return err
	}
	v := viewOf(sub)
	if v.Circuit, err = a.circuitOf(r.Context(), sub.DealerID, deliveryq.Target{Kind: deliveryq.KindSubscription, ID: sub.ID}); err != nil {
		return err
	}
	w.Header().Set("ETag", etag(sub.Version))
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) updateSubscription(w http.ResponseWriter, r *http.Request) error {
	id, err := subscriptionID(r)
	if err != nil {
		return err
	}
	version, err := subscriptionIfMatch(r)
	if err != nil {
		return err
	}
	body, err := readBody(r, mediaMergePatch, mediaJSON)
	if err != nil {
		return err
	}
	change, err := decodePatch(body)
	if err != nil {
		return err
	}
	if err := subscriptions.ValidateUpdate(r.Context(), a.opts.URLs, change); err != nil {
		return err
	}
	if change.URL != nil {
		if err := a.checkHostCap(r, *change.URL, id); err != nil {
			return err
		}
	}
	sub, err := a.opts.Subscriptions.Update(r.Context(), dealerOf(r), id, change, version)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(sub.Version))
	writeJSON(w, http.StatusOK, viewOf(sub))
	return nil
}

func (a *API) deleteSubscription(w http.ResponseWriter, r *http.Request) error {
	id, err := subscriptionID(r)
	if err != nil {
		return err
	}
	version, err := subscriptionIfMatch(r)
	if err != nil {
		return err
	}
	if err := a.opts.Subscriptions.Delete(r.Context(), dealerOf(r), id, version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) getSubscriptionSecret(w http.ResponseWriter, r *http.Request) error {
	sub, err := a.subscription(r)
	if err != nil {
		return err
	}
	v := secretView{Secret: sub.Secret}
	if secrets := sub.SigningSecrets(a.opts.Now()); len(secrets) == 2 {
		v.PreviousSecret, v.PreviousSecretExpiresAt = sub.PreviousSecret, &sub.PreviousSecretExpiresAt
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) rotateSubscriptionSecret(w http.ResponseWriter, r *http.Request) error {
	id, err := subscriptionID(r)
	if err != nil {
		return err
	}
	revoke, err := decodeRotate(r)
	if err != nil {
		return err
	}
	secret, err := a.opts.NewSecret()
	if err != nil {
		return err
	}
	if _, err := a.opts.Subscriptions.RotateSecret(r.Context(), dealerOf(r), id, secret, revoke); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, secretView{Secret: secret})
	return nil
}

// subscription reads the subscription of the path's {id}, within the caller's dealer.
func (a *API) subscription(r *http.Request) (*subscriptions.Subscription, error) {
	id, err := subscriptionID(r)
	if err != nil {
		return nil, err
	}
	return a.opts.Subscriptions.Get(r.Context(), dealerOf(r), id)
}

// subscriptionID is the path's {id}; one that cannot be a subscription id is not found.
func subscriptionID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !subscriptions.ValidID(id) {
		return "", subscriptions.ErrNotFound
	}
	return id, nil
}

// Pagination: ?limit= (1..100, default 50) and ?cursor=.
const (
	defaultLimit = 50
	maxLimit     = 100
)

func pageParams(r *http.Request) (limit int, cursor string, err error) {
	q := r.URL.Query()
	limit = defaultLimit
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > maxLimit || len(v) > 1 {
			return 0, "", NewProblem(http.StatusBadRequest, "invalid query parameter",
				validation.FieldError{Field: "limit", Message: "must be an integer from 1 to " + strconv.Itoa(maxLimit)})
		}
		limit = n
	}
	if v, ok := q["cursor"]; ok {
		if len(v) > 1 || v[0] == "" {
			return 0, "", NewProblem(http.StatusBadRequest, "invalid query parameter", validation.FieldError{Field: "cursor", Message: "is not a cursor this list returned"})
		}
		cursor = v[0]
	}
	return limit, cursor, nil
}

// etag is the ETag of a subscription or agent version; ifMatch reads it back from If-Match.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch reads If-Match: conditional is false without one (or with "*": any current
// version). A value that cannot match a version (a weak or malformed tag, a list) is mismatch
// (a 412).
func ifMatch(r *http.Request, mismatch error) (version int64, conditional bool, err error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, false, nil
	}
	if len(h) >= 3 && h[0] == '"' && h[len(h)-1] == '"' {
		if v, err := strconv.ParseInt(h[1:len(h)-1], 10, 64); err == nil && v >= 0 {
			return v, true, nil
		}
	}
	return 0, false, mismatch
}

// subscriptionIfMatch is the version If-Match requires of a subscription, 0 for any. A
// subscription's versions start at 1, so "0" cannot match.
func subscriptionIfMatch(r *http.Request) (int64, error) {
	v, conditional, err := ifMatch(r, subscriptions.ErrVersionMismatch)
	if conditional && v == 0 {
		return 0, subscriptions.ErrVersionMismatch
	}
	return v, err
}
