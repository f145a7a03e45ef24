package agents_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/connector"
)

// leadCRM creates a CRM lead for a lead event, or for an appointment whose lead it does not
// have (as the platform connectors do), slowly.
type leadCRM struct {
	hold time.Duration

	mu    sync.Mutex
	leads int
	calls int
}

func (c *leadCRM) Deliver(_ context.Context, d *connector.Delivery) (connector.Result, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	switch connector.KindOf(d.Event.Type) {
	case connector.KindLead:
		if id := d.Known["leadId"]; id != "" {
			return connector.Skip("the lead is in TestCRM already"), nil
		}
		return connector.Result{Correlation: map[string]string{"leadId": c.create()}}, nil
	case connector.KindAppointment:
		var created map[string]string
		lead := d.Lead["leadId"]
		if lead == "" {
			lead = c.create()
			created = map[string]string{"leadId": lead}
		}
		return connector.Result{Correlation: map[string]string{"appointmentId": "A-" + d.Event.ID, "leadId": lead}, LeadCorrelation: created}, nil
	}
	return connector.Skip("not a lead or an appointment"), nil
}

func (c *leadCRM) create() string {
	time.Sleep(c.hold)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leads++
	return fmt.Sprintf("L%d", c.leads)
}

func (c *leadCRM) count() (leads, calls int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leads, c.calls
}

// TestDispatcherCreatesOneLeadForEventsArrivingTogether: a lead and two of its appointments
// delivered at the same time (as SQS hands them to concurrent invocations) create one CRM
// lead; an attempt that meets a busy lead is retried, as SQS would after the backoff.
func TestDispatcherCreatesOneLeadForEventsArrivingTogether(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	crm := &leadCRM{hold: 300 * time.Millisecond}
	e.d.Connectors["testcrm"] = crm
	msgs := []string{"lead", "appt1", "appt2"}
	edits := map[string]map[string]any{
		"appt1": {"eventId": "evt_appt1", "appointmentId": "apt_1"},
		"appt2": {"eventId": "evt_appt2", "appointmentId": "apt_2", "appointmentTime": "2026-12-01T16:00:00Z"},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(msgs))
	results := make([]agents.Result, len(msgs))
	for i, name := range msgs {
		wg.Go(func() {
			event := "appointment.created"
			if name == "lead" {
				event = "lead.created"
			}
			msg := message(t, "testcrm", event, edits[name])
			for attempt := 1; attempt <= 4; attempt++ {
				results[i], errs[i] = e.deliver(ctx, msg, attempt, nil)
				var ae *agents.AttemptError
				if !errors.As(errs[i], &ae) || ae.Class != connector.ClassBusy {
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s: %v", msgs[i], err)
		}
	}
	if leads, _ := crm.count(); leads != 1 {
		t.Fatalf("%d CRM leads created, want 1", leads)
	}
	for i, r := range results[1:] {
		if r.Correlation["leadId"] != "L1" {
			t.Errorf("appointment %d on lead %q", i+1, r.Correlation["leadId"])
		}
	}
}

// TestDispatcherWaitsForABusyLeadThenFailsBusy: a lease another delivery holds is waited for
// (up to LeaseWait), then the attempt fails as busy, retryable, without reaching the
// platform; once released, or expired, the delivery goes through.
func TestDispatcherWaitsForABusyLeadThenFailsBusy(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	e.d.LeaseWait = 300 * time.Millisecond
	crm := &leadCRM{}
	e.d.Connectors["testcrm"] = crm
	msg := message(t, "testcrm", "appointment.created", nil)
	key := agents.LeadKeys("6553f0a2c1e4b8d9a7f31c20", "ct_51d0e7b2")[1] // the contact's: any of the lead's keys
	if err := e.correlations.Lease(ctx, "dlr_42", "testcrm", key, "other-delivery", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err := e.deliver(ctx, msg, 1, nil)
	var ae *agents.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassBusy || ae.Permanent {
		t.Fatalf("err = %v; want a retryable busy attempt", err)
	}
	if _, calls := crm.count(); calls != 0 {
		t.Fatal("the platform was reached while the lead was busy")
	}
	// the lease the failed attempt took on the lead's other key was given back
	if err := e.correlations.Lease(ctx, "dlr_42", "testcrm", agents.LeadKeys("6553f0a2c1e4b8d9a7f31c20", "")[0], "third", time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("the busy attempt kept a lease: %v", err)
	}
	e.correlations.Release(ctx, "dlr_42", "testcrm", agents.LeadKeys("6553f0a2c1e4b8d9a7f31c20", "")[0], "third")

	if err := e.correlations.Release(ctx, "dlr_42", "testcrm", key, "other-delivery"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.deliver(ctx, msg, 2, nil); err != nil {
		t.Fatalf("after release: %v", err)
	}

	// a lease left by a crashed delivery expires
	other := message(t, "testcrm", "appointment.created", map[string]any{"eventId": "evt_crash", "appointmentId": "apt_crash"})
	if err := e.correlations.Lease(ctx, "dlr_42", "testcrm", key, "crashed", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.deliver(ctx, other, 1, nil); err != nil {
		t.Fatalf("expired lease: %v", err)
	}
}

// TestCorrelationLeases: a lease alone is no correlation; saving keeps the lease; only its
// owner releases it.
func TestCorrelationLeases(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	c := e.correlations
	until := time.Now().Add(time.Minute)
	if err := c.Lease(ctx, "d1", "testcrm", "lead#L", "a", until); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "d1", "testcrm", "lead#L"); !errors.Is(err, agents.ErrNotFound) {
		t.Fatalf("get of a lease alone: %v", err)
	}
	if err := c.Lease(ctx, "d1", "testcrm", "lead#L", "a", until); err != nil {
		t.Fatalf("the owner extends: %v", err)
	}
	if err := c.Save(ctx, "d1", "testcrm", "lead#L", agents.Correlation{IDs: map[string]string{"leadId": "9"}, EventTime: time.Now(), EventID: "e1"}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "d1", "testcrm", "lead#L"); err != nil || got.IDs["leadId"] != "9" {
		t.Fatalf("get after save: %+v %v", got, err)
	}
	if err := c.Lease(ctx, "d1", "testcrm", "lead#L", "b", until); !errors.Is(err, agents.ErrLeaseHeld) {
		t.Fatalf("the save dropped the lease: %v", err)
	}
	if err := c.Release(ctx, "d1", "testcrm", "lead#L", "b"); err != nil {
		t.Fatal(err)
	}
	if err := c.Lease(ctx, "d1", "testcrm", "lead#L", "b", until); !errors.Is(err, agents.ErrLeaseHeld) {
		t.Fatal("another owner released the lease")
	}
	if err := c.Release(ctx, "d1", "testcrm", "lead#L", "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Lease(ctx, "d1", "testcrm", "lead#L", "b", until); err != nil {
		t.Fatalf("after release: %v", err)
	}
	if got, _ := c.Get(ctx, "d1", "testcrm", "lead#L"); got == nil || got.IDs["leadId"] != "9" {
		t.Fatal("leasing lost the ids")
	}
}
