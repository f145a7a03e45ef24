package faultsuite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/resources"
)

// ledger is what the suite sent, kept independently of the pipeline: the events published
// (their normalized bodies), the delivery messages written straight to the deliveries queue,
// and the delivery messages the router enqueued (observed on its SQS client).
type ledger struct {
	mu     sync.Mutex
	events map[string]*pubEvent
	order  []*pubEvent
	direct map[string]directDelivery // by delivery id
	routed map[string]deliveryq.Message
}

type directDelivery struct {
	target string // subscription id
	pe     *pubEvent
}

func newLedger() *ledger {
	return &ledger{events: map[string]*pubEvent{}, direct: map[string]directDelivery{}, routed: map[string]deliveryq.Message{}}
}

func (l *ledger) addEvent(pe *pubEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.events[pe.ev.ID]; !ok {
		l.events[pe.ev.ID] = pe
		l.order = append(l.order, pe)
	}
}

func (l *ledger) addDirect(tg *target, pe *pubEvent) deliveryq.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := deliveryq.Message{
		DeliveryID: deliveryq.DeliveryID(pe.ev.ID, pe.ev.Timestamp, tg.deliveryTarget()),
		EventID:    pe.ev.ID, EventType: pe.ev.Type, DealerID: pe.ev.DealerID, Target: tg.deliveryTarget(),
		CreatedAt: time.Now(), Payload: pe.ev.Body,
	}
	l.direct[m.DeliveryID] = directDelivery{target: tg.id, pe: pe}
	return m
}

func (l *ledger) addRouted(m *deliveryq.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.routed[m.DeliveryID] = *m
}

func (l *ledger) published() []*pubEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.order)
}

// result is a scenario's accounting: the line the table of docs/reliability.md is made of.
type result struct {
	scenario, fault, asserted string
	sent                      int // deliveries that had to be made
	delivered                 int // received exactly as sent, answered 2xx
	deadLettered              int // not delivered, and visible: in a DLQ or recorded failed/skipped
	dupAfterSuccess           int // POSTs of a delivery after a 2xx answer to it, not explained
	aloWindow                 int // such POSTs explained by the documented window (log write failed)
	concurrentCopies          int // such POSTs by a second copy of the message handled at the same time
	answerLost                int // such POSTs after a 2xx that never reached the sender (attempt logged timeout/connection)
	lost                      int
	// details
	inEventsDLQ, inDeliveriesDLQ int // deliveries whose event / message is in a DLQ
	dlqUnlogged                  int // in the deliveries DLQ but not recorded failed (log unreachable)
	loggedFailed, loggedSkipped  int // recorded failed / skipped
	retried                      int // deliveries that took more than one request
	requests                     int // requests the receivers got
	recovery                     int // events published after the fault (all delivered)
	faultEvidence                string
	took                         time.Duration
	// deliveryBilled is the delivery function's billed duration over the scenario.
	deliveryBilled time.Duration
}

func (r result) line() string {
	return fmt.Sprintf("FAULTSUITE scenario=%s fault=%q sent=%d delivered=%d deadLettered=%d dupAfterSuccess=%d atLeastOnceWindow=%d concurrentCopies=%d answerLost=%d lost=%d"+
		" inEventsDLQ=%d inDeliveriesDLQ=%d dlqUnlogged=%d loggedFailed=%d loggedSkipped=%d retried=%d requests=%d recoveryEvents=%d evidence=%q took=%s deliveryBilled=%s",
		r.scenario, r.fault, r.sent, r.delivered, r.deadLettered, r.dupAfterSuccess, r.aloWindow, r.concurrentCopies, r.answerLost, r.lost,
		r.inEventsDLQ, r.inDeliveriesDLQ, r.dlqUnlogged, r.loggedFailed, r.loggedSkipped, r.retried, r.requests, r.recovery,
		r.faultEvidence, r.took.Round(time.Second), r.deliveryBilled.Round(100*time.Millisecond))
}

// logLine is a line of the handlers' captured stdout (JSON logs and EMF metrics).
type logLine map[string]any

func (l logLine) str(k string) string { s, _ := l[k].(string); return s }

