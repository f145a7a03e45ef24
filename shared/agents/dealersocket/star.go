package dealersocket

import (
	"encoding/xml"
	"time"

	"github.com/dealerai/integrations/shared/agents/connector"
)

// The request documents of DealerSocket's signed APIs. DealerSocket publishes no schema: the
// shapes are those of published integrations (docs/agents.md#dealersocket), the STAR 5
// documents (ProcessSalesLead, ProcessCustomerInformation, GetCustomerInformation) in the
// STAR namespace, the DealerSocket ones (ActivityInsert, WorkNoteInsert) without one.

// StarNamespace is the namespace of the STAR documents.
const StarNamespace = "http://www.starstandard.org/STAR/5"

// applicationArea is a STAR document's header: who sends it to which dealer, and when.
type applicationArea struct {
	Sender           starSender `xml:"Sender"`
	CreationDateTime string     `xml:"CreationDateTime"`
	Destination      struct {
		DestinationNameCode string `xml:"DestinationNameCode"`
	} `xml:"Destination"`
}

type starSender struct {
	CreatorNameCode string `xml:"CreatorNameCode"`
	SenderNameCode  string `xml:"SenderNameCode"`
	DealerNumberID  string `xml:"DealerNumberID"`
}

func (s *session) applicationArea() applicationArea {
	vendor := s.d.Settings["apiVendor"]
	a := applicationArea{
		Sender:           starSender{CreatorNameCode: vendor, SenderNameCode: vendor, DealerNumberID: s.d.Settings["dealerNumberId"]},
		CreationDateTime: s.d.Event.Timestamp.UTC().Format(time.RFC3339),
	}
	a.Destination.DestinationNameCode = "DS"
	return a
}

// ---- ActivityInsert and WorkNoteInsert ----

// activityInsert is the body of POST /Activity (insert) and PUT /Activity (update, with
// ActivityId).
type activityInsert struct {
	XMLName          xml.Name `xml:"ActivityInsert"`
	Vendor           string   `xml:"Vendor"`
	DealerID         string   `xml:"DealerId"`
	EntityID         string   `xml:"EntityId"`
	EventID          string   `xml:"EventId"`
	ActivityTaskType string   `xml:"ActivityTaskType,omitempty"`
	ActivityType     string   `xml:"ActivityType,omitempty"`
	DueDateTime      string   `xml:"DueDateTime"`
	Status           string   `xml:"Status,omitempty"`
	ActivityID       string   `xml:"ActivityId,omitempty"`
	Note             string   `xml:"Note,omitempty"`
}

// workNoteInsert is the body of POST /WorkNote: a note added to the sales event.
type workNoteInsert struct {
	XMLName  xml.Name `xml:"WorkNoteInsert"`
	Vendor   string   `xml:"Vendor"`
	DealerID string   `xml:"DealerId"`
	EntityID string   `xml:"EntityId"`
	EventID  string   `xml:"EventId"`
	BatchID  string   `xml:"BatchId"`
	Note     string   `xml:"Note"`
}

// MaxWorkNote is the longest work note DealerSocket takes, in characters.
const MaxWorkNote = 255

// ---- ProcessSalesLead (eventsales) ----

// processSalesLead is the body of POST /eventsales: a change to an existing sales event
// (DocumentID, the DSLeadId) of a customer (PartyID, the EntityId).
type processSalesLead struct {
	XMLName         xml.Name        `xml:"http://www.starstandard.org/STAR/5 ProcessSalesLead"`
	ApplicationArea applicationArea `xml:"ApplicationArea"`
	SalesLead       struct {
		Header struct {
			DocumentDateTime string `xml:"DocumentDateTime"`
			DocumentID       string `xml:"DocumentIdentificationGroup>DocumentIdentification>DocumentID"`
			PartyID          string `xml:"CustomerProspect>ProspectParty>PartyID"`
			RelationshipType string `xml:"ReceivingDealerParty>RelationshipTypeCode"`
		} `xml:"SalesLeadHeader"`
		Detail struct {
			LeadStatus string       `xml:"LeadStatus,omitempty"`
			Vehicle    *starVehicle `xml:"SalesActivity>Vehicle,omitempty"`
		} `xml:"SalesLeadDetail"`
	} `xml:"ProcessSalesLeadDataArea>SalesLead"`
}

// starVehicle is the sales event's vehicle of interest.
type starVehicle struct {
	ManufacturerName   string `xml:"ManufacturerName,omitempty"`
	ModelYear          string `xml:"ModelYear,omitempty"`
	ModelDescription   string `xml:"ModelDescription,omitempty"`
	VehicleID          string `xml:"VehicleID,omitempty"`
	VehicleNote        string `xml:"VehicleNote,omitempty"`
	VehicleStockString string `xml:"VehicleStockString,omitempty"`
}

func (s *session) salesLead(eventID, entityID string) *processSalesLead {
	doc := &processSalesLead{ApplicationArea: s.applicationArea()}
	h := &doc.SalesLead.Header
	h.DocumentDateTime = doc.ApplicationArea.CreationDateTime
	h.DocumentID, h.PartyID, h.RelationshipType = eventID, entityID, "Primary"
	return doc
}

