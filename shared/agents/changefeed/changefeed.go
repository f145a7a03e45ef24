// Package changefeed is the contract between the two-way sync (shared/agentsync) and a
// platform's change feed: how the sync asks a platform what changed in a dealer's CRM or
// service scheduler since the last run, and what the feed answers. A platform package
// (shared/agents/<platform>) implements Feed and hands it to the core through
// platform.Platform.NewChangeFeed; the sync does the rest — schedule, lease, reverse lookup
// of DealerAI's ids, echo suppression, event ids, publishing, the cursor, backoff
// (docs/agents.md#two-way-sync).
//
// A feed reads, it never writes: no change is made in the platform by a sync. It never logs
// and never puts a credential in an error, like a connector.
package changefeed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/shared/agents/connector"
)

// Feed reads one page of a platform's changes for one agent. ctx carries the job's deadline:
// a feed stops reading when it is near (returning what it has, with More) or fails with ctx's
// error.
//
// Changes is called with the cursor the previous page returned (the zero Cursor on an agent's
// first sync) and returns the changes after it, at most about req.MaxRecords platform records'
// worth, with the cursor to continue from. The sync publishes the page's changes and only then
// stores page.Next, so a feed may be asked for the same page again (after a crash): the same
// records must then give the same changes (same RecordKind, RecordID and Version), which makes
// the same event ids. A feed must not skip: a change it has not returned stays after
// page.Next.
//
// Errors: a *Error (RateLimited, CredentialsRefused, Transient) or a *connector.AttemptError as
// connector.Send and connector.StatusError make them (a 401/403 is CredentialsRefused, a 429 or
// a Retry-After RateLimited); anything else counts as Transient.
type Feed interface {
	Changes(ctx context.Context, req *Request) (*Page, error)
}

// Request is what a feed is given for one page.
type Request struct {
	DealerID string
	// Settings of the agent, the platform's defaults applied; Credentials as stored.
	Settings    map[string]string
	Credentials map[string]string
	// Cursor is where the previous page ended; the zero Cursor on the first sync.
	Cursor Cursor
	// MaxRecords bounds the platform records this call reads (list items, per-record reads):
	// the feed returns More when it stopped at the bound.
	MaxRecords int
	// HTTP is the client every platform request goes through: the SSRF-safe client
	// restricted to the platform's hosts, as a connector's.
	HTTP *http.Client
	// Pushed answers which records DealerAI pushed to the platform for this dealer, for a
	// feed that can only read records one by one (DealerSocket's customers, XTime's VINs).
	Pushed PushedRecords
	// Seen answers what the sync remembered of records (Change.Remember), for a feed that
	// reads records' current states rather than a change log: it returns a record only when
	// its state differs from the one remembered.
	Seen SeenRecords
	// Now is the time of this sync run.
	Now time.Time
}

// Cursor is where a feed is in the platform's changes. The sync stores it as given and hands
// it back; only the feed reads Value.
type Cursor struct {
	// Value is the feed's own position (a time, a page number, a record id, a composite).
	Value string
	// Time is the platform time the feed has read up to, shown as the sync's cursorTime;
	// zero when the feed has none.
	Time time.Time
}

// IsZero reports whether c is the cursor of a first sync.
func (c Cursor) IsZero() bool { return c.Value == "" && c.Time.IsZero() }

// Page is one call's answer.
type Page struct {
	Changes []Change
	// Next is the cursor after this page's changes (the same cursor when nothing changed).
	Next Cursor
	// More: the feed stopped at MaxRecords and has more to read now; the sync continues in
	// a next job at once.
	More bool
	// RecordsRead counts the platform records read, changed or not.
	RecordsRead int
	// Notes are what the sync should record about this page for whoever looks at the
	// agent's sync, e.g. "the cursor was older than the platform's 7-day window: the window
	// was read again". Never a credential or a customer's data.
	Notes []string
	// Remember are memories the sync keeps like Change.Remember, for records that are not
	// changes themselves: e.g. which appointments a vehicle had, so that the next read sees
	// one that is gone. Kept with the page's changes' memories, once its events are on the
	// queue.
	Remember []Memory
}

