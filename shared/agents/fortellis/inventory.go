package fortellis

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/inventory"
	"github.com/dealerai/integrations/shared/validation"
)

// The dealer's vehicle inventory, read by the two-way sync from CDK's Merchandisable Vehicles
// v2 (MVS2) and kept by package inventory (docs/agents.md#fortellis-inventory).

// DefaultInventoryURL is MVS2's production URL; CDK's test environment is under /cdk-test/.
const DefaultInventoryURL = "https://api.fortellis.io/cdk/sales/inventory/v2/merchandisable-vehicles/"

// inventorySettings are the settings of the inventory: its scope (dealerCode or webId; the
// inventory is synced only with one) and MVS2's URL.
var inventorySettings = []platform.KeySpec{
	{Key: "dealerCode", Description: "the dealer's CDK dealer code: the inventory is synced for it (one of dealerCode or webId; neither: no inventory)"},
	{Key: "webId", Description: "the dealer's CDK web id, the inventory's scope instead of dealerCode"},
	{Key: "inventoryUrl", Default: DefaultInventoryURL, URL: true, Description: "Merchandisable Vehicles v2 URL (…/cdk-test/sales/inventory/v2/merchandisable-vehicles/ for CDK's test environment)"},
}

// MVS2's limits and the feed's overlap.
const (
	// mvsMaxLimit is the most vehicles one call may ask for.
	mvsMaxLimit = 100
	// windowOverlap re-reads the end of the previous window, for changes the platform
	// records late; vehicles read again unchanged publish nothing.
	windowOverlap = 2 * time.Minute
	// mvsTime is the format of modifiedTimeRange's ends.
	mvsTime = "2006-01-02T15:04:05.000Z"
)

// checkInventory: one scope at most, of plain characters; a URL without a query (its host is
// checked as every URL setting's).
func checkInventory(settings map[string]string) []validation.FieldError {
	var errs []validation.FieldError
	if settings["dealerCode"] != "" && settings["webId"] != "" {
		errs = append(errs, validation.FieldError{Field: "settings.webId", Message: "give dealerCode or webId, not both"})
	}
	for _, k := range []string{"dealerCode", "webId"} {
		if v := settings[k]; len(v) > 64 || strings.ContainsAny(v, "&?#/ ") {
			errs = append(errs, validation.FieldError{Field: "settings." + k, Message: "must be up to 64 characters without spaces or &?#/"})
		}
	}
	if u, err := url.Parse(settings["inventoryUrl"]); err == nil && (u.RawQuery != "" || u.Fragment != "") {
		errs = append(errs, validation.FieldError{Field: "settings.inventoryUrl", Message: "must be the Merchandisable Vehicles v2 URL, without a query"})
	}
	return errs
}

// InventoryFeed is the inventory's change feed: a full load once (paged by offset), then
// each run the vehicles modified since the previous run (modifiedTimeRange) and those
// deleted (deleted=true). It compares each vehicle with the one stored (Request.Seen, the
// inventory store) and returns only what changed; a vehicle stored and then deleted is
// removed.
type InventoryFeed struct {
	Tokens *oauth.Cache
}

var _ changefeed.Feed = (*InventoryFeed)(nil)

// The phases of the inventory's cursor.
const (
	phaseLoad    = "load"    // the full load, until To (its start)
	phaseChanges = "changes" // vehicles modified in From..To
	phaseDeleted = "deleted" // vehicles deleted in From..To
	phaseIdle    = "idle"    // synced: the next window starts at Since
)

// invCursor is the feed's cursor (changefeed.Cursor.Value, JSON).
type invCursor struct {
	Phase  string    `json:"p"`
	From   time.Time `json:"from,omitzero"`
	To     time.Time `json:"to,omitzero"`
	Offset int       `json:"o,omitempty"`
	// Total is the result count MVS2 gave at the last page: when it drops, vehicles before
	// the offset left the list, and the offset moves back as many (nothing is skipped).
	Total int       `json:"t,omitempty"`
	Since time.Time `json:"s,omitzero"`
}

func (c invCursor) encode() changefeed.Cursor {
	b, _ := json.Marshal(c)
	t := c.Since
	if c.Phase != phaseIdle {
		t = c.From
	}
	return changefeed.Cursor{Value: string(b), Time: t}
}

