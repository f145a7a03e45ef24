package vinsolutions

import (
	"context"
	"encoding/json"
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

// The change feed. Lead Management has no modified-since filter and no change log: GET
// /leads?sortby=date pages the dealer's leads newest first. So the feed reads in *passes*:
// a pass pages from the newest lead back to the oldest one it follows — the leads created
// since the sync started, at most syncDays days old (with syncDays 0, back to the first lead
// it has seen before) — and compares each lead's leadStatusType and leadStatus with what the
// sync remembered of it (Request.Seen): a lead never seen is new in VinSolutions, one whose
// status moved is updated (docs/agents.md#vinsolutions).

// RecordKindLead is the record kind of the feed's changes.
const RecordKindLead = "lead"

// LeadsPageSize is the most leads a page of the feed asks for (fewer when the sync bounds
// the records of a call lower).
const LeadsPageSize = 100

// DefaultSyncDays is how many days after its creation a lead's status is followed.
const DefaultSyncDays = "7"

// maxSyncDays bounds the syncDays setting.
const maxSyncDays = 90

// settle: a lead created less than this before a pass starts is left for the next pass. A
// lead DealerAI is creating has its ids kept only when its delivery ends: read before, it
// would come back as a lead entered in VinSolutions.
const settle = 10 * time.Second

// Feed is VinSolutions' change feed.
type Feed struct{ tokens *oauth.Cache }

var _ changefeed.Feed = (*Feed)(nil)

// NewFeed returns the change feed, getting its tokens from tokens.
func NewFeed(tokens *oauth.Cache) *Feed { return &Feed{tokens: tokens} }

// leadsCursor is where the feed is: since when it follows leads (the first sync), when the
// previous pass started (since, before the first), and in the current pass (started zero
// between passes) when it started, the page to read and the page size.
type leadsCursor struct {
	since, prev, started time.Time
	page, size           int
}

func parseLeadsCursor(v string) (leadsCursor, bool) {
	q, err := url.ParseQuery(v)
	if err != nil {
		return leadsCursor{}, false
	}
	since, err := time.Parse(time.RFC3339Nano, q.Get("since"))
	if err != nil {
		return leadsCursor{}, false
	}
	c := leadsCursor{since: since, prev: since}
	if p := q.Get("prev"); p != "" {
		if c.prev, err = time.Parse(time.RFC3339Nano, p); err != nil {
			return leadsCursor{}, false
		}
	}
	if s := q.Get("started"); s != "" {
		if c.started, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return leadsCursor{}, false
		}
		c.page, _ = strconv.Atoi(q.Get("page"))
		c.size, _ = strconv.Atoi(q.Get("size"))
		c.page, c.size = max(c.page, 1), min(max(c.size, 1), LeadsPageSize)
	}
	return c, true
}

func (c leadsCursor) String() string {
	v := url.Values{"since": {c.since.UTC().Format(time.RFC3339Nano)}}
	if !c.prev.IsZero() && !c.prev.Equal(c.since) {
		v.Set("prev", c.prev.UTC().Format(time.RFC3339Nano))
	}
	if !c.started.IsZero() {
		v.Set("started", c.started.UTC().Format(time.RFC3339Nano))
		v.Set("page", strconv.Itoa(c.page))
		v.Set("size", strconv.Itoa(c.size))
	}
	return v.Encode()
}

// leadItem is a lead of GET /leads (v3: contact and leadSource are hrefs).
type leadItem struct {
	LeadID         json.RawMessage `json:"leadId"`
	Contact        json.RawMessage `json:"contact"`
	LeadSource     json.RawMessage `json:"leadSource"`
	LeadType       string          `json:"leadType"`
	LeadStatus     string          `json:"leadStatus"`
	LeadStatusType string          `json:"leadStatusType"`
	CreatedUTC     string          `json:"createdUtc"`
}

