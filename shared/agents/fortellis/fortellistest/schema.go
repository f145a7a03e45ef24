package fortellistest

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The request schemas the fake enforces, written from the public record independently of
// the connector's types (so a wrong field name or type in the connector fails here): every
// key known, required keys present, types, enumerations and lengths. Where the record is
// silent, the fake is lenient and says so.

type kind int

const (
	text kind = iota
	boolean
	integer
	number
	dateTime // an RFC 3339 date-time string
	object
	array // of Items
)

type field struct {
	Kind     kind
	Required bool
	Enum     []string
	MaxLen   int    // characters, for strings
	Fields   schema // of an object, or of an array's objects
	Items    *field // of an array of scalars
	NonEmpty bool   // a required string must not be ""; a required array must have items
}

type schema map[string]field

// check validates v (decoded JSON) against s; the error names the field.
func (s schema) check(v map[string]any, at string) error {
	for k, val := range v {
		f, ok := s[k]
		if !ok {
			return fmt.Errorf("%s%s is not a field of this request", at, k)
		}
		if err := f.check(val, at+k); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := s[k]
		val, ok := v[k]
		if !f.Required {
			continue
		}
		if !ok || val == nil {
			return fmt.Errorf("%s%s is required", at, k)
		}
		if f.NonEmpty {
			if s, isStr := val.(string); isStr && strings.TrimSpace(s) == "" {
				return fmt.Errorf("%s%s must not be empty", at, k)
			}
			if a, isArr := val.([]any); isArr && len(a) == 0 {
				return fmt.Errorf("%s%s must not be empty", at, k)
			}
		}
	}
	return nil
}

