package agentstest

import (
	"cmp"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/internal/agenttest"
	"github.com/dealerai/integrations/shared/resources"
)

// The two-way sync as make dev runs it: the sync function built by package app from the
// stack's configuration (its endpoint policy, the registry's platforms with the fakes' host),
// driven from the sync-jobs queue by infra/local's poller, with the schedule's ticks; what it
// publishes read off the inbound queue as a DealerAI service would (inbound.Parse).

// syncHandler is the sync function with SYNC_INTERVAL interval. Its job lines go to the
// stack's log (scanned for credentials) rather than as metrics to stdout.
func (s *stack) syncHandler(interval time.Duration) *agentsync.Handler {
	s.t.Helper()
	cfg := s.cfg
	cfg.SyncInterval = interval
	policy, err := cfg.EndpointPolicy()
	if err != nil {
		s.t.Fatal(err)
	}
	platforms, err := cfg.Platforms()
	if err != nil {
		s.t.Fatal(err)
	}
	h, err := app.NewSyncHandler(s.env.AWS, cfg, policy.NewClient(cfg.DeliveryTimeout), platforms)
	if err != nil {
		s.t.Fatal(err)
	}
	h.Syncer.Metrics = nil
	return h
}

// runSync drives h until the test ends as `SYNC_INTERVAL=<interval> make dev` does: the
// sync-jobs queue's poller and the schedule's tick.
func (s *stack) runSync(h *agentsync.Handler, interval time.Duration) {
	s.env.StartPoller(s.t, resources.SyncJobsQueue, h.Handle, resources.SyncTimeout, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		local.RunSyncSchedule(ctx, s.env.SQS, s.env.QueueURL(resources.SyncJobsQueue), local.SyncTickEvery(interval), s.cfg.Logger)
	}()
	s.t.Cleanup(func() { cancel(); <-done })
}

// inbound takes the messages the inbound queue holds now off it, each one validated as a
// DealerAI service reads it and its attributes checked against its body.
func (s *stack) inbound() []*inbound.Event {
	s.t.Helper()
	var out []*inbound.Event
	for s.env.Visible(s.t, resources.InboundQueue) > 0 {
		res, err := s.env.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.env.QueueURL(resources.InboundQueue)), MaxNumberOfMessages: 10, VisibilityTimeout: localtest.ReceiveVisibility,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			s.t.Fatal(err)
		}
		for _, m := range res.Messages {
			ev, err := inbound.Parse([]byte(aws.ToString(m.Body)))
			if err != nil {
				s.t.Fatalf("an inbound message does not validate: %v\n%s", err, aws.ToString(m.Body))
			}
			for name, want := range map[string]string{"eventType": ev.Type, "dealerId": ev.DealerID, "platform": ev.Platform, "eventId": ev.ID} {
				if got := aws.ToString(m.MessageAttributes[name].StringValue); got != want {
					s.t.Errorf("attribute %s = %q, want %q", name, got, want)
				}
			}
			if _, err := s.env.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{
				QueueUrl: aws.String(s.env.QueueURL(resources.InboundQueue)), ReceiptHandle: m.ReceiptHandle}); err != nil {
				s.t.Fatal(err)
			}
			out = append(out, ev)
		}
	}
	return out
}

// awaitInbound takes inbound events off the queue until it has n of them, and returns them.
func (s *stack) awaitInbound(n int, timeout time.Duration) []*inbound.Event {
	s.t.Helper()
	var got []*inbound.Event
	localtest.Eventually(s.t, timeout, "inbound events", func() bool {
		got = append(got, s.inbound()...)
		return len(got) >= n
	})
	return got
}

// republishedOnce checks the events of a worker killed after a publish and run again: each
// record (by its platform id idName) under one event id, at most twice (the page on the queue
// when the worker died), records records in events events.
func republishedOnce(t *testing.T, got []*inbound.Event, idName string, records, events int) {
	t.Helper()
	idOf, count := oneIDPerRecord(t, got, idName)
	if len(idOf) != records || len(got) != events {
		t.Fatalf("%d records in %d events, want %d in %d (the page on the queue when the worker died twice): %v", len(idOf), len(got), records, events, count)
	}
	for rec, id := range idOf {
		if count[id] > 2 {
			t.Errorf("record %s published %d times", rec, count[id])
		}
	}
}

