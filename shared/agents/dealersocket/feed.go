package dealersocket

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
)

// The change feed. DealerSocket publishes no change feed: the event search answers one
// customer's sales events as they are now, with no date filter. So the feed reads the
// customers DealerAI pushed (Request.Pushed, by the "customerId" the connector keeps), one
// event search each, in ascending id order across runs: a rotation over every customer,
// PageCustomers a call, continued at once until it ends, then again after SYNC_INTERVAL. It
// compares each sales event with what the sync remembered of it (Request.Seen): an event
// never seen is new in DealerSocket (crm.lead.created, which the sync turns into
// crm.lead.updated for DealerAI's own lead); one whose status or assignee changed is
// crm.lead.updated; the others are not returned (docs/agents.md#dealersocket).

// RecordKindLead is the record kind of a sales event (DealerAI's lead; the connector keeps
// its EventId as "leadId").
const RecordKindLead = "lead"

// PageCustomers bounds the customers one call of the feed reads (one event search each).
const PageCustomers = 25

// readMargin is the least time left before the job's deadline for the feed to start
// another event search; under it, the page ends with what was read.
const readMargin = 2 * time.Second

// Feed is DealerSocket's change feed.
type Feed struct{}

var _ changefeed.Feed = Feed{}

// NewFeed returns the change feed.
func NewFeed() Feed { return Feed{} }

// Changes implements changefeed.Feed.
func (Feed) Changes(ctx context.Context, req *changefeed.Request) (*changefeed.Page, error) {
	if req.Pushed == nil || req.Seen == nil {
		return nil, changefeed.Errorf(changefeed.Transient, "DealerSocket's feed needs the records DealerAI pushed and what the sync remembered")
	}
	if !hasKeys(req.Credentials) {
		return nil, changefeed.Errorf(changefeed.CredentialsRefused,
			"DealerSocket's event search needs the signed API keys (credentials publicKey and secretKey)")
	}
	cur := changefeed.ParseRotation(req.Cursor.Value)
	if cur.Started.IsZero() {
		cur = changefeed.Rotation{Started: req.Now} // a new rotation
	}
	limit := max(min(req.MaxRecords, PageCustomers), 1)
	ids, err := req.Pushed.IDs(ctx, "customerId", cur.After, limit)
	if err != nil {
		return nil, changefeed.Errorf(changefeed.Transient, "list the customers DealerAI pushed: %v", err)
	}
	page := &changefeed.Page{}
	var read []customerRead
	stopped := false
	for _, entityID := range ids {
		if d, ok := ctx.Deadline(); ok && time.Until(d) < readMargin && len(read) > 0 {
			stopped = true // near the job's deadline: the page ends with what was read
			break
		}
		if !digitsOnly(entityID) {
			page.Notes = append(page.Notes, "customer "+clean(entityID, 64)+" skipped: the event search takes numeric ids only")
			cur.After = entityID
			continue
		}
		found, resp, err := searchEvents(ctx, req.HTTP, req.Settings, req.Credentials, entityID)
		if err != nil && ctx.Err() != nil && len(read) > 0 {
			stopped = true
			break
		}
		if why := customerGone(resp, found); why != "" {
			page.Notes = append(page.Notes, "customer "+entityID+" skipped: "+why)
			page.RecordsRead++
			cur.After = entityID
			continue
		}
		if err != nil {
			return nil, err
		}
		if found.Refused() {
			return nil, refused(resp, stepEventSearch, found.ErrorCode, found.ErrorMessage)
		}
		read = append(read, customerRead{entityID: entityID, found: found})
		page.RecordsRead++
		cur.After = entityID
	}
	if page.Changes, err = changes(ctx, req.Seen, read); err != nil {
		return nil, changefeed.Errorf(changefeed.Transient, "read what the sync remembered: %v", err)
	}
	page.Next, page.More = cur.Next(req.Cursor, len(ids), limit, stopped)
	return page, nil
}

