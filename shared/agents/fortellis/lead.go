package fortellis

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
)

// leadInput is what an Elead customer and opportunity are made of: a lead's fields, or an
// appointment's or a disposition's when Elead does not have the lead yet.
type leadInput struct {
	firstName, lastName, email, phone string
	dateIn                            time.Time
	vehicle                           *VehicleSought
	// comments are the opportunity's comments.
	comments string
	// origin is the event type the lead comes from, kept with its ids.
	origin string
}

// Progress and correlation keys of a lead.
const (
	keyCustomerID    = "customerId"
	keyOpportunityID = "opportunityId"
	keyCreatedFrom   = "createdFrom"
	// keyCustomer and keyOpportunity say how the record was obtained: created, found (by a
	// search) or duplicate (Elead's isDuplicate).
	keyCustomer    = "customer"
	keyOpportunity = "opportunity"
	// keyOpportunitySent: this delivery sent an opportunity create whose answer it may not
	// have seen.
	keyOpportunitySent = "opportunitySent"
	keyComment         = "comment"
)

// pushLead delivers lead.created and lead.received: the customer, the opportunity with the
// vehicle sought and the lead's comments.
func (s *session) pushLead(ctx context.Context) (connector.Result, error) {
	in, err := s.leadInputOfLead()
	if err != nil {
		return connector.Result{}, err
	}
	if known := s.d.Known; known[keyOpportunityID] != "" {
		switch known[keyCreatedFrom] {
		case events.TypeLeadCreated, events.TypeLeadReceived, "":
			if s.progress[keyOpportunityID] == "" {
				return connector.Skip("the DealerAI lead is already Elead opportunity " + known[keyOpportunityID]), nil
			}
		default:
			// An appointment or a disposition created the opportunity first.
			return s.completeLead(ctx, in)
		}
	}
	ids, err := s.ensureLead(ctx, in)
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{Correlation: ids, Pushed: s.pushed, Summary: s.leadSummary()}, nil
}

func (s *session) leadInputOfLead() (leadInput, error) {
	ev := s.d.Event
	if ev.Type == events.TypeLeadReceived {
		r, err := connector.LeadReceived(ev)
		if err != nil {
			return leadInput{}, err
		}
		return leadInput{firstName: r.FirstName, lastName: r.LastName, email: r.Email, phone: r.Phone,
			dateIn: ev.Timestamp, origin: ev.Type, comments: "DealerAI lead received."}, nil
	}
	l, err := connector.Lead(ev)
	if err != nil {
		return leadInput{}, err
	}
	in := leadInput{firstName: l.FirstName, lastName: l.LastName, email: l.Email, phone: l.Phone,
		dateIn: ev.Timestamp, origin: ev.Type,
		vehicle: soughtVehicle("", l.VehicleYear, l.VehicleMake, l.VehicleModel, "", l.VehicleVIN, "", ev.Timestamp)}
	in.comments = "DealerAI lead"
	if l.Source != "" {
		in.comments += " from " + l.Source
	}
	in.comments += "."
	if l.Comments != "" {
		in.comments += " Comments: " + l.Comments
	}
	return in, nil
}

// completeLead delivers a lead event whose opportunity an appointment or a disposition
// created first (from its own fields): the lead's vehicle is added as a vehicle sought unless
// the opportunity has it, and its comments as a comment.
func (s *session) completeLead(ctx context.Context, in leadInput) (connector.Result, error) {
	known := s.d.Known
	oppID := known[keyOpportunityID]
	summary := "Elead opportunity " + oppID + " (created for " + known[keyCreatedFrom] + ")"
	if in.vehicle != nil && s.progress[keyVehicleSoughtID] == "" {
		opp, err := s.getOpportunity(ctx, oppID)
		if err != nil {
			return connector.Result{}, err
		}
		id := matchingVehicle(soughtRefs(opp), vehicleRef{year: in.vehicle.YearFrom, make: in.vehicle.Make, model: in.vehicle.Model, vin: in.vehicle.VIN})
		if id == "" {
			v := *in.vehicle
			v.OpportunityID, v.IsPrimary = oppID, len(opp.SoughtVehicles) == 0
			if id, err = s.addVehicleSought(ctx, v); err != nil {
				return connector.Result{}, err
			}
			summary += ", the lead's vehicle added"
		}
		s.progress[keyVehicleSoughtID] = id
	}
	if in.comments != "" && s.progress[keyComment] == "" {
		if err := s.addComment(ctx, oppID, in.comments); err != nil {
			return connector.Result{}, err
		}
		s.progress[keyComment] = "added"
		summary += ", the lead's comments added"
	}
	return connector.Result{Correlation: maps.Clone(known), Summary: summary}, nil
}

