// Package agentsync is the inbound half of the integration agents' two-way sync: it reads
// what changed in each enabled agent's platform (its change feed, package changefeed) and
// publishes those changes as inbound events (events.InboundCatalog) to the inbound queue for
// DealerAI's services (docs/agents.md#two-way-sync).
//
// It runs on the sync-jobs queue. A schedule puts a tick on it every minute; a tick finds the
// agents whose sync is due through the config table's sparse SyncDue index (never a scan of
// the dealers) and enqueues one job per agent. A job takes the agent's lease (a conditional
// write: one job per agent at a time), reads a bounded amount of the feed, gives each change
// DealerAI's ids through the reverse pointers, drops the changes DealerAI's own pushes made
// (echoes), publishes the rest, and only then stores the feed's cursor: a crash re-reads and
// republishes the same event ids, and never skips. When more remains it enqueues the next
// job at once. A platform that limits the rate, fails or refuses the credentials is retried
// later (Retry-After, exponential backoff, slowly when failing), and each job is bounded in
// time, so one slow platform delays no other dealer.
//
// Inbound events never cause an outbound push: nothing here writes to the events queue or
// changes a correlation.
package agentsync

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
)

// Defaults of a Syncer.
const (
	DefaultInterval = 5 * time.Minute
	// DefaultMaxRecords bounds the platform records one job reads; DefaultPageRecords one
	// call of the feed.
	DefaultMaxRecords  = 500
	DefaultPageRecords = 100
	// MaxBackoff caps the exponential backoff of a failing platform; FailingRetry is how
	// often an agent whose credentials are refused is tried again; MaxRetryAfter caps a
	// platform's Retry-After.
	MaxBackoff    = time.Hour
	FailingRetry  = time.Hour
	MaxRetryAfter = 6 * time.Hour
	// ClaimWindow is how long an agent stays out of the schedule once a job is queued for
	// it: the job moves the due time itself; a job lost on the way is queued again after it.
	ClaimWindow = 10 * time.Minute
	// leaseMargin is how long a job's lease outlives its deadline (a crashed job's lease
	// expires on its own).
	leaseMargin = 10 * time.Second
)

// Agents reads agents and moves them in the sync schedule; *agents.Store is one.
type Agents interface {
	Get(ctx context.Context, dealerID, platform string) (*agents.Agent, error)
	SetSyncDue(ctx context.Context, dealerID, platform string, at time.Time) error
	ClaimSync(ctx context.Context, dealerID, platform string, due, until time.Time) error
}

var _ Agents = (*agents.Store)(nil)

// Records finds DealerAI's records of a platform's ids; *agents.CorrelationStore is one.
type Records interface {
	Pointers(ctx context.Context, dealerID, platform string, ids []agents.PlatformID) (map[agents.PlatformID]agents.ReversePointer, error)
	PushedState(ctx context.Context, dealerID, platform string, keys, updateTypes []string) (map[string]string, error)
	PushedIDs(ctx context.Context, dealerID, platform, idName, after string, limit int) ([]string, error)
}

var _ Records = (*agents.CorrelationStore)(nil)

// States keeps the agents' sync states; *StateStore is one.
type States interface {
	Get(ctx context.Context, dealerID, platform string) (*State, error)
	Lease(ctx context.Context, dealerID, platform, owner string, now, until time.Time) error
	Advance(ctx context.Context, dealerID, platform, owner string, now time.Time, c changefeed.Cursor) error
	Finish(ctx context.Context, dealerID, platform, owner string, now time.Time, o Outcome) error
	Release(ctx context.Context, dealerID, platform, owner string) error
	Request(ctx context.Context, dealerID, platform string, now time.Time, gap time.Duration) error
}

var _ States = (*StateStore)(nil)

// Queue sends messages; *sqs.Client is one.
type Queue interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

var _ Queue = (*sqs.Client)(nil)

// Entitlements says whether a dealer's plan includes a platform (the composition root adapts
// package plans). A platform out of the dealer's plan is not synced.
type Entitlements interface {
	Includes(ctx context.Context, dealerID, platform string) (bool, error)
}

