package httpapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/inventory"
)

type inventoryPage struct {
	Available  bool                `json:"available"`
	Detail     string              `json:"detail"`
	Items      []inventory.Vehicle `json:"items"`
	NextCursor *string             `json:"nextCursor"`
}

// stockOf stores n varied vehicles for dealer, as the sync would.
func stockOf(t *testing.T, at *apiTest, dealer string, n int, seed uint64) []inventory.Vehicle {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	var vs []inventory.Vehicle
	var changes []changefeed.Change
	prefix := strings.ToUpper(strings.TrimPrefix(dealer, "dlr_"))
	for i := range n {
		mk := []string{"Toyota", "Honda", "Ford"}[r.IntN(3)]
		models := map[string][]string{"Toyota": {"RAV4", "Camry"}, "Honda": {"Civic"}, "Ford": {"F-150", "Escape"}}[mk]
		v := inventory.Vehicle{
			VIN: fmt.Sprintf("%s%05dX%08d", prefix, i, seed), StockNumber: fmt.Sprintf("T%04d", i), Year: 2017 + r.IntN(9), Make: mk,
			Model: models[r.IntN(len(models))],
			Trim:  []string{"LE", "XLE", "Sport"}[r.IntN(3)], ExteriorColor: []string{"White", "Black", "Red"}[r.IntN(3)],
			Condition: []string{"new", "used", "certified"}[r.IntN(3)], Price: float64(18000 + 250*r.IntN(80)), Mileage: r.IntN(50000),
		}
		vs = append(vs, v)
		c, _ := inventory.Diff(nil, "", v)
		changes = append(changes, c)
	}
	if err := at.stock.Remember(context.Background(), dealer, "fortellis", (&changefeed.Page{Changes: changes}).Memories()); err != nil {
		t.Fatal(err)
	}
	return vs
}

// independently is the filter of GET /v1/inventory as a user reads its documentation.
func independently(vs []inventory.Vehicle, params url.Values) []string {
	var out []string
	for _, v := range vs {
		ok := true
		for k := range params {
			p := params.Get(k)
			var n float64
			fmt.Sscan(p, &n)
			switch k {
			case "make":
				ok = ok && strings.EqualFold(v.Make, p)
			case "model":
				ok = ok && strings.EqualFold(v.Model, p)
			case "condition":
				ok = ok && v.Condition == p
			case "yearMin":
				ok = ok && float64(v.Year) >= n
			case "yearMax":
				ok = ok && float64(v.Year) <= n
			case "priceMin":
				ok = ok && v.Price >= n
			case "priceMax":
				ok = ok && v.Price <= n
			case "q":
				hay := strings.ToLower(v.Trim + " " + v.StockNumber + " " + v.ExteriorColor + " " + v.InteriorColor)
				ok = ok && strings.Contains(hay, strings.ToLower(p))
			}
		}
		if ok {
			out = append(out, v.VIN)
		}
	}
	slices.Sort(out)
	return out
}

