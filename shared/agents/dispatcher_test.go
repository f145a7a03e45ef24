package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"

	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/internal/agenttest"
	"github.com/dealerai/integrations/shared/resources"
)

// stubConnector records the deliveries it gets and answers with result.
type stubConnector struct {
	mu     sync.Mutex
	got    []*connector.Delivery
	result connector.Result
	err    error
}

func (s *stubConnector) Deliver(_ context.Context, d *connector.Delivery) (connector.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d)
	return s.result, s.err
}

func (s *stubConnector) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// message builds a delivery message from the example body name with edits.
func message(t *testing.T, platform, name string, edits map[string]any) *deliveryq.Message {
	t.Helper()
	raw := agenttest.EventJSON(t, name)
	if len(edits) > 0 {
		raw = edit(t, raw, edits)
	}
	ev, err := events.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	target := deliveryq.Target{Kind: deliveryq.KindAgent, ID: platform}
	return &deliveryq.Message{
		DeliveryID: deliveryq.DeliveryID(ev.ID, ev.Timestamp, target), EventID: ev.ID, EventType: ev.Type,
		DealerID: ev.DealerID, Target: target, Payload: ev.Body,
	}
}

type dispatcherEnv struct {
	store        *agents.Store
	correlations *agents.CorrelationStore
	d            *agents.Dispatcher
	stubs        map[string]*stubConnector
}

// deliver runs one attempt of msg to its agent as stored, the way the delivery handler does
// with the agent item of its config cache.
func (e *dispatcherEnv) deliver(ctx context.Context, msg *deliveryq.Message, attempt int, progress map[string]string) (agents.Result, error) {
	a, err := e.store.Get(ctx, msg.DealerID, msg.Target.ID)
	if err != nil {
		return agents.Result{}, err
	}
	return e.d.DeliverTo(ctx, a, msg, attempt, progress)
}

// newDispatcher configures each platform for dlr_42 (the examples' dealer) on DynamoDB Local,
// with stub connectors.
func newDispatcher(t *testing.T) *dispatcherEnv {
	ctx := context.Background()
	env := localtest.New(t)
	table := env.Table(resources.ConfigTable)
	store := agents.NewStore(env.DynamoDB, table)
	e := &dispatcherEnv{store: store, stubs: map[string]*stubConnector{}}
	e.correlations = agents.NewCorrelationStore(env.DynamoDB, table)
	e.d = agents.NewDispatcher(e.correlations, &http.Client{}, append(registry.Platforms(), testCRM))
	for _, p := range e.d.Platforms {
		in := validPut(p.ID)
		if p.ID == testCRM.ID {
			in = agents.PutRequest{Credentials: map[string]string{"key": "k"}}
		}
		a, errs := agents.Validate(ctx, p, in, nil, noURLCheck)
		if errs != nil {
			t.Fatal(errs)
		}
		a.DealerID = "dlr_42"
		if _, err := store.Put(ctx, a); err != nil {
			t.Fatal(err)
		}
		e.stubs[p.ID] = &stubConnector{}
		e.d.Connectors[p.ID] = e.stubs[p.ID]
	}
	return e
}

// testCRM is a fifth platform, as a new package would declare it: it takes the lead
// lifecycle's events, which no real platform lists yet.
var testCRM = platform.Platform{
	ID: "testcrm", Name: "TestCRM",
	Events:       []string{"lead.*", "contact.*", "appointment.*"},
	Settings:     []platform.KeySpec{{Key: "baseUrl", URL: true, Default: "https://api.testcrm.example"}},
	Credentials:  []platform.KeySpec{{Key: "key", Required: true}},
	Hosts:        []string{"api.testcrm.example"},
	NewConnector: func(platform.Deps) connector.Connector { return &stubConnector{} },
}

// TestDispatcherSkipsDisabledAgentsAndForeignEvents (a target that no longer exists is the
// delivery handler's to skip: it never reaches the dispatcher).
func TestDispatcherSkipsDisabledAgentsAndForeignEvents(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	off := false
	a, _ := e.store.Get(ctx, "dlr_42", "fortellis")
	a, _ = agents.Validate(ctx, platformOf(t, "fortellis"), agents.PutRequest{Enabled: &off}, a, noURLCheck)
	if _, err := e.store.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	for platform, event := range map[string]string{"fortellis": "lead.created", "xtime": "lead.created", "vinsolutions": "contact.created"} {
		res, err := e.deliver(ctx, message(t, platform, event, nil), 1, nil)
		if err != nil || !res.Skipped || res.SkipReason == "" {
			t.Errorf("%s %s: res = %+v, err = %v; want skipped", platform, event, res, err)
		}
		if e.stubs[platform].calls() != 0 {
			t.Errorf("%s: the connector was called", platform)
		}
	}
}

