package fortellistest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The paths of CDK's Merchandisable Vehicles v2 (MVS2) [NOTE S9]: production and test.
const (
	InventoryPath     = "/cdk/sales/inventory/v2/merchandisable-vehicles/"
	TestInventoryPath = "/cdk-test/sales/inventory/v2/merchandisable-vehicles/"
)

// mvsTime is MVS2's time format (modifiedTimeRange, createdDate, lastModifiedDate).
const mvsTime = "2006-01-02T15:04:05.000Z"

// Inventory is the fake's MVS2 inventory of one dealer (DealerCode or WebID). It answers what
// the guide says MVS2 answers: the scope (dealerCode or webId) required, limit at most 100
// (default 10), offset, modifiedTimeRange=<start>:<end> in YYYY-MM-DDThh:mm:ss.sssZ,
// deleted=true for the vehicles sold or removed, results sorted by createdDate ascending,
// {filters, metadata, results, summary{totalCount, displayableCount, limit, offset}}, and 429
// for the calls RateLimit makes it refuse.
type Inventory struct {
	DealerCode string
	WebID      string
	// Now is the platform's clock (time.Now when nil): the dates of changes.
	Now func() time.Time

	mu       sync.Mutex
	vehicles []*stockVehicle // by createdDate
	byVIN    map[string]*stockVehicle
	limited  int
	okBefore int
	calls    int
	serial   int
}

type stockVehicle struct {
	vin, stock, make, model, trim, body, ext, interior, category, status string
	year, odometer                                                       int
	price, msrp                                                          float64
	created, modified                                                    time.Time
	deleted                                                              bool
}

// StockVehicle is a vehicle as a test sees it in the fake.
type StockVehicle struct {
	VIN, StockNumber, Make, Model, Trim, BodyStyle, ExteriorColor, InteriorColor string
	// Category is new, used, certified or demo.
	Category, Status string
	Year, Odometer   int
	// Price is the advertised price (0: none); MSRP the manufacturer's.
	Price, MSRP       float64
	Created, Modified time.Time
	Deleted           bool
}

func (v *stockVehicle) export() StockVehicle {
	return StockVehicle{VIN: v.vin, StockNumber: v.stock, Make: v.make, Model: v.model, Trim: v.trim, BodyStyle: v.body,
		ExteriorColor: v.ext, InteriorColor: v.interior, Category: v.category, Status: v.status, Year: v.year,
		Odometer: v.odometer, Price: v.price, MSRP: v.msrp, Created: v.created, Modified: v.modified, Deleted: v.deleted}
}

// NewInventory returns an inventory of n generated vehicles (the same ones for the same seed),
// created over the 90 days before now, for dealerCode.
func NewInventory(dealerCode string, n int, seed uint64, now time.Time) *Inventory {
	inv := &Inventory{DealerCode: dealerCode, byVIN: map[string]*stockVehicle{}}
	r := rand.New(rand.NewPCG(seed, 15))
	start := now.Add(-90 * 24 * time.Hour)
	for i := range n {
		created := start.Add(time.Duration(i) * 90 * 24 * time.Hour / time.Duration(max(n, 1))).Truncate(time.Millisecond)
		inv.add(inv.generate(r, created))
	}
	return inv
}

var models = []struct {
	make, model, body string
	trims             []string
	base              float64
}{
	{"Toyota", "RAV4", "SUV", []string{"LE", "XLE", "XLE Premium", "Limited"}, 29000},
	{"Toyota", "Camry", "Sedan", []string{"LE", "SE", "XSE"}, 27000},
	{"Toyota", "Tacoma", "Truck", []string{"SR", "SR5", "TRD Off-Road"}, 32000},
	{"Honda", "Civic", "Sedan", []string{"LX", "Sport", "EX", "Touring"}, 24000},
	{"Honda", "CR-V", "SUV", []string{"LX", "EX", "EX-L", "Touring"}, 30000},
	{"Ford", "F-150", "Truck", []string{"XL", "XLT", "Lariat", "Platinum"}, 38000},
	{"Ford", "Escape", "SUV", []string{"S", "SE", "Titanium"}, 28000},
	{"Chevrolet", "Equinox", "SUV", []string{"LS", "LT", "Premier"}, 27000},
	{"Chevrolet", "Silverado 1500", "Truck", []string{"WT", "LT", "RST", "High Country"}, 40000},
	{"Hyundai", "Tucson", "SUV", []string{"SE", "SEL", "Limited"}, 28000},
}

