package fortellis

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
)

// The Elead change feed. searchDelta answers the opportunities changed since a time (at most
// 7 days back; 404 when none changed), a page at a time, with no change time and no word of
// what changed. So the feed reads them in *passes*: a pass reads every page of searchDelta
// from the time the previous pass started (less deltaOverlap), and for each opportunity its
// activity history; it compares each opportunity's status, sub-status and primary
// salesperson, and each appointment activity's state, with what the sync remembered of them
// (Request.Seen), and returns those that differ (docs/agents.md#fortellis). A pass spans as
// many calls and jobs as it needs: the cursor holds the page and the items of it done.

// Record kinds of the feed's changes.
const (
	RecordKindOpportunity = "opportunity"
	RecordKindActivity    = "activity"
)

// DeltaWindow is how far back searchDelta reads.
const DeltaWindow = 7 * 24 * time.Hour

// DeltaPageSize is the opportunities a searchDelta page holds (Elead's most); each costs one
// activity history read besides, so a page usually spans calls of the feed.
const DeltaPageSize = 100

// deltaOverlap: a pass starts this long before the previous one started (clocks differ; a
// change made while a page was read may sort onto a page already read). The memory of the
// records makes the overlap cost reads only.
const deltaOverlap = time.Minute

// windowMargin keeps a re-read window inside Elead's 7 days while the request travels.
const windowMargin = 5 * time.Minute

// readMargin is the least time left before the job's deadline for the feed to start another
// activity history read; under it, the page ends with what was read.
const readMargin = 2 * time.Second

// Feed is the Elead change feed.
type Feed struct {
	tokens *oauth.Cache
	refs   *referenceCache
}

var _ changefeed.Feed = (*Feed)(nil)

// NewFeed returns the change feed, getting its tokens from tokens.
func NewFeed(tokens *oauth.Cache) *Feed {
	return &Feed{tokens: tokens, refs: &referenceCache{TTL: ReferenceTTL}}
}

// deltaCursor is where the feed is: the pass's dateFrom, when the pass started (zero before
// its first page), the page to read, how many of its items are done and the id of the last
// one done (a page read again may have shifted: an opportunity that changed meanwhile moves
// to the end).
type deltaCursor struct {
	from, started time.Time
	page, done    int
	last          string
}

func parseDeltaCursor(v string) (deltaCursor, bool) {
	q, err := url.ParseQuery(v)
	if err != nil {
		return deltaCursor{}, false
	}
	from, err := time.Parse(time.RFC3339Nano, q.Get("from"))
	if err != nil {
		return deltaCursor{}, false
	}
	c := deltaCursor{from: from}
	if s := q.Get("started"); s != "" {
		if c.started, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return deltaCursor{}, false
		}
		c.page, _ = strconv.Atoi(q.Get("page"))
		c.done, _ = strconv.Atoi(q.Get("done"))
		c.page, c.done, c.last = max(c.page, 1), max(c.done, 0), q.Get("last")
	}
	return c, true
}

func (c deltaCursor) String() string {
	v := url.Values{"from": {c.from.UTC().Format(time.RFC3339Nano)}}
	if !c.started.IsZero() {
		v.Set("started", c.started.UTC().Format(time.RFC3339Nano))
		v.Set("page", strconv.Itoa(c.page))
		v.Set("done", strconv.Itoa(c.done))
		if c.last != "" {
			v.Set("last", c.last)
		}
	}
	return v.Encode()
}