// Syncer runs sync jobs.
type Syncer struct {
	Agents  Agents
	Records Records
	States  States
	// Seen keeps what feeds remember of the records they read again each run
	// (changefeed.Change.Remember); nil: nothing is remembered, and Request.Seen is nil.
	Seen Seen
	// Platforms are the deployment's platforms; Feeds their change feeds, by platform id
	// (NewSyncer builds them).
	Platforms platform.Catalog
	Feeds     map[string]changefeed.Feed
	// HTTP is the SSRF-safe client of every platform request; each job restricts it to its
	// platform's hosts.
	HTTP *http.Client
	// Inbound receives the inbound events at InboundQueueURL; Jobs the continuation jobs at
	// JobsQueueURL.
	Inbound         Queue
	InboundQueueURL string
	Jobs            Queue
	JobsQueueURL    string
	// Entitlements: nil, every platform is in every dealer's plan.
	Entitlements Entitlements
	// Interval is the time between two runs of an agent (SYNC_INTERVAL); DefaultInterval
	// when 0. It is also the first step of the backoff.
	Interval time.Duration
	// Budget bounds the time one job reads a feed (resources.SyncJobBudget when 0);
	// MaxRecords and PageRecords the records it reads (DefaultMaxRecords,
	// DefaultPageRecords).
	Budget      time.Duration
	MaxRecords  int
	PageRecords int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Log receives one line per job (slog.Default() when nil); Metrics, when set, gets that
	// line as a CloudWatch embedded-metric document instead.
	Log     *slog.Logger
	Metrics io.Writer
}

// NewSyncer returns a syncer of the platforms' change feeds, sharing one OAuth token cache
// (build it once per container).
func NewSyncer(platforms platform.Catalog, deps platform.Deps) *Syncer {
	s := &Syncer{Platforms: platforms, Feeds: map[string]changefeed.Feed{}}
	for _, p := range platforms.Syncable() {
		s.Feeds[p.ID] = p.NewChangeFeed(deps)
	}
	return s
}

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Syncer) interval() time.Duration {
	if s.Interval > 0 {
		return s.Interval
	}
	return DefaultInterval
}

func (s *Syncer) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Run performs one job of the agent of dealerID on platform id. An error is a failure of our
// own side (the config table or the inbound queue unreachable): the job is to be retried,
// and no cursor moved past what is not on the queue. A platform's failure is no error: it is
// recorded on the agent and retried at its time.
func (s *Syncer) Run(ctx context.Context, dealerID, platformID string) error {
	start := s.now()
	p, ok := s.Platforms.Get(platformID)
	feed := s.Feeds[platformID]
	if !ok || feed == nil {
		s.log().Warn("sync job of a platform without a change feed", "dealerId", dealerID, "platform", platformID)
		return nil
	}
	a, err := s.Agents.Get(ctx, dealerID, platformID)
	switch {
	case errors.Is(err, agents.ErrNotFound):
		return nil // deleted since: nothing to sync
	case err != nil:
		return err
	case !a.Enabled:
		return nil // disabled since: it left the schedule
	}
	if s.Entitlements != nil {
		in, err := s.Entitlements.Includes(ctx, dealerID, platformID)
		if err != nil {
			return err
		}
		if !in {
			s.log().Info("sync skipped: the platform is not in the dealer's plan", "dealerId", dealerID, "platform", platformID)
			return s.reschedule(ctx, dealerID, platformID, start.Add(s.interval()))
		}
	}

	owner := "sync_" + rand.Text()
	deadline := start.Add(s.budget())
	until := deadline.Add(leaseMargin)
	if d, ok := ctx.Deadline(); ok {
		deadline = minTime(deadline, d.Add(-10*time.Second))
		until = d.Add(leaseMargin)
	}
	if err := s.States.Lease(ctx, dealerID, platformID, owner, start, until); err != nil {
		if errors.Is(err, ErrBusy) {
			s.log().Info("sync job dropped: another job of the agent is running", "dealerId", dealerID, "platform", platformID)
			return nil
		}
		return err
	}
	st, err := s.States.Get(ctx, dealerID, platformID)
	if err != nil {
		s.release(ctx, dealerID, platformID, owner)
		return err
	}

	j := &job{s: s, p: p, feed: feed, agent: a, owner: owner, state: st, deadline: deadline,
		run: Run{StartedAt: start}}
	more, failure, err := j.read(ctx)
	if err != nil {
		s.release(ctx, dealerID, platformID, owner)
		return err
	}
	return s.finish(ctx, j, more, failure)
}

func (s *Syncer) budget() time.Duration {
	if s.Budget > 0 {
		return s.Budget
	}
	return defaultBudget
}

