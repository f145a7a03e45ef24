package changefeed_test

import (
	"context"
	"testing"

	"github.com/dealerai/integrations/shared/agents/changefeed"
)

// part is a feed of n pages of one record each, remembering each page.
type part struct {
	name string
	n    int
}

func (p part) Changes(_ context.Context, req *changefeed.Request) (*changefeed.Page, error) {
	i := len(req.Cursor.Value)
	if i >= p.n {
		return &changefeed.Page{Next: req.Cursor}, nil
	}
	id := p.name + string(rune('a'+i))
	return &changefeed.Page{
		Changes:     []changefeed.Change{{RecordKind: p.name, RecordID: id}},
		Remember:    []changefeed.Memory{{RecordKind: p.name + "-page", RecordID: id, Value: "seen"}},
		Next:        changefeed.Cursor{Value: req.Cursor.Value + "x"},
		More:        i+1 < p.n,
		RecordsRead: 1,
	}, nil
}

// Join reads each part from its own cursor in turn, keeps the parts' memories, and ends a run
// when every part has no more; a cursor stored before the join is the first part's.
func TestJoin(t *testing.T) {
	f := changefeed.Join(changefeed.Part{Name: "crm", Feed: part{"crm", 2}}, changefeed.Part{Name: "inventory", Feed: part{"inv", 3}})
	run := func(c changefeed.Cursor) (changefeed.Cursor, []string, int) {
		var ids []string
		memories := 0
		for range 20 {
			p, err := f.Changes(context.Background(), &changefeed.Request{Cursor: c, MaxRecords: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range p.Changes {
				ids = append(ids, ch.RecordID)
			}
			memories += len(p.Memories())
			c = p.Next
			if !p.More {
				return c, ids, memories
			}
		}
		t.Fatal("the joint feed never ended")
		return c, nil, 0
	}
	c, ids, memories := run(changefeed.Cursor{})
	if want := "crma crmb inva invb invc"; join(ids) != want || memories != 5 {
		t.Fatalf("first run: %q, %d memories; want %q and 5 (each page's)", join(ids), memories, want)
	}
	if _, ids, _ := run(c); len(ids) != 0 {
		t.Fatalf("second run: %v", ids)
	}
	// A cursor stored before the join: the first part's (one page read, the second part anew).
	if _, ids, _ := run(changefeed.Cursor{Value: "x"}); join(ids) != "crmb inva invb invc" {
		t.Fatalf("from an unjoined cursor: %q", join(ids))
	}
}

func join(ids []string) string {
	out := ""
	for i, id := range ids {
		if i > 0 {
			out += " "
		}
		out += id
	}
	return out
}

// bounded is a feed that reads as many records as the call allows and records that bound.
type bounded struct {
	records int
	asked   *[]int
}

func (b bounded) Changes(_ context.Context, req *changefeed.Request) (*changefeed.Page, error) {
	*b.asked = append(*b.asked, req.MaxRecords)
	return &changefeed.Page{RecordsRead: min(b.records, req.MaxRecords), Next: req.Cursor}, nil
}

// A part after another in the same call is given what the earlier parts left of the call's
// record bound, not the whole bound again.
func TestJoinSharesTheRecordBound(t *testing.T) {
	var crm, inv []int
	f := changefeed.Join(changefeed.Part{Name: "crm", Feed: bounded{30, &crm}}, changefeed.Part{Name: "inventory", Feed: bounded{500, &inv}})
	p, err := f.Changes(context.Background(), &changefeed.Request{MaxRecords: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(crm) != 1 || crm[0] != 100 || len(inv) != 1 || inv[0] != 70 {
		t.Errorf("bounds given: crm %v, inventory %v; want [100] and [70]", crm, inv)
	}
	if p.RecordsRead != 100 {
		t.Errorf("the call read %d records, bound 100", p.RecordsRead)
	}
}
