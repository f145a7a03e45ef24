package agentsync

import (
	"context"

	"github.com/dealerai/integrations/shared/agents/changefeed"
)

// SeenByKind keeps what the sync remembers in the store of each record kind: the kinds of
// Kinds in theirs (the inventory's vehicles in the inventory table, package inventory), every
// other kind in Default.
type SeenByKind struct {
	Default Seen
	Kinds   map[string]Seen
}

var _ Seen = SeenByKind{}

func (s SeenByKind) store(kind string) Seen {
	if k, ok := s.Kinds[kind]; ok {
		return k
	}
	return s.Default
}

// Remembered asks the record kind's store.
func (s SeenByKind) Remembered(ctx context.Context, dealerID, platform, recordKind string, ids []string) (map[string]string, error) {
	return s.store(recordKind).Remembered(ctx, dealerID, platform, recordKind, ids)
}

// Remember hands each store the memories of its kinds, in the page's order.
func (s SeenByKind) Remember(ctx context.Context, dealerID, platform string, memories []changefeed.Memory) error {
	var order []Seen
	parts := map[Seen][]changefeed.Memory{}
	for _, c := range memories {
		st := s.store(c.RecordKind)
		if _, ok := parts[st]; !ok {
			order = append(order, st)
		}
		parts[st] = append(parts[st], c)
	}
	for _, st := range order {
		if err := st.Remember(ctx, dealerID, platform, parts[st]); err != nil {
			return err
		}
	}
	return nil
}
