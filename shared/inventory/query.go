package inventory

import (
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dealerai/integrations/shared/validation"
)

// The orders of a list: by price or by year (then price), ascending or, with "-", descending.
const (
	SortPrice     = "price"
	SortPriceDesc = "-price"
	SortYear      = "year"
	SortYearDesc  = "-year"
)

// Limits of a list's page.
const (
	DefaultLimit = 25
	MaxLimit     = 100
)

// Query is a list of a dealer's vehicles: its filters (zero values filter nothing), order and
// page.
type Query struct {
	// Make and Model match whole values, without regard to case.
	Make, Model string
	// Condition is one of ConditionNew, ConditionUsed, ConditionCertified.
	Condition string
	// Text is found, without regard to case, in the trim, the stock number or the colors.
	Text             string
	YearMin, YearMax int
	// PriceMin and PriceMax bound the price; a vehicle without one matches no price bound.
	PriceMin, PriceMax *float64
	Sort               string
	Limit              int
	Cursor             string
}

// Params are the query parameters of GET /v1/inventory.
var Params = []string{"make", "model", "yearMin", "yearMax", "condition", "priceMin", "priceMax", "q", "sort", "limit", "cursor"}

// ParseQuery reads GET /v1/inventory's query parameters; every unknown, repeated or invalid one
// is a FieldError naming it.
func ParseQuery(v url.Values) (Query, []validation.FieldError) {
	q := Query{Sort: SortPrice, Limit: DefaultLimit}
	var errs []validation.FieldError
	bad := func(name, msg string) { errs = append(errs, validation.FieldError{Field: name, Message: msg}) }
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vals := v[name]
		if !slices.Contains(Params, name) {
			bad(name, "is not a parameter of this list (the parameters are "+strings.Join(Params, ", ")+")")
			continue
		}
		if len(vals) != 1 {
			bad(name, "must be given once")
			continue
		}
		s := strings.TrimSpace(vals[0])
		switch name {
		case "make", "model", "q":
			if s == "" || len(s) > 100 {
				bad(name, "must be 1 to 100 characters")
				continue
			}
			switch name {
			case "make":
				q.Make = s
			case "model":
				q.Model = s
			default:
				q.Text = s
			}
		case "condition":
			if !slices.Contains([]string{ConditionNew, ConditionUsed, ConditionCertified}, s) {
				bad(name, "must be new, used or certified")
				continue
			}
			q.Condition = s
		case "yearMin", "yearMax":
			n, err := strconv.Atoi(s)
			if err != nil || n < 1900 || n > 2100 {
				bad(name, "must be a year from 1900 to 2100")
				continue
			}
			if name == "yearMin" {
				q.YearMin = n
			} else {
				q.YearMax = n
			}
		case "priceMin", "priceMax":
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || f < 0 || f > maxPrice || math.IsNaN(f) {
				bad(name, "must be a number from 0 to "+strconv.Itoa(maxPrice))
				continue
			}
			if name == "priceMin" {
				q.PriceMin = &f
			} else {
				q.PriceMax = &f
			}
		case "sort":
			if !slices.Contains([]string{SortPrice, SortPriceDesc, SortYear, SortYearDesc}, s) {
				bad(name, "must be price, -price, year or -year")
				continue
			}
			q.Sort = s
		case "limit":
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > MaxLimit {
				bad(name, "must be an integer from 1 to "+strconv.Itoa(MaxLimit))
				continue
			}
			q.Limit = n
		case "cursor":
			if s == "" {
				bad(name, "is not a cursor this list returned")
				continue
			}
			q.Cursor = s
		}
	}
	if q.YearMin != 0 && q.YearMax != 0 && q.YearMin > q.YearMax {
		bad("yearMax", "must not be below yearMin")
	}
	if q.PriceMin != nil && q.PriceMax != nil && *q.PriceMin > *q.PriceMax {
		bad("priceMax", "must not be below priceMin")
	}
	return q, errs
}

// Match reports whether v passes q's filters: the definition the store's queries implement.
func (q Query) Match(v Vehicle) bool {
	switch {
	case q.Make != "" && !strings.EqualFold(q.Make, v.Make),
		q.Model != "" && !strings.EqualFold(q.Model, v.Model),
		q.Condition != "" && q.Condition != v.Condition,
		q.YearMin != 0 && v.Year < q.YearMin,
		q.YearMax != 0 && (v.Year == 0 || v.Year > q.YearMax),
		q.PriceMin != nil && (v.Price == 0 || v.Price < *q.PriceMin),
		q.PriceMax != nil && (v.Price == 0 || v.Price > *q.PriceMax),
		q.Text != "" && !strings.Contains(searchText(v), strings.ToLower(q.Text)):
		return false
	}
	return true
}

// searchText is what Query.Text is looked for in.
func searchText(v Vehicle) string {
	return strings.ToLower(strings.Join([]string{v.Trim, v.StockNumber, v.ExteriorColor, v.InteriorColor}, " | "))
}
