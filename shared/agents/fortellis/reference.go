package fortellis

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dealerai/integrations/shared/agents/connector"
)

// Per-company reference data (the company's activity types and opportunity statuses) is read
// from Elead when first needed and kept per container for ReferenceTTL, per API base URL and
// subscription (one subscription is one dealer's company).

// ReferenceTTL is how long reference data is used before it is read again.
const ReferenceTTL = time.Hour

// maxReferenceEntries bounds the cache; expired entries are dropped when it is reached, then
// the oldest.
const maxReferenceEntries = 2000

// referenceCache keeps reference data. It is safe for concurrent use; two concurrent misses
// of one key may both read it (harmless).
type referenceCache struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	TTL time.Duration

	mu      sync.Mutex
	entries map[string]referenceEntry
}

type referenceEntry struct {
	value   any
	fetched time.Time
}

func (c *referenceCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *referenceCache) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || c.now().Sub(e.fetched) >= c.TTL {
		return nil, false
	}
	return e.value, true
}

func (c *referenceCache) put(key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]referenceEntry{}
	}
	if len(c.entries) >= maxReferenceEntries {
		c.prune()
	}
	c.entries[key] = referenceEntry{value: v, fetched: c.now()}
}

// forget drops key, so the next use reads it again (a name the cached list lacks may have
// been added since).
func (c *referenceCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}

// prune drops the expired entries, then, if none was, the oldest tenth.
func (c *referenceCache) prune() {
	now := c.now()
	for k, e := range c.entries {
		if now.Sub(e.fetched) >= c.TTL {
			delete(c.entries, k)
		}
	}
	if len(c.entries) < maxReferenceEntries {
		return
	}
	keys := make([]string, 0, len(c.entries))
	for k := range c.entries {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return c.entries[keys[i]].fetched.Before(c.entries[keys[j]].fetched) })
	for _, k := range keys[:len(keys)/10+1] {
		delete(c.entries, k)
	}
}

// cached returns the value of kind for the delivery's company, reading it with load when the
// cache has none.
func cached[T any](ctx context.Context, s *session, kind string, load func(context.Context) (T, error)) (T, bool, error) {
	key := s.companyKey(kind)
	if v, ok := s.refs.get(key); ok {
		return v.(T), true, nil
	}
	v, err := load(ctx)
	if err != nil {
		return v, false, err
	}
	s.refs.put(key, v)
	return v, false, nil
}

// companyKey identifies a kind of reference data of the delivery's company.
func (s *session) companyKey(kind string) string {
	return kind + "\x00" + strings.TrimRight(s.d.Settings["baseUrl"], "/") + "\x00" + s.d.Settings["subscriptionId"]
}

// activityType resolves the activityType setting: an integer is the id itself; a name is
// looked up in the company's activity types (case ignored).
func (s *session) activityType(ctx context.Context) (int, error) {
	setting := strings.TrimSpace(s.d.Settings["activityType"])
	if setting == "" {
		setting = DefaultActivityType
	}
	if id, err := strconv.Atoi(setting); err == nil {
		return id, nil
	}
	types, wasCached, err := cached(ctx, s, "activityTypes", s.fetchActivityTypes)
	if err != nil {
		return 0, err
	}
	for _, t := range types {
		if strings.EqualFold(t.Name, setting) {
			return t.ID, nil
		}
	}
	if wasCached {
		s.refs.forget(s.companyKey("activityTypes"))
	}
	names := make([]string, 0, len(types))
	for _, t := range types {
		names = append(names, fmt.Sprintf("%s (%d)", t.Name, t.ID))
	}
	return 0, &connector.AttemptError{Class: connector.ClassPlatform, Permanent: !wasCached,
		Message: fmt.Sprintf("settings.activityType %q is not one of the company's Elead activity types: %s",
			setting, truncate(strings.Join(names, ", "), 400))}
}

// subStatusOf finds name among the company's sub-statuses (case, spaces and punctuation
// ignored) and returns the sub-status as Elead spells it and its status; "" when none is.
func (s *session) subStatusOf(ctx context.Context, name string) (subStatus, status string, err error) {
	statuses, _, err := cached(ctx, s, "opportunityStatuses", s.fetchOpportunityStatuses)
	if err != nil {
		return "", "", err
	}
	want := normalizeName(name)
	if want == "" {
		return "", "", nil
	}
	for _, st := range statuses {
		for _, sub := range st.SubStatuses {
			if normalizeName(sub.SubStatus) == want {
				return sub.SubStatus, st.Status, nil
			}
		}
	}
	return "", "", nil
}

// normalizeName is a name compared without case, spaces or punctuation ("Appointment set",
// "APPOINTMENT_SET" and "appointment-set" are one).
func normalizeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 {
			b.WriteRune(r)
		}
	}
	return b.String()
}