// ---- customers: ProcessCustomerInformation (Customer), GetCustomerInformation (SearchEntity) ----

// starPerson is a customer as STAR writes one.
type starPerson struct {
	ID         string          `xml:"ID,omitempty"`
	GivenName  string          `xml:"GivenName,omitempty"`
	FamilyName string          `xml:"FamilyName,omitempty"`
	Address    *starAddress    `xml:"ResidenceAddress,omitempty"`
	Phones     []starPhone     `xml:"TelephoneCommunication"`
	Emails     []starEmailAddr `xml:"URICommunication"`
}

type starAddress struct {
	LineOne  string `xml:"LineOne,omitempty"`
	CityName string `xml:"CityName,omitempty"`
	Postcode string `xml:"Postcode,omitempty"`
	State    string `xml:"StateOrProvinceCountrySub-DivisionID,omitempty"`
}

type starPhone struct {
	CompleteNumber string `xml:"CompleteNumber"`
	UseCode        string `xml:"UseCode,omitempty"`
}

type starEmailAddr struct {
	URIID       string `xml:"URIID"`
	ChannelCode string `xml:"ChannelCode,omitempty"`
}

// processCustomerInformation is the body of PUT /Customer with TransactionTypeCode UC (update
// the customer SpecifiedPerson.ID).
type processCustomerInformation struct {
	XMLName         xml.Name        `xml:"http://www.starstandard.org/STAR/5 ProcessCustomerInformation"`
	ApplicationArea applicationArea `xml:"ApplicationArea"`
	Info            struct {
		TransactionTypeCode string     `xml:"CustomerInformationHeader>TransactionTypeCode"`
		Person              starPerson `xml:"CustomerInformationDetail>CustomerParty>SpecifiedPerson"`
	} `xml:"ProcessCustomerInformationDataArea>CustomerInformation"`
}

// getCustomerInformation is the body of POST /SearchEntity: customers by PartyID, or by a
// person's email or phone.
type getCustomerInformation struct {
	XMLName         xml.Name        `xml:"http://www.starstandard.org/STAR/5 GetCustomerInformation"`
	ApplicationArea applicationArea `xml:"ApplicationArea"`
	Party           struct {
		PartyID string      `xml:"PartyID,omitempty"`
		Person  *starPerson `xml:"SpecifiedPerson,omitempty"`
	} `xml:"GetCustomerInformationDataArea>CustomerInformation>CustomerInformationDetail>CustomerParty"`
}

// Customer is a DealerSocket customer as SearchEntity answers it.
type Customer struct {
	EntityID   string
	GivenName  string
	FamilyName string
	Address    starAddress
	Phones     []starPhone
	Emails     []string
}

// ParseCustomers reads a <ShowCustomerInformation> answer: the customers found (none is an
// answer without CustomerInformation). ok is false for anything else.
func ParseCustomers(body []byte) (customers []Customer, ok bool) {
	type address struct {
		LineOne  string `xml:"LineOne"`
		CityName string `xml:"CityName"`
		Postcode string `xml:"Postcode"`
		State    string `xml:"StateOrProvinceCountrySub-DivisionID"`
	}
	var raw struct {
		XMLName xml.Name `xml:"ShowCustomerInformation"`
		Infos   []struct {
			PartyID string `xml:"CustomerInformationDetail>CustomerParty>PartyID"`
			Person  struct {
				GivenName  string      `xml:"GivenName"`
				FamilyName string      `xml:"FamilyName"`
				Postal     address     `xml:"PostalAddress"`
				Residence  address     `xml:"ResidenceAddress"`
				Phones     []starPhone `xml:"TelephoneCommunication"`
				Emails     []struct {
					URIID string `xml:"URIID"`
				} `xml:"URICommunication"`
			} `xml:"CustomerInformationDetail>CustomerParty>SpecifiedPerson"`
		} `xml:"ShowCustomerInformationDataArea>CustomerInformation"`
	}
	if xml.Unmarshal(body, &raw) != nil {
		return nil, false
	}
	for _, info := range raw.Infos {
		p := info.Person
		addr := p.Postal
		if addr == (address{}) {
			addr = p.Residence
		}
		c := Customer{
			EntityID:   id(info.PartyID),
			GivenName:  clean(p.GivenName, 200),
			FamilyName: clean(p.FamilyName, 200),
			Address: starAddress{LineOne: clean(addr.LineOne, 200), CityName: clean(addr.CityName, 200),
				Postcode: clean(addr.Postcode, 32), State: clean(addr.State, 32)},
		}
		for _, ph := range p.Phones {
			if n := clean(ph.CompleteNumber, 32); n != "" {
				c.Phones = append(c.Phones, starPhone{CompleteNumber: n, UseCode: clean(ph.UseCode, 32)})
			}
		}
		for _, e := range p.Emails {
			if v := clean(e.URIID, 200); v != "" {
				c.Emails = append(c.Emails, v)
			}
		}
		if c.EntityID != "" {
			customers = append(customers, c)
		}
	}
	return customers, true
}

// PhoneDigits is a phone number as DealerSocket's customer records hold it: digits only, a
// North American number without its country code 1.
func PhoneDigits(phone string) string { return connector.PhoneDigits(phone) }
