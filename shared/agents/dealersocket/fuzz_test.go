package dealersocket

import "testing"

// The parsers of DealerSocket's answers bound every value they keep and never fail on input.

func FuzzParseLeadResponse(f *testing.F) {
	for _, s := range []string{
		`<LeadResponse><Success>true</Success><DSLeadId>7001</DSLeadId><DSCustomerId>768863</DSCustomerId></LeadResponse>`,
		`<LeadResponse><Success>false</Success><ErrorCode>DUPLICATE_LEAD</ErrorCode><DSExistingLeadId>7</DSExistingLeadId></LeadResponse>`,
		`<LeadResponse xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><DSExistingLeadId>2215758</DSExistingLeadId><DSLeadId>0</DSLeadId><DSCustomerId>0</DSCustomerId><ErrorCode i:nil="true" /><Success>true</Success></LeadResponse>`,
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
		if len(r.DSLeadID) > 67 || len(r.DSExistingLeadID) > 67 || len(r.DSCustomerID) > 67 || len(r.ErrorCode) > 67 || len(r.ErrorMessage) > 203 {
			t.Fatalf("unbounded field: %+v", r)
		}
		if r.DSLeadID == "0" || r.DSExistingLeadID == "0" || r.DSCustomerID == "0" {
			t.Fatalf("an id of 0 kept: %+v", r)
		}
	})
}

func FuzzParseResult(f *testing.F) {
	for _, s := range []string{
		`<ActivityResponse xmlns="http://www.dealersocket.com"><Success>true</Success><ActivityId>5546528</ActivityId></ActivityResponse>`,
		`<ActivityResponse><Success>false</Success><ErrorCode>EVENTID_INVALID</ErrorCode><ErrorMessage>EventId does not exist.</ErrorMessage><ActivityId>0</ActivityId></ActivityResponse>`,
		`<Response><Success>true</Success><Message>Success Inserting Customer, EntityId: 769239</Message><EntityId>769239</EntityId></Response>`,
		`<Response><Success/></Response>`, `<Response/>`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, ok := ParseResult(body)
		if !ok {
			return
		}
		if len(r.ActivityID) > 67 || len(r.EntityID) > 67 || len(r.ErrorCode) > 67 || len(r.ErrorMessage) > 203 || r.ActivityID == "0" || r.EntityID == "0" {
			t.Fatalf("unbounded field or id 0: %+v", r)
		}
	})
}

func FuzzParseCustomers(f *testing.F) {
	for _, s := range []string{
		`<ShowCustomerInformation xmlns="http://www.starstandard.org/STAR/5"><ShowCustomerInformationDataArea><CustomerInformation><CustomerInformationDetail><CustomerParty><PartyID>769239</PartyID><SpecifiedPerson><GivenName>Inigo</GivenName><FamilyName>Montoya</FamilyName><TelephoneCommunication><CompleteNumber>1111121112</CompleteNumber><UseCode>Mobile</UseCode></TelephoneCommunication><URICommunication><URIID>a@b.c</URIID></URICommunication><PostalAddress><LineOne>x</LineOne><StateOrProvinceCountrySub-DivisionID>TO  </StateOrProvinceCountrySub-DivisionID></PostalAddress></SpecifiedPerson></CustomerParty></CustomerInformationDetail></CustomerInformation></ShowCustomerInformationDataArea></ShowCustomerInformation>`,
		`<ShowCustomerInformation><ShowCustomerInformationDataArea><Show/></ShowCustomerInformationDataArea></ShowCustomerInformation>`,
		`<Response/>`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		found, _ := ParseCustomers(body)
		for _, c := range found {
			if c.EntityID == "" || len(c.EntityID) > 67 || len(c.GivenName) > 203 || len(c.Address.State) > 35 {
				t.Fatalf("customer %+v", c)
			}
			for _, p := range c.Phones {
				if p.CompleteNumber == "" || len(p.CompleteNumber) > 35 {
					t.Fatalf("phone %+v", p)
				}
			}
		}
	})
}

func FuzzParseEventSearch(f *testing.F) {
	for _, s := range []string{
		`{"firstName":"Ana","events":[{"eventId":2215758,"eventCategory":1},{"eventId":"77"},{"eventId":null}]}`,
		`{"firstName":"Ana","lastName":"Diaz","events":[{"eventId":2215702,"eventCategory":"Sales","eventType":100050,"status":225,"insertDate":"2026-11-27T15:04:05.17","updateDate":"2026-11-28T09:00:00Z","primaryAssigned":"Ash Bhattari","year":2024,"make":"Toyota","model":"RAV4","vin":"2T3P1RFV8RC000001","stockNumber":"T1234"}]}`,
		`{"events":[{"eventId":{"a":1},"status":true,"updateDate":[1]}]}`,
		`{"errorCode":"ENTITY_NOT_FOUND","errorMessage":"no customer"}`, `{"events":[{"eventId":1e400}]}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		found, err := ParseEventSearch(body)
		if err != nil {
			if len(err.Error()) > 400 {
				t.Fatalf("unbounded error %q", err)
			}
			return
		}
		if len(found.FirstName) > 103 || len(found.ErrorMessage) > 203 {
			t.Fatalf("unbounded field: %+v", found)
		}
		for _, e := range found.Events {
			if len(e.EventID) > 67 || e.EventID == "0" || len(e.Status) > 35 || len(e.UpdateDate) > 43 || len(e.PrimaryAssigned) > 103 {
				t.Fatalf("event %+v", e)
			}
			parseDate(e.UpdateDate) // never panics
		}
	})
}