// leadOf returns the Elead ids of the event's DealerAI lead: the saved ones, else those of a
// customer and opportunity found or created from in (then created is true, and the ids are
// the result's LeadCorrelation).
func (s *session) leadOf(ctx context.Context, in leadInput) (ids map[string]string, created bool, err error) {
	if s.d.Lead[keyOpportunityID] != "" {
		return s.d.Lead, false, nil
	}
	if id := s.d.Known[keyOpportunityID]; id != "" {
		// An event without a DealerAI lead or contact id: the opportunity its own record names.
		return map[string]string{keyOpportunityID: id}, false, nil
	}
	ids, err = s.ensureLead(ctx, in)
	return ids, true, err
}

// ensureLead finds or creates the customer, then finds or creates the opportunity, then adds
// the lead's comments when the opportunity was not created with them. Each id is recorded in
// progress as soon as it is known.
func (s *session) ensureLead(ctx context.Context, in leadInput) (map[string]string, error) {
	createdNow := false
	if s.progress[keyCustomerID] == "" {
		id, found, err := s.findOrCreateCustomer(ctx, in)
		if err != nil {
			return nil, err
		}
		s.progress[keyCustomerID] = id
		s.progress[keyCustomer] = "created"
		if found {
			s.progress[keyCustomer] = "found"
		}
		createdNow = !found
	}
	customerID := s.progress[keyCustomerID]
	if s.progress[keyOpportunityID] == "" {
		// A customer created just now has no opportunity; any other may have one: ours, if
		// an earlier attempt's answer was lost.
		if !createdNow {
			opp, err := s.findOpportunity(ctx, customerID, in)
			if err != nil {
				return nil, err
			}
			if opp != nil {
				s.progress[keyOpportunityID] = opp.ID
				s.progress[keyOpportunity] = "found"
			}
		}
		if s.progress[keyOpportunityID] == "" {
			s.progress[keyOpportunitySent] = "true"
			opp, duplicate, err := s.createOpportunity(ctx, s.newOpportunity(customerID, in))
			if err != nil {
				return nil, err
			}
			s.progress[keyOpportunityID] = opp.ID
			s.progress[keyOpportunity] = "created"
			if duplicate {
				s.progress[keyOpportunity] = "duplicate"
			} else {
				s.pushed = OpportunityPushed(opp) // as Elead created it: not sent back by the sync
			}
		}
	}
	// The comments went with a create; an opportunity that existed before this delivery
	// (found without a create of ours, or Elead's duplicate) gets them as a comment.
	existed := s.progress[keyOpportunity] == "duplicate" ||
		s.progress[keyOpportunity] == "found" && s.progress[keyOpportunitySent] == ""
	if existed && in.comments != "" && s.progress[keyComment] == "" {
		if err := s.addComment(ctx, s.progress[keyOpportunityID], in.comments); err != nil {
			return nil, err
		}
		s.progress[keyComment] = "added"
	}
	return map[string]string{
		keyCustomerID:    customerID,
		keyOpportunityID: s.progress[keyOpportunityID],
		keyCreatedFrom:   in.origin,
	}, nil
}

// findOrCreateCustomer returns the customer Elead finds by the lead's email or phone (found),
// else creates one. A lead with neither is created without a search (a name alone does not
// identify a customer).
func (s *session) findOrCreateCustomer(ctx context.Context, in leadInput) (id string, found bool, err error) {
	if in.email != "" || in.phone != "" {
		items, err := s.searchCustomers(ctx, CustomerSearch{FirstName: in.firstName, LastName: in.lastName,
			EmailAddress: in.email, PhoneNumber: in.phone})
		if err != nil {
			return "", false, err
		}
		if id := matchCustomer(items, in); id != "" {
			return id, true, nil
		}
	}
	c := Customer{FirstName: in.firstName, LastName: in.lastName}
	if in.email != "" {
		c.Emails = []Email{{Address: in.email, EmailType: "Personal", IsPreferred: new(true)}}
	}
	if in.phone != "" {
		c.Phones = []Phone{{Number: in.phone, PhoneType: "Cellular", PreferredTimeToContact: "Unspecified"}}
	}
	id, err = s.createCustomer(ctx, c)
	return id, false, err
}