// capturedLines reads the handlers' captured output.
func (e *env) capturedLines() ([]logLine, string) {
	raw, err := os.ReadFile(e.capture)
	if err != nil {
		e.t.Fatalf("read the captured logs: %v", err)
	}
	var lines []logLine
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			e.t.Errorf("a line of the handlers' output is not JSON: %.200s", sc.Text())
			continue
		}
		lines = append(lines, l)
	}
	return lines, string(raw)
}

// records reads every delivery record of a target from the log.
func (e *env) records(tg *target) map[string]*deliverylog.Record {
	e.t.Helper()
	out := map[string]*deliverylog.Record{}
	cursor := ""
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		items, next, err := e.log.List(ctx, e.dealer, tg.deliveryTarget(), "", 1000, cursor)
		cancel()
		if err != nil {
			e.t.Fatalf("list the deliveries of %s: %v", tg.name, err)
		}
		for i := range items {
			out[items[i].DeliveryID] = &items[i]
		}
		if next == "" {
			return out
		}
		cursor = next
	}
}

func (e *env) record(tg *target, deliveryID string) *deliverylog.Record {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec, err := e.log.Get(ctx, e.dealer, tg.deliveryTarget(), deliveryID, true)
	if err != nil {
		return nil
	}
	return rec
}

// expectation is one delivery that has to be accounted for.
type expectation struct {
	tg *target
	pe *pubEvent
	id string
}

// expected lists the deliveries the pipeline had to make: each published event to each
// subscription whose filter matches it, the delivery messages written directly, and — for
// a subscription the scenario may disable — whatever the router created for it.
func (e *env) expected(recs map[*target]map[string]*deliverylog.Record) []expectation {
	l := e.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[string]bool{}
	var out []expectation
	add := func(tg *target, pe *pubEvent) {
		id := deliveryq.DeliveryID(pe.ev.ID, pe.ev.Timestamp, tg.deliveryTarget())
		if !seen[id] {
			seen[id] = true
			out = append(out, expectation{tg: tg, pe: pe, id: id})
		}
	}
	for _, tg := range e.targets {
		hits := map[string]bool{}
		for _, h := range tg.rc.all() {
			hits[h.deliveryID] = true
		}
		for _, pe := range l.order {
			if !events.MatchAny(tg.filters, pe.ev.Type) {
				continue
			}
			id := deliveryq.DeliveryID(pe.ev.ID, pe.ev.Timestamp, tg.deliveryTarget())
			_, routed := l.routed[id]
			_, logged := recs[tg][id]
			if !tg.mayDisable || routed || logged || hits[id] {
				add(tg, pe)
			}
		}
		for _, d := range l.direct {
			if d.target == tg.id {
				add(tg, d.pe)
			}
		}
	}
	return out
}

// problem reports a finding of the books: a test error, or for the self-check scenario
// (whose faults are the suite's own) a finding to compare with what it broke.
func (e *env) problem(format string, args ...any) {
	e.t.Helper()
	if e.sc.selfCheck {
		e.findingsMu.Lock()
		e.findings = append(e.findings, fmt.Sprintf(format, args...))
		e.findingsMu.Unlock()
		return
	}
	e.t.Errorf(format, args...)
}

