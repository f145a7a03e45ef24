package fortellis

import (
	"context"
	"maps"
	"strings"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
)

// Progress and correlation keys of the lead and contact updates.
const (
	keyNote            = "note"            // the disposition's comment was added
	keySubStatus       = "subStatus"       // the sub-status (or inactive sub-status) set last
	keyStatus          = "status"          // "Inactive" when the opportunity was set inactive
	keyCustomerUpdated = "customerUpdated" // what the customer update changed
	keyVehicleSoughtID = "vehicleSoughtId"
	keyTradeInID       = "tradeInId"
	keyVehicle         = "vehicle" // the vehicle of interest last added, as vehicleKey says
)

// disposition delivers lead.update.disposition: a comment with the disposition and its notes
// (appended; Elead keeps its own), then the Elead sub-status it maps to — through the
// dispositionMap setting, else by name among the company's Active sub-statuses — or the
// opportunity set inactive. A lead Elead does not have yet is created from the event's fields.
func (s *session) disposition(ctx context.Context) (connector.Result, error) {
	ev := s.d.Event
	d, err := connector.Disposition(ev)
	if err != nil {
		return connector.Result{}, err
	}
	in := leadInput{firstName: d.FirstName, lastName: d.LastName, email: d.Email, phone: d.Phone,
		dateIn: ev.Timestamp, origin: ev.Type, comments: "DealerAI lead (created for its disposition update)."}
	lead, created, err := s.leadOf(ctx, in)
	if err != nil {
		return connector.Result{}, err
	}
	oppID := lead[keyOpportunityID]
	target, err := s.dispositionTarget(ctx, d)
	if err != nil {
		return connector.Result{}, err
	}
	if s.progress[keyNote] == "" {
		if err := s.addComment(ctx, oppID, dispositionNote(d)); err != nil {
			return connector.Result{}, err
		}
		s.progress[keyNote] = "added"
	}
	summary := "disposition noted on Elead opportunity " + oppID
	pushed := map[string]string{}
	switch {
	case target.subStatus == "":
		summary += "; " + target.why
	case target.inactive:
		if s.progress[keyStatus] == "" {
			if err := s.setInactive(ctx, oppID, target.subStatus, "Set inactive by DealerAI: "+dispositionLabel(d)); err != nil {
				return connector.Result{}, err
			}
			s.progress[keyStatus], s.progress[keySubStatus] = "Inactive", target.subStatus
		}
		pushed[keyStatus], pushed[keySubStatus] = "Inactive", target.subStatus
		summary += "; set inactive (" + target.subStatus + ")"
	default:
		if s.progress[keySubStatus] == "" {
			if err := s.updateSubStatus(ctx, oppID, target.subStatus); err != nil {
				return connector.Result{}, err
			}
			s.progress[keySubStatus] = target.subStatus
		}
		pushed[keySubStatus] = target.subStatus
		summary += "; sub-status " + target.subStatus
	}
	// The disposition's own record keeps what was pushed (two-way sync tells its own changes
	// from ours).
	res := connector.Result{Correlation: map[string]string{keyOpportunityID: oppID}, Summary: summary}
	maps.Copy(res.Correlation, pushed)
	if len(pushed) > 0 {
		// The state the change feed will report: the opportunity read back (its salesperson
		// too); what was set when that read fails.
		res.Pushed = map[string]string{connector.PushedStatus: firstOf(pushed[keyStatus], eleadActiveStatus), connector.PushedSubStatus: pushed[keySubStatus]}
		if opp, err := s.getOpportunity(ctx, oppID); err == nil && opp.SubStatus == pushed[keySubStatus] {
			res.Pushed = OpportunityPushed(opp)
		}
	}
	if created {
		res.LeadCorrelation = lead
		res.Summary = s.leadSummary() + "; " + res.Summary
	}
	return res, nil
}

// dispositionTarget is the Elead sub-status a disposition maps to.
type dispositionTarget struct {
	subStatus string
	inactive  bool
	// why no sub-status is set, when none is.
	why string
}