func TestDispatcherSkipsAnOlderEvent(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	stub := e.stubs["xtime"]
	stub.result = connector.Result{Correlation: map[string]string{"appointmentId": "XT-2"}, Summary: "booked"}

	// the reschedule (13:45) arrives first and saves XTime's id ...
	res, err := e.deliver(ctx, message(t, "xtime", "appointment.rescheduled", nil), 1, nil)
	if err != nil || res.Skipped {
		t.Fatalf("reschedule: %+v %v", res, err)
	}
	// ... then the creation of the same appointment (10:11) is skipped, without a request
	older := message(t, "xtime", "appointment.rescheduled", map[string]any{
		"eventType": "appointment.created", "eventId": "evt_older", "timestamp": "2026-11-28T10:11:30Z"})
	res, err = e.deliver(ctx, older, 1, nil)
	if err != nil || !res.Skipped || !strings.Contains(res.SkipReason, "newer event") {
		t.Fatalf("older event: res = %+v, err = %v; want skipped", res, err)
	}
	if stub.calls() != 1 {
		t.Errorf("connector called %d times, want 1", stub.calls())
	}

	// a newer event gets the saved ids as Known
	newer := message(t, "xtime", "appointment.rescheduled", map[string]any{
		"eventType": "appointment.cancelled", "eventId": "evt_newer", "timestamp": "2026-11-28T18:00:00Z"})
	if _, err := e.deliver(ctx, newer, 1, nil); err != nil {
		t.Fatal(err)
	}
	if got := stub.got[1].Known; got["appointmentId"] != "XT-2" {
		t.Errorf("known = %v", got)
	}
}

