package agentsync_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/resources"
)

// fakeSeen keeps what the sync remembers; at each Remember it records how many events were
// on the inbound queue and where the cursor was, and fails when told to.
type fakeSeen struct {
	mu       sync.Mutex
	kept     map[string]string
	u        *unit
	at       []string // "<events published> <cursor>" at each Remember
	failNext bool
}

func (f *fakeSeen) Remembered(_ context.Context, _, _, kind string, ids []string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for _, id := range ids {
		if v, ok := f.kept[kind+"/"+id]; ok {
			out[id] = v
		}
	}
	return out, nil
}

func (f *fakeSeen) Remember(ctx context.Context, dealerID, platform string, memories []changefeed.Memory) error {
	st, _ := f.u.states.Get(ctx, dealerID, platform)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at = append(f.at, fmt.Sprint(len(f.u.inbound.bodies()), " ", st.Cursor.Value))
	if f.failNext {
		f.failNext = false
		return errors.New("DynamoDB unavailable")
	}
	for _, m := range memories {
		f.kept[m.RecordKind+"/"+m.RecordID] = m.Value
	}
	return nil
}

// What a feed asks to remember is kept once the page's events are on the queue and before
// its cursor is stored; when it cannot be kept the job fails with the cursor where it was
// (the page is read again, under the same ids).
func TestRememberedAfterPublishingBeforeTheCursor(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t, dealer)
	seen := &fakeSeen{kept: map[string]string{}, u: u}
	u.s.Seen = seen
	u.s.PageRecords = 2
	u.crm[dealer].add(leads(4, u.now.Add(-time.Hour))...)
	if err := u.s.Run(ctx, dealer, testCRM.ID); err != nil {
		t.Fatal(err)
	}
	if want := []string{"2 ", "4 2"}; fmt.Sprint(seen.at) != fmt.Sprint(want) {
		t.Errorf("remembered at (events published, cursor) %q, want %q", seen.at, want)
	}
	if len(seen.kept) != 4 || seen.kept["lead/lead-3"] != "v1" {
		t.Errorf("kept %v", seen.kept)
	}

	u.crm[dealer].add(leads(6, u.now.Add(-time.Hour))[4:]...)
	seen.failNext = true
	if err := u.s.Run(ctx, dealer, testCRM.ID); err == nil {
		t.Fatal("a failure to remember did not fail the job")
	}
	if st, _ := u.states.Get(ctx, dealer, testCRM.ID); st.Cursor.Value != "4" || st.LeaseOwner != "" {
		t.Errorf("after the failure: %+v", st)
	}
}

// The seen store on DynamoDB Local: more records than one BatchGetItem takes, values
// replaced, and nothing found for another dealer, platform or kind.
func TestSeenStoreOnDynamoDB(t *testing.T) {
	ctx := context.Background()
	env := localtest.New(t)
	store := &agentsync.SeenStore{DB: env.DynamoDB, Table: env.Table(resources.ConfigTable)}
	var memories []changefeed.Memory
	var ids []string
	for i := range 130 {
		id := fmt.Sprint(1000 + i)
		ids = append(ids, id)
		memories = append(memories, changefeed.Memory{RecordKind: "lead", RecordID: id, Value: "a " + id})
	}
	memories = append(memories, changefeed.Memory{RecordKind: "lead", RecordID: "nothing-to-remember"})
	if err := store.Remember(ctx, "dlr_1", "dealersocket", memories); err != nil {
		t.Fatal(err)
	}
	if err := store.Remember(ctx, "dlr_1", "dealersocket", []changefeed.Memory{{RecordKind: "lead", RecordID: "1005", Value: "b 1005"}}); err != nil {
		t.Fatal(err)
	}
	got, err := store.Remembered(ctx, "dlr_1", "dealersocket", "lead", append(ids, "1005", "nothing-to-remember", "9999"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 130 || got["1000"] != "a 1000" || got["1129"] != "a 1129" || got["1005"] != "b 1005" {
		t.Errorf("%d remembered, e.g. %q %q %q", len(got), got["1000"], got["1129"], got["1005"])
	}
	for _, other := range [][3]string{{"dlr_2", "dealersocket", "lead"}, {"dlr_1", "xtime", "lead"}, {"dlr_1", "dealersocket", "appointment"}} {
		if got, err := store.Remembered(ctx, other[0], other[1], other[2], ids[:3]); err != nil || len(got) != 0 {
			t.Errorf("%v: %v %v", other, got, err)
		}
	}
}