// customerGone says why the event search could not read a customer DealerSocket no longer
// has (e.g. merged into another): a 404, or a refusal whose code is about the entity
// ("ENTITYID_INVALID"). The feed skips such a customer with a note; any other refusal (the
// vendor, the dealer) fails the page. "" for anything else.
func customerGone(resp *connector.Response, found *CustomerEvents) string {
	switch {
	case resp != nil && resp.StatusCode == http.StatusNotFound:
		return "DealerSocket answered HTTP 404"
	case found != nil && found.Refused() && strings.Contains(strings.ToUpper(found.ErrorCode), "ENTITY"):
		return "DealerSocket refused the event search (" + found.ErrorCode + "): " + found.ErrorMessage
	}
	return ""
}

// customerRead is one customer's answer.
type customerRead struct {
	entityID string
	found    *CustomerEvents
}

// changes are the sales events of the customers read that are new or whose status or
// assignee changed since what the sync remembered of them.
func changes(ctx context.Context, seen changefeed.SeenRecords, read []customerRead) ([]changefeed.Change, error) {
	var ids []string
	for _, c := range read {
		for _, e := range c.found.Events {
			if e.EventID != "" {
				ids = append(ids, e.EventID)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	remembered, err := seen.Remembered(ctx, RecordKindLead, ids)
	if err != nil {
		return nil, err
	}
	var out []changefeed.Change
	for _, c := range read {
		for _, e := range c.found.Events {
			if e.EventID == "" {
				continue
			}
			was, known := changefeed.ParseDigested(remembered[e.EventID])
			now := changefeed.Digested{Digest: compared(e), Extra: e.UpdateDate}
			if known && was.Digest == now.Digest {
				continue // neither the status nor the assignee changed
			}
			out = append(out, change(c, e, known, was, now))
		}
	}
	return out, nil
}

// change is the Change of sales event e of customer c: new (not known) or changed since was.
func change(c customerRead, e SalesEvent, known bool, was, now changefeed.Digested) changefeed.Change {
	state := inbound.State{Status: StatusName(e.Status), FirstName: c.found.FirstName, LastName: c.found.LastName}
	if e.PrimaryAssigned != "" {
		// DealerSocket names the assignee and gives no other id of them.
		state.Assignee = &inbound.Person{ID: e.PrimaryAssigned, Name: e.PrimaryAssigned}
	}
	if v := (inbound.Vehicle{Year: e.Year, Make: e.Make, Model: e.Model, VIN: e.VIN, StockNumber: e.StockNumber}); v != (inbound.Vehicle{}) {
		state.Vehicle = &v
	}
	ch := changefeed.Change{
		RecordKind: RecordKindLead, RecordID: e.EventID, EventType: events.TypeCRMLeadUpdated,
		PlatformIDs: map[string]string{"leadId": e.EventID, "customerId": c.entityID},
		State:       state, Remember: now.String(),
	}
	// The updateDate is the version when it moved since the last read; a change it did not
	// move (or an event without one) is versioned by its state.
	if e.UpdateDate != "" && (!known || e.UpdateDate != was.Extra) {
		ch.Version, ch.ChangedAt = e.UpdateDate, parseDate(e.UpdateDate)
	} else {
		ch.Version = changefeed.StateVersion(state)
	}
	if !known {
		ch.Created, ch.EventType = true, events.TypeCRMLeadCreated
		if ch.ChangedAt.IsZero() {
			ch.ChangedAt = parseDate(e.InsertDate)
		}
	}
	return ch
}

// compared is the digest of what a change of a sales event is: its status and its assignee.
func compared(e SalesEvent) string { return changefeed.Digest(e.Status, e.PrimaryAssigned) }

// parseDate reads a DealerSocket date; one without a zone is taken as UTC; the zero time when
// it is none.
func parseDate(v string) time.Time { return changefeed.ParseTime(v) }