var colors = []string{"White", "Black", "Silver", "Gray", "Blue", "Red", "Green"}

// generate makes a vehicle (inv.mu held or not yet shared).
func (inv *Inventory) generate(r *rand.Rand, created time.Time) *stockVehicle {
	inv.serial++
	m := models[r.IntN(len(models))]
	year := 2018 + r.IntN(8)
	category := "used"
	switch x := r.IntN(10); {
	case year >= 2025 && x < 7:
		category = "new"
	case x < 2:
		category = "certified"
	case x == 2 && year >= 2024:
		category = "demo"
	}
	odo := 5 + r.IntN(20)
	if category != "new" {
		odo = 3000 + r.IntN(90000)
	}
	msrp := m.base + float64(r.IntN(12))*1000
	price := msrp - float64(r.IntN(40))*100 - float64(2025-min(year, 2025))*2500
	if r.IntN(40) == 0 {
		price = 0 // "call for price"
	}
	status := "In Stock"
	if r.IntN(15) == 0 {
		status = "In Transit"
	}
	return &stockVehicle{
		vin:   fmt.Sprintf("1FK%s%06d", strings.ToUpper(string(rune('A'+r.IntN(26)))+fmt.Sprintf("%07d", r.IntN(10_000_000))), inv.serial),
		stock: fmt.Sprintf("S%05d", inv.serial), make: m.make, model: m.model, trim: m.trims[r.IntN(len(m.trims))], body: m.body,
		ext: colors[r.IntN(len(colors))], interior: []string{"Black", "Gray", "Beige"}[r.IntN(3)], category: category,
		status: status, year: year, odometer: odo, price: price, msrp: msrp, created: created, modified: created,
	}
}

func (inv *Inventory) add(v *stockVehicle) {
	inv.vehicles = append(inv.vehicles, v)
	inv.byVIN[v.vin] = v
}

func (inv *Inventory) now() time.Time {
	if inv.Now != nil {
		return inv.Now().UTC().Truncate(time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

// Vehicles returns the vehicles, the deleted ones included, by createdDate.
func (inv *Inventory) Vehicles() []StockVehicle {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	out := make([]StockVehicle, 0, len(inv.vehicles))
	for _, v := range inv.vehicles {
		out = append(out, v.export())
	}
	return out
}

// SetPrice changes a vehicle's advertised price (a price change in the DMS).
func (inv *Inventory) SetPrice(vin string, price float64) {
	inv.change(vin, func(v *stockVehicle) { v.price = price })
}

// Touch marks a vehicle modified without changing it (a DMS that rewrites the record).
func (inv *Inventory) Touch(vin string) { inv.change(vin, func(*stockVehicle) {}) }

// Sell marks a vehicle deleted (sold): it leaves the list and appears with deleted=true.
func (inv *Inventory) Sell(vin string) {
	inv.change(vin, func(v *stockVehicle) { v.deleted, v.status = true, "Sold" })
}

func (inv *Inventory) change(vin string, f func(*stockVehicle)) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	v := inv.byVIN[vin]
	if v == nil {
		panic("fortellistest: no vehicle " + vin)
	}
	f(v)
	v.modified = inv.now()
}

// Arrive adds a generated vehicle (a new arrival) and returns it.
func (inv *Inventory) Arrive(seed uint64) StockVehicle {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	v := inv.generate(rand.New(rand.NewPCG(seed, 16)), inv.now())
	inv.add(v)
	return v.export()
}

// RateLimit makes the next n calls answer 429 with Retry-After: 1.
func (inv *Inventory) RateLimit(n int) { inv.RateLimitAfter(0, n) }

// RateLimitAfter answers the next ok calls, then makes n calls answer 429 (a plan's quota
// reached in the middle of a load).
func (inv *Inventory) RateLimitAfter(ok, n int) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.okBefore, inv.limited = ok, n
}

// Calls is how many calls the inventory answered (429s included).
func (inv *Inventory) Calls() int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.calls
}

// SetInventory makes the fake answer MVS2 from inv (both paths).
func (f *Fake) SetInventory(inv *Inventory) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inventory = inv
}