// Changes implements changefeed.Feed.
func (f *Feed) Changes(ctx context.Context, req *changefeed.Request) (*changefeed.Page, error) {
	if req.Seen == nil {
		return nil, changefeed.Errorf(changefeed.Transient, "Elead's feed needs what the sync remembered")
	}
	cur, ok := parseDeltaCursor(req.Cursor.Value)
	if !ok { // what came before the first sync is not sent back
		return changefeed.FirstSync(req.Now, deltaCursor{from: req.Now}.String(), "Elead's changes are read"), nil
	}
	page := &changefeed.Page{}
	if cur.started.IsZero() {
		cur.started, cur.page, cur.done = req.Now, 1, 0
		if oldest := req.Now.Add(-DeltaWindow + windowMargin); cur.from.Before(oldest) {
			page.Notes = append(page.Notes, "the cursor ("+cur.from.Format(time.RFC3339)+") was older than Elead's 7-day searchDelta window: the window was read again from "+
				oldest.Format(time.RFC3339)+"; changes made before it and not read since were not seen")
			cur.from = oldest
		}
	}
	s := &session{tokens: f.tokens, refs: f.refs, grant: grant(req.Settings, req.Credentials),
		d: &connector.Delivery{DealerID: req.DealerID, Settings: req.Settings, Credentials: req.Credentials, HTTP: req.HTTP}, progress: map[string]string{}}
	appointment, err := f.appointmentType(ctx, s)
	if err != nil {
		return nil, err
	}
	// A page done is read again before the next (one call, no history reads): an opportunity
	// of an earlier page that changed meanwhile moved to the end, and what followed it moved
	// up, onto the page done. What is after the last one done there is read first.
	var opps []Opportunity
	var last bool
	i := 0
	for {
		if opps, last, err = s.searchDelta(ctx, cur.from, cur.page); err != nil {
			return nil, err
		}
		page.RecordsRead++
		i = resumeAt(opps, cur)
		if i < len(opps) || last || page.RecordsRead+1 >= req.MaxRecords {
			break
		}
		cur.page, cur.done, cur.last = cur.page+1, 0, ""
	}
	budget := max(req.MaxRecords-page.RecordsRead, 1)
	var read []opportunityRead
	for ; i < len(opps); i++ {
		if len(read) > 0 && (len(read) >= budget || nearDeadline(ctx)) {
			break
		}
		acts, err := s.activitiesOf(ctx, opps[i].ID)
		if err != nil {
			if ctx.Err() != nil && len(read) > 0 {
				break // the job's deadline: the page ends with what was read
			}
			return nil, err
		}
		page.RecordsRead++
		read = append(read, opportunityRead{opp: opps[i], activities: appointments(acts, appointment)})
	}
	if page.Changes, err = deltaChanges(ctx, req.Seen, read, cur.from); err != nil {
		return nil, changefeed.Errorf(changefeed.Transient, "read what the sync remembered: %v", err)
	}
	cur.done = i
	if len(read) > 0 {
		cur.last = read[len(read)-1].opp.ID
	}
	switch {
	case cur.done < len(opps) || !last:
		page.More = true // the rest of this page, or the next, next
	default:
		// The pass is over: the next starts where this one started.
		page.Next = changefeed.Cursor{Value: deltaCursor{from: cur.started.Add(-deltaOverlap)}.String(), Time: cur.started}
		return page, nil
	}
	page.Next = changefeed.Cursor{Value: cur.String(), Time: req.Cursor.Time}
	return page, nil
}

// resumeAt is the index of the first item of the page not done: after the last one done
// when it is still on the page, else at the count done, one earlier when the last one done
// has moved off (the items after it moved up).
func resumeAt(opps []Opportunity, cur deltaCursor) int {
	if cur.last == "" {
		return min(cur.done, len(opps))
	}
	for i, o := range opps {
		if o.ID == cur.last {
			return i + 1
		}
	}
	return min(max(cur.done-1, 0), len(opps))
}

func nearDeadline(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < readMargin
}