func (s *session) dispositionTarget(ctx context.Context, d *events.LeadDispositionUpdated) (dispositionTarget, error) {
	if raw := s.d.Settings["dispositionMap"]; raw != "" {
		m, err := parseDispositionMap(raw)
		if err != nil {
			return dispositionTarget{}, &connector.AttemptError{Class: connector.ClassInternal, Permanent: true,
				Message: "settings.dispositionMap " + err.Error()}
		}
		for _, k := range []string{d.DispositionCode, d.DispositionName} {
			v, ok := m[strings.ToLower(strings.TrimSpace(k))]
			if k == "" || !ok {
				continue
			}
			if v == "" {
				return dispositionTarget{why: "settings.dispositionMap maps " + k + " to a comment only"}, nil
			}
			if len(v) > len(inactiveDispositionsPrefix) && strings.EqualFold(v[:len(inactiveDispositionsPrefix)], inactiveDispositionsPrefix) {
				return dispositionTarget{subStatus: strings.TrimSpace(v[len(inactiveDispositionsPrefix):]), inactive: true}, nil
			}
			return dispositionTarget{subStatus: v}, nil
		}
	}
	for _, name := range []string{d.DispositionName, d.DispositionCode} {
		if name == "" {
			continue
		}
		sub, status, err := s.subStatusOf(ctx, name)
		if err != nil {
			return dispositionTarget{}, err
		}
		if sub != "" && strings.EqualFold(status, eleadActiveStatus) {
			return dispositionTarget{subStatus: sub}, nil
		}
	}
	return dispositionTarget{why: "no Active Elead sub-status matches " + dispositionLabel(d) + " (settings.dispositionMap can map it)"}, nil
}

func dispositionLabel(d *events.LeadDispositionUpdated) string {
	switch {
	case d.DispositionName != "" && d.DispositionCode != "":
		return d.DispositionName + " (" + d.DispositionCode + ")"
	case d.DispositionName != "":
		return d.DispositionName
	case d.DispositionCode != "":
		return d.DispositionCode
	}
	return "an unnamed disposition"
}

func dispositionNote(d *events.LeadDispositionUpdated) string {
	note := "DealerAI disposition: " + dispositionLabel(d) + "."
	if n := strings.TrimSpace(d.Notes); n != "" {
		note += " Notes: " + n
	}
	return note
}

// contactUpdate delivers contact.basic.updated: the Elead customer is read, its names set to
// the contact's, the contact's email and phone added when it lacks them (the customer's own
// are kept), and written back. A contact Elead has no customer for is skipped.
func (s *session) contactUpdate(ctx context.Context) (connector.Result, error) {
	c, err := connector.ContactUpdate(s.d.Event)
	if err != nil {
		return connector.Result{}, err
	}
	customerID := s.d.Lead[keyCustomerID]
	if customerID == "" {
		return connector.Skip("Elead has no customer for DealerAI contact " + firstOf(c.LeadID, c.ContactID) + " (its lead was never pushed): nothing to update"), nil
	}
	corr := map[string]string{keyCustomerID: customerID}
	if s.progress[keyCustomerUpdated] == "" {
		rec, err := s.getCustomer(ctx, customerID)
		if err != nil {
			return connector.Result{}, err
		}
		first, last := c.FirstName, c.LastName
		if first == "" && last == "" {
			first, last = connector.SplitName(c.Name)
		}
		changed := mergeContact(rec, first, last, c.Email, c.Phone)
		if len(changed) == 0 {
			return connector.Result{Correlation: corr, Summary: "Elead customer " + customerID + " already up to date"}, nil
		}
		if err := s.updateCustomer(ctx, customerID, *rec); err != nil {
			return connector.Result{}, err
		}
		s.progress[keyCustomerUpdated] = strings.Join(changed, ", ")
	}
	return connector.Result{Correlation: corr, Summary: "Elead customer " + customerID + " updated: " + s.progress[keyCustomerUpdated]}, nil
}

// mergeContact applies a contact's basic fields to an Elead customer and says what changed:
// names replaced when given, an email or phone the customer lacks added.
func mergeContact(c *Customer, first, last, email, phone string) []string {
	var changed []string
	if first = strings.TrimSpace(first); first != "" && first != c.FirstName {
		c.FirstName = first
		changed = append(changed, "firstName")
	}
	if last = strings.TrimSpace(last); last != "" && last != c.LastName {
		c.LastName = last
		changed = append(changed, "lastName")
	}
	if email = strings.TrimSpace(email); email != "" {
		has := false
		for _, e := range c.Emails {
			has = has || strings.EqualFold(strings.TrimSpace(e.Address), email)
		}
		if !has {
			c.Emails = append(c.Emails, Email{Address: email, EmailType: "Personal"})
			changed = append(changed, "email added")
		}
	}
	if phone = strings.TrimSpace(phone); phone != "" {
		has := false
		for _, p := range c.Phones {
			has = has || samePhone(p.Number, phone)
		}
		if !has {
			c.Phones = append(c.Phones, Phone{Number: phone, PhoneType: "Cellular", PreferredTimeToContact: "Unspecified"})
			changed = append(changed, "phone added")
		}
	}
	return changed
}

