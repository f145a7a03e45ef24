// Package circuit is the circuit breaker of the delivery path: one circuit per delivery target
// (a subscription's endpoint, an agent's platform), shared by every delivery container
// (docs/design.md#circuit-breaker).
//
// A container counts a target's consecutive failures (timeouts, connection errors, 5xx) in
// memory. At Settings.Threshold it opens the circuit: the shared state is written to the
// config table, item pk "DEALER#<dealerId>", sk resources.CircuitKeyPrefix + "SUB#<id>" or
// "AGENT#<platform>". While open, attempts fail fast without a request. When the cool-down is
// over, one container claims the probe (half-open, a conditional write) and makes one real
// attempt: a success closes the circuit, a failure opens it again for twice the cool-down (up
// to Settings.MaxCooldown). The item is written only on these transitions, each conditional
// on the version its writer read, so two containers never both probe or both open it.
//
// The sort key falls under resources.TargetKeyPrefix, so the one Query of a dealer's targets
// (package targets) returns the circuits with the targets: a closed circuit costs the
// delivery path no request. An open one is read again when what a container knows of it is
// older than Settings.CacheTTL.
package circuit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/internal/attr"
	"github.com/dealerai/integrations/shared/internal/versioned"
	"github.com/dealerai/integrations/shared/resources"
)

// The states of a circuit.
const (
	Closed   = "closed"
	Open     = "open"
	HalfOpen = "half_open"
)

// Defaults of Settings.
const (
	DefaultThreshold    = 5
	DefaultCooldown     = time.Minute
	DefaultMaxCooldown  = 20 * time.Minute
	DefaultDisableAfter = 5 * 24 * time.Hour
	DefaultCacheTTL     = 5 * time.Second
	DefaultProbeLease   = 30 * time.Second
	DefaultStallAfter   = 2 * time.Second
)

// Settings of the breaker; a zero field takes its default.
type Settings struct {
	// Threshold is the number of consecutive failures that opens a circuit (5).
	Threshold int
	// Cooldown is the first wait before a probe (1 min); it doubles after each failed probe
	// up to MaxCooldown (20 min).
	Cooldown    time.Duration
	MaxCooldown time.Duration
	// DisableAfter: a circuit open that long whose probe fails again asks for its
	// subscription to be disabled (5 days).
	DisableAfter time.Duration
	// CacheTTL is how long a container trusts what it knows of an open circuit before it
	// reads it again (5 s).
	CacheTTL time.Duration
	// ProbeLease is how long a claimed probe holds the half-open state: past it another
	// container may probe (a container that died mid-probe). At least the attempt's timeout.
	ProbeLease time.Duration
	// StallAfter: when an attempt tracked with a timeout longer than this is still unanswered
	// after it (it stalls), it and every other attempt to the target then waiting in this
	// container count as failures, each once, without waiting for their timeouts (2 s;
	// negative: never). An endpoint that hangs while Threshold attempts wait on it thus opens
	// its circuit StallAfter after the first of them, and the attempts still waiting stop
	// (Track).
	StallAfter time.Duration
}

// WithDefaults fills the zero fields.
func (s Settings) WithDefaults() Settings {
	if s.Threshold <= 0 {
		s.Threshold = DefaultThreshold
	}
	if s.Cooldown <= 0 {
		s.Cooldown = DefaultCooldown
	}
	if s.MaxCooldown <= 0 {
		s.MaxCooldown = DefaultMaxCooldown
	}
	s.MaxCooldown = max(s.MaxCooldown, s.Cooldown)
	if s.DisableAfter <= 0 {
		s.DisableAfter = DefaultDisableAfter
	}
	if s.CacheTTL <= 0 {
		s.CacheTTL = DefaultCacheTTL
	}
	if s.ProbeLease <= 0 {
		s.ProbeLease = DefaultProbeLease
	}
	if s.StallAfter == 0 {
		s.StallAfter = DefaultStallAfter
	}
	return s
}

