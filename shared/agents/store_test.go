package agents_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/targets"
)

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	env := localtest.New(t)
	store := agents.NewStore(env.DynamoDB, env.Table(resources.ConfigTable))

	if _, err := store.Get(ctx, "d1", "xtime"); !errors.Is(err, agents.ErrNotFound) {
		t.Fatalf("get before put: %v", err)
	}
	in, errs := agents.Validate(ctx, platformOf(t, "xtime"), validPut("xtime"), nil, noURLCheck)
	if errs != nil {
		t.Fatal(errs)
	}
	in.DealerID = "d1"
	saved, err := store.Put(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Version != 1 || saved.UpdatedAt.IsZero() {
		t.Fatalf("saved = %+v", saved)
	}
	got, err := store.Get(ctx, "d1", "xtime")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || !got.Enabled || got.Settings["dealerCode"] != "XT1" || got.Credentials["clientSecret"] != "secret" ||
		!got.UpdatedAt.Equal(saved.UpdatedAt) || got.DealerID != "d1" || got.Platform != "xtime" {
		t.Fatalf("got = %+v", got)
	}

	// a second "new" agent, or a stale version, conflicts
	if _, err := store.Put(ctx, in); !errors.Is(err, agents.ErrVersionMismatch) {
		t.Errorf("put at version 0 over an existing agent: %v", err)
	}
	off := false
	next, errs := agents.Validate(ctx, platformOf(t, "xtime"), agents.PutRequest{Enabled: &off}, got, noURLCheck)
	if errs != nil {
		t.Fatal(errs)
	}
	if saved, err = store.Put(ctx, next); err != nil || saved.Version != 2 || saved.Enabled {
		t.Fatalf("update: %+v %v", saved, err)
	}
	if _, err := store.Put(ctx, next); !errors.Is(err, agents.ErrVersionMismatch) {
		t.Errorf("put at a stale version: %v", err)
	}

	other, _ := agents.Validate(ctx, platformOf(t, "fortellis"), validPut("fortellis"), nil, noURLCheck)
	other.DealerID = "d1"
	if _, err := store.Put(ctx, other); err != nil {
		t.Fatal(err)
	}
	list, err := store.List(ctx, "d1")
	if err != nil || len(list) != 2 {
		t.Fatalf("list = %v, %v", list, err)
	}
	if list, _ := store.List(ctx, "d2"); len(list) != 0 {
		t.Errorf("another dealer sees %v", list)
	}

	if err := store.Delete(ctx, "d1", "xtime"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, "d1", "xtime"); !errors.Is(err, agents.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if err := store.Delete(ctx, "d1", "xtime"); !errors.Is(err, agents.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}

	// DeleteVersion deletes only the version given
	if err := store.DeleteVersion(ctx, "d1", "fortellis", 2); !errors.Is(err, agents.ErrVersionMismatch) {
		t.Errorf("delete of a version not stored: %v", err)
	}
	if err := store.DeleteVersion(ctx, "d1", "xtime", 1); !errors.Is(err, agents.ErrVersionMismatch) {
		t.Errorf("delete of a version of an agent not stored: %v", err)
	}
	if err := store.DeleteVersion(ctx, "d1", "fortellis", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, "d1", "fortellis"); !errors.Is(err, agents.ErrNotFound) {
		t.Errorf("get after delete of the version: %v", err)
	}
}

// The router and the delivery handler find agents with the same one query per dealer as
// subscriptions: the agent item must carry kind, id, events and enabled.
func TestAgentIsATargetTheRouterFinds(t *testing.T) {
	ctx := context.Background()
	env := localtest.New(t)
	table := env.Table(resources.ConfigTable)
	store := agents.NewStore(env.DynamoDB, table)
	a, _ := agents.Validate(ctx, platformOf(t, "xtime"), validPut("xtime"), nil, noURLCheck)
	a.DealerID = "d1"
	if _, err := store.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	all, err := (&targets.Loader{DB: env.DynamoDB, Table: table}).Load(ctx, "d1")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Fatalf("targets = %+v", all)
	}
	tg := all[0]
	if tg.Target != (deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}) || !tg.Enabled || !slices.Equal(tg.Events, []string{"appointment.*"}) {
		t.Errorf("target = %+v", tg)
	}
	if !tg.Matches("appointment.rescheduled") || tg.Matches("lead.created") {
		t.Error("the agent's filter does not match as it should")
	}
	back, err := agents.FromItem(tg.Item)
	if err != nil || back.Credentials["apiKey"] != "key" || back.Version != 1 {
		t.Errorf("FromItem = %+v, %v", back, err)
	}

	// A platform that comes to take more events: the loader's AgentEvents (the catalog's)
	// wins over the events stored with the agent, without the agent being written again.
	wider := func(platform string) ([]string, bool) {
		if platform != "xtime" {
			return nil, false
		}
		return []string{"appointment.*", "lead.update.disposition"}, true
	}
	all, err = (&targets.Loader{DB: env.DynamoDB, Table: table, AgentEvents: wider}).Load(ctx, "d1")
	if err != nil || len(all) != 1 || !all[0].Matches("lead.update.disposition") || !all[0].Matches("appointment.created") {
		t.Errorf("with the catalog's events: %+v, %v", all, err)
	}
}

func TestCorrelationStoreKeepsTheNewestEvent(t *testing.T) {
	ctx := context.Background()
	env := localtest.New(t)
	cs := agents.NewCorrelationStore(env.DynamoDB, env.Table(resources.ConfigTable))
	t1 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	t2 := t1.Add(90 * time.Minute)
	key := agents.AppointmentKey("apt_1", "ct_1", "service")

	if _, err := cs.Get(ctx, "d1", "xtime", key); !errors.Is(err, agents.ErrNotFound) {
		t.Fatalf("get before save: %v", err)
	}
	if err := cs.Save(ctx, "d1", "xtime", key, agents.Correlation{IDs: map[string]string{"appointmentId": "XT-2"}, EventTime: t2, EventID: "evt_2"}); err != nil {
		t.Fatal(err)
	}
	err := cs.Save(ctx, "d1", "xtime", key, agents.Correlation{IDs: map[string]string{"appointmentId": "XT-1"}, EventTime: t1, EventID: "evt_1"})
	if !errors.Is(err, agents.ErrStaleEvent) {
		t.Fatalf("an older event overwrote a newer one: %v", err)
	}
	// the same event again (a retry) may save again; sub-second order is kept too
	if err := cs.Save(ctx, "d1", "xtime", key, agents.Correlation{IDs: map[string]string{"appointmentId": "XT-2"}, EventTime: t2, EventID: "evt_2"}); err != nil {
		t.Errorf("saving the same event again: %v", err)
	}
	if err := cs.Save(ctx, "d1", "xtime", key, agents.Correlation{IDs: map[string]string{"appointmentId": "XT-1"}, EventTime: t2.Add(-time.Millisecond), EventID: "evt_x"}); !errors.Is(err, agents.ErrStaleEvent) {
		t.Errorf("a millisecond older event: %v", err)
	}
	c, err := cs.Get(ctx, "d1", "xtime", key)
	if err != nil || c.IDs["appointmentId"] != "XT-2" || !c.EventTime.Equal(t2) || c.EventID != "evt_2" {
		t.Errorf("correlation = %+v, %v", c, err)
	}
	if _, err := cs.Get(ctx, "d1", "vinsolutions", key); !errors.Is(err, agents.ErrNotFound) {
		t.Errorf("correlations are per platform: %v", err)
	}
}