// vehicleOfInterest delivers contact.vehicleofinterest.updated: the vehicle is added to the
// lead's opportunity as a vehicle sought (primary only when the opportunity has none), or as
// a trade-in when the contact means to sell or trade it in. A vehicle the opportunity already
// has is not added again. A contact Elead has no opportunity for is skipped.
func (s *session) vehicleOfInterest(ctx context.Context) (connector.Result, error) {
	ev := s.d.Event
	v, err := connector.VehicleOfInterest(ev)
	if err != nil {
		return connector.Result{}, err
	}
	vi := v.VehicleInterest
	if vi == nil || vi.Year == "" && vi.Make == "" && vi.Model == "" && vi.VIN == "" {
		return connector.Skip("the event has no vehicle of interest"), nil
	}
	oppID := s.d.Lead[keyOpportunityID]
	if oppID == "" {
		return connector.Skip("Elead has no opportunity for DealerAI contact " + firstOf(v.LeadID, v.ContactID) + " (its lead was never pushed)"), nil
	}
	key := vehicleKey(vi)
	if s.d.Known[keyVehicle] == key && s.d.Known[keyOpportunityID] == oppID {
		return connector.Skip("this vehicle was already added to Elead opportunity " + oppID), nil
	}
	interest := strings.ToLower(strings.TrimSpace(vi.Interest))
	tradeIn := interest == "trade-in" || interest == "sell"
	idKey := keyVehicleSoughtID
	if tradeIn {
		idKey = keyTradeInID
	}
	summary := ""
	if s.progress[idKey] == "" {
		opp, err := s.getOpportunity(ctx, oppID)
		if err != nil {
			return connector.Result{}, err
		}
		sought := soughtVehicle(vi.Status, vi.Year, vi.Make, vi.Model, vi.Trim, vi.VIN, vi.Stock, ev.Timestamp)
		have := soughtRefs(opp)
		if tradeIn {
			have = have[:0]
			for _, t := range opp.TradeIns {
				have = append(have, vehicleRef{id: t.ID, year: t.Year, make: t.Make, model: t.Model, vin: t.VIN})
			}
		}
		id := matchingVehicle(have, vehicleRef{year: sought.YearFrom, make: sought.Make, model: sought.Model, vin: sought.VIN})
		switch {
		case id != "":
			summary = "already on Elead opportunity " + oppID
		case tradeIn:
			id, err = s.addTradeIn(ctx, TradeIn{OpportunityID: oppID, Year: sought.YearFrom, Make: sought.Make, Model: sought.Model, Trim: sought.Trim, VIN: sought.VIN})
		default:
			sought.OpportunityID = oppID
			sought.IsPrimary = len(opp.SoughtVehicles) == 0
			id, err = s.addVehicleSought(ctx, *sought)
		}
		if err != nil {
			return connector.Result{}, err
		}
		s.progress[idKey] = id
	}
	if summary == "" {
		what := "vehicle sought "
		if tradeIn {
			what = "trade-in "
		}
		summary = what + s.progress[idKey] + " added to Elead opportunity " + oppID
	}
	return connector.Result{
		Correlation: map[string]string{keyOpportunityID: oppID, idKey: s.progress[idKey], keyVehicle: key},
		Summary:     summary,
	}, nil
}

// vehicleKey identifies a vehicle of interest, to tell a repeated one.
func vehicleKey(v *events.VehicleInterest) string {
	return strings.ToLower(strings.Join([]string{v.Interest, v.Year, v.Make, v.Model, v.Trim, v.VIN}, "|"))
}

// vehicleRef is a vehicle an opportunity has (sought or traded in), as compared.
type vehicleRef struct {
	id, make, model, vin string
	year                 int
}

// soughtRefs are the vehicles an opportunity seeks, as compared.
func soughtRefs(opp *Opportunity) []vehicleRef {
	refs := make([]vehicleRef, 0, len(opp.SoughtVehicles))
	for _, v := range opp.SoughtVehicles {
		refs = append(refs, vehicleRef{id: v.ID, year: v.YearFrom, make: v.Make, model: v.Model, vin: v.VIN})
	}
	return refs
}

// matchingVehicle is the id of the vehicle in have that is want: the same VIN, or, without
// VINs, the same make and model (and year, when want has one); "" when none is.
func matchingVehicle(have []vehicleRef, want vehicleRef) string {
	for _, h := range have {
		switch {
		case h.id == "":
		case want.vin != "" && h.vin != "":
			if strings.EqualFold(h.vin, want.vin) {
				return h.id
			}
		case strings.EqualFold(h.make, want.make) && strings.EqualFold(h.model, want.model) && (want.year == 0 || h.year == want.year):
			return h.id
		}
	}
	return ""
}
