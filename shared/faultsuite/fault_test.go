package faultsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/signing"
)

// scenario is one fault.
type scenario struct {
	name     string
	fault    string // what is injected
	asserted string // what is checked beyond the books balancing (for the docs/reliability.md table)
	// infra: the fault disturbs the emulators or the proxies, so the scenario runs alone on
	// its group's cluster: groupDynamoDB, or groupSQS when sqs is set.
	infra, sqs bool
	// logFault: the delivery log may be unreachable while the fault lasts (DynamoDB), so a
	// dead-lettered delivery may lack its failed record.
	logFault bool
	// noDeadLetters: nothing may end in a DLQ (the fault is one the pipeline absorbs).
	noDeadLetters bool
	// faultyMayDisable: the faulty subscription may be disabled by the fault (410).
	faultyMayDisable bool
	// hold is how long the fault lasts (0: inject is all there is).
	hold func(p params) time.Duration
	// inject starts the fault, restore ends it (both in the fault goroutine: no t.Fatal).
	inject, restore func(e *env)
	// wrapDelivery wraps the delivery function the deliveries poller invokes.
	wrapDelivery func(e *env, h app.SQSHandler) app.SQSHandler
	// beforeRecovery runs after the fault ended and the stream was published.
	beforeRecovery func(e *env)
	// check runs after the accounting.
	check func(e *env, r *result)
	// selfCheck: the scenario breaks the pipeline on purpose to prove the books catch it;
	// its findings are compared with what it broke, and it stays out of the summary table.
	selfCheck bool

	state sync.Map // per-scenario scratch (counters of the fault)
}

// group is the scenario's group (and cluster).
func (sc *scenario) group() string {
	switch {
	case sc.infra && sc.sqs:
		return groupSQS
	case sc.infra:
		return groupDynamoDB
	}
	return groupEndpoints
}

func (sc *scenario) counter(name string) *atomic.Int64 {
	v, _ := sc.state.LoadOrStore(name, &atomic.Int64{})
	return v.(*atomic.Int64)
}

func outage(p params) time.Duration   { return p.outageFor }
func endpoint(p params) time.Duration { return p.faultFor }

// receiverFault is a scenario where the faulty subscription's endpoint answers in mode m
// for a while, then recovers.
func receiverFault(name, fault, asserted string, m mode, check func(e *env, r *result)) *scenario {
	return &scenario{
		name: name, fault: fault, asserted: asserted, hold: endpoint,
		inject:  func(e *env) { e.faulty().rc.setMode(m) },
		restore: func(e *env) { e.faulty().rc.setMode(modeOK) },
		check:   check,
	}
}