// searchDelta reads one page of the opportunities changed since from; last: no page follows.
// A 404 is an empty window.
func (s *session) searchDelta(ctx context.Context, from time.Time, pageNumber int) (opps []Opportunity, last bool, err error) {
	const step = "Fortellis searchDelta"
	q := url.Values{"dateFrom": {from.UTC().Format(time.RFC3339)}, "page": {strconv.Itoa(pageNumber)}, "pageSize": {strconv.Itoa(DeltaPageSize)}}
	resp, err := s.send(ctx, call{method: http.MethodGet, path: SearchDeltaPath + "?" + q.Encode(), step: step, notFound: true})
	if err != nil {
		return nil, false, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, true, nil
	}
	var answer struct {
		Items      []Opportunity `json:"items"`
		TotalPages *int          `json:"totalPages"`
		PageNumber int           `json:"pageNumber"`
	}
	if err := decodeAnswer(resp, &answer, step); err != nil {
		return nil, false, err
	}
	if answer.TotalPages != nil {
		last = pageNumber >= *answer.TotalPages
	} else {
		last = len(answer.Items) < DeltaPageSize
	}
	return answer.Items, last || len(answer.Items) == 0, nil
}

// appointmentType is the name of the activity type appointments are (the activityType
// setting; an id is looked up in the company's types).
func (f *Feed) appointmentType(ctx context.Context, s *session) (string, error) {
	setting := strings.TrimSpace(s.d.Settings["activityType"])
	if setting == "" {
		setting = DefaultActivityType
	}
	if _, err := strconv.Atoi(setting); err != nil {
		return setting, nil
	}
	types, _, err := cached(ctx, s, "activityTypes", s.fetchActivityTypes)
	if err != nil {
		return "", err
	}
	for _, t := range types {
		if strconv.Itoa(t.ID) == setting {
			return t.Name, nil
		}
	}
	return setting, nil
}

// appointments are the activities of the appointment type.
func appointments(acts []Activity, typeName string) []Activity {
	var out []Activity
	for _, a := range acts {
		if a.ID != "" && strings.EqualFold(scalar(a.ActivityType), typeName) {
			out = append(out, a)
		}
	}
	return out
}

// opportunityRead is one changed opportunity and its appointment activities.
type opportunityRead struct {
	opp        Opportunity
	activities []Activity
}

// deltaChanges are the opportunities and appointments read whose state differs from what the
// sync remembered of them. from (the pass's dateFrom) is part of each version: the same state
// read again in the pass (after a crash) has the same event id, a state come back in a later
// pass another.
func deltaChanges(ctx context.Context, seen changefeed.SeenRecords, read []opportunityRead, from time.Time) ([]changefeed.Change, error) {
	var oppIDs, actIDs []string
	for _, r := range read {
		oppIDs = append(oppIDs, r.opp.ID)
		for _, a := range r.activities {
			actIDs = append(actIDs, a.ID)
		}
	}
	if len(oppIDs) == 0 {
		return nil, nil
	}
	knownOpps, err := seen.Remembered(ctx, RecordKindOpportunity, oppIDs)
	if err != nil {
		return nil, err
	}
	knownActs := map[string]string{}
	if len(actIDs) > 0 {
		if knownActs, err = seen.Remembered(ctx, RecordKindActivity, actIDs); err != nil {
			return nil, err
		}
	}
	pass := "@" + from.UTC().Format(time.RFC3339Nano)
	var out []changefeed.Change
	for _, r := range read {
		o := r.opp
		ids := map[string]string{"opportunityId": o.ID}
		if o.Customer.ID != "" {
			ids["customerId"] = o.Customer.ID
		}
		state := opportunityState(&o)
		digest := changefeed.Digest(state.Status, state.SubStatus, assigneeID(state.Assignee))
		was, known := knownOpps[o.ID]
		if !known || was != digest {
			ch := changefeed.Change{RecordKind: RecordKindOpportunity, RecordID: o.ID, EventType: events.TypeCRMLeadUpdated,
				PlatformIDs: ids, State: state, Remember: digest, Version: changefeed.StateVersion(state) + pass}
			if !known {
				ch.Created, ch.EventType = true, events.TypeCRMLeadCreated
				ch.ChangedAt = changefeed.ParseTime(o.DateIn)
			}
			out = append(out, ch)
		}
		for _, a := range r.activities {
			was, known := changefeed.ParseDigested(knownActs[a.ID])
			now := changefeed.Digested{Digest: changefeed.Digest(a.Category, a.DueDate, a.CompletedDate, a.Outcome), Extra: a.DueDate}
			if known && was.Digest == now.Digest {
				continue
			}
			state := activityState(a, known && was.Extra != a.DueDate)
			aids := map[string]string{"activityId": a.ID, "opportunityId": o.ID}
			if o.Customer.ID != "" {
				aids["customerId"] = o.Customer.ID
			}
			out = append(out, changefeed.Change{RecordKind: RecordKindActivity, RecordID: a.ID, EventType: events.TypeCRMAppointmentUpdated,
				PlatformIDs: aids, State: state, Remember: now.String(), Version: changefeed.StateVersion(state) + pass,
				ChangedAt: changefeed.ParseTime(a.CompletedDate)})
		}
	}
	return out, nil
}