// Changes implements changefeed.Feed: MVS2 pages until req.MaxRecords vehicles are read or
// the run's window is done.
func (f *InventoryFeed) Changes(ctx context.Context, req *changefeed.Request) (*changefeed.Page, error) {
	if !inventory.Scoped(req.Settings) {
		return &changefeed.Page{Next: req.Cursor}, nil
	}
	if req.Seen == nil {
		return nil, changefeed.Errorf(changefeed.Transient, "the sync keeps no inventory")
	}
	out := &changefeed.Page{}
	var cur invCursor
	if req.Cursor.Value != "" {
		if err := json.Unmarshal([]byte(req.Cursor.Value), &cur); err != nil || cur.Phase == "" {
			cur = invCursor{}
			out.Notes = append(out.Notes, "the inventory cursor was not readable: the inventory is loaded again")
		}
	}
	now := req.Now.UTC().Truncate(time.Millisecond)
	if cur.Phase == "" {
		cur = invCursor{Phase: phaseLoad, To: now}
	}
	if cur.Phase == phaseIdle {
		cur = invCursor{Phase: phaseChanges, From: cur.Since, To: now}
	}
	s := &session{tokens: f.Tokens, grant: grant(req.Settings, req.Credentials), d: &connector.Delivery{
		DealerID: req.DealerID, Settings: maps.Clone(req.Settings), Credentials: req.Credentials, HTTP: req.HTTP}}
	s.d.Settings["baseUrl"] = req.Settings["inventoryUrl"]
	budget := max(req.MaxRecords, 1)
	for calls := 0; ; calls++ {
		limit := min(mvsMaxLimit, max(budget-out.RecordsRead, 1))
		ans, err := f.page(ctx, s, req.Settings, cur, limit)
		if err != nil {
			if out.RecordsRead > 0 {
				break // the pages read so far are returned; the failure comes back next call
			}
			return nil, err
		}
		out.RecordsRead += len(ans.Results)
		if cur.Total > 0 && ans.Summary.TotalCount < cur.Total {
			// Vehicles before the offset may have left the list: read them again.
			cur.Offset = max(0, cur.Offset-(cur.Total-ans.Summary.TotalCount))
			cur.Total = ans.Summary.TotalCount
			if calls < 20 && out.RecordsRead < budget {
				continue
			}
			out.More = true
			break
		}
		changes, notes, err := f.compare(ctx, req, cur.Phase, ans.Results)
		if err != nil {
			return nil, err
		}
		out.Changes = append(out.Changes, changes...)
		out.Notes = append(out.Notes, notes...)
		cur.Offset += len(ans.Results)
		cur.Total = ans.Summary.TotalCount
		if len(ans.Results) < limit || cur.Offset >= ans.Summary.TotalCount {
			switch cur.Phase {
			case phaseLoad:
				cur = invCursor{Phase: phaseIdle, Since: cur.To.Add(-windowOverlap)}
			case phaseChanges:
				cur = invCursor{Phase: phaseDeleted, From: cur.From, To: cur.To}
			default:
				cur = invCursor{Phase: phaseIdle, Since: cur.To.Add(-windowOverlap)}
			}
		}
		if cur.Phase == phaseIdle {
			break
		}
		if out.RecordsRead >= budget || ctx.Err() != nil {
			out.More = true
			break
		}
	}
	out.Next = cur.encode()
	return out, nil
}

// mvsAnswer is MVS2's answer {filters, metadata, results, summary}.
type mvsAnswer struct {
	Results []mvsVehicle `json:"results"`
	Summary struct {
		TotalCount int `json:"totalCount"`
	} `json:"summary"`
}

type mvsVehicle struct {
	VIN         string `json:"vin"`
	StockNumber string `json:"stockNumber"`
	Year        any    `json:"year"`
	Make        string `json:"make"`
	Model       string `json:"model"`
	Trim        string `json:"trim"`
	BodyStyle   string `json:"bodyStyleClassification"`
	Color       struct {
		Exterior struct {
			BaseColor string `json:"baseColor"`
		} `json:"exterior"`
		Interior struct {
			BaseColor string `json:"baseColor"`
		} `json:"interior"`
	} `json:"color"`
	Odometer struct {
		Value any `json:"value"`
	} `json:"odometer"`
	Category      string `json:"category"`
	VehicleStatus struct {
		InventoryStatus string `json:"inventoryStatus"`
	} `json:"vehicleStatus"`
	Deleted          bool   `json:"deleted"`
	CreatedDate      string `json:"createdDate"`
	LastModifiedDate string `json:"lastModifiedDate"`
	Financials       struct {
		Prices []struct {
			Type   string  `json:"type"`
			Amount float64 `json:"amount"`
		} `json:"prices"`
	} `json:"financials"`
}