// account settles the scenario's books. Every problem is a test error; the counts are
// returned for the summary.
func (e *env) account() result {
	e.t.Helper()
	r := result{scenario: e.sc.name, fault: e.sc.fault, asserted: e.sc.asserted}

	// The dead-letter queues.
	eventsDLQ := map[string]bool{}
	for _, m := range e.drain(resources.EventsDLQ) {
		if ev, err := events.Parse([]byte(aws.ToString(m.Body))); err == nil {
			eventsDLQ[ev.ID] = true
		} else {
			e.problem("a poison event in the events DLQ: %.200s (%v)", aws.ToString(m.Body), err)
		}
	}
	deliveriesDLQ := map[string]int{}
	for _, m := range e.drain(resources.DeliveriesDLQ) {
		msg, err := deliveryq.Decode(aws.ToString(m.Body))
		if err != nil {
			e.problem("an undecodable message in the deliveries DLQ: %.200s", aws.ToString(m.Body))
			continue
		}
		if a := m.MessageAttributes["deliveryId"]; aws.ToString(a.StringValue) != msg.DeliveryID {
			e.problem("DLQ message of %s has attribute deliveryId %q", msg.DeliveryID, aws.ToString(a.StringValue))
		}
		deliveriesDLQ[msg.DeliveryID]++
	}

	// What the handlers said: the deliveries POSTed whose log write failed (the documented
	// at-least-once window).
	lines, _ := e.capturedLines()
	unrecorded := map[string]int{}
	for _, l := range lines {
		if strings.HasPrefix(l.str("msg"), "delivered but the delivery log could not be written") {
			unrecorded[l.str("deliveryId")]++
		}
	}

	recs := map[*target]map[string]*deliverylog.Record{}
	for _, tg := range e.targets {
		recs[tg] = e.records(tg)
	}
	exps := e.expected(recs)
	r.sent = len(exps)
	expectedIDs := map[string]*expectation{}
	for i := range exps {
		expectedIDs[exps[i].id] = &exps[i]
	}
	hitsByID := map[string][]hit{}
	for _, tg := range e.targets {
		for _, h := range tg.rc.all() {
			r.requests++
			x, ok := expectedIDs[h.deliveryID]
			if !ok || x.tg != tg {
				e.problem("%s received a request that is no delivery of its own: delivery %q, webhook-id %q, %s", tg.name, h.deliveryID, h.webhookID, h.eventType)
				continue
			}
			hitsByID[h.deliveryID] = append(hitsByID[h.deliveryID], h)
		}
	}
	// Nothing the router enqueued is unexplained.
	e.ledger.mu.Lock()
	for id, m := range e.ledger.routed {
		if x, ok := expectedIDs[id]; !ok || x.tg.id != m.Target.ID {
			e.problem("the router enqueued a delivery nobody expected: %s of %s to %s", id, m.EventID, m.Target)
		}
	}
	e.ledger.mu.Unlock()

	problems := 0
	report := func(format string, args ...any) {
		problems++
		if problems <= 25 || e.sc.selfCheck {
			e.problem(format, args...)
		}
	}
	for _, x := range exps {
		hits := hitsByID[x.id]
		sort.Slice(hits, func(i, j int) bool { return hits[i].arrived.Before(hits[j].arrived) })
		// Every request is the delivery exactly as sent.
		for _, h := range hits {
			switch {
			case h.sigErr != nil:
				report("%s: delivery %s: signature does not verify: %v", x.tg.name, x.id, h.sigErr)
			case h.webhookID != x.pe.ev.ID:
				report("%s: delivery %s: webhook-id %q, want %q", x.tg.name, x.id, h.webhookID, x.pe.ev.ID)
			case h.eventType != x.pe.ev.Type:
				report("%s: delivery %s: DealerAI-Event-Type %q, want %q", x.tg.name, x.id, h.eventType, x.pe.ev.Type)
			case !bytes.Equal(h.body, x.pe.ev.Body):
				report("%s: delivery %s: body\n%s\nwant the normalized event\n%s", x.tg.name, x.id, h.body, x.pe.ev.Body)
			case h.path != "/hooks/"+x.tg.name:
				report("%s: delivery %s: path %q", x.tg.name, x.id, h.path)
			}
			if n, err := strconv.Atoi(h.attempt); err != nil || n < 1 || n > resources.DeliveriesMaxReceiveCount {
				report("%s: delivery %s: DealerAI-Attempt %q", x.tg.name, x.id, h.attempt)
			}
		}
		if len(hits) > 1 {
			r.retried++
		}
		var firstOK *hit
		for i := range hits {
			if hits[i].status >= 200 && hits[i].status < 300 && (firstOK == nil || hits[i].answered.Before(firstOK.answered)) {
				firstOK = &hits[i]
			}
		}
		rec := recs[x.tg][x.id]
		inDLQ := deliveriesDLQ[x.id] > 0
		evDLQ := eventsDLQ[x.pe.ev.ID]
		if inDLQ {
			r.inDeliveriesDLQ++
		}
		if evDLQ {
			r.inEventsDLQ++
		}
		if rec != nil && rec.Status == deliverylog.StatusFailed {
			r.loggedFailed++
		}
		if rec != nil && rec.Status == deliverylog.StatusSkipped {
			r.loggedSkipped++
		}
		switch {
		case firstOK != nil:
			r.delivered++
			// The sender's view of the attempt the endpoint answered 2xx: logged as failed
			// (a timeout, a broken connection), the answer never reached it.
			answerLost := false
			if full := e.record(x.tg, x.id); full != nil {
				for _, a := range full.Attempts {
					if strconv.Itoa(a.Attempt) == firstOK.attempt && (a.ErrorClass == deliverylog.ClassTimeout || a.ErrorClass == deliverylog.ClassConnection) {
						answerLost = true
					}
				}
			}
			for _, h := range hits {
				if !h.arrived.After(firstOK.answered) {
					continue
				}
				if unrecorded[x.id] > 0 {
					r.aloWindow++
					continue
				}
				if answerLost {
					r.answerLost++
					continue
				}
				if e.concurrentCopies(x.id) {
					r.concurrentCopies++
					continue
				}
				r.dupAfterSuccess++
				report("%s: delivery %s POSTed again at %s (attempt %s), after it was answered %d at %s; the handler did not report a failed log write for it (record: %s)",
					x.tg.name, x.id, h.arrived.Format("15:04:05.000"), h.attempt, firstOK.status, firstOK.answered.Format("15:04:05.000"), describe(e.record(x.tg, x.id)))
			}
			if rec == nil || rec.Status != deliverylog.StatusSucceeded {
				if e.sc.logFault && inDLQ {
					// The success could not be recorded and the retries could not reach the
					// log either (they ended in the DLQ): reported, not a failure.
					r.dlqUnlogged++
				} else {
					report("%s: delivery %s was answered %d but the log says %s; %s", x.tg.name, x.id, firstOK.status, describe(rec), e.history(x.id, lines))
				}
			}
		case inDLQ || evDLQ:
			r.deadLettered++
			if inDLQ && (rec == nil || rec.Status != deliverylog.StatusFailed) {
				if e.sc.logFault {
					r.dlqUnlogged++
				} else {
					report("%s: delivery %s is in the deliveries DLQ but the log says %s", x.tg.name, x.id, describe(rec))
				}
			}
		case rec != nil && (rec.Status == deliverylog.StatusFailed || rec.Status == deliverylog.StatusSkipped):
			r.deadLettered++
			if rec.Status == deliverylog.StatusFailed && rec.LastStatusCode != 410 {
				report("%s: delivery %s is recorded failed (last status %d) but is in no DLQ", x.tg.name, x.id, rec.LastStatusCode)
			}
			if rec.Status == deliverylog.StatusSkipped && !x.tg.mayDisable {
				report("%s: delivery %s was skipped: %s", x.tg.name, x.id, rec.LastError)
			}
		default:
			r.lost++
			report("LOST: %s: delivery %s (%s %s, %s) was neither delivered nor dead-lettered: %d requests %s; log: %s; %s",
				x.tg.name, x.id, x.pe.ev.Type, x.pe.ev.ID, x.pe.phase, len(hits), statuses(hits), describe(e.record(x.tg, x.id)), e.history(x.id, lines))
		}
	}
	if problems > 25 && !e.sc.selfCheck {
		e.problem("... and %d more problems", problems-25)
	}
	if r.delivered+r.deadLettered+r.lost != r.sent {
		e.problem("books do not balance: delivered %d + dead-lettered %d + lost %d != sent %d", r.delivered, r.deadLettered, r.lost, r.sent)
	}
	return r
}

func statuses(hits []hit) string {
	var parts []string
	for _, h := range hits {
		parts = append(parts, fmt.Sprintf("%s:%d", h.mode, h.status))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func describe(rec *deliverylog.Record) string {
	if rec == nil {
		return "no record"
	}
	s := fmt.Sprintf("%s after %d attempts (last status %d, %q)", rec.Status, rec.AttemptCount, rec.LastStatusCode, rec.LastError)
	for _, a := range rec.Attempts {
		s += fmt.Sprintf("; #%d %s %d %s %q", a.Attempt, a.At.Format("15:04:05.000"), a.StatusCode, a.ErrorClass, a.Error)
	}
	return s
}