// Changes implements changefeed.Feed.
func (f *Feed) Changes(ctx context.Context, req *changefeed.Request) (*changefeed.Page, error) {
	if req.Seen == nil {
		return nil, changefeed.Errorf(changefeed.Transient, "VinSolutions' feed needs what the sync remembered")
	}
	cur, ok := parseLeadsCursor(req.Cursor.Value)
	if !ok { // the leads created from now on are followed
		return changefeed.FirstSync(req.Now, leadsCursor{since: req.Now}.String(), "the leads created in VinSolutions are followed"), nil
	}
	page := &changefeed.Page{}
	if cur.started.IsZero() {
		cur.started, cur.page, cur.size = req.Now, 1, min(max(req.MaxRecords, 1), LeadsPageSize)
	}
	days := syncDays(req.Settings)
	horizon := cur.since
	if d := cur.started.Add(-time.Duration(days) * 24 * time.Hour); days > 0 && d.After(horizon) {
		horizon = d
	}
	s := &session{tokens: f.tokens, settings: req.Settings, progress: map[string]string{},
		d:     &connector.Delivery{DealerID: req.DealerID, Settings: req.Settings, Credentials: req.Credentials, HTTP: req.HTTP},
		grant: grantOf(req.Settings, req.Credentials)}
	items, more, err := s.leadsPage(ctx, cur.page, cur.size)
	if err != nil {
		return nil, err
	}
	page.RecordsRead = len(items)
	var followed []leadItem
	ids := []string{}
	end := !more
	for _, it := range items {
		created, ok := parseUTC(it.CreatedUTC)
		if idValue(it.LeadID) == "" {
			continue
		}
		if ok && created.Before(horizon) {
			end = true // older than the leads followed: the pass is over
			break
		}
		if ok && created.After(cur.started.Add(-settle)) {
			continue // too new: the next pass
		}
		followed = append(followed, it)
		ids = append(ids, idValue(it.LeadID))
	}
	remembered := map[string]string{}
	if len(ids) > 0 {
		if remembered, err = req.Seen.Remembered(ctx, RecordKindLead, ids); err != nil {
			return nil, changefeed.Errorf(changefeed.Transient, "read what the sync remembered: %v", err)
		}
	}
	// The version of a state is the pass's: its start as the cursor it began from holds it
	// (the previous pass's start), so a pass read again after a crash gives the same ids.
	pass := "@" + cur.prev.UTC().Format(time.RFC3339Nano)
	for _, it := range followed {
		id := idValue(it.LeadID)
		was, known := remembered[id]
		if days == 0 && known {
			end = true // "until already seen": the leads after it were read before
			break
		}
		state := inbound.State{Status: it.LeadStatusType, SubStatus: it.LeadStatus}
		digest := changefeed.Digest(state.Status, state.SubStatus)
		if known && was == digest {
			continue
		}
		ch := changefeed.Change{RecordKind: RecordKindLead, RecordID: id, EventType: events.TypeCRMLeadUpdated,
			PlatformIDs: map[string]string{"leadId": id}, State: state, Remember: digest, Version: changefeed.StateVersion(state) + pass}
		if contact := hrefID(it.Contact, "contacts"); contact != "" {
			ch.PlatformIDs["contactId"] = contact
		}
		if !known {
			ch.Created, ch.EventType = true, events.TypeCRMLeadCreated
			ch.ChangedAt, _ = parseUTC(it.CreatedUTC)
		}
		page.Changes = append(page.Changes, ch)
	}
	if end {
		// The pass is over: the next one starts at the newest lead again.
		page.Next = changefeed.Cursor{Value: leadsCursor{since: cur.since, prev: cur.started}.String(), Time: cur.started}
		return page, nil
	}
	cur.page++
	page.Next = changefeed.Cursor{Value: cur.String(), Time: req.Cursor.Time}
	page.More = true
	return page, nil
}

// leadsPage reads one page of the dealer's leads, newest first; more: a page follows.
func (s *session) leadsPage(ctx context.Context, pageNumber, size int) (items []leadItem, more bool, err error) {
	const step = "VinSolutions leads"
	q := url.Values{"dealerId": {s.settings["dealerId"]}, "limit": {strconv.Itoa(size)}, "pagenumber": {strconv.Itoa(pageNumber)}, "sortby": {"date"}}
	resp, err := s.call(ctx, http.MethodGet, "/leads", q, LeadsMediaType, nil, step)
	if err != nil {
		return nil, false, err
	}
	var answer struct {
		Items   []leadItem      `json:"items"`
		Results []leadItem      `json:"results"` // some versions [NOTE S15]
		Next    json.RawMessage `json:"next"`
	}
	if err := json.Unmarshal(resp.Body, &answer); err != nil {
		return nil, false, unreadable(resp, step, "a page of leads")
	}
	items = append(answer.Items, answer.Results...)
	var next string
	_ = json.Unmarshal(answer.Next, &next)
	return items, next != "" && len(items) > 0, nil
}

// grantOf is the token grant of an agent.
func grantOf(settings, credentials map[string]string) oauth.Grant {
	return oauth.Grant{Platform: "VinSolutions", TokenURL: settings["tokenUrl"], ClientID: credentials["clientId"],
		ClientSecret: credentials["clientSecret"], Scope: Scope}
}

// syncDays reads the syncDays setting (validated on PUT).
func syncDays(settings map[string]string) int {
	n, err := strconv.Atoi(settings["syncDays"])
	if err != nil {
		n, _ = strconv.Atoi(DefaultSyncDays)
	}
	return min(max(n, 0), maxSyncDays)
}

// hrefID is the id in an href ".../<resource>/id/<id>?..." (or an object with an href).
func hrefID(raw json.RawMessage, resource string) string {
	var href string
	if json.Unmarshal(raw, &href) != nil {
		var obj struct {
			Href string `json:"href"`
		}
		if json.Unmarshal(raw, &obj) != nil {
			return ""
		}
		href = obj.Href
	}
	u, err := url.Parse(href)
	if err != nil {
		return ""
	}
	_, id, ok := strings.Cut(u.Path, "/"+resource+"/id/")
	if !ok || strings.Contains(id, "/") {
		return ""
	}
	return id
}