func scenarios() []*scenario {
	return []*scenario{
		{
			name: "baseline", fault: "none", asserted: "every delivery arrives once, nothing dead-lettered",
			noDeadLetters: true,
			check: func(e *env, r *result) {
				// Once: beyond the books' rule (no POST after a success the sender saw),
				// a retry here needs a failed attempt — only a very loaded machine makes one.
				if r.requests != r.sent+r.answerLost {
					e.t.Errorf("no fault, yet %d requests for %d deliveries (%d retried)", r.requests, r.sent, r.retried)
				}
			},
		},
		{
			name: "dynamodb-pause", fault: "DynamoDB Local SIGSTOPped (process group), then SIGCONT",
			asserted: "calls hang, then resume; no loss", infra: true, logFault: true, hold: outage,
			inject:  func(e *env) { e.pause(e.c.em.DynamoDBPID()) },
			restore: func(e *env) { resume(e.c.em.DynamoDBPID()) },
			check:   pauseEvidence,
		},
		{
			name: "dynamodb-cut", fault: "DynamoDB unreachable (faultproxy cut: connections refused/dropped), then restored",
			asserted: "router retries via SQS, delivery attempts fail as internal; no loss", infra: true, logFault: true, hold: outage,
			inject:  func(e *env) { e.c.ddbProxy.Cut() },
			restore: func(e *env) { e.c.ddbProxy.Restore() },
			check:   infraEvidence,
		},
		{
			name: "dynamodb-stall", fault: "the DynamoDB connections carrying target lookups (Query) go half-open mid-request (no answer, no reset: a dropped NAT entry) while a new subscription's deliveries arrive; then requests pass again, the stalled connections stay stalled",
			asserted: "no lookup waits past a bound on a stalled connection; the dealer's deliveries resume; no loss", infra: true, logFault: true, hold: outage,
			inject: func(e *env) {
				e.c.ddbStall.Stall()
				// A subscription created now (the API is not behind the stall) is missing
				// from the delivery handler's cached targets: its first delivery makes the
				// handler load the dealer's targets, on a stalled connection.
				late, err := e.trySubscribe("late", []string{"*"}, true)
				if err != nil {
					e.t.Errorf("dynamodb-stall: %v", err)
					return
				}
				var msgs []deliveryq.Message
				for i := range 4 {
					msgs = append(msgs, e.ledger.addDirect(late, newEvent(e.t, e.dealer, 2000+i, "direct")))
				}
				if err := e.sendDeliveries(msgs...); err != nil {
					e.t.Errorf("dynamodb-stall: %v", err)
				}
			},
			restore: func(e *env) { e.c.ddbStall.Unstall() },
			check: func(e *env, r *result) {
				n, detail := failureReports(e)
				frozen := e.c.ddbStall.frozen.Load()
				if frozen == 0 {
					e.t.Errorf("no connection stalled: the fault did not take")
				}
				r.faultEvidence = fmt.Sprintf("%d connections stalled; %d failures reported: %s", frozen, n, detail)
			},
		},
		{
			name: "sqs-pause", fault: "SQS emulator SIGSTOPped (process group), then SIGCONT; producers block",
			asserted: "no loss, no duplicate after success", infra: true, sqs: true, hold: outage,
			inject:  func(e *env) { e.pause(e.c.em.SQSPID()) },
			restore: func(e *env) { resume(e.c.em.SQSPID()) },
			check:   pauseEvidence,
		},
		{
			name: "sqs-cut", fault: "SQS unreachable from the functions and the pollers (faultproxy cut), producers still publishing",
			asserted: "failed deletes/visibility changes come back and are not POSTed again", infra: true, sqs: true, hold: outage,
			inject:  func(e *env) { e.c.sqsProxy.Cut() },
			restore: func(e *env) { e.c.sqsProxy.Restore() },
			check:   infraEvidence,
		},
		receiverFault("receiver-500", "the endpoint answers 500, then recovers", "500s retried with backoff, then delivered or dead-lettered",
			mode500, func(e *env, r *result) {
				requireAttempts(e, r, func(a deliverylog.Attempt) bool {
					return a.StatusCode == 500 && a.ErrorClass == deliverylog.ClassHTTPStatus && a.ResponseSnippet != ""
				}, "500 http_status with a snippet")
			}),
		receiverFault("receiver-hang", "the endpoint accepts and never answers (past DELIVERY_TIMEOUT), then recovers", "attempts end as timeout; other endpoint unaffected",
			modeHang, func(e *env, r *result) {
				requireAttempts(e, r, func(a deliverylog.Attempt) bool { return a.ErrorClass == deliverylog.ClassTimeout && a.StatusCode == 0 }, "timeout")
			}),
		receiverFault("receiver-refused", "the endpoint's listener is closed (connection refused), then listens again", "attempts end as connection errors without the URL",
			modeRefused, func(e *env, r *result) {
				requireAttempts(e, r, func(a deliverylog.Attempt) bool {
					return a.ErrorClass == deliverylog.ClassConnection && strings.Contains(a.Error, "refused") && !strings.Contains(a.Error, "token=")
				}, "connection refused")
			}),
		receiverFault("receiver-hijack", "the endpoint closes the connection mid-response (no status / a 200 status line and half a body), then recovers", "no status = connection error, retried; a 200 status line = delivered",
			modeHijack, func(e *env, r *result) {
				requireAttempts(e, r, func(a deliverylog.Attempt) bool { return a.ErrorClass == deliverylog.ClassConnection }, "connection error")
			}),
		receiverFault("receiver-301", "the endpoint redirects (301) to http://169.254.169.254/..., then recovers", "redirect never followed: attempt failed with status 301",
			mode301, func(e *env, r *result) {
				requireAttempts(e, r, func(a deliverylog.Attempt) bool {
					return a.StatusCode == 301 && a.ErrorClass == deliverylog.ClassHTTPStatus && strings.Contains(a.Error, "redirects are not followed")
				}, "301 not followed")
				requireNoAttempts(e, func(a deliverylog.Attempt) bool {
					return a.ErrorClass == deliverylog.ClassBlocked || strings.Contains(a.Error, "169.254")
				}, "a followed redirect")
			}),
		{
			name: "receiver-410", fault: "the endpoint answers 410 Gone, then 200 again",
			asserted: "subscription disabled, deliveries failed/skipped, re-enabled by PATCH then delivered",
			hold:     endpoint, faultyMayDisable: true,
			inject:  func(e *env) { e.faulty().rc.setMode(mode410) },
			restore: func(e *env) { e.faulty().rc.setMode(modeOK) },
			beforeRecovery: func(e *env) {
				var sub struct {
					Enabled        bool
					Status         string
					DisabledReason string
				}
				status, body := e.api.do("GET", "/v1/subscriptions/"+e.faulty().id, nil)
				if status != 200 || json.Unmarshal(body, &sub) != nil || sub.Enabled || sub.Status != "disabled" || !strings.Contains(sub.DisabledReason, "410 Gone") {
					e.t.Errorf("after 410s the subscription is %d %s, want disabled with a 410 reason", status, body)
				}
				if status, body := e.api.do("PATCH", "/v1/subscriptions/"+e.faulty().id, map[string]any{"enabled": true}); status != 200 {
					e.t.Errorf("re-enable: %d %s", status, body)
				}
				// The delivery handler's target cache (app.TargetCacheTTL) may still hold the
				// subscription as disabled: a change takes effect within that TTL.
				time.Sleep(app.TargetCacheTTL + time.Second)
			},
			check: func(e *env, r *result) {
				requireAttempts(e, r, func(a deliverylog.Attempt) bool { return a.StatusCode == 410 }, "410")
			},
		},
		receiverFault("receiver-429", fmt.Sprintf("the endpoint answers 429 with Retry-After: %d (longer than the backoff), then recovers", retryAfter), "the next attempt waits at least Retry-After",
			mode429, func(e *env, r *result) {
				n := 0
				for _, tg := range e.targets {
					byID := map[string][]hit{}
					for _, h := range tg.rc.all() {
						byID[h.deliveryID] = append(byID[h.deliveryID], h)
					}
					for id, hits := range byID {
						sort.Slice(hits, func(i, j int) bool { return hits[i].arrived.Before(hits[j].arrived) })
						for i := 0; i+1 < len(hits); i++ {
							if hits[i].status != 429 {
								continue
							}
							n++
							if gap := hits[i+1].arrived.Sub(hits[i].answered); gap < retryAfter*time.Second-100*time.Millisecond {
								e.t.Errorf("%s: delivery %s retried %v after a 429 with Retry-After: %d", tg.name, id, gap, retryAfter)
							}
						}
					}
				}
				if n == 0 {
					e.t.Errorf("no delivery was retried after a 429: the fault did not take")
				}
				r.faultEvidence = fmt.Sprintf("%d retries after a 429", n)
			}),
		{
			name: "handler-panic", fault: "the delivery function panics mid-batch (after handling half of the batch) on 2 invocations (long form: 6)",
			asserted: "the batch comes back; what was delivered before the crash is not POSTed again", noDeadLetters: true,
			inject: func(e *env) { e.sc.counter("armed").Store(int64(e.p.crashes)) },
			wrapDelivery: func(e *env, h app.SQSHandler) app.SQSHandler {
				return func(ctx context.Context, batch lambdaevents.SQSEvent) (lambdaevents.SQSEventResponse, error) {
					// Mid-batch: a batch of two records or more (or, not to wait for ever,
					// any batch once three single-record ones went by).
					armed := e.sc.counter("armed").Load() > 0
					if armed && len(batch.Records) < 2 && e.sc.counter("single").Add(1) <= 3 {
						armed = false
					}
					if armed && e.sc.counter("armed").Add(-1) >= 0 {
						half := lambdaevents.SQSEvent{Records: batch.Records[:len(batch.Records)/2]}
						_, _ = h(ctx, half)
						e.sc.counter("panics").Add(1)
						e.sc.counter("records in crashed batches").Add(int64(len(batch.Records)))
						panic(fmt.Sprintf("fault suite: crash after %d of %d records", len(half.Records), len(batch.Records)))
					}
					return h(ctx, batch)
				}
			},
			check: func(e *env, r *result) {
				panics := e.sc.counter("panics").Load()
				if panics == 0 {
					e.t.Errorf("the delivery function never crashed: the fault did not take")
				}
				if !strings.Contains(defaultLogs.String(), "handler panic: fault suite: crash") {
					e.t.Errorf("the poller did not report the crashed invocation")
				}
				r.faultEvidence = fmt.Sprintf("%d crashes, %d records in crashed batches", panics, e.sc.counter("records in crashed batches").Load())
			},
		},
		{
			name: "self-check", fault: "the suite's own: while the fault lasts, the delivery function acknowledges every 5th message without delivering it, and POSTs one delivered event again",
			asserted: "the books report exactly those losses and that duplicate", selfCheck: true, hold: endpoint,
			inject:  func(e *env) { e.sc.counter("armed").Store(1) },
			restore: func(e *env) { e.sc.counter("armed").Store(0) },
			wrapDelivery: func(e *env, h app.SQSHandler) app.SQSHandler {
				return func(ctx context.Context, batch lambdaevents.SQSEvent) (lambdaevents.SQSEventResponse, error) {
					if e.sc.counter("armed").Load() == 0 {
						return h(ctx, batch)
					}
					var kept []lambdaevents.SQSMessage
					for _, r := range batch.Records {
						if e.sc.counter("seen").Add(1)%5 == 0 {
							e.sc.counter("dropped").Add(1) // acknowledged, never delivered
							continue
						}
						kept = append(kept, r)
					}
					resp, err := h(ctx, lambdaevents.SQSEvent{Records: kept})
					if len(kept) > 0 && len(resp.BatchItemFailures) == 0 && e.sc.counter("reposted").Add(1) == 1 {
						e.repost(kept[0])
					}
					return resp, err
				}
			},
			check: func(e *env, r *result) {
				dropped := e.sc.counter("dropped").Load()
				lostFindings, dupFindings := 0, 0
				for _, f := range e.findings {
					switch {
					case strings.HasPrefix(f, "LOST: "):
						lostFindings++
					case strings.Contains(f, "POSTed again"):
						dupFindings++
					}
				}
				if dropped == 0 || r.lost != int(dropped) || lostFindings != int(dropped) {
					e.t.Errorf("the self-check dropped %d deliveries; the books found %d lost (%d findings)", dropped, r.lost, lostFindings)
				}
				if r.dupAfterSuccess != 1 || dupFindings != 1 {
					e.t.Errorf("the self-check POSTed one delivery again; the books found %d (%d findings)", r.dupAfterSuccess, dupFindings)
				}
				if extra := len(e.findings) - lostFindings - dupFindings; extra != 0 {
					e.t.Errorf("the self-check has %d unexpected findings: %q", extra, e.findings)
				}
				r.faultEvidence = fmt.Sprintf("%d dropped, 1 POSTed again: all found", dropped)
			},
		},
		{
			name: "duplicates", fault: "events published twice (same eventId); delivery messages sent twice (same batch, and again after delivery)",
			asserted: "each delivery POSTed once", noDeadLetters: true,
			inject: func(e *env) {
				// Events of the stream published again: the latest ones (probably still in
				// flight) and the first ones (delivered long ago).
				evs := e.ledger.published()
				var again []*pubEvent
				for i, pe := range evs {
					if i < 3 || i >= len(evs)-3 {
						again = append(again, pe)
					}
				}
				e.publishAgain(again)
				// Delivery messages written twice in one SendMessageBatch, for new events.
				var msgs []deliveryq.Message
				for i := range 4 {
					pe := newEvent(e.t, e.dealer, 1000+i, "direct")
					m := e.ledger.addDirect(e.healthy(), pe)
					msgs = append(msgs, m, m)
				}
				// And a delivery already delivered, sent again.
				if len(evs) > 0 {
					msgs = append(msgs, e.ledger.addDirect(e.healthy(), evs[0]))
				}
				if err := e.sendDeliveries(msgs...); err != nil {
					e.t.Errorf("duplicates: %v", err)
				}
				e.sc.counter("duplicated").Store(int64(len(again) + len(msgs)/2))
			},
			check: func(e *env, r *result) {
				// Two copies handled by two concurrent invocations both read the log before
				// either recorded the success (counted as concurrentCopies, not hidden).
				if r.requests != r.sent+r.concurrentCopies+r.answerLost {
					e.t.Errorf("%d requests for %d deliveries (%d concurrent copies): a duplicate was POSTed", r.requests, r.sent, r.concurrentCopies)
				}
				r.faultEvidence = fmt.Sprintf("%d events or messages duplicated", e.sc.counter("duplicated").Load())
			},
		},
	}
}

