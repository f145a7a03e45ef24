package dealersocket

import "testing"

func FuzzParseLeadResponse(f *testing.F) {
	for _, s := range []string{
		`<LeadResponse><Success>true</Success><DSLeadId>7001</DSLeadId></LeadResponse>`,
		`<LeadResponse><Success>false</Success><ErrorCode>DUPLICATE_LEAD</ErrorCode><DSExistingLeadId>7</DSExistingLeadId></LeadResponse>`,
		`<?xml version="1.0"?><LeadResponse><Success>TRUE</Success></LeadResponse>`,
		`<Other/>`, `<LeadResponse>`, `<!DOCTYPE x [<!ENTITY a "aaaa">]><LeadResponse><ErrorMessage>&a;</ErrorMessage></LeadResponse>`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, ok := ParseLeadResponse(body)
		if !ok {
			return
		}
		if len(r.DSLeadID) > 67 || len(r.DSExistingLeadID) > 67 || len(r.ErrorCode) > 67 || len(r.ErrorMessage) > 203 {
			t.Fatalf("unbounded field: %+v", r)
		}
	})
}

func FuzzParseActivityID(f *testing.F) {
	for _, s := range []string{`{"ActivityId":1}`, `{"ActivityId":"a"}`, `{"ActivityId":[1]}`, `null`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if id := ParseActivityID(body); len(id) > 67 {
			t.Fatalf("unbounded id %q", id)
		}
	})
}
