package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/dealerai/integrations/shared/subscriptions"
)

// SecretSource reads a subscription as stored now (subscriptions.Store).
type SecretSource interface {
	Get(ctx context.Context, dealerID, id string) (*subscriptions.Subscription, error)
}

// DefaultSecretMaxAge is how old the signing secrets a POST is signed with may be, when the
// handler has a SecretSource: a rotation, and above all a revocation of a leaked secret, is
// honoured within it rather than within the targets cache's 30 s.
const DefaultSecretMaxAge = 5 * time.Second

// secretMemo keeps each subscription's signing secrets, read at most SecretMaxAge ago.
type secretMemo struct {
	mu      sync.Mutex
	entries map[string]secretEntry
}

type secretEntry struct {
	secret, previous string
	previousExpires  time.Time
	at               time.Time
}

const maxSecretEntries = 10000

// signingSubscription is sub (from the targets cache) with its signing secrets as stored at
// most SecretMaxAge ago: read again (one GetItem) when older. Should the read fail, the
// cached secrets sign, as they would without a SecretSource.
func (h *Handler) signingSubscription(ctx context.Context, dealerID string, sub *subscriptions.Subscription) *subscriptions.Subscription {
	if h.Secrets == nil {
		return sub
	}
	maxAge := h.SecretMaxAge
	if maxAge <= 0 {
		maxAge = DefaultSecretMaxAge
	}
	key := dealerID + "#" + sub.ID
	now := h.now()
	h.secrets.mu.Lock()
	e, ok := h.secrets.entries[key]
	h.secrets.mu.Unlock()
	if !ok || now.Sub(e.at) >= maxAge {
		stored, err := h.Secrets.Get(ctx, dealerID, sub.ID)
		if err != nil {
			h.logger().Warn("signing secrets could not be read again; the cached ones sign", "dealerId", dealerID, "subscriptionId", sub.ID, "error", err.Error())
			return sub
		}
		e = secretEntry{secret: stored.Secret, previous: stored.PreviousSecret, previousExpires: stored.PreviousSecretExpiresAt, at: now}
		h.secrets.mu.Lock()
		if h.secrets.entries == nil || len(h.secrets.entries) >= maxSecretEntries {
			h.secrets.entries = map[string]secretEntry{}
		}
		h.secrets.entries[key] = e
		h.secrets.mu.Unlock()
	}
	fresh := *sub
	fresh.Secret, fresh.PreviousSecret, fresh.PreviousSecretExpiresAt = e.secret, e.previous, e.previousExpires
	return &fresh
}
