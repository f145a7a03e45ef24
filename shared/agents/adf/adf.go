// Package adf writes leads in ADF 1.0, the Auto-lead Data Format the dealership CRMs accept
// (DealerSocket's OEM lead endpoint among them): an XML document of prospects, each with the
// vehicles of interest, the customer, the vendor (the dealership) and the provider (DealerAI).
//
// Documents are generated with encoding/xml, so every value is escaped and characters XML
// cannot carry are replaced. Elements the ADF DTD requires but the event lacks (a trade-in's
// make, say) are emitted empty; details ADF has no element for go into the customer comments.
package adf

import (
	"encoding/xml"
	"strings"
	"time"

	"github.com/dealerai/integrations/events"
)

// Header starts every document: the XML declaration and the ADF version instruction.
const Header = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<?adf version="1.0"?>` + "\n"

// Document is an <adf> document.
type Document struct {
	XMLName   xml.Name   `xml:"adf"`
	Prospects []Prospect `xml:"prospect"`
}

// Prospect is one lead.
type Prospect struct {
	Status      string    `xml:"status,attr"` // new | resend
	IDs         []ID      `xml:"id"`
	RequestDate string    `xml:"requestdate"` // ISO 8601
	Vehicles    []Vehicle `xml:"vehicle"`
	Customer    Customer  `xml:"customer"`
	Vendor      Vendor    `xml:"vendor"`
	Provider    *Provider `xml:"provider"`
}

// ID is an identifier of the lead in the source's system.
type ID struct {
	Sequence string `xml:"sequence,attr,omitempty"`
	Source   string `xml:"source,attr,omitempty"`
	Value    string `xml:",chardata"`
}

// Vehicle is a vehicle of interest (or a trade-in). Year, make and model are required by the
// DTD and always emitted, empty when unknown.
type Vehicle struct {
	Interest  string `xml:"interest,attr,omitempty"` // buy | lease | sell | trade-in | test-drive
	Status    string `xml:"status,attr,omitempty"`   // new | used
	Year      string `xml:"year"`
	Make      string `xml:"make"`
	Model     string `xml:"model"`
	VIN       string `xml:"vin,omitempty"`
	Stock     string `xml:"stock,omitempty"`
	Trim      string `xml:"trim,omitempty"`
	Odometer  string `xml:"odometer,omitempty"`
	Condition string `xml:"condition,omitempty"`
	Comments  string `xml:"comments,omitempty"`
}

// Customer is the person the lead is about.
type Customer struct {
	Contact  Contact `xml:"contact"`
	Comments string  `xml:"comments,omitempty"`
}

// Contact is a name and a way to reach it: the DTD wants an email, phones, or both.
type Contact struct {
	Names  []Name  `xml:"name"`
	Email  *string `xml:"email"`
	Phones []Phone `xml:"phone"`
}

// Name is one part of a name.
type Name struct {
	Part  string `xml:"part,attr,omitempty"` // first | last | full | ...
	Value string `xml:",chardata"`
}

// Phone is a phone number.
type Phone struct {
	Type  string `xml:"type,attr,omitempty"` // voice | cellphone | ...
	Value string `xml:",chardata"`
}

// Vendor is the dealership the lead is for.
type Vendor struct {
	IDs        []ID    `xml:"id"`
	VendorName string  `xml:"vendorname"`
	Contact    Contact `xml:"contact"`
}

// Provider is who sends the lead.
type Provider struct {
	Name    Name   `xml:"name"`
	Service string `xml:"service,omitempty"`
}

// Options are what the event does not say.
type Options struct {
	// VendorName is the dealership's name as the CRM knows it.
	VendorName string
	// VendorIDs identify the dealership in the CRM (e.g. a DealerSocket dealer number).
	VendorIDs []ID
	// ProviderName and ProviderService describe the sender; "DealerAI" and
	// "DealerAI assistant" when empty.
	ProviderName    string
	ProviderService string
}

// Source is the source attribute of the ids DealerAI gives its leads.
const Source = "DealerAI"

// FromLead is the ADF document of a lead.created event.
func FromLead(l *events.LeadCreated, o Options) *Document {
	p := newProspect(l.Timestamp, firstOf(l.LeadID, l.ContactID, l.EventID), o)
	p.Vehicles = []Vehicle{{
		Interest: "buy",
		Year:     l.VehicleYear, Make: l.VehicleMake, Model: l.VehicleModel, VIN: l.VehicleVIN,
	}}
	p.Customer.Contact = contact(l.FirstName, l.LastName, l.Email, l.Phone)
	p.Customer.Comments = sentences(
		l.Comments,
		labelled("Lead source", l.Source),
		labelled("DealerAI lead", l.LeadID),
		labelled("DealerAI contact", l.ContactID),
		labelled("DealerAI conversation", l.ConversationID),
	)
	return &Document{Prospects: []Prospect{p}}
}

// FromAppointment is the ADF document of an appointment event: a lead whose comments say
// what happened to which appointment. A trade-in appointment carries two vehicles, the one
// wanted (interest buy) and the trade-in (interest trade-in, used).
func FromAppointment(eventType string, a *events.AppointmentCreated, o Options) *Document {
	p := newProspect(a.Timestamp, firstOf(a.LeadID, a.ContactID, a.EventID), o)
	switch a.AppointmentType {
	case events.AppointmentTradeIn:
		p.Vehicles = []Vehicle{
			{Interest: "buy", Year: a.TradeForVehicleYear, Model: a.TradeForVehicleModel, VIN: a.TradeForVehicleVIN},
			{Interest: "trade-in", Status: "used", Year: a.TradeInVehicleYear, Model: a.TradeInVehicleModel,
				Odometer: a.TradeInVehicleMileage, Condition: a.TradeInVehicleCondition},
		}
	default:
		v := Vehicle{Year: a.VehicleYear, Make: a.VehicleMake, Model: a.VehicleModel, VIN: a.VehicleVIN, Stock: a.VehicleStockNumber}
		switch a.AppointmentType {
		case events.AppointmentSales:
			v.Interest = "buy"
		case events.AppointmentTestDrive:
			v.Interest = "test-drive"
		case events.AppointmentLeaseReturn:
			v.Interest = "lease"
		}
		p.Vehicles = []Vehicle{v}
	}
	first, last := splitName(a.Name)
	p.Customer.Contact = contact(first, last, a.Email, a.Phone)
	when := ""
	if !a.AppointmentTime.IsZero() {
		when = " for " + a.AppointmentTime.UTC().Format(time.RFC3339)
	}
	kind := firstOf(a.AppointmentType, "unspecified")
	p.Customer.Comments = sentences(
		"DealerAI: "+kind+" appointment "+strings.TrimPrefix(eventType, "appointment.")+when,
		labelled("Service requested", a.ServiceType),
		labelled("DealerAI appointment", a.AppointmentID),
		labelled("DealerAI lead", a.LeadID),
		labelled("DealerAI contact", a.ContactID),
		labelled("DealerAI conversation", a.ConversationID),
	)
	return &Document{Prospects: []Prospect{p}}
}

// Marshal renders the document with its header, after filling in the elements the DTD
// requires.
func (d *Document) Marshal() ([]byte, error) {
	for i := range d.Prospects {
		d.Prospects[i].fillRequired()
	}
	body, err := xml.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(Header), append(body, '\n')...), nil
}

func newProspect(requested time.Time, id string, o Options) Prospect {
	vendor := firstOf(o.VendorName)
	p := Prospect{
		Status:      "new",
		RequestDate: requested.Format(time.RFC3339),
		Vendor: Vendor{
			IDs:        o.VendorIDs,
			VendorName: vendor,
			Contact:    Contact{Names: []Name{{Part: "full", Value: vendor}}},
		},
		Provider: &Provider{
			Name:    Name{Part: "full", Value: firstOf(o.ProviderName, "DealerAI")},
			Service: firstOf(o.ProviderService, "DealerAI assistant"),
		},
	}
	if id != "" {
		p.IDs = []ID{{Sequence: "1", Source: Source, Value: id}}
	}
	return p
}

// fillRequired adds what the DTD requires: a vehicle, and in each contact a name and an
// email or phone (empty when unknown).
func (p *Prospect) fillRequired() {
	if len(p.Vehicles) == 0 {
		p.Vehicles = []Vehicle{{}}
	}
	p.Customer.Contact.fillRequired()
	p.Vendor.Contact.fillRequired()
}

func (c *Contact) fillRequired() {
	if len(c.Names) == 0 {
		c.Names = []Name{{Part: "full"}}
	}
	if c.Email == nil && len(c.Phones) == 0 {
		c.Phones = []Phone{{Type: "voice"}}
	}
}

func contact(first, last, email, phone string) Contact {
	var c Contact
	if first = strings.TrimSpace(first); first != "" {
		c.Names = append(c.Names, Name{Part: "first", Value: first})
	}
	if last = strings.TrimSpace(last); last != "" {
		c.Names = append(c.Names, Name{Part: "last", Value: last})
	}
	if email = strings.TrimSpace(email); email != "" {
		c.Email = &email
	}
	if phone = strings.TrimSpace(phone); phone != "" {
		c.Phones = []Phone{{Type: "voice", Value: phone}}
	}
	return c
}

func splitName(full string) (first, last string) {
	fields := strings.Fields(full)
	switch len(fields) {
	case 0:
		return "", ""
	case 1:
		return fields[0], ""
	}
	return fields[0], strings.Join(fields[1:], " ")
}

func labelled(label, v string) string {
	if strings.TrimSpace(v) == "" {
		return ""
	}
	return label + ": " + v
}

// sentences joins the non-empty parts, each ending with a period.
func sentences(parts ...string) string {
	var out []string
	for _, s := range parts {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") && !strings.HasSuffix(s, "?") {
			s += "."
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