// page reads one MVS2 page of the cursor's phase.
func (f *InventoryFeed) page(ctx context.Context, s *session, settings map[string]string, cur invCursor, limit int) (*mvsAnswer, error) {
	q := url.Values{}
	if v := settings["dealerCode"]; v != "" {
		q.Set("dealerCode", v)
	} else {
		q.Set("webId", settings["webId"])
	}
	q.Set("limit", strconv.Itoa(limit))
	q.Set("offset", strconv.Itoa(cur.Offset))
	q.Set("includeAllPrices", "true")
	if cur.Phase != phaseLoad {
		q.Set("modifiedTimeRange", cur.From.UTC().Format(mvsTime)+":"+cur.To.UTC().Format(mvsTime))
	}
	if cur.Phase == phaseDeleted {
		q.Set("deleted", "true")
	}
	resp, err := s.send(ctx, call{method: "GET", path: "/?" + q.Encode(), step: "Fortellis inventory"})
	if err != nil {
		return nil, err
	}
	var ans mvsAnswer
	if err := decodeAnswer(resp, &ans, "Fortellis inventory"); err != nil {
		return nil, err
	}
	return &ans, nil
}

// compare turns a page into changes: each vehicle against the stored one (added, updated,
// or nothing), or in the deleted phase each stored vehicle's removal.
func (f *InventoryFeed) compare(ctx context.Context, req *changefeed.Request, phase string, results []mvsVehicle) ([]changefeed.Change, []string, error) {
	var notes []string
	vins := make([]string, 0, len(results))
	for _, r := range results {
		if r.VIN != "" {
			vins = append(vins, r.VIN)
		}
	}
	if len(vins) < len(results) {
		notes = append(notes, fmt.Sprintf("%d vehicles without a VIN were left out", len(results)-len(vins)))
	}
	stored, err := req.Seen.Remembered(ctx, inventory.RecordKind, vins)
	if err != nil {
		return nil, nil, err
	}
	var out []changefeed.Change
	for _, r := range results {
		if r.VIN == "" {
			continue
		}
		old, digest, had := inventory.Decode(stored[r.VIN])
		if phase == phaseDeleted || r.Deleted {
			if had {
				out = append(out, inventory.Removal(old, parseMVSTime(r.LastModifiedDate)))
			}
			continue
		}
		var prev *inventory.Vehicle
		if had {
			prev = &old
		}
		if c, changed := inventory.Diff(prev, digest, vehicleOf(r)); changed {
			out = append(out, c)
		}
	}
	return out, notes, nil
}

// vehicleOf is a vehicle of MVS2 in DealerAI's terms: the price the dealer asks is the
// advertised price, else the selling price, else the base retail price.
func vehicleOf(r mvsVehicle) inventory.Vehicle {
	prices := map[string]float64{}
	for _, p := range r.Financials.Prices {
		if p.Amount > 0 {
			prices[strings.ToUpper(p.Type)] = p.Amount
		}
	}
	price := prices["ADVERTISED"]
	if price == 0 {
		price = prices["SELLING"]
	}
	if price == 0 {
		price = prices["BASE_RETAIL"]
	}
	return inventory.Vehicle{
		VIN: strings.ToUpper(strings.TrimSpace(r.VIN)), StockNumber: r.StockNumber, Year: toInt(r.Year),
		Make: r.Make, Model: r.Model, Trim: r.Trim, BodyStyle: r.BodyStyle,
		ExteriorColor: r.Color.Exterior.BaseColor, InteriorColor: r.Color.Interior.BaseColor,
		Condition: condition(r.Category), Mileage: toInt(r.Odometer.Value), Price: price, MSRP: prices["MSRP"],
		Status: r.VehicleStatus.InventoryStatus, ListedAt: parseMVSTime(r.CreatedDate), UpdatedAt: parseMVSTime(r.LastModifiedDate),
	}
}

// condition maps MVS2's category; an unknown one is left out.
func condition(category string) string {
	switch c := strings.ToLower(strings.TrimSpace(category)); c {
	case inventory.ConditionNew, inventory.ConditionUsed, inventory.ConditionDemo:
		return c
	case inventory.ConditionCertified, "cpo", "certified pre-owned":
		return inventory.ConditionCertified
	}
	return ""
}

func toInt(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case string:
		n, _ := strconv.Atoi(strings.TrimSpace(x))
		return n
	}
	return 0
}

func parseMVSTime(s string) time.Time {
	for _, layout := range []string{mvsTime, time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