// GET /v1/inventory and /v1/inventory/{vin}: available only with an enabled, scoped Fortellis
// agent; the filters and orders; 400 naming each bad parameter; another dealer's VIN is 404.
func TestInventoryRoutes(t *testing.T) {
	at := newAPITest(t)
	ctx := context.Background()
	tok := at.token("dlr_inv")
	vs := stockOf(t, at, "dlr_inv", 300, 1)
	other := stockOf(t, at, "dlr_other", 20, 2)

	// No Fortellis agent: an empty list, not an error.
	var page inventoryPage
	at.do("GET", "/v1/inventory", tok, nil).json(t, &page)
	if page.Available || len(page.Items) != 0 || !strings.Contains(page.Detail, "Fortellis") || page.NextCursor != nil {
		t.Fatalf("without an agent: %+v", page)
	}
	at.do("GET", "/v1/inventory/"+vs[0].VIN, tok, nil).problem(t, http.StatusNotFound)

	// Enabled without a scope: still none.
	a := &agents.Agent{DealerID: "dlr_inv", Platform: "fortellis", Enabled: true, Events: []string{"lead.created"}, Settings: map[string]string{"subscriptionId": "s"},
		Credentials: map[string]string{"apiKey": "k", "apiSecret": "s"}}
	if _, err := at.agents.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	at.do("GET", "/v1/inventory", tok, nil).json(t, &page)
	if page.Available || !strings.Contains(page.Detail, "dealerCode") {
		t.Fatalf("without a scope: %+v", page)
	}
	a.Settings["dealerCode"] = "D1"
	a.Version = 1
	if _, err := at.agents.Put(ctx, a); err != nil {
		t.Fatal(err)
	}

	for _, raw := range []string{
		"", "make=TOYOTA", "make=ford&model=escape&sort=-year", "condition=certified&priceMax=25000&sort=-price",
		"yearMin=2020&yearMax=2023&sort=year&limit=100", "priceMin=30000&sort=price&limit=7", "q=xle&make=honda",
		"q=t01&sort=-price", "q=red&condition=new&yearMin=2019&priceMin=20000&priceMax=35000&sort=year&limit=3",
	} {
		params, _ := url.ParseQuery(raw)
		want := independently(vs, params)
		var got []string
		path := "/v1/inventory?" + raw
		for range 400 {
			var p inventoryPage
			at.do("GET", path, tok, nil).json(t, &p)
			if !p.Available {
				t.Fatalf("%s: not available: %s", raw, p.Detail)
			}
			for _, v := range p.Items {
				got = append(got, v.VIN)
			}
			if p.NextCursor == nil {
				break
			}
			next := url.Values{}
			for k, v := range params {
				next[k] = v
			}
			next.Set("cursor", *p.NextCursor)
			path = "/v1/inventory?" + next.Encode()
		}
		slices.Sort(got)
		if !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("%s: %d vehicles, want %d", raw, len(got), len(want))
		}
	}
	// Sorted: the first page by -price starts with the most expensive.
	at.do("GET", "/v1/inventory?sort=-price&limit=5", tok, nil).json(t, &page)
	maxPrice := 0.0
	for _, v := range vs {
		maxPrice = max(maxPrice, v.Price)
	}
	if len(page.Items) != 5 || page.Items[0].Price != maxPrice || page.Items[4].Price > page.Items[0].Price {
		t.Errorf("-price: %+v", page.Items)
	}

	for raw, field := range map[string]string{
		"color=red": "color", "condition=demo": "condition", "yearMin=abc": "yearMin", "priceMax=-5": "priceMax",
		"sort=mileage": "sort", "limit=0": "limit", "cursor=bm9wZQ": "cursor", "make=a&make=b": "make",
	} {
		p := at.do("GET", "/v1/inventory?"+raw, tok, nil).problem(t, http.StatusBadRequest)
		if !hasField(p, field) {
			t.Errorf("%s: %+v, want the field %s", raw, p, field)
		}
	}

	var v inventory.Vehicle
	at.do("GET", "/v1/inventory/"+strings.ToLower(vs[3].VIN), tok, nil).json(t, &v)
	if v.VIN != vs[3].VIN || v.Price != vs[3].Price || v.Make != vs[3].Make {
		t.Errorf("one vehicle: %+v, want %+v", v, vs[3])
	}
	at.do("GET", "/v1/inventory/"+other[0].VIN, tok, nil).problem(t, http.StatusNotFound)
	at.do("GET", "/v1/inventory/NOSUCHVIN", tok, nil).problem(t, http.StatusNotFound)

	// Disabled: none again.
	a.Enabled, a.Version = false, 2
	if _, err := at.agents.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	at.do("GET", "/v1/inventory", tok, nil).json(t, &page)
	if page.Available || len(page.Items) != 0 || !strings.Contains(page.Detail, "disabled") {
		t.Errorf("disabled: %+v", page)
	}
}