func TestDispatcherDoesNotDeliverTheSameEventTwice(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	stub := e.stubs["vinsolutions"]
	stub.result = connector.Result{Correlation: map[string]string{"contactId": "1001", "leadId": "2001"}}
	msg := message(t, "vinsolutions", "lead.created", nil)
	if _, err := e.deliver(ctx, msg, 1, nil); err != nil {
		t.Fatal(err)
	}
	// SQS redelivers after the ids were saved but before the log recorded success
	res, err := e.deliver(ctx, msg, 2, nil)
	if err != nil || res.Skipped || !strings.Contains(res.Summary, "already delivered") || res.Correlation["leadId"] != "2001" {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
	if stub.calls() != 1 {
		t.Errorf("connector called %d times, want 1", stub.calls())
	}
}

func TestDispatcherGivesAppointmentsTheirLead(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	stub := e.stubs["vinsolutions"]
	stub.result = connector.Result{Correlation: map[string]string{"contactId": "1001", "leadId": "2001"}}
	if _, err := e.deliver(ctx, message(t, "vinsolutions", "lead.created", nil), 1, nil); err != nil {
		t.Fatal(err)
	}
	stub.result = connector.Result{Correlation: map[string]string{"leadId": "2001"}}
	// the same DealerAI lead, by leadId ...
	if _, err := e.deliver(ctx, message(t, "vinsolutions", "appointment.created", nil), 1, nil); err != nil {
		t.Fatal(err)
	}
	// ... and by contactId alone
	byContact := message(t, "vinsolutions", "appointment.created", map[string]any{"leadId": nil, "eventId": "evt_c", "appointmentId": "apt_other"})
	if _, err := e.deliver(ctx, byContact, 1, nil); err != nil {
		t.Fatal(err)
	}
	for i, d := range stub.got[1:] {
		if d.Lead["leadId"] != "2001" {
			t.Errorf("appointment %d: lead = %v", i, d.Lead)
		}
	}
	if stub.got[1].Settings["baseUrl"] != "https://api.vinsolutions.com" || stub.got[1].Credentials["apiKey"] != "key" {
		t.Errorf("settings with defaults and credentials are passed: %+v", stub.got[1])
	}

	// an appointment of another lead has none
	other := message(t, "vinsolutions", "appointment.created.testdrive", nil)
	stub.err = connector.PendingDependency("no lead")
	_, err := e.deliver(ctx, other, 1, nil)
	var ae *agents.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassPendingDependency || stub.got[3].Lead != nil {
		t.Errorf("err = %v, lead = %v", err, stub.got[3].Lead)
	}
}

func TestDispatcherSavesTheLeadAnAppointmentCreated(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	stub := e.stubs["dealersocket"]
	stub.result = connector.Result{Correlation: map[string]string{"leadId": "DS1"}, LeadCorrelation: map[string]string{"leadId": "DS1"}}
	if _, err := e.deliver(ctx, message(t, "dealersocket", "appointment.created", nil), 1, nil); err != nil {
		t.Fatal(err)
	}
	// The lead's own, older, event arrives later: it is not skipped as older (it carries what
	// the appointment did not: source, comments, vehicle), and the connector is told the ids
	// the platform has, to add only what is missing.
	stub.result = connector.Result{Correlation: map[string]string{"leadId": "DS1", "noted": "yes"}}
	if _, err := e.deliver(ctx, message(t, "dealersocket", "lead.created", nil), 1, nil); err != nil {
		t.Fatal(err)
	}
	if n := stub.calls(); n != 2 || stub.got[1].Known["leadId"] != "DS1" {
		t.Fatalf("calls = %d, known = %v; want the lead event delivered with the lead's ids", n, stub.got[1].Known)
	}
	// Its ids are now the lead's, with its time: a later appointment's ids do not replace them.
	lead := message(t, "dealersocket", "lead.created", nil)
	var ids struct{ LeadID string }
	if err := json.Unmarshal(lead.Payload, &ids); err != nil || ids.LeadID == "" {
		t.Fatalf("the example lead has no leadId: %v", err)
	}
	c, err := e.correlations.Get(ctx, "dlr_42", "dealersocket", "lead#"+ids.LeadID)
	if err != nil || c.IDs["noted"] != "yes" || c.EventTime.IsZero() {
		t.Fatalf("lead correlation = %+v, %v", c, err)
	}
}

func TestDispatcherPassesProgressAndReturnsAttemptErrors(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	stub := e.stubs["fortellis"]
	stub.err = &connector.AttemptError{Class: connector.ClassHTTPStatus, StatusCode: 500, Progress: map[string]string{"customerId": "c1"}}
	_, err := e.deliver(ctx, message(t, "fortellis", "lead.created", nil), 1, nil)
	var ae *agents.AttemptError
	if !errors.As(err, &ae) || ae.Progress["customerId"] != "c1" {
		t.Fatalf("err = %v", err)
	}
	stub.err = nil
	if _, err := e.deliver(ctx, message(t, "fortellis", "lead.created", nil), 2, ae.Progress); err != nil {
		t.Fatal(err)
	}
	if d := stub.got[1]; d.Attempt != 2 || !maps.Equal(d.Progress, map[string]string{"customerId": "c1"}) {
		t.Errorf("attempt 2 got %+v", d)
	}
}

// failingCorrelations cannot save.
type failingCorrelations struct{}

func (failingCorrelations) Get(context.Context, string, string, string) (*agents.Correlation, error) {
	return nil, agents.ErrNotFound
}

func (failingCorrelations) Save(context.Context, string, string, string, agents.Correlation) error {
	return errors.New("DynamoDB unavailable")
}

func (failingCorrelations) SavePointers(context.Context, string, string, []agents.ReversePointer) error {
	return nil
}

func (failingCorrelations) Lease(context.Context, string, string, string, string, time.Time) error {
	return nil
}

func (failingCorrelations) Release(context.Context, string, string, string, string) error { return nil }

func TestDispatcherKeepsProgressWhenIDsCannotBeSaved(t *testing.T) {
	stub := &stubConnector{result: connector.Result{
		Correlation: map[string]string{"appointmentId": "XT-1"}, Progress: map[string]string{"appointmentId": "XT-1"}}}
	d := &agents.Dispatcher{Correlations: failingCorrelations{}, HTTP: &http.Client{}, Platforms: registry.Platforms(),
		Connectors: map[string]connector.Connector{"xtime": stub}}
	a := &agents.Agent{DealerID: "dlr_42", Platform: "xtime", Enabled: true}
	_, err := d.DeliverTo(context.Background(), a, message(t, "xtime", "appointment.rescheduled", nil), 1, nil)
	var ae *agents.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassInternal || ae.Progress["appointmentId"] != "XT-1" {
		t.Fatalf("err = %+v; want internal with the progress kept", err)
	}
}