// pauseEvidence checks that a pause took — the emulator's process was seen stopped — and
// reports how long the endpoints got nothing (a backlog already received keeps them busy for
// a while, longer on a loaded machine).
func pauseEvidence(e *env, r *result) {
	if !e.sc.counter("seen stopped").CompareAndSwap(1, 1) {
		e.t.Errorf("the emulator was never seen stopped: the fault did not take")
	}
	var at []time.Time
	for _, tg := range e.targets {
		for _, h := range tg.rc.all() {
			at = append(at, h.arrived)
		}
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	var gap time.Duration
	for i := 1; i < len(at); i++ {
		gap = max(gap, at[i].Sub(at[i-1]))
	}
	failures, detail := failureReports(e)
	r.faultEvidence = fmt.Sprintf("process stopped; endpoints idle for at most %v; %d failures reported: %s", gap.Round(100*time.Millisecond), failures, detail)
}

// infraEvidence checks that an emulator fault took: the handlers or the pollers reported
// failures, and says how many (and how many attempts the log recorded as internal).
func infraEvidence(e *env, r *result) {
	n, detail := failureReports(e)
	if n == 0 {
		e.t.Errorf("neither the handlers nor the pollers reported a failure: the fault did not take")
	}
	r.faultEvidence = fmt.Sprintf("%d failures reported: %s", n, detail)
}

// failureReports counts the warnings and errors the handlers and the pollers logged, and the
// attempts the delivery log recorded as internal failures.
func failureReports(e *env) (int, string) {
	lines, _ := e.capturedLines()
	handler := map[string]int{}
	for _, l := range lines {
		if lv := l.str("level"); lv == "ERROR" || lv == "WARN" {
			handler[l.str("msg")]++
		}
	}
	pollerWarnings := 0
	for _, l := range strings.Split(defaultLogs.String(), "\n") {
		if strings.Contains(l, `"level":"WARN"`) && strings.Contains(l, e.names.Prefix) {
			pollerWarnings++
		}
	}
	internal := 0
	for _, tg := range e.targets {
		for id := range e.records(tg) {
			if rec := e.record(tg, id); rec != nil {
				for _, a := range rec.Attempts {
					if a.ErrorClass == deliverylog.ClassInternal {
						internal++
					}
				}
			}
		}
	}
	n := pollerWarnings
	var parts []string
	for msg, k := range handler {
		n += k
		parts = append(parts, fmt.Sprintf("%d×%s", k, msg))
	}
	sort.Strings(parts)
	return n, fmt.Sprintf("%d poller warnings; handlers: [%s]; %d attempts logged internal", pollerWarnings, strings.Join(parts, ", "), internal)
}

func (e *env) pause(pid int) {
	if err := pause(pid); err != nil {
		e.t.Errorf("SIGSTOP %d: %v", pid, err)
		return
	}
	if stopped(pid) {
		e.sc.counter("seen stopped").Store(1)
	}
}

// stopped waits (at most a second) for the process to be in state T (stopped), as
// /proc/<pid>/stat says. Where there is no /proc, it trusts the signal.
func stopped(pid int) bool {
	for range 100 {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return errors.Is(err, os.ErrNotExist) && !procExists()
		}
		// pid (comm) state ...: comm may hold spaces, the state follows the last ')'.
		if i := bytes.LastIndexByte(raw, ')'); i > 0 && i+2 < len(raw) && raw[i+2] == 'T' {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func procExists() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// requireAttempts checks that the fault shows in the delivery log: at least one attempt of
// the faulty subscription satisfies ok.
func requireAttempts(e *env, r *result, ok func(deliverylog.Attempt) bool, what string) {
	n := 0
	for id := range e.records(e.faulty()) {
		rec := e.record(e.faulty(), id)
		if rec == nil {
			continue
		}
		for _, a := range rec.Attempts {
			if ok(a) {
				n++
			}
		}
	}
	if n == 0 {
		e.t.Errorf("no attempt of %s in the delivery log: the fault did not take", what)
	}
	r.faultEvidence = fmt.Sprintf("%d attempts logged as %s", n, what)
}

func requireNoAttempts(e *env, bad func(deliverylog.Attempt) bool, what string) {
	for _, tg := range e.targets {
		for id := range e.records(tg) {
			if rec := e.record(tg, id); rec != nil {
				for _, a := range rec.Attempts {
					if bad(a) {
						e.t.Errorf("%s: delivery %s: %s: %+v", tg.name, id, what, a)
					}
				}
			}
		}
	}
}

func (e *env) faulty() *target  { return e.targets[0] }
func (e *env) healthy() *target { return e.targets[1] }

// publishAgain publishes events already published (same payload, same eventId).
func (e *env) publishAgain(evs []*pubEvent) {
	var again []*pubEvent
	for _, pe := range evs {
		cp := *pe
		cp.phase = "again"
		again = append(again, &cp)
	}
	if err := e.tryPublish(again); err != nil {
		e.t.Errorf("publish again: %v", err)
	}
}

// repost POSTs a delivery message's delivery again, signed as the handler signs (the
// self-check's "duplicate after success").
func (e *env) repost(rec lambdaevents.SQSMessage) {
	m, err := deliveryq.Decode(rec.Body)
	if err != nil {
		e.t.Errorf("self-check: %v", err)
		return
	}
	var tg *target
	for _, x := range e.targets {
		if x.id == m.Target.ID {
			tg = x
		}
	}
	now := time.Now().Unix()
	sig, err := signing.Sign([]string{tg.secret}, m.EventID, now, m.Payload)
	if err != nil {
		e.t.Errorf("self-check: %v", err)
		return
	}
	req, _ := http.NewRequest("POST", tg.rc.URL(tg.credential), bytes.NewReader(m.Payload))
	req.Header["webhook-id"] = []string{m.EventID}
	req.Header["webhook-timestamp"] = []string{strconv.FormatInt(now, 10)}
	req.Header["webhook-signature"] = []string{sig}
	req.Header["DealerAI-Event-Type"] = []string{m.EventType}
	req.Header["DealerAI-Delivery-Id"] = []string{m.DeliveryID}
	req.Header["DealerAI-Attempt"] = []string{"1"}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Errorf("self-check: %v", err)
		return
	}
	resp.Body.Close()
}

// TestFault runs every scenario on private emulators: those that disturb the emulators one
// after the other, the others concurrently (each on its own tables and queues).
func TestFault(t *testing.T) {
	localtest.Integration(t)
	p := formFromEnv()
	start := time.Now()
	s := newSuite(t, p)
	t.Logf("fault suite, %s form: %d events per scenario, outages %v, endpoint faults %v", p.form, p.events, p.outageFor, p.faultFor)
	byGroup := map[string][]*scenario{}
	for _, sc := range scenarios() {
		byGroup[sc.group()] = append(byGroup[sc.group()], sc)
	}
	// The groups at the same time, each on its own emulators: the DynamoDB faults one after
	// the other, the SQS faults one after the other, the endpoint scenarios concurrently
	// (t.Run from several goroutines rather than t.Parallel, whose limit is GOMAXPROCS: the
	// scenarios mostly wait).
	var groups sync.WaitGroup
	for _, g := range []string{groupDynamoDB, groupSQS} {
		groups.Go(func() {
			t.Run(g, func(t *testing.T) {
				for _, sc := range byGroup[g] {
					t.Run(sc.name, func(t *testing.T) { s.run(t, sc) })
				}
			})
		})
	}
	groups.Go(func() {
		t.Run(groupEndpoints, func(t *testing.T) {
			// At most p.endpointsAtOnce at a time: `make test` runs other packages on the
			// same two cores, some with timing assertions of their own.
			slots := make(chan struct{}, s.p.endpointsAtOnce)
			var wg sync.WaitGroup
			for _, sc := range byGroup[groupEndpoints] {
				wg.Go(func() {
					slots <- struct{}{}
					defer func() { <-slots }()
					t.Run(sc.name, func(t *testing.T) { s.run(t, sc) })
				})
			}
			wg.Wait()
		})
	})
	groups.Wait()

	// Everything that logged through slog.Default (the API handler, the pollers) during
	// the suite.
	if leaks := s.secrets.scan(defaultLogs.String(), true, false); len(leaks) > 0 {
		t.Errorf("the default logger's output contains %v", leaks)
	}
	if len(s.results) > 0 && s.secrets.count() == 0 {
		t.Errorf("no secrets were recorded: the scan proves nothing")
	}
	s.summary(t, time.Since(start))
}

func (s *suite) summary(t *testing.T, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	order := map[string]int{}
	for i, sc := range scenarios() {
		order[sc.name] = i
	}
	sort.Slice(s.results, func(i, j int) bool { return order[s.results[i].scenario] < order[s.results[j].scenario] })
	s.results = slices.DeleteFunc(s.results, func(r result) bool { return r.scenario == "self-check" })
	var b strings.Builder
	fmt.Fprintf(&b, "\nfault suite (%s form) in %s\n\n", s.p.form, took.Round(time.Second))
	b.WriteString("| scenario | fault | asserted | sent | delivered | dead-lettered | duplicates-after-success | lost |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|\n")
	for _, r := range s.results {
		dups := fmt.Sprint(r.dupAfterSuccess)
		if r.aloWindow > 0 {
			dups += fmt.Sprintf(" (+%d log write failed)", r.aloWindow)
		}
		if r.concurrentCopies > 0 {
			dups += fmt.Sprintf(" (+%d concurrent copies)", r.concurrentCopies)
		}
		if r.answerLost > 0 {
			dups += fmt.Sprintf(" (+%d 2xx lost on the way back)", r.answerLost)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d | %s | %d |\n", r.scenario, r.fault, r.asserted, r.sent, r.delivered, r.deadLettered, dups, r.lost)
	}
	printLine("%s", b.String())
	// FAULTS_REPORT=<file> keeps the table and the summary lines (make test-faults).
	if path := os.Getenv("FAULTS_REPORT"); path != "" {
		for _, r := range s.results {
			b.WriteString("\n" + r.line())
		}
		_ = os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(b.String()+"\n"), 0o644); err != nil {
			t.Errorf("FAULTS_REPORT: %v", err)
		}
	}
}

// run runs one scenario: two subscriptions (the faulty one gets the endpoint faults), a
// stream of events with the fault injected part-way, recovery events, the books.
func (s *suite) run(t *testing.T, sc *scenario) {
	start := time.Now()
	e := s.newEnv(t, sc)
	faulty := e.subscribe("faulty", []string{"lead.*", "appointment.*", "contact.*"}, sc.faultyMayDisable)
	e.subscribe("healthy", []string{"*"}, false)
	if sc.infra {
		// A slow endpoint (not a fault): deliveries are in flight when the outage starts.
		faulty.rc.setMode(modeSlow)
	}

	var faultEnd time.Time
	e.stream(func() {
		if sc.inject == nil {
			return
		}
		sc.inject(e)
		if sc.hold != nil {
			time.Sleep(sc.hold(s.p))
		}
		if sc.restore != nil {
			sc.restore(e)
		}
		faultEnd = time.Now()
	})
	if t.Failed() {
		return
	}
	if sc.beforeRecovery != nil {
		sc.beforeRecovery(e)
	}

	// The stack recovers without a restart: events published now all arrive, everywhere.
	var rec []*pubEvent
	for i := range s.p.recovery {
		rec = append(rec, newEvent(t, e.dealer, 10000+i, "recovery"))
	}
	e.publish(rec)
	e.waitFor(s.p.settle, func() string {
		return fmt.Sprintf("the %d events published after the fault ended (at %s) to reach every endpoint", len(rec), faultEnd.Format("15:04:05"))
	}, func() bool {
		for _, pe := range rec {
			for _, tg := range e.targets {
				if events.MatchAny(tg.filters, pe.ev.Type) && !tg.rc.delivered(deliveryq.DeliveryID(pe.ev.ID, pe.ev.Timestamp, tg.deliveryTarget())) {
					return false
				}
			}
		}
		return true
	})
	e.settle()

	r := e.account()
	r.recovery = len(rec)
	if sc.noDeadLetters && r.deadLettered > 0 {
		t.Errorf("%d deliveries dead-lettered in a scenario the pipeline must absorb", r.deadLettered)
	}
	if sc.check != nil {
		sc.check(e, &r)
	}
	e.checkAPI()
	e.scanSecrets()
	r.took = time.Since(start)
	r.deliveryBilled = e.billed()
	t.Log(r.line())
	printLine("%s", r.line())
	s.mu.Lock()
	s.results = append(s.results, r)
	s.mu.Unlock()
}

// checkAPI reads the delivery log through the API, as the dealer sees it: the failed
// deliveries it lists are those of the log, and their details (attempt errors, snippets)
// carry no secret.
func (e *env) checkAPI() {
	e.t.Helper()
	for _, tg := range e.targets {
		want := map[string]bool{}
		for id, rec := range e.records(tg) {
			if rec.Status == deliverylog.StatusFailed {
				want[id] = true
			}
		}
		got := map[string]bool{}
		cursor := ""
		for {
			path := "/v1/subscriptions/" + tg.id + "/deliveries?status=failed&limit=100"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			status, body := e.api.do("GET", path, nil)
			var page struct {
				Items []struct {
					DeliveryID string
					Status     string
				}
				NextCursor *string
			}
			if status != 200 || json.Unmarshal(body, &page) != nil {
				e.t.Fatalf("list failed deliveries: %d %s", status, body)
			}
			for _, it := range page.Items {
				got[it.DeliveryID] = true
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
		}
		if len(got) != len(want) {
			e.t.Errorf("%s: the API lists %d failed deliveries, the log holds %d", tg.name, len(got), len(want))
		}
		n := 0
		for id := range got {
			if n++; n > 10 {
				break
			}
			if status, body := e.api.do("GET", "/v1/subscriptions/"+tg.id+"/deliveries/"+id, nil); status != 200 {
				e.t.Errorf("get delivery %s: %d %s", id, status, body)
			}
		}
	}
}

// scanSecrets: no secret, token or credential in anything the handlers wrote or in any API
// response that is not meant to carry it.
func (e *env) scanSecrets() {
	e.t.Helper()
	lines, raw := e.capturedLines()
	if len(lines) == 0 {
		e.t.Errorf("nothing captured from the handlers' logs: the scan proves nothing")
	}
	if leaks := e.s.secrets.scan(raw, true, false); len(leaks) > 0 {
		e.t.Errorf("the handlers' logs contain %v", leaks)
	}
	for _, resp := range e.api.responses() {
		if resp.secretOK {
			continue
		}
		if leaks := e.s.secrets.scan(resp.body, true, resp.urlOK); len(leaks) > 0 {
			e.t.Errorf("the answer to %s contains %v", resp.route, leaks)
		}
	}
}