// finish records the job's outcome, moves the agent in the schedule and, when more remains,
// queues the next job.
func (s *Syncer) finish(ctx context.Context, j *job, more bool, failure *changefeed.Error) error {
	now := s.now()
	j.run.FinishedAt = now
	o := Outcome{Run: j.run, State: StateIdle, Notes: j.notes}
	next := now.Add(s.interval())
	if failure != nil {
		o.Failures = j.state.Failures + 1
		o.Reason = failure.Message
		o.Run.Error = failure.Message
		switch failure.Failure {
		case changefeed.CredentialsRefused:
			o.State = StateFailing
			next = now.Add(FailingRetry)
		case changefeed.RateLimited:
			o.State = StateBackingOff
			next = now.Add(max(min(failure.RetryAfter, MaxRetryAfter), s.backoff(o.Failures)))
		default:
			o.State = StateBackingOff
			next = now.Add(s.backoff(o.Failures))
		}
	}
	if more && failure == nil {
		next = now.Add(ClaimWindow) // the continuation moves it; this only covers its loss
	}
	err := s.States.Finish(ctx, j.agent.DealerID, j.p.ID, j.owner, now, o)
	if errors.Is(err, ErrLeaseLost) {
		s.log().Warn("sync job outlived its lease: its outcome is not recorded", "dealerId", j.agent.DealerID, "platform", j.p.ID)
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.reschedule(ctx, j.agent.DealerID, j.p.ID, next); err != nil {
		return err
	}
	if more && failure == nil {
		if err := enqueueJobs(ctx, s.Jobs, s.JobsQueueURL, []Message{{Kind: KindJob, DealerID: j.agent.DealerID, Platform: j.p.ID, Reason: ReasonContinue}}); err != nil {
			return err
		}
	}
	s.report(j, o, failure, more, next)
	return nil
}

// reschedule sets the agent's next due time; an agent disabled meanwhile stays out.
func (s *Syncer) reschedule(ctx context.Context, dealerID, platformID string, at time.Time) error {
	err := s.Agents.SetSyncDue(ctx, dealerID, platformID, at)
	if errors.Is(err, agents.ErrNotScheduled) {
		return nil
	}
	return err
}

// release gives a lease up after a failure of our own side; the job is retried by SQS.
func (s *Syncer) release(ctx context.Context, dealerID, platformID, owner string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.States.Release(rctx, dealerID, platformID, owner); err != nil {
		s.log().Warn("sync lease not released; it expires on its own", "dealerId", dealerID, "platform", platformID, "error", err.Error())
	}
}

// backoff is the wait after the n-th failure in a row: the interval doubled each time, at
// most MaxBackoff, spread by ±10 %.
func (s *Syncer) backoff(n int) time.Duration {
	d := float64(s.interval()) * math.Pow(2, float64(max(n-1, 0)))
	d = min(d, float64(MaxBackoff))
	return time.Duration(d * (0.9 + 0.2*mrand.Float64()))
}

// report writes the job's line: an EMF document with the sync metrics when Metrics is set.
func (s *Syncer) report(j *job, o Outcome, failure *changefeed.Error, more bool, next time.Time) {
	attrs := map[string]any{
		"dealerId": j.agent.DealerID, "platform": j.p.ID, "state": o.State,
		"recordsRead": o.Run.RecordsRead, "eventsPublished": o.Run.EventsPublished,
		"echoesSuppressed": o.Run.EchoesSuppressed, "more": more, "nextRunAt": next.Format(time.RFC3339),
		"durationMs": o.Run.FinishedAt.Sub(o.Run.StartedAt).Milliseconds(),
	}
	if failure != nil {
		attrs["failure"] = failure.Failure.String()
		attrs["error"] = failure.Message
	}
	if len(o.Notes) > 0 {
		attrs["notes"] = o.Notes
	}
	writeReport(s.log(), s.Metrics, s.now(), attrs, map[string]int{
		MetricRecordsRead:     o.Run.RecordsRead,
		MetricEventsPublished: o.Run.EventsPublished,
		MetricFailures:        boolInt(failure != nil && failure.Failure != changefeed.CredentialsRefused),
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// blockedHost refuses an agent whose URL settings name a host that is not the platform's,
// as the delivery path does: nothing is sent.
func blockedHost(p platform.Platform, settings map[string]string) *changefeed.Error {
	if k, host, off := p.OffHostSetting(settings); off {
		return changefeed.Errorf(changefeed.CredentialsRefused, "%s", agents.BlockedMessage(p, k, host))
	}
	return nil
}

// restrict is the platform client of a job.
func (s *Syncer) restrict(p platform.Platform) *http.Client {
	return connector.RestrictHosts(s.HTTP, p.Name, p.AllowsHost)
}

var errNoHTTP = fmt.Errorf("the syncer has no HTTP client")
