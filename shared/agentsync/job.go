package agentsync

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/resources"
)

const defaultBudget = resources.SyncJobBudget

// job is one run of one agent's sync, under the agent's lease.
type job struct {
	s        *Syncer
	p        platform.Platform
	feed     changefeed.Feed
	agent    *agents.Agent
	owner    string
	state    *State
	deadline time.Time
	run      Run
	notes    []string
}

// read reads pages of the feed until it has no more, the job's record bound or deadline is
// reached, or the platform fails. Each page's events are on the inbound queue before its
// cursor is stored. more: the feed has more now. err: our own side failed (the job is
// retried; the cursor stays where the last published page left it).
func (j *job) read(ctx context.Context) (more bool, failure *changefeed.Error, err error) {
	s := j.s
	settings := j.p.WithDefaults(j.agent.Settings)
	if f := blockedHost(j.p, settings); f != nil {
		return false, f, nil
	}
	if s.HTTP == nil {
		return false, nil, errNoHTTP
	}
	maxRecords, pageRecords := s.MaxRecords, s.PageRecords
	if maxRecords <= 0 {
		maxRecords = DefaultMaxRecords
	}
	if pageRecords <= 0 {
		pageRecords = DefaultPageRecords
	}
	hc := s.restrict(j.p)
	pushed := pushedRecords{r: s.Records, dealerID: j.agent.DealerID, platform: j.p.ID}
	var seen changefeed.SeenRecords
	if s.Seen != nil {
		seen = seenRecords{s: s.Seen, dealerID: j.agent.DealerID, platform: j.p.ID}
	}
	cursor := j.state.Cursor
	for {
		fctx, cancel := context.WithDeadline(ctx, j.deadline)
		page, ferr := j.feed.Changes(fctx, &changefeed.Request{
			DealerID:    j.agent.DealerID,
			Settings:    settings,
			Credentials: maps.Clone(j.agent.Credentials),
			Cursor:      cursor,
			MaxRecords:  min(pageRecords, maxRecords-j.run.RecordsRead),
			HTTP:        hc,
			Pushed:      pushed,
			Seen:        seen,
			Now:         s.now(),
		})
		cancel()
		if ferr != nil {
			if ctx.Err() != nil { // our own invocation ends: retry the job
				return false, nil, ctx.Err()
			}
			return false, changefeed.Classify(ferr), nil
		}
		j.run.RecordsRead += page.RecordsRead
		j.notes = append(j.notes, page.Notes...)
		evs, err := j.events(ctx, page.Changes)
		if err != nil {
			return false, nil, err
		}
		if err := publish(ctx, s.Inbound, s.InboundQueueURL, evs); err != nil {
			return false, nil, err
		}
		j.run.EventsPublished += len(evs)
		if s.Seen != nil {
			// What the feed compares its next read with, kept once the events are on the
			// queue: a crash before this reads the records as changed again and republishes
			// the same ids.
			if err := s.Seen.Remember(ctx, j.agent.DealerID, j.p.ID, page.Memories()); err != nil {
				return false, nil, err
			}
		}
		if page.Next != cursor {
			err := s.States.Advance(ctx, j.agent.DealerID, j.p.ID, j.owner, s.now(), page.Next)
			if errors.Is(err, ErrLeaseLost) {
				// Another job took over: it re-reads from the stored cursor (the same ids).
				return false, changefeed.Errorf(changefeed.Transient, "the job outlived its lease"), nil
			}
			if err != nil {
				return false, nil, err
			}
			cursor = page.Next
		}
		if !page.More {
			return false, nil, nil
		}
		if j.run.RecordsRead >= maxRecords || !s.now().Before(j.deadline) || page.RecordsRead == 0 {
			return true, nil, nil
		}
	}
}

// events turns a page's changes into inbound events: DealerAI's ids through the reverse
// pointers (one batch read per page), echoes of DealerAI's own pushes dropped, each event
// validated against the catalog. A change the catalog refuses (a feed's bug) is logged and
// noted, not published.
func (j *job) events(ctx context.Context, changes []changefeed.Change) ([]*events.Event, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	var ids []agents.PlatformID
	for _, c := range changes {
		for _, name := range slices.Sorted(maps.Keys(c.PlatformIDs)) {
			ids = append(ids, agents.PlatformID{Name: name, Value: c.PlatformIDs[name]})
		}
	}
	ptrs, err := j.s.Records.Pointers(ctx, j.agent.DealerID, j.p.ID, ids)
	if err != nil {
		return nil, err
	}
	observed := j.s.now()
	seen := map[string]bool{}
	var out []*events.Event
	for _, c := range changes {
		e, own := j.event(c, ptrs, observed)
		if own != nil {
			pushed, err := j.s.Records.PushedState(ctx, j.agent.DealerID, j.p.ID, own.Keys, leadUpdateTypes)
			if err != nil {
				return nil, err
			}
			if Echo(pushed, c.State) {
				j.run.EchoesSuppressed++
				continue
			}
		}
		ev, err := inbound.Encode(e)
		if err == nil && (c.RecordKind == "" || c.RecordID == "" || c.Version == "") {
			err = errors.New("the change has no record kind, id or version")
		}
		if err != nil {
			j.s.log().Error("change refused: not a valid inbound event (a change feed's bug)", "dealerId", j.agent.DealerID,
				"platform", j.p.ID, "eventType", c.EventType, "recordKind", c.RecordKind, "error", err.Error())
			j.notes = append(j.notes, "a "+c.RecordKind+" change was not published: "+err.Error())
			continue
		}
		if !seen[ev.ID] {
			seen[ev.ID] = true
			out = append(out, ev)
		}
	}
	return out, nil
}