// opportunityState is an opportunity's state in the inbound event's fields.
func opportunityState(o *Opportunity) inbound.State {
	st := inbound.State{Status: o.Status, SubStatus: o.SubStatus, Source: o.Source}
	if p := o.Primary(); p != nil {
		st.Assignee = &inbound.Person{ID: p.ID, Name: strings.TrimSpace(p.FirstName + " " + p.LastName)}
	}
	for _, v := range o.SoughtVehicles {
		if v.IsPrimary || len(o.SoughtVehicles) == 1 {
			veh := inbound.Vehicle{Make: v.Make, Model: v.Model, Trim: v.Trim, VIN: v.VIN, StockNumber: v.StockNumber}
			if y := max(v.YearFrom, v.YearTo); y > 0 {
				veh.Year = strconv.Itoa(y)
			}
			if veh != (inbound.Vehicle{}) {
				st.Vehicle = &veh
			}
			break
		}
	}
	return st
}

// OpportunityPushed is the state an opportunity as Elead answered it is in, under the
// connector.Pushed* names: what the change feed reports of it.
func OpportunityPushed(o *Opportunity) map[string]string {
	out := map[string]string{}
	if o.Status != "" {
		out[connector.PushedStatus] = o.Status
	}
	if o.SubStatus != "" {
		out[connector.PushedSubStatus] = o.SubStatus
	}
	if p := o.Primary(); p != nil {
		out[connector.PushedAssigneeID] = p.ID
	}
	return out
}

// activityState is an appointment activity's state: completed, a no-show or cancelled by its
// outcome, or scheduled (rescheduled when its due date moved since it was last read).
func activityState(a Activity, moved bool) inbound.State {
	st := inbound.State{ActivityType: scalar(a.ActivityType), Outcome: a.Outcome, AppointmentTime: changefeed.ParseTime(a.DueDate)}
	outcome := strings.ToLower(a.Outcome)
	switch {
	case strings.Contains(outcome, "cancel"):
		st.AppointmentStatus = events.AppointmentStatusCancelled
	case strings.Contains(outcome, "no show") || strings.Contains(outcome, "no-show") || strings.Contains(outcome, "noshow") || strings.Contains(outcome, "missed"):
		st.AppointmentStatus = events.AppointmentStatusNoShow
	case strings.EqualFold(a.Category, "Completed"):
		st.AppointmentStatus = events.AppointmentStatusCompleted
	case moved:
		st.AppointmentStatus = events.AppointmentStatusRescheduled
	default:
		st.AppointmentStatus = events.AppointmentStatusScheduled
	}
	if who := scalar(a.AssignedTo); who != "" {
		st.Assignee = &inbound.Person{ID: who, Name: who}
	}
	return st
}

func assigneeID(p *inbound.Person) string {
	if p == nil {
		return ""
	}
	return p.ID
}