func (f field) check(v any, at string) error {
	if v == nil {
		return nil
	}
	switch f.Kind {
	case text, dateTime:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s must be a string", at)
		}
		if f.Kind == dateTime && s != "" {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				return fmt.Errorf("%s must be an RFC 3339 date-time", at)
			}
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
			return fmt.Errorf("%s must be one of %s", at, strings.Join(f.Enum, ", "))
		}
		if f.MaxLen > 0 && utf8.RuneCountInString(s) > f.MaxLen {
			return fmt.Errorf("%s is longer than %d characters", at, f.MaxLen)
		}
	case boolean:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s must be a boolean", at)
		}
	case integer:
		n, ok := v.(float64)
		if !ok || n != math.Trunc(n) {
			return fmt.Errorf("%s must be an integer", at)
		}
	case number:
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s must be a number", at)
		}
	case object:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s must be an object", at)
		}
		return f.Fields.check(m, at+".")
	case array:
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s must be an array", at)
		}
		for i, it := range a {
			itemAt := fmt.Sprintf("%s[%d]", at, i)
			if f.Items != nil {
				if err := f.Items.check(it, itemAt); err != nil {
					return err
				}
				continue
			}
			m, ok := it.(map[string]any)
			if !ok {
				return fmt.Errorf("%s must be an object", itemAt)
			}
			if err := f.Fields.check(m, itemAt+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

// The Elead schemas: customers [SPEC S2; CODE S7 eleadsalescustomers], opportunities
// [SPEC S1], activities [CODE S7 eleadsalesactivities, S8], Appointments v3 [SPEC S11,
// CODE S10].
var (
	emailSchema = schema{
		"address":     {Kind: text, Required: true, NonEmpty: true},
		"emailType":   {Kind: text, Required: true, Enum: []string{"Unknown", "Personal", "Work", "Pager", "Alternate"}},
		"doNotEmail":  {Kind: boolean},
		"isPreferred": {Kind: boolean},
	}
	// A phone has no isPreferred; preferredTimeToContact is required.
	phoneSchema = schema{
		"number":                 {Kind: text, Required: true, NonEmpty: true},
		"phoneType":              {Kind: text, Required: true, Enum: []string{"Unknown", "Home", "Cellular", "Work"}},
		"preferredTimeToContact": {Kind: text, Required: true, Enum: []string{"Unspecified", "Day", "Evening"}},
		"doNotCall":              {Kind: boolean},
		"doNotText":              {Kind: boolean},
		"preferCall":             {Kind: boolean},
		"preferText":             {Kind: boolean},
	}
	addressSchema = schema{
		"addressLine1": {Kind: text}, "addressLine2": {Kind: text}, "city": {Kind: text}, "state": {Kind: text},
		"zip": {Kind: text, Required: true, NonEmpty: true}, "country": {Kind: text}, "county": {Kind: text},
		"doNotMail": {Kind: boolean}, "isPreferred": {Kind: boolean},
	}
	customerSchema = schema{
		"isBusiness": {Kind: boolean}, "businessName": {Kind: text}, "businessContact": {Kind: text},
		"title": {Kind: text}, "firstName": {Kind: text}, "middleName": {Kind: text}, "lastName": {Kind: text},
		"nickname": {Kind: text}, "birthday": {Kind: text},
		"emails":  {Kind: array, Fields: emailSchema},
		"phones":  {Kind: array, Fields: phoneSchema},
		"address": {Kind: object, Fields: addressSchema},
	}
	customerSearchSchema = schema{
		"firstName": {Kind: text}, "lastName": {Kind: text}, "phoneNumber": {Kind: text}, "emailAddress": {Kind: text},
	}
	upTypes             = []string{"Unknown", "Campaign", "Internet", "Phone", "Showroom"}
	vehicleSoughtFields = schema{
		"isNew": {Kind: boolean, Required: true}, "isPrimary": {Kind: boolean, Required: true},
		"yearFrom": {Kind: integer}, "yearTo": {Kind: integer}, "make": {Kind: text}, "model": {Kind: text},
		"trim": {Kind: text}, "vin": {Kind: text}, "priceFrom": {Kind: number}, "priceTo": {Kind: number},
		"maxMileage": {Kind: integer}, "stockNumber": {Kind: text},
	}
	tradeInFields = schema{
		"year": {Kind: integer}, "make": {Kind: text}, "model": {Kind: text}, "trim": {Kind: text}, "vin": {Kind: text},
		"estimatedMileage": {Kind: integer}, "interiorColor": {Kind: text}, "exteriorColor": {Kind: text},
	}
	opportunitySchema = schema{
		"customerId":     {Kind: text, Required: true, NonEmpty: true},
		"dateIn":         {Kind: dateTime},
		"source":         {Kind: text, Required: true, NonEmpty: true},
		"subSource":      {Kind: text},
		"status":         {Kind: text},
		"subStatus":      {Kind: text},
		"upType":         {Kind: text, Required: true, Enum: upTypes},
		"comments":       {Kind: text, MaxLen: 1500},
		"soughtVehicles": {Kind: array, Fields: vehicleSoughtFields},
		"tradeIns":       {Kind: array, Fields: tradeInFields},
		"salesSteps":     {Kind: array, Fields: schema{"name": {Kind: text, Required: true}}},
		"salesTeam": {Kind: array, Fields: schema{"id": {Kind: text, Required: true}, "isPrimary": {Kind: boolean, Required: true},
			"isPositionPrimary": {Kind: boolean, Required: true}, "positionCode": {Kind: text, Required: true}}},
	}
	commentSchema = schema{
		"opportunityId": {Kind: text, Required: true, NonEmpty: true},
		"comment":       {Kind: text, Required: true, NonEmpty: true, MaxLen: 1500},
	}
	vehicleSoughtSchema = with(vehicleSoughtFields, "opportunityId", field{Kind: text, Required: true, NonEmpty: true})
	tradeInSchema       = with(tradeInFields, "opportunityId", field{Kind: text, Required: true, NonEmpty: true})
	subStatusSchema     = schema{"subStatus": {Kind: text, Required: true, NonEmpty: true}}
	setInactiveSchema   = schema{
		"opportunityId":            {Kind: text, Required: true, NonEmpty: true},
		"inactiveSubStatus":        {Kind: text, Required: true, NonEmpty: true},
		"nextExpectedPurchaseDate": {Kind: dateTime},
		"comments":                 {Kind: text, MaxLen: 1500},
	}
	// activityType is the company's integer id; there is no activityTypeId.
	scheduleSchema = schema{
		"opportunityId":      {Kind: text, Required: true, NonEmpty: true},
		"dueDate":            {Kind: dateTime, Required: true, NonEmpty: true},
		"activityName":       {Kind: text, Required: true, NonEmpty: true},
		"activityType":       {Kind: integer, Required: true},
		"comments":           {Kind: text},
		"assignToEmployeeId": {Kind: text},
	}
	// Appointments v3: the record's fields; dateTime and requestedServices are what an
	// appointment cannot do without (the reference marks no field required in what we have).
	serviceAppointmentSchema = schema{
		"dateTime":          {Kind: dateTime, Required: true, NonEmpty: true},
		"requestedServices": {Kind: array, Required: true, NonEmpty: true, Fields: schema{"description": {Kind: text, Required: true, NonEmpty: true}, "sourceHref": {Kind: text}}},
		"vehicleHref":       {Kind: text},
		"vehicleMileage":    {Kind: object, Fields: schema{"value": {Kind: number}, "units": {Kind: text}}},
		"customerHref":      {Kind: text},
		"contact": {Kind: object, Fields: schema{"label": {Kind: text}, "uri": {Kind: text},
			"preferences": {Kind: array, Fields: schema{"startDay": {Kind: text}, "endDay": {Kind: text}, "startTime": {Kind: text}, "endTime": {Kind: text}}}}},
		"transportHref": {Kind: text},
		"advisorHref":   {Kind: text},
		"concerns":      {Kind: text},
		"remarks":       {Kind: text},
	}
)

func with(s schema, key string, f field) schema {
	out := schema{key: f}
	for k, v := range s {
		out[k] = v
	}
	return out
}