func (f *Fake) merchandisableVehicles(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	inv := f.inventory
	f.mu.Unlock()
	if inv == nil {
		gatewayError(w, http.StatusForbidden, "UNAUTHORIZED-API-ACCESS", "the solution is not subscribed to Merchandisable Vehicles")
		return
	}
	inv.serve(w, r)
}

func (inv *Inventory) serve(w http.ResponseWriter, r *http.Request) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.calls++
	if inv.okBefore > 0 {
		inv.okBefore--
	} else if inv.limited > 0 {
		inv.limited--
		w.Header().Set("Retry-After", "1")
		gatewayError(w, http.StatusTooManyRequests, "QUOTA-EXCEEDED", "rate limit exceeded")
		return
	}
	q := r.URL.Query()
	bad := func(msg string) { eleadError(w, http.StatusBadRequest, "INVALID-PARAMETER", msg) }
	for name, vals := range q {
		if !slices.Contains([]string{"dealerCode", "webId", "dealerType", "limit", "offset", "modifiedTimeRange", "deleted", "includeAllPrices"}, name) {
			bad("unknown parameter " + name)
			return
		}
		if len(vals) != 1 {
			bad(name + " given more than once")
			return
		}
	}
	code, web := q.Get("dealerCode"), q.Get("webId")
	if code == "" {
		code = r.Header.Get("dealerCode")
	}
	switch {
	case code == "" && web == "":
		bad("dealerCode or webId is required")
		return
	case code != "" && code != inv.DealerCode, web != "" && web != inv.WebID:
		eleadError(w, http.StatusForbidden, "DEALER-NOT-SUBSCRIBED", "the subscription has no such dealer")
		return
	}
	limit, offset := 10, 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			bad("limit must be 1 to 100")
			return
		}
		limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			bad("offset must be a non-negative integer")
			return
		}
		offset = n
	}
	deleted := false
	if s := q.Get("deleted"); s != "" {
		if s != "true" && s != "false" {
			bad("deleted must be true or false")
			return
		}
		deleted = s == "true"
	}
	var from, to time.Time
	if s := q.Get("modifiedTimeRange"); s != "" {
		a, b, ok := strings.Cut(s, "Z:")
		var err1, err2 error
		if ok {
			from, err1 = time.Parse(mvsTime, a+"Z")
			to, err2 = time.Parse(mvsTime, b)
		}
		if !ok || err1 != nil || err2 != nil || to.Before(from) {
			bad("modifiedTimeRange must be <start>:<end> in YYYY-MM-DDThh:mm:ss.sssZ")
			return
		}
	}
	var match []*stockVehicle
	for _, v := range inv.vehicles {
		if v.deleted != deleted {
			continue
		}
		if !from.IsZero() && (v.modified.Before(from) || v.modified.After(to)) {
			continue
		}
		match = append(match, v)
	}
	results := []map[string]any{}
	for _, v := range match[min(offset, len(match)):min(offset+limit, len(match))] {
		results = append(results, v.json())
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"filters":  []any{},
		"metadata": map[string]any{"dealerCode": inv.DealerCode},
		"results":  results,
		"summary":  map[string]any{"totalCount": len(match), "displayableCount": len(match), "limit": limit, "offset": offset},
	})
}

// json is the vehicle in MVS2's shape [NOTE S9].
func (v *stockVehicle) json() map[string]any {
	prices := []map[string]any{{"type": "MSRP", "amount": v.msrp}, {"type": "BASE_RETAIL", "amount": v.msrp - 500}}
	if v.price > 0 {
		prices = append(prices, map[string]any{"type": "ADVERTISED", "amount": v.price})
	}
	return map[string]any{
		"vin": v.vin, "stockNumber": v.stock, "year": v.year, "make": v.make, "model": v.model, "trim": v.trim,
		"bodyStyleClassification": v.body,
		"color":                   map[string]any{"exterior": map[string]any{"baseColor": v.ext}, "interior": map[string]any{"baseColor": v.interior}},
		"odometer":                map[string]any{"value": v.odometer, "unit": "MILES"},
		"category":                v.category,
		"vehicleStatus":           map[string]any{"inventoryStatus": v.status},
		"deleted":                 v.deleted, "marketable": !v.deleted,
		"createdDate": v.created.Format(mvsTime), "lotDate": v.created.Format("2006-01-02"),
		"lastModifiedDate": v.modified.Format(mvsTime),
		"financials":       map[string]any{"prices": prices},
	}
}
