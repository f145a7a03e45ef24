package agents_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/connector"
)

// countingDB counts the DynamoDB writes of the correlation store.
type countingDB struct {
	agents.DynamoDBAPI
	updates, batchWrites atomic.Int32
}

func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.updates.Add(1)
	return c.DynamoDBAPI.UpdateItem(ctx, in, opts...)
}

func (c *countingDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.batchWrites.Add(1)
	return c.DynamoDBAPI.BatchWriteItem(ctx, in, opts...)
}

// A delivery that gives a record new platform ids writes their reverse pointers (DealerAI's
// ids and the record's correlation keys); one whose ids did not change writes none, and no
// more writes than before.
func TestDispatcherWritesReversePointersForNewIDs(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	db := &countingDB{DynamoDBAPI: e.correlations.DB}
	e.correlations.DB = db
	stub := e.stubs[testCRM.ID] // takes lead updates, which no real platform does yet

	stub.result = connector.Result{Correlation: map[string]string{"contactId": "1001", "leadId": "2001"},
		Pushed: map[string]string{connector.PushedStatus: "ACTIVE_NEW_LEAD"}}
	lead := message(t, testCRM.ID, "lead.created", nil)
	if _, err := e.deliver(ctx, lead, 1, nil); err != nil {
		t.Fatal(err)
	}
	var body struct{ LeadID, ContactID string }
	_ = json.Unmarshal(lead.Payload, &body)
	got, err := e.correlations.Pointers(ctx, "dlr_42", testCRM.ID, []agents.PlatformID{{"leadId", "2001"}, {"contactId", "1001"}, {"leadId", "9999"}})
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := agents.LeadKeys(body.LeadID, body.ContactID)
	for _, id := range []agents.PlatformID{{"leadId", "2001"}, {"contactId", "1001"}} {
		p, ok := got[id]
		if !ok || p.LeadID != body.LeadID || p.ContactID != body.ContactID || p.AppointmentID != "" || !slices.Equal(p.Keys, wantKeys) {
			t.Errorf("pointer of %v = %+v, %v; want lead %s contact %s keys %v", id, p, ok, body.LeadID, body.ContactID, wantKeys)
		}
	}
	if _, ok := got[agents.PlatformID{"leadId", "9999"}]; ok || len(got) != 2 {
		t.Errorf("pointers %v", got)
	}
	if n := db.batchWrites.Load(); n != 1 {
		t.Errorf("%d pointer writes for a new lead, want 1", n)
	}

	// A lead update that changes no ids: its correlation write only, no pointer.
	db.batchWrites.Store(0)
	db.updates.Store(0)
	stub.result = connector.Result{Correlation: map[string]string{"contactId": "1001", "leadId": "2001"},
		Pushed: map[string]string{connector.PushedStatus: "ACTIVE_APPOINTMENT_SET"}}
	update := message(t, testCRM.ID, "lead.created", map[string]any{"eventType": events.TypeLeadDispositionUpdated, "eventId": "evt_upd", "timestamp": "2026-11-27T16:00:00Z"})
	if _, err := e.deliver(ctx, update, 1, nil); err != nil {
		t.Fatal(err)
	}
	if n := db.batchWrites.Load(); n != 0 {
		t.Errorf("%d pointer writes for ids that did not change", n)
	}

	// What DealerAI pushed, merged from the lead's and its update's correlations: the newer wins.
	state, err := e.correlations.PushedState(ctx, "dlr_42", testCRM.ID, wantKeys, []string{events.TypeLeadDispositionUpdated})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(state, map[string]string{connector.PushedStatus: "ACTIVE_APPOINTMENT_SET"}) {
		t.Errorf("pushed state %v", state)
	}

	// An appointment creates an XTime appointment: its pointer names the appointment.
	xt := e.stubs["xtime"]
	xt.result = connector.Result{Correlation: map[string]string{"appointmentId": "XT-1", "vin": "2T3P1RFV8RW123456"},
		Pushed: map[string]string{connector.PushedAppointmentTime: "2026-11-29T15:00:00Z", connector.PushedAppointmentStatus: events.AppointmentStatusScheduled}}
	appt := message(t, "xtime", "appointment.rescheduled", nil)
	if _, err := e.deliver(ctx, appt, 1, nil); err != nil {
		t.Fatal(err)
	}
	var a struct{ AppointmentID, ContactID, LeadID string }
	_ = json.Unmarshal(appt.Payload, &a)
	got, err = e.correlations.Pointers(ctx, "dlr_42", "xtime", []agents.PlatformID{{"appointmentId", "XT-1"}, {"vin", "2T3P1RFV8RW123456"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := got[agents.PlatformID{"appointmentId", "XT-1"}]; p.AppointmentID != a.AppointmentID || p.ContactID != a.ContactID || len(p.Keys) != 1 {
		t.Errorf("appointment pointer %+v", p)
	}
	// Which VINs DealerAI booked, for a feed that reads per VIN.
	vins, err := e.correlations.PushedIDs(ctx, "dlr_42", "xtime", "vin", "", 10)
	if err != nil || !slices.Equal(vins, []string{"2T3P1RFV8RW123456"}) {
		t.Errorf("pushed VINs %v, %v", vins, err)
	}

	// A cancellation that reports only the state it pushed keeps the appointment's ids.
	xt.result = connector.Result{Pushed: map[string]string{connector.PushedAppointmentStatus: events.AppointmentStatusCancelled}}
	cancel := message(t, "xtime", "appointment.rescheduled", map[string]any{"eventType": events.TypeAppointmentCancelled, "eventId": "evt_cancel", "timestamp": "2026-11-28T19:00:00Z"})
	if _, err := e.deliver(ctx, cancel, 1, nil); err != nil {
		t.Fatal(err)
	}
	c, err := e.correlations.Get(ctx, "dlr_42", "xtime", p0(got).Keys[0])
	if err != nil || c.IDs["appointmentId"] != "XT-1" || c.Pushed[connector.PushedAppointmentStatus] != events.AppointmentStatusCancelled {
		t.Errorf("after the cancellation: %+v, %v", c, err)
	}
}

func p0(m map[agents.PlatformID]agents.ReversePointer) agents.ReversePointer {
	return m[agents.PlatformID{"appointmentId", "XT-1"}]
}

// PushedIDs pages through the values in order.
func TestPushedIDsPages(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	var ptrs []agents.ReversePointer
	for _, v := range []string{"c3", "c1", "c5", "c2", "c4"} {
		ptrs = append(ptrs, agents.ReversePointer{ID: agents.PlatformID{"customerId", v}, LeadID: "l-" + v, Keys: []string{"lead#l-" + v}})
	}
	ptrs = append(ptrs, agents.ReversePointer{ID: agents.PlatformID{"leadId", "x"}, Keys: []string{"lead#x"}})
	if err := e.correlations.SavePointers(ctx, "dlr_42", "dealersocket", ptrs); err != nil {
		t.Fatal(err)
	}
	var all []string
	after := ""
	for range 5 {
		page, err := e.correlations.PushedIDs(ctx, "dlr_42", "dealersocket", "customerId", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1]
	}
	if !slices.Equal(all, []string{"c1", "c2", "c3", "c4", "c5"}) {
		t.Errorf("pages %v", all)
	}
}

// An appointment kept as an activity on the CRM lead returns the lead's id: that id stays the
// lead's, whether the lead was known or the delivery created it.
func TestAppointmentOnTheLeadKeepsTheLeadsPointer(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	stub := e.stubs["dealersocket"]
	stub.result = connector.Result{Correlation: map[string]string{"leadId": "DS1", "activityId": "ACT1"}, LeadCorrelation: map[string]string{"leadId": "DS1"}}
	appt := message(t, "dealersocket", "appointment.created", nil)
	if _, err := e.deliver(ctx, appt, 1, nil); err != nil {
		t.Fatal(err)
	}
	var a struct{ AppointmentID, ContactID, LeadID string }
	_ = json.Unmarshal(appt.Payload, &a)
	got, err := e.correlations.Pointers(ctx, "dlr_42", "dealersocket", []agents.PlatformID{{"leadId", "DS1"}, {"activityId", "ACT1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := got[agents.PlatformID{"leadId", "DS1"}]; p.AppointmentID != "" || p.LeadID != a.LeadID || !slices.Equal(p.Keys, agents.LeadKeys(a.LeadID, a.ContactID)) {
		t.Errorf("the lead's pointer %+v", p)
	}
	if p := got[agents.PlatformID{"activityId", "ACT1"}]; p.AppointmentID != a.AppointmentID || p.LeadID != a.LeadID {
		t.Errorf("the activity's pointer %+v", p)
	}
}