// Memory is what the sync keeps for a record (RecordKind, RecordID) that Request.Seen
// answers from then on.
type Memory struct {
	RecordKind, RecordID, Value string
	// Forget: the record is gone; what was kept of it is dropped (Value is empty).
	Forget bool
}

// Memories are the memories a page asks the sync to keep: its changes' Remember values and
// its Remember list.
func (p *Page) Memories() []Memory {
	var out []Memory
	for _, c := range p.Changes {
		if c.Remember != "" || c.Forget {
			out = append(out, Memory{RecordKind: c.RecordKind, RecordID: c.RecordID, Value: c.Remember, Forget: c.Forget})
		}
	}
	return append(out, p.Remember...)
}

// Change is one platform record's new state.
type Change struct {
	// RecordKind names what the record is in the platform: "lead", "opportunity",
	// "activity", "appointment", "customer".
	RecordKind string
	// RecordID is the platform's id of the record.
	RecordID string
	// Version is the platform's version or change time of this state of the record; with
	// the platform, RecordKind and RecordID it makes the event id, so it must be the same
	// whenever this state is read again. A platform without one: StateVersion(State).
	Version string
	// ChangedAt is the platform's change time (occurredAt); zero when it gives none.
	ChangedAt time.Time
	// EventType is the inbound event type (events.TypeCRMLeadCreated, ...).
	EventType string
	// Created: the record is new in the platform. A lead created by DealerAI's own push is
	// recognised by the sync (its ids are DealerAI's), so its creation is not sent back.
	Created bool
	// PlatformIDs are the platform's ids of the record and of the records it belongs to, by
	// name ("leadId", "contactId", "opportunityId", "customerId", "vin"): the sync looks
	// each one up to find DealerAI's ids.
	PlatformIDs map[string]string
	// State is the record's new state in the inbound event's named fields.
	State inbound.State
	// Remember, when not empty, is what the sync keeps for the record (RecordKind and
	// RecordID) once the page's events are on the queue, before it stores Next; Request.Seen
	// answers it from then on. A feed that reads current states remembers what it compares
	// the next read with (e.g. a digest of the state).
	Remember string
	// Forget: the record is gone from the platform (a vehicle sold); the sync drops what it
	// remembered of it once the page's events are on the queue.
	Forget bool
}

// StateVersion is a Version for a platform that gives a record neither a version nor a change
// time: a digest of the state the feed reports, so the same state read again has the same
// version and a changed one another.
func StateVersion(s inbound.State) string {
	b, _ := json.Marshal(s) // plain data: cannot fail
	sum := sha256.Sum256(b)
	return "state:" + hex.EncodeToString(sum[:12])
}

// PushedRecords lists the records of this platform DealerAI pushed for the dealer, by one of
// the platform ids the connector saved for them (its connector.Result.Correlation keys).
type PushedRecords interface {
	// IDs returns up to limit values of the platform id idName ("customerId", "vin") of
	// records DealerAI pushed, in ascending order, those after the value after ("" for the
	// first). Fewer than limit: there are no more.
	IDs(ctx context.Context, idName, after string, limit int) ([]string, error)
}

// SeenRecords answers what the sync remembered of a platform's records for the agent.
type SeenRecords interface {
	// Remembered returns the Remember value last kept for each of the records of kind
	// recordKind with the given ids, by id; a record with none is absent.
	Remembered(ctx context.Context, recordKind string, ids []string) (map[string]string, error)
}

// Failure says why a page could not be read.
type Failure int

// Failures of a feed.
const (
	// Transient: the platform or the network failed; retried with exponential backoff.
	Transient Failure = iota
	// RateLimited: the platform refused for rate or quota (429, QUOTA-EXCEEDED); retried
	// after RetryAfter, or the backoff when the platform gave none.
	RateLimited
	// CredentialsRefused: the platform refused the agent's credentials or its token; the
	// agent is marked failing with the reason and retried slowly until they work again.
	CredentialsRefused
)

func (f Failure) String() string {
	switch f {
	case RateLimited:
		return "rate_limited"
	case CredentialsRefused:
		return "credentials_refused"
	}
	return "transient"
}

