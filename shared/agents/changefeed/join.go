package changefeed

import (
	"context"
	"encoding/json"
)

// Part is one of the feeds Join reads, named in the joint cursor.
type Part struct {
	Name string
	Feed Feed
}

// Join reads several feeds of one platform as the platform's one change feed (Fortellis: its
// CRM changes and the dealer's vehicle inventory): each from its own cursor, in turn — a part
// with More is read again before the next — and every part once per run. A part's failure is
// the run's; the parts read before it keep their cursors. A cursor stored before the parts
// were joined is taken as the first part's.
func Join(parts ...Part) Feed { return joint(parts) }

type joint []Part

type jointCursor struct {
	At      int               `json:"at"`
	Cursors map[string]Cursor `json:"c"`
}

func (j joint) Changes(ctx context.Context, req *Request) (*Page, error) {
	var st jointCursor
	if !req.Cursor.IsZero() && (json.Unmarshal([]byte(req.Cursor.Value), &st) != nil || st.Cursors == nil) {
		// A cursor stored before the parts were joined is the first part's.
		st = jointCursor{Cursors: map[string]Cursor{j[0].Name: req.Cursor}}
	}
	if st.Cursors == nil {
		st.Cursors = map[string]Cursor{}
	}
	if st.At < 0 || st.At >= len(j) {
		st.At = 0
	}
	out := &Page{}
	for st.At < len(j) {
		p := j[st.At]
		sub := *req
		sub.Cursor = st.Cursors[p.Name]
		sub.MaxRecords = req.MaxRecords - out.RecordsRead // what the earlier parts left of the call's bound
		page, err := p.Feed.Changes(ctx, &sub)
		if err != nil {
			if len(out.Changes) > 0 || out.RecordsRead > 0 {
				break // what the earlier parts read is returned; this part fails on the next call
			}
			return nil, err
		}
		st.Cursors[p.Name] = page.Next
		out.Changes = append(out.Changes, page.Changes...)
		out.RecordsRead += page.RecordsRead
		out.Notes = append(out.Notes, page.Notes...)
		out.Remember = append(out.Remember, page.Remember...)
		if page.More {
			out.More = true
			break
		}
		st.At++
		if out.RecordsRead >= req.MaxRecords && st.At < len(j) {
			out.More = true // the next part in the next call
			break
		}
	}
	if st.At >= len(j) {
		st.At = 0
	}
	b, _ := json.Marshal(st) // plain data: cannot fail
	out.Next = Cursor{Value: string(b), Time: st.Cursors[j[0].Name].Time}
	return out, nil
}