// event builds the inbound event of a change, and returns the reverse pointer of the record
// itself when DealerAI pushed it (nil for a record created in the platform).
func (j *job) event(c changefeed.Change, ptrs map[agents.PlatformID]agents.ReversePointer, observed time.Time) (*inbound.Event, *agents.ReversePointer) {
	e := &inbound.Event{
		Type:        c.EventType,
		ID:          events.InboundEventID(j.p.ID, c.RecordKind, c.RecordID, c.Version),
		DealerID:    j.agent.DealerID,
		Platform:    j.p.ID,
		OccurredAt:  c.ChangedAt,
		ObservedAt:  observed,
		PlatformIDs: c.PlatformIDs,
		State:       c.State,
	}
	// The record's own pointer first (the id whose value is the record's), then the
	// records it belongs to.
	var own *agents.ReversePointer
	names := slices.Sorted(maps.Keys(c.PlatformIDs))
	for _, name := range names {
		if p, ok := ptrs[agents.PlatformID{Name: name, Value: c.PlatformIDs[name]}]; ok && c.PlatformIDs[name] == c.RecordID {
			own = &p
			e.LeadID, e.ContactID, e.AppointmentID = p.LeadID, p.ContactID, p.AppointmentID
			break
		}
	}
	for _, name := range names {
		p, ok := ptrs[agents.PlatformID{Name: name, Value: c.PlatformIDs[name]}]
		if !ok {
			continue
		}
		// A record created in the CRM may belong to a contact DealerAI pushed; the lead is
		// not DealerAI's.
		if e.LeadID == "" && !(c.Created && own == nil) {
			e.LeadID = p.LeadID
		}
		if e.ContactID == "" {
			e.ContactID = p.ContactID
		}
	}
	if c.Created && own != nil && e.Type == events.TypeCRMLeadCreated {
		// DealerAI's own lead, seen for the first time: a change at most, not a new lead.
		e.Type = events.TypeCRMLeadUpdated
	}
	return e, own
}

// Echo reports whether a platform's state is what DealerAI pushed: every compared field the
// change reports (connector.Pushed*: status, sub-status, assignee, appointment time and
// status) has the value DealerAI's last push left, and it reports at least one. Such a change
// is DealerAI's own, not sent back.
func Echo(pushed map[string]string, s inbound.State) bool {
	reported := map[string]string{
		connector.PushedStatus: s.Status, connector.PushedSubStatus: s.SubStatus,
		connector.PushedAppointmentStatus: s.AppointmentStatus,
	}
	if s.Assignee != nil {
		reported[connector.PushedAssigneeID] = s.Assignee.ID
	}
	if !s.AppointmentTime.IsZero() {
		reported[connector.PushedAppointmentTime] = s.AppointmentTime.UTC().Format(time.RFC3339)
	}
	n := 0
	for name, v := range reported {
		if v == "" {
			continue
		}
		n++
		was, ok := pushed[name]
		if !ok {
			return false
		}
		if name == connector.PushedAppointmentTime {
			t, err := time.Parse(time.RFC3339, was)
			if err != nil || !t.Equal(s.AppointmentTime) {
				return false
			}
		} else if was != v {
			return false
		}
	}
	return n > 0
}

// leadUpdateTypes are the outbound event types that update a lead (their pushed state is kept
// beside the lead's, under an update key).
var leadUpdateTypes = func() []string {
	var out []string
	for _, d := range events.Catalog() {
		if connector.KindOf(d.Type) == connector.KindLeadUpdate {
			out = append(out, d.Type)
		}
	}
	return out
}()

// pushedRecords is changefeed.PushedRecords of one agent.
type pushedRecords struct {
	r                  Records
	dealerID, platform string
}

var _ changefeed.PushedRecords = pushedRecords{}

func (p pushedRecords) IDs(ctx context.Context, idName, after string, limit int) ([]string, error) {
	return p.r.PushedIDs(ctx, p.dealerID, p.platform, idName, after, limit)
}
