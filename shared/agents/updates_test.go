package agents_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/agents/connector"
)

// TestDispatcherLeadUpdates: lead and contact updates get the ids of their DealerAI lead (by
// leadId, else contactId); an update older than the last of its kind is skipped; an update
// whose lead the platform did not have saves the lead the connector created.
func TestDispatcherLeadUpdates(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	stub := e.stubs["testcrm"]
	stub.result = connector.Result{Correlation: map[string]string{"leadId": "L7"}}
	if _, err := e.deliver(ctx, message(t, "testcrm", "lead.created", nil), 1, nil); err != nil {
		t.Fatal(err)
	}

	// a contact update carrying only the contact finds the lead; its result holds no ids
	stub.result = connector.Result{Summary: "contact updated"}
	contact := message(t, "testcrm", "contact.basic.updated", map[string]any{"contactId": "ct_51d0e7b2"})
	if res, err := e.deliver(ctx, contact, 1, nil); err != nil || res.Skipped {
		t.Fatalf("contact update: %+v %v", res, err)
	}
	if got := stub.got[1]; got.Lead["leadId"] != "L7" || got.Known != nil {
		t.Fatalf("contact update got lead %v, known %v", got.Lead, got.Known)
	}
	// its older copy is skipped, without reaching the platform
	older := message(t, "testcrm", "contact.basic.updated", map[string]any{"contactId": "ct_51d0e7b2",
		"eventId": "evt_older_contact", "timestamp": "2026-11-28T09:00:00Z"})
	if res, err := e.deliver(ctx, older, 1, nil); err != nil || !res.Skipped || !strings.Contains(res.SkipReason, "newer event") {
		t.Fatalf("older contact update: %+v %v", res, err)
	}
	// updates of another kind are ordered separately
	if res, err := e.deliver(ctx, message(t, "testcrm", "lead.update.disposition", nil), 1, nil); err != nil || res.Skipped {
		t.Fatalf("disposition: %+v %v", res, err)
	}
	if n := stub.calls(); n != 3 {
		t.Fatalf("%d connector calls, want 3", n)
	}
	if got := stub.got[2]; got.Lead["leadId"] != "L7" {
		t.Errorf("disposition got lead %v", got.Lead)
	}

	// a disposition of a lead the platform does not have: the connector creates it, and the
	// appointment that follows finds it
	stub.result = connector.Result{Summary: "lead created, disposition set", LeadCorrelation: map[string]string{"leadId": "L8"}}
	other := message(t, "testcrm", "lead.update.disposition", map[string]any{"eventId": "evt_other_disp",
		"leadId": "lead_other", "contactId": "ct_other"})
	if _, err := e.deliver(ctx, other, 1, nil); err != nil {
		t.Fatal(err)
	}
	if got := stub.got[3]; got.Lead != nil {
		t.Fatalf("an unknown lead's update got lead %v", got.Lead)
	}
	stub.result = connector.Result{Correlation: map[string]string{"appointmentId": "A1"}}
	appt := message(t, "testcrm", "appointment.created", map[string]any{"eventId": "evt_other_appt", "leadId": nil, "contactId": "ct_other"})
	if _, err := e.deliver(ctx, appt, 1, nil); err != nil {
		t.Fatal(err)
	}
	if got := stub.got[4]; got.Lead["leadId"] != "L8" {
		t.Fatalf("the appointment got lead %v", got.Lead)
	}
}