// syncStatus is GET /v1/agents/{platform}/sync of dealer d.
func (s *stack) syncStatus(platform, d string) agentsync.Status {
	s.t.Helper()
	var st agentsync.Status
	r := s.call("GET", "/v1/agents/"+platform+"/sync", d, nil)
	if r.status != http.StatusOK {
		s.t.Fatalf("GET .../sync: %d %s", r.status, r.body)
	}
	r.json(s.t, &st)
	return st
}

// syncStatusBetweenRuns is the sync's status read while no job runs: the stack's worker keeps
// syncing at a short interval, so a single read may land in the middle of a run.
func (s *stack) syncStatusBetweenRuns(platform, d string) agentsync.Status {
	s.t.Helper()
	var st agentsync.Status
	localtest.Eventually(s.t, 30*time.Second, platform+"'s sync idle between runs", func() bool {
		st = s.syncStatus(platform, d)
		return st.State != "running"
	})
	return st
}

// synced waits until dealer d's agent of platform has run its sync once.
func (s *stack) synced(platform, d string) {
	s.t.Helper()
	localtest.Eventually(s.t, 30*time.Second, platform+"'s first sync", func() bool { return s.syncStatus(platform, d).LastRun != nil })
}

// mineAndTheirs are the events of dealer and of other among got; the test fails unless each
// has one whose status (a lead's, else an appointment's) is status.
func mineAndTheirs(t *testing.T, got []*inbound.Event, other, status string) (mine, theirs *inbound.Event) {
	t.Helper()
	for _, e := range got {
		switch e.DealerID {
		case dealer:
			mine = e
		case other:
			theirs = e
		}
	}
	statusOf := func(e *inbound.Event) string { return cmp.Or(e.Status, e.AppointmentStatus) }
	if mine == nil || theirs == nil || statusOf(mine) != status || statusOf(theirs) != status {
		t.Fatalf("events %+v", got)
	}
	return mine, theirs
}

// waitedOut checks a rate-limited dealer's feed reads: the longest gap between two of them
// (the one answered 429 and the next) is at least retryAfter, and the other dealer's change
// (theirs) was read before that next read.
func waitedOut(t *testing.T, reqs []agenttest.Request, retryAfter time.Duration, theirs *inbound.Event) {
	t.Helper()
	limitedAt, retriedAt := longestGap(reqs)
	if retriedAt.Sub(limitedAt) < retryAfter {
		t.Fatalf("no wait of Retry-After (%v) between two reads after the 429: gaps %v", retryAfter, gaps(reqs))
	}
	if !theirs.ObservedAt.Before(retriedAt) {
		t.Errorf("the other dealer's change was read at %v, after the limited dealer's retry at %v", theirs.ObservedAt, retriedAt)
	}
}

// rateLimitedCase is a platform's rate-limited sync: the test dealer's agent on one fake (the
// limited one, 0) and another dealer's on another (1).
type rateLimitedCase struct {
	platform string
	settings [2]map[string]string
	creds    map[string]string
	// enter enters a record in fake i as the dealership would; change changes it so that its
	// status becomes status.
	enter, change func(i int)
	status        string
	// limit makes the limited fake answer its next feed read 429 with Retry-After: 4; reads
	// are the limited fake's feed reads so far.
	limit func()
	reads func() []agenttest.Request
}

// rateLimitedSync: the limited platform answering 429 with Retry-After, that dealer's sync
// waits at least that long before it reads again, while the other dealer's sync goes on; then
// the change comes back. DealerAI's own lead, pushed first, is not sent back.
func (s *stack) rateLimitedSync(t *testing.T, c rateLimitedCase) {
	const other = "dlr_43"
	s.enable(c.platform, c.settings[0], c.creds)
	s.enableFor(other, c.platform, c.settings[1], c.creds)
	s.runSync(s.syncHandler(syncEvery), syncEvery)
	s.synced(c.platform, dealer)
	s.synced(c.platform, other)
	lead, leadEv := example(t, "lead.created", nil)
	s.publish(lead)
	s.waitRecord(c.platform, leadEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	c.enter(0)
	c.enter(1)
	s.awaitInbound(2, 30*time.Second) // each record, as created in the CRM

	before := len(c.reads())
	c.limit()
	c.change(0)
	c.change(1)
	_, theirs := mineAndTheirs(t, s.awaitInbound(2, 60*time.Second), other, c.status)
	waitedOut(t, c.reads()[max(before-1, 0):], 4*time.Second, theirs)
	localtest.Eventually(t, 30*time.Second, "the limited dealer's sync idle again", func() bool { return s.syncStatus(c.platform, dealer).State == "idle" })
}
