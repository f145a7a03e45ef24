package agentsync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
)

// fakeCRM is a platform's change log over HTTP: GET /changes?after=N&limit=M answers the
// records changed after the N-th change, at most M, with X-Key checked (401 otherwise). A test
// appends changes and chooses failures: a status with a Retry-After, or a delay.
type fakeCRM struct {
	t   testing.TB
	srv *httptest.Server

	mu         sync.Mutex
	key        string
	log        []crmRecord
	status     int           // answered instead of the page when not 0
	retryAfter string        // with status
	delay      time.Duration // before answering
	gate       chan struct{} // when set, answers wait until it is closed
	calls      int
}

// crmRecord is one change: a lead's (kind lead) or an appointment's state at a version.
type crmRecord struct {
	Kind       string    `json:"kind"`
	ID         string    `json:"id"`
	Version    string    `json:"version"`
	ChangedAt  time.Time `json:"changedAt"`
	Created    bool      `json:"created"`
	ContactID  string    `json:"contactId,omitempty"` // the platform's contact
	Status     string    `json:"status,omitempty"`
	SubStatus  string    `json:"subStatus,omitempty"`
	AssigneeID string    `json:"assigneeId,omitempty"`
	Time       time.Time `json:"time,omitzero"`        // appointments
	ApptStatus string    `json:"apptStatus,omitempty"` // appointments
	Invalid    bool      `json:"invalid,omitempty"`    // a feed bug: an event type the catalog does not know
}

func newFakeCRM(t testing.TB) *fakeCRM {
	f := &fakeCRM{t: t, key: "good-key"}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCRM) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	delay, status, retryAfter, key, gate := f.delay, f.status, f.retryAfter, f.key, f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if r.Header.Get("X-Key") != key {
		http.Error(w, `{"error":"invalid key"}`, http.StatusUnauthorized)
		return
	}
	if status != 0 {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		http.Error(w, `{"error":"try later"}`, status)
		return
	}
	after, _ := strconv.Atoi(r.URL.Query().Get("after"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	f.mu.Lock()
	defer f.mu.Unlock()
	end := min(after+limit, len(f.log))
	page := struct {
		Items []crmRecord `json:"items"`
		Next  int         `json:"next"`
		More  bool        `json:"more"`
	}{Items: append([]crmRecord{}, f.log[min(after, end):end]...), Next: end, More: end < len(f.log)}
	_ = json.NewEncoder(w).Encode(page)
}

// add appends changes to the log.
func (f *fakeCRM) add(recs ...crmRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, recs...)
}

func (f *fakeCRM) fail(status int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.retryAfter = status, retryAfter
}

func (f *fakeCRM) setKey(k string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.key = k
}

func (f *fakeCRM) setDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// hold makes the fake's answers wait until the returned function is called.
func (f *fakeCRM) hold() (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = make(chan struct{})
	gate := f.gate
	return sync.OnceFunc(func() { close(gate) })
}

func (f *fakeCRM) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// leads returns n lead changes lead-1..lead-n, version 1, created in the CRM.
func leads(n int, base time.Time) []crmRecord {
	var out []crmRecord
	for i := 1; i <= n; i++ {
		out = append(out, crmRecord{Kind: "lead", ID: fmt.Sprintf("lead-%d", i), Version: "1", ChangedAt: base.Add(time.Duration(i) * time.Second),
			Created: true, ContactID: fmt.Sprintf("contact-%d", i), Status: "Active", SubStatus: "New"})
	}
	return out
}

// crmFeed is the fake's change feed as a platform package would write it: requests through
// the job's client (restricted to the platform's hosts), the connector's error helpers, the
// cursor the position in the log.
type crmFeed struct{}

var _ changefeed.Feed = crmFeed{}

func (crmFeed) Changes(ctx context.Context, req *changefeed.Request) (*changefeed.Page, error) {
	after := req.Cursor.Value
	if after == "" {
		after = "0"
	}
	hreq, err := connector.NewRequest(ctx, http.MethodGet, req.Settings["baseUrl"]+"/changes?after="+after+"&limit="+strconv.Itoa(req.MaxRecords), "", nil, "TestCRM changes")
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("X-Key", req.Credentials["key"])
	resp, err := connector.Send(req.HTTP, hreq, "TestCRM changes")
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, connector.StatusError(resp, "TestCRM changes")
	}
	var page struct {
		Items []crmRecord
		Next  int
		More  bool
	}
	if err := json.Unmarshal(resp.Body, &page); err != nil {
		return nil, changefeed.Errorf(changefeed.Transient, "TestCRM changes: %v", err)
	}
	out := &changefeed.Page{Next: changefeed.Cursor{Value: strconv.Itoa(page.Next), Time: req.Cursor.Time}, More: page.More, RecordsRead: len(page.Items)}
	for _, r := range page.Items {
		c := changefeed.Change{RecordKind: r.Kind, RecordID: r.ID, Version: r.Version, ChangedAt: r.ChangedAt, Created: r.Created, Remember: "v" + r.Version}
		switch r.Kind {
		case "lead":
			c.EventType = events.TypeCRMLeadUpdated
			if r.Created {
				c.EventType = events.TypeCRMLeadCreated
			}
			c.PlatformIDs = map[string]string{"leadId": r.ID, "contactId": r.ContactID}
			c.State = inbound.State{Status: r.Status, SubStatus: r.SubStatus}
			if r.AssigneeID != "" {
				c.State.Assignee = &inbound.Person{ID: r.AssigneeID, Name: "Rep " + r.AssigneeID}
			}
		case "appointment":
			c.EventType = events.TypeCRMAppointmentUpdated
			c.PlatformIDs = map[string]string{"appointmentId": r.ID}
			c.State = inbound.State{AppointmentTime: r.Time, AppointmentStatus: r.ApptStatus}
		}
		if r.Invalid {
			c.EventType = "crm.lead.exploded"
		}
		out.Changes = append(out.Changes, c)
		if r.ChangedAt.After(out.Next.Time) {
			out.Next.Time = r.ChangedAt
		}
	}
	if len(page.Items) == 0 && req.Cursor.Value == "0" {
		out.Notes = append(out.Notes, "nothing in the change log yet")
	}
	return out, nil
}

// testCRM is a platform with a change feed, as a platform package would declare it; the fake
// listens on 127.0.0.1.
var testCRM = platform.Platform{
	ID: "testcrm", Name: "TestCRM",
	Events:      []string{"lead.*", "appointment.*"},
	Settings:    []platform.KeySpec{{Key: "baseUrl", URL: true, Required: true}},
	Credentials: []platform.KeySpec{{Key: "key", Required: true}},
	Hosts:       []string{"127.0.0.1"},
	NewConnector: func(platform.Deps) connector.Connector {
		return nil // not delivered to in these tests
	},
	NewChangeFeed: func(platform.Deps) changefeed.Feed { return crmFeed{} },
}