// State is a target's circuit as stored. The zero State is a closed circuit never opened.
type State struct {
	State string `json:"state"`
	// Failures are the consecutive failures that opened it, plus the failed probes since.
	Failures int `json:"failures"`
	// OpenedAt is when it opened (kept across failed probes: the endpoint has not answered
	// since); ClosedAt when it last closed.
	OpenedAt *time.Time `json:"openedAt,omitempty"`
	ClosedAt *time.Time `json:"closedAt,omitempty"`
	// RetryAt is when the next probe may go (open) or when the probe in flight expires
	// (half-open).
	RetryAt  *time.Time    `json:"retryAt,omitempty"`
	Cooldown time.Duration `json:"-"`
	// LastError is the failure that last opened it.
	LastError string    `json:"lastError,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
	Version   int       `json:"-"`
}

func (s State) isClosed() bool { return s.State == "" || s.State == Closed }

// SortKey is the config-table sort key of a target's circuit.
func SortKey(t deliveryq.Target) string {
	switch t.Kind {
	case deliveryq.KindAgent:
		return resources.CircuitKeyPrefix + "AGENT#" + t.ID
	}
	return resources.CircuitKeyPrefix + "SUB#" + t.ID
}

// IsItem reports whether a config item is a circuit.
func IsItem(item map[string]types.AttributeValue) bool {
	return strings.HasPrefix(attr.GetS(item, "sk"), resources.CircuitKeyPrefix)
}

// FromItem decodes a circuit item: its target and state.
func FromItem(item map[string]types.AttributeValue) (deliveryq.Target, State, bool) {
	rest, ok := strings.CutPrefix(attr.GetS(item, "sk"), resources.CircuitKeyPrefix)
	if !ok {
		return deliveryq.Target{}, State{}, false
	}
	var t deliveryq.Target
	switch {
	case strings.HasPrefix(rest, "SUB#"):
		t = deliveryq.Target{Kind: deliveryq.KindSubscription, ID: rest[len("SUB#"):]}
	case strings.HasPrefix(rest, "AGENT#"):
		t = deliveryq.Target{Kind: deliveryq.KindAgent, ID: rest[len("AGENT#"):]}
	default:
		return t, State{}, false
	}
	s := State{
		State:     attr.GetS(item, "state"),
		Failures:  attr.GetN(item, "failures"),
		OpenedAt:  millis(item, "openedAt"),
		ClosedAt:  millis(item, "closedAt"),
		RetryAt:   millis(item, "retryAt"),
		Cooldown:  time.Duration(attr.GetN(item, "cooldownMs")) * time.Millisecond,
		LastError: attr.GetS(item, "lastError"),
		Version:   attr.GetN(item, "version"),
	}
	if u := millis(item, "updatedAt"); u != nil {
		s.UpdatedAt = *u
	}
	return t, s, t.ID != ""
}

func millis(item map[string]types.AttributeValue, name string) *time.Time {
	if _, ok := item[name]; !ok {
		return nil
	}
	t := time.UnixMilli(int64(attr.GetN(item, name))).UTC()
	return &t
}

func toItem(dealerID string, t deliveryq.Target, s State) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		"pk":         attr.S(resources.DealerKey(dealerID)),
		"sk":         attr.S(SortKey(t)),
		"kind":       attr.S("circuit"),
		"state":      attr.S(s.State),
		"failures":   attr.N(s.Failures),
		"cooldownMs": attr.N(int(s.Cooldown / time.Millisecond)),
		"updatedAt":  attr.Millis(s.UpdatedAt),
		"version":    attr.N(s.Version),
	}
	for name, v := range map[string]*time.Time{"openedAt": s.OpenedAt, "closedAt": s.ClosedAt, "retryAt": s.RetryAt} {
		if v != nil {
			item[name] = attr.Millis(*v)
		}
	}
	if s.LastError != "" {
		item["lastError"] = attr.S(s.LastError)
	}
	return item
}

// DynamoDBAPI is the part of the DynamoDB client the Store uses.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Store reads and writes circuits in the config table.
type Store struct {
	DB    DynamoDBAPI
	Table string
}

// ErrConflict: the circuit changed since its writer read it.
var ErrConflict = versioned.ErrConflict

// Get reads a target's circuit (strongly consistent); the zero State when none is stored.
func (s *Store) Get(ctx context.Context, dealerID string, t deliveryq.Target) (State, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table),
		Key: map[string]types.AttributeValue{
			"pk": attr.S(resources.DealerKey(dealerID)),
			"sk": attr.S(SortKey(t)),
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return State{}, fmt.Errorf("circuit of %s: %w", t, err)
	}
	if out.Item == nil {
		return State{}, nil
	}
	_, st, _ := FromItem(out.Item)
	return st, nil
}

// Put writes next provided the stored circuit is still at version prev (0: none stored);
// next.Version must be prev+1. ErrConflict otherwise.
func (s *Store) Put(ctx context.Context, dealerID string, t deliveryq.Target, next State, prev int) error {
	return versioned.Put(ctx, s.DB, s.Table, toItem(dealerID, t, next), prev)
}

// Permit says what an attempt may do.
type Permit int

const (
	// Allow: the circuit is closed; make the attempt.
	Allow Permit = iota + 1
	// Probe: this attempt is the half-open circuit's one probe.
	Probe
	// Reject: the circuit is open; fail fast without a request.
	Reject
)

// Health is what an attempt said of the endpoint.
type Health int

const (
	// Neutral: nothing (no request made, or our side failed).
	Neutral Health = iota
	// Up: the endpoint answered with something other than a 5xx.
	Up
	// Down: a timeout, a connection error or a 5xx.
	Down
)

// Transition is a change of a circuit a Record made, for the caller's logs and metrics.
type Transition struct {
	// From and To are states; empty when nothing changed.
	From, To string
	State    State
	// Disable: the circuit has been open for Settings.DisableAfter and its probe failed
	// again: the caller disables the target.
	Disable bool
}

// Breaker is a container's view of the circuits: the consecutive failures it saw and the last
// state of each circuit it knows, with the shared Store behind it. Safe for concurrent use.
type Breaker struct {
	Store    StateStore
	Settings Settings
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
}

// StateStore is where circuits are shared; *Store is one.
type StateStore interface {
	Get(ctx context.Context, dealerID string, t deliveryq.Target) (State, error)
	Put(ctx context.Context, dealerID string, t deliveryq.Target, next State, prev int) error
}

type entry struct {
	mu       sync.Mutex
	failures int // consecutive failures this container saw while closed
	state    State
	known    time.Time // when state was last read or written here (zero: from a cache)
	// inflight are the attempts to the target running in this container (Track).
	inflight map[*tracked]bool
}

// tracked is one attempt in flight.
type tracked struct {
	cancel context.CancelCauseFunc
	stall  *time.Timer // nil: not armed
	// stalled: it counted as a failure when it or another attempt to the target stalled;
	// opened: the circuit its stall opened.
	stalled bool
	opened  Transition
}

// Tracked is what happened to a tracked attempt while it ran.
type Tracked struct {
	// Stalled: it counted as a failure while it waited (it or another attempt to the target
	// went unanswered for StallAfter), so its outcome must not count again if it fails
	// (Record with Neutral).
	Stalled bool
	// Opened is the transition its stall made, when that stall opened the circuit (the
	// caller logs it as it logs Record's).
	Opened Transition
}

// ErrOpened is the cause of an attempt's context cancelled because its target's circuit
// opened while it waited (Track).
var ErrOpened = errors.New("circuit opened")

// Track registers an attempt in flight to a target: when this container opens the target's
// circuit, or finds at a stall that another container has, cancel is called with ErrOpened,
// so that attempts already waiting on a dead endpoint stop waiting (and billing) too. With a
// timeout longer than StallAfter, an attempt still running after StallAfter stalls: it and
// the other attempts then waiting count as failures of a closed circuit (and may open it).
// The returned func ends the tracking and tells what happened meanwhile.
func (b *Breaker) Track(dealerID string, t deliveryq.Target, timeout time.Duration, cancel context.CancelCauseFunc) func() Tracked {
	e := b.entry(dealerID, t, true)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inflight == nil {
		e.inflight = map[*tracked]bool{}
	}
	tok := &tracked{cancel: cancel}
	if stall := b.Settings.WithDefaults().StallAfter; stall > 0 && stall < timeout {
		tok.stall = time.AfterFunc(stall, func() { b.stalled(dealerID, t, e, tok) })
	}
	e.inflight[tok] = true
	return func() Tracked {
		if tok.stall != nil {
			tok.stall.Stop()
		}
		// An entry with nothing to remember is dropped, so that the map holds the targets
		// failing or in flight, not every target the container ever served.
		b.mu.Lock()
		defer b.mu.Unlock()
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.inflight, tok)
		k := key(dealerID, t)
		if len(e.inflight) == 0 && e.failures == 0 && e.state.isClosed() && e.state.Version == 0 && b.entries[k] == e {
			delete(b.entries, k)
		}
		return Tracked{Stalled: tok.stalled, Opened: tok.opened}
	}
}

// stallWriteTimeout bounds the write of a circuit a stall opens.
const stallWriteTimeout = 5 * time.Second

// stalled is an attempt unanswered for StallAfter: the endpoint has left it waiting, and the
// attempts sent to it since are waiting on the same endpoint. Each of them not counted yet
// counts as a failure of a closed circuit now, and the circuit opens at the threshold. So an
// endpoint that stops answering while attempts pile up on it opens its circuit one StallAfter
// after it stopped, not Threshold stalls later. An answer starts the count again (Record); an
// attempt never counts twice.
func (b *Breaker) stalled(dealerID string, t deliveryq.Target, e *entry, tok *tracked) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.inflight[tok] || !e.state.isClosed() {
		return
	}
	for waiting := range e.inflight {
		if !waiting.stalled {
			waiting.stalled = true
			e.failures++
		}
	}
	set := b.Settings.WithDefaults()
	now := b.now()
	ctx, cancel := context.WithTimeout(context.Background(), stallWriteTimeout)
	defer cancel()
	if e.failures < set.Threshold {
		b.adoptOpened(ctx, dealerID, t, e, set, now)
		return
	}
	next := State{State: Open, Failures: e.failures, OpenedAt: ptr(now), RetryAt: ptr(now.Add(set.Cooldown)),
		Cooldown: set.Cooldown, LastError: "no answer within " + set.StallAfter.String(), UpdatedAt: now}
	// A write that fails leaves the circuit closed, the failures counted: the next failure
	// tries again.
	if tr, err := b.write(ctx, dealerID, t, e, next, now); err == nil && tr.To != "" {
		tok.opened = tr
	}
}

// adoptOpened reads a circuit this container counts as closed after a stall too few to open
// it: another container may have opened it meanwhile, and the attempts waiting here on the
// same endpoint then stop too. One read per CacheTTL at most, and only while the endpoint
// stalls; a circuit stored closed leaves the count as it is. Called with e.mu held.
func (b *Breaker) adoptOpened(ctx context.Context, dealerID string, t deliveryq.Target, e *entry, set Settings, now time.Time) {
	if now.Sub(e.known) <= set.CacheTTL {
		return
	}
	st, err := b.Store.Get(ctx, dealerID, t)
	if err != nil {
		return
	}
	e.known = now
	if st.Version <= e.state.Version {
		return
	}
	e.state = st
	if !st.isClosed() {
		for waiting := range e.inflight {
			waiting.cancel(ErrOpened)
		}
	}
}

func (b *Breaker) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func key(dealerID string, t deliveryq.Target) string {
	return dealerID + "\x00" + t.Kind + "\x00" + t.ID
}

// entry returns the target's entry, creating it when create.
func (b *Breaker) entry(dealerID string, t deliveryq.Target, create bool) *entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := key(dealerID, t)
	e := b.entries[k]
	if e == nil && create {
		if b.entries == nil {
			b.entries = map[string]*entry{}
		}
		e = &entry{}
		b.entries[k] = e
	}
	return e
}

// Allow decides an attempt to a target. cached is the circuit as the caller's cache of the
// dealer's targets has it (nil: none stored): the newer of it and what this container knows
// applies. An open circuit known for longer than CacheTTL is read again; a due probe is
// claimed with a conditional write (one container wins, the others fail fast). A store that
// cannot be read or written keeps the circuit as known (open: fail fast).
func (b *Breaker) Allow(ctx context.Context, dealerID string, t deliveryq.Target, cached *State) (Permit, State) {
	e := b.entry(dealerID, t, cached != nil && !cached.isClosed())
	if e == nil {
		return Allow, State{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if cached != nil && cached.Version > e.state.Version {
		e.state, e.known = *cached, time.Time{}
	}
	if e.state.isClosed() {
		return Allow, e.state
	}
	set := b.Settings.WithDefaults()
	now := b.now()
	// Half-open lasts one probe: what came of it is read every time.
	if e.state.State == HalfOpen || now.Sub(e.known) > set.CacheTTL {
		b.refresh(ctx, dealerID, t, e, now)
		if e.state.isClosed() {
			return Allow, e.state
		}
	}
	if e.state.RetryAt != nil && now.Before(*e.state.RetryAt) {
		return Reject, e.state
	}
	// The cool-down is over (or the probe in flight expired): claim the probe.
	next := e.state
	next.State, next.Version, next.UpdatedAt = HalfOpen, e.state.Version+1, now
	next.RetryAt = ptr(now.Add(set.ProbeLease))
	if err := b.Store.Put(ctx, dealerID, t, next, e.state.Version); err != nil {
		if errors.Is(err, ErrConflict) {
			b.refresh(ctx, dealerID, t, e, now)
			if e.state.isClosed() {
				return Allow, e.state
			}
		}
		return Reject, e.state
	}
	e.state, e.known = next, now
	return Probe, next
}

// refresh reads the stored circuit into e (kept as known when the read fails).
func (b *Breaker) refresh(ctx context.Context, dealerID string, t deliveryq.Target, e *entry, now time.Time) {
	st, err := b.Store.Get(ctx, dealerID, t)
	if err != nil {
		return
	}
	e.state, e.known = st, now
	if st.isClosed() {
		e.failures = 0
	}
}

// Record tells the breaker what an attempt allowed by Allow (permit) found, with the error
// text of a failure; it returns the transition it made, if any. Up closes an open or
// half-open circuit; Down counts toward the threshold (closed) or opens the circuit again for
// a longer cool-down (a failed probe).
func (b *Breaker) Record(ctx context.Context, dealerID string, t deliveryq.Target, permit Permit, h Health, errText string) (Transition, error) {
	if h == Neutral || permit == Reject {
		return Transition{}, nil
	}
	e := b.entry(dealerID, t, h == Down)
	if e == nil {
		return Transition{}, nil // up, and nothing known: closed
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	set := b.Settings.WithDefaults()
	now := b.now()
	if h == Up {
		e.failures = 0
		if e.state.isClosed() {
			return Transition{}, nil
		}
		next := State{State: Closed, Failures: 0, OpenedAt: e.state.OpenedAt, ClosedAt: ptr(now), UpdatedAt: now}
		return b.write(ctx, dealerID, t, e, next, now)
	}
	switch {
	case e.state.isClosed():
		e.failures++
		if e.failures < set.Threshold {
			return Transition{}, nil
		}
		next := State{State: Open, Failures: e.failures, OpenedAt: ptr(now), RetryAt: ptr(now.Add(set.Cooldown)),
			Cooldown: set.Cooldown, LastError: errText, UpdatedAt: now}
		return b.write(ctx, dealerID, t, e, next, now)
	case permit == Probe && e.state.State == HalfOpen:
		cool := min(max(e.state.Cooldown*2, set.Cooldown), set.MaxCooldown)
		next := e.state
		next.State, next.Failures, next.Cooldown, next.LastError, next.UpdatedAt = Open, e.state.Failures+1, cool, errText, now
		next.RetryAt = ptr(now.Add(cool))
		if next.OpenedAt == nil {
			next.OpenedAt = ptr(now)
		}
		tr, err := b.write(ctx, dealerID, t, e, next, now)
		tr.Disable = err == nil && now.Sub(*next.OpenedAt) >= set.DisableAfter
		return tr, err
	}
	return Transition{}, nil // open already (an attempt let through on a stale view)
}

// Reset closes a target's circuit whatever its state (its subscription was disabled: a new
// start when it is enabled again).
func (b *Breaker) Reset(ctx context.Context, dealerID string, t deliveryq.Target) (Transition, error) {
	e := b.entry(dealerID, t, true)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := b.now()
	e.failures = 0
	if e.state.isClosed() {
		return Transition{}, nil
	}
	return b.write(ctx, dealerID, t, e, State{State: Closed, OpenedAt: e.state.OpenedAt, ClosedAt: ptr(now), UpdatedAt: now}, now)
}

// write stores next over what e knows. On a conflict (another container moved the circuit)
// it adopts the stored state and reports no transition.
func (b *Breaker) write(ctx context.Context, dealerID string, t deliveryq.Target, e *entry, next State, now time.Time) (Transition, error) {
	from := e.state.State
	if from == "" {
		from = Closed
	}
	next.Version = e.state.Version + 1
	if err := b.Store.Put(ctx, dealerID, t, next, e.state.Version); err != nil {
		if errors.Is(err, ErrConflict) {
			b.refresh(ctx, dealerID, t, e, now)
			return Transition{}, nil
		}
		return Transition{}, err
	}
	e.state, e.known = next, now
	if next.isClosed() {
		e.failures = 0
	}
	if next.State == Open {
		for tok := range e.inflight {
			tok.cancel(ErrOpened)
		}
	}
	return Transition{From: from, To: next.State, State: next}, nil
}

// Describe is the error text of an attempt failed fast by an open circuit.
func Describe(s State) string {
	var b strings.Builder
	b.WriteString("circuit open: the endpoint failed ")
	b.WriteString(strconv.Itoa(s.Failures))
	b.WriteString(" times in a row")
	if s.OpenedAt != nil {
		b.WriteString(" (open since " + s.OpenedAt.UTC().Format(time.RFC3339) + ")")
	}
	if s.RetryAt != nil {
		b.WriteString("; next probe after " + s.RetryAt.UTC().Format(time.RFC3339))
	}
	b.WriteString("; no request was made")
	return b.String()
}

func ptr(t time.Time) *time.Time { t = t.UTC(); return &t }