// Error is a feed's failure.
type Error struct {
	Failure    Failure
	RetryAfter time.Duration
	// Message says what failed, for the agent's sync status and the log: the step and the
	// platform's status, never a credential.
	Message string
}

func (e *Error) Error() string { return e.Failure.String() + ": " + e.Message }

// Errorf returns an *Error of the given failure.
func Errorf(f Failure, format string, args ...any) *Error {
	return &Error{Failure: f, Message: fmt.Sprintf(format, args...)}
}

// Classify is how the sync reads a feed's error: a *Error as it is; a *connector.AttemptError
// of class auth is CredentialsRefused, one with status 429 or a Retry-After RateLimited, any
// other Transient; any other error Transient.
func Classify(err error) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	var ae *connector.AttemptError
	if errors.As(err, &ae) {
		switch {
		case ae.Class == connector.ClassAuth:
			return &Error{Failure: CredentialsRefused, Message: ae.Message}
		case ae.StatusCode == http.StatusTooManyRequests || ae.RetryAfter > 0:
			return &Error{Failure: RateLimited, RetryAfter: ae.RetryAfter, Message: ae.Message}
		}
		return &Error{Failure: Transient, Message: ae.Message}
	}
	return &Error{Failure: Transient, Message: err.Error()}
}

// Rotation is the cursor of a feed that reads the records DealerAI pushed one by one
// (Request.Pushed), in ascending id order across runs: the last id read in the current
// rotation ("" when none yet) and when that rotation started. The Cursor.Time of such a feed
// is when its last complete rotation started: every change made before it has been read.
type Rotation struct {
	After   string
	Started time.Time
}

// ParseRotation reads a Rotation from a Cursor.Value; the zero Rotation (a new one to start)
// when v is not one.
func ParseRotation(v string) Rotation {
	q, err := url.ParseQuery(v)
	if err != nil {
		return Rotation{}
	}
	started, err := time.Parse(time.RFC3339Nano, q.Get("started"))
	if err != nil {
		return Rotation{}
	}
	return Rotation{After: q.Get("after"), Started: started}
}

// String is r as a Cursor.Value.
func (r Rotation) String() string {
	return url.Values{"after": {r.After}, "started": {r.Started.UTC().Format(time.RFC3339Nano)}}.Encode()
}

// Next is the cursor after a page of a rotation that read up to r: the same rotation when
// the page stopped early (stopped) or read as many ids as it asked for (more may follow),
// else the end of the rotation (the next one starts with the next run). more reports
// whether the feed has more to read now.
func (r Rotation) Next(prev Cursor, read, limit int, stopped bool) (next Cursor, more bool) {
	if !stopped && read < limit {
		return Cursor{Time: r.Started}, false
	}
	return Cursor{Value: r.String(), Time: prev.Time}, true
}

// Digest is a short digest of the values a feed compares a record on (its status, its
// assignee, ...), for its Remember.
func Digest(values ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(values, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// Digested is a Remember value of a feed of current states: the Digest of what it compares,
// and one value more it needs next time (a change time, a due date).
type Digested struct{ Digest, Extra string }

func (d Digested) String() string { return d.Digest + " " + d.Extra }

// ParseDigested reads a Digested's String; false when v is none.
func ParseDigested(v string) (Digested, bool) {
	digest, extra, ok := strings.Cut(v, " ")
	return Digested{Digest: digest, Extra: extra}, ok && digest != ""
}

// timeLayouts are the forms ParseTime reads.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"}

// ParseTime reads a platform's date and time: RFC 3339, or without a zone (taken as UTC), or
// a date; the zero time when v is none of them.
func ParseTime(v string) time.Time {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// FirstSync is the page of a feed's first sync when the feed reads nothing of what came
// before it: Next is value (the feed's cursor at now), and the note says what is read from
// now on ("first sync: <what> from <now> on").
func FirstSync(now time.Time, value, what string) *Page {
	return &Page{Next: Cursor{Value: value, Time: now}, Notes: []string{"first sync: " + what + " from " + now.Format(time.RFC3339) + " on"}}
}