// matchCustomer is the first customer (in Elead's order) with the lead's email, or with its
// phone and last name; "" when none.
func matchCustomer(items []Customer, in leadInput) string {
	for _, c := range items {
		if c.ID == "" {
			continue
		}
		for _, e := range c.Emails {
			if in.email != "" && strings.EqualFold(strings.TrimSpace(e.Address), in.email) {
				return c.ID
			}
		}
		if in.lastName != "" && !strings.EqualFold(strings.TrimSpace(c.LastName), in.lastName) {
			continue
		}
		for _, p := range c.Phones {
			if in.phone != "" && samePhone(p.Number, in.phone) {
				return c.ID
			}
		}
	}
	return ""
}

// samePhone compares phone numbers by their digits (a US country code aside).
func samePhone(a, b string) bool {
	a, b = connector.PhoneDigits(a), connector.PhoneDigits(b)
	return a != "" && a == b
}

// findOpportunity is the customer's opportunity the lead may already be: an Active one from
// the lead source setting, the one dated in at the lead's time first.
func (s *session) findOpportunity(ctx context.Context, customerID string, in leadInput) (*Opportunity, error) {
	opps, err := s.opportunitiesOf(ctx, customerID)
	if err != nil {
		return nil, err
	}
	var match *Opportunity
	for i := range opps {
		o := &opps[i]
		if o.ID == "" || !strings.EqualFold(o.Source, s.d.Settings["leadSource"]) ||
			o.Status != "" && !strings.EqualFold(o.Status, eleadActiveStatus) {
			continue
		}
		if t, err := time.Parse(time.RFC3339, o.DateIn); err == nil && t.Equal(in.dateIn) {
			return o, nil
		}
		if match == nil {
			match = o
		}
	}
	return match, nil
}

func (s *session) newOpportunity(customerID string, in leadInput) NewOpportunity {
	o := NewOpportunity{
		CustomerID: customerID,
		Source:     s.d.Settings["leadSource"],
		SubSource:  s.d.Settings["leadSubSource"],
		UpType:     s.d.Settings["upType"],
		Comments:   limitRunes(in.comments, MaxCommentLength),
	}
	if !in.dateIn.IsZero() {
		o.DateIn = in.dateIn.UTC().Format(time.RFC3339)
	}
	if in.vehicle != nil {
		v := *in.vehicle
		v.IsPrimary = true
		o.SoughtVehicles = []VehicleSought{v}
	}
	return o
}

// leadSummary says what the lead steps did.
func (s *session) leadSummary() string {
	summary := "Elead customer " + s.progress[keyCustomerID] + " (" + s.progress[keyCustomer] + "), opportunity " +
		s.progress[keyOpportunityID] + " (" + s.progress[keyOpportunity] + ")"
	if s.progress[keyComment] != "" {
		summary += ", comment"
	}
	return summary
}

// soughtVehicle is a vehicle sought from an event's vehicle fields; nil when it has none.
// isNew follows status ("new", "used"); without one, a vehicle more than a model year older
// than the event is used, any other new.
func soughtVehicle(status, year, make, model, trim, vin, stock string, at time.Time) *VehicleSought {
	y, _ := strconv.Atoi(strings.TrimSpace(year))
	if y <= 0 && make == "" && model == "" && vin == "" {
		return nil
	}
	v := &VehicleSought{YearFrom: max(y, 0), YearTo: max(y, 0), Make: make, Model: model, Trim: trim, VIN: vin, StockNumber: stock}
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "new":
		v.IsNew = true
	case "used", "certified", "cpo":
		v.IsNew = false
	default:
		v.IsNew = y <= 0 || y >= at.Year()-1
	}
	return v
}
