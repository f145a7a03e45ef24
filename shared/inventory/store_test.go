package inventory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/inventory"
	"github.com/dealerai/integrations/shared/resources"
)

// stock makes n vehicles of varied makes, years, conditions, prices (some without) and colors.
func stock(n int, seed uint64) []inventory.Vehicle {
	r := rand.New(rand.NewPCG(seed, 1))
	makes := map[string][]string{"Toyota": {"RAV4", "Camry"}, "Honda": {"Civic", "CR-V"}, "Ford": {"F-150"}}
	names := []string{"Toyota", "Honda", "Ford"}
	out := make([]inventory.Vehicle, n)
	for i := range out {
		mk := names[r.IntN(len(names))]
		price := float64(15000 + r.IntN(40)*500)
		if r.IntN(20) == 0 {
			price = 0
		}
		out[i] = inventory.Vehicle{
			VIN: fmt.Sprintf("VIN%014d", i), StockNumber: fmt.Sprintf("S%05d", i), Year: 2016 + r.IntN(10),
			Make: mk, Model: makes[mk][r.IntN(len(makes[mk]))], Trim: []string{"LE", "XLE Premium", "Sport"}[r.IntN(3)],
			ExteriorColor: []string{"White", "Black", "Blue"}[r.IntN(3)], Condition: []string{"new", "used", "certified", "demo"}[r.IntN(4)],
			Mileage: r.IntN(90000), Price: price, MSRP: price + 1000, Status: "In Stock",
			UpdatedAt: time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC),
		}
	}
	return out
}

func added(vs []inventory.Vehicle) []changefeed.Memory {
	p := &changefeed.Page{}
	for _, v := range vs {
		c, _ := inventory.Diff(nil, "", v)
		p.Changes = append(p.Changes, c)
	}
	return p.Memories()
}

func TestStoreListsWithoutScan(t *testing.T) {
	localtest.Integration(t)
	env := localtest.New(t)
	ctx := context.Background()
	s := inventory.NewStore(env.DynamoDB, env.Table(resources.InventoryTable))
	vs := stock(600, 3)
	if err := s.Remember(ctx, "d1", "fortellis", added(vs)); err != nil {
		t.Fatal(err)
	}
	// another dealer's vehicles never show
	if err := s.Remember(ctx, "d2", "fortellis", added(stock(50, 4))); err != nil {
		t.Fatal(err)
	}
	cases := []string{
		"", "sort=-price", "sort=year", "sort=-year&limit=7",
		"make=toyota", "make=Honda&model=cr-v&sort=-year", "condition=certified&priceMax=30000",
		"yearMin=2020&yearMax=2022&sort=price", "yearMin=2019&sort=-year&condition=new",
		"priceMin=20000&priceMax=25000&sort=-price&limit=100", "priceMin=20000&sort=year",
		"q=premium", "q=s0001&sort=year", "q=blue&make=ford&yearMax=2021&priceMin=16000&sort=-price&limit=3",
	}
	for _, raw := range cases {
		v, _ := url.ParseQuery(raw)
		q, errs := inventory.ParseQuery(v)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", raw, errs)
		}
		var want []string
		for _, x := range vs {
			if q.Match(x) {
				want = append(want, x.VIN)
			}
		}
		var got []inventory.Vehicle
		for pages := 0; ; pages++ {
			p, err := s.List(ctx, "d1", q)
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if len(p.Vehicles) > q.Limit || pages > 700 {
				t.Fatalf("%s: %d vehicles in a page of %d", raw, len(p.Vehicles), q.Limit)
			}
			got = append(got, p.Vehicles...)
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
		}
		var gotVINs []string
		for i, x := range got {
			gotVINs = append(gotVINs, x.VIN)
			if i > 0 && !ordered(got[i-1], x, q.Sort) {
				t.Fatalf("%s: %s before %s is out of %s order", raw, got[i-1].VIN, x.VIN, q.Sort)
			}
		}
		slices.Sort(gotVINs)
		slices.Sort(want)
		if !slices.Equal(gotVINs, want) || len(want) == 0 {
			t.Errorf("%s: %d vehicles, want %d", raw, len(gotVINs), len(want))
		}
	}

	// One vehicle; another dealer's VIN is not found.
	if v, err := s.Get(ctx, "d1", vs[5].VIN); err != nil || v.Price != vs[5].Price || v.Make != vs[5].Make || !v.UpdatedAt.Equal(vs[5].UpdatedAt) {
		t.Errorf("Get = %+v, %v", v, err)
	}
	if _, err := s.Get(ctx, "d2", vs[599].VIN); err != inventory.ErrNotFound {
		t.Errorf("another dealer's VIN: %v", err)
	}
	// A cursor of another order is refused.
	q, _ := inventory.ParseQuery(url.Values{"limit": {"2"}})
	p, _ := s.List(ctx, "d1", q)
	q.Sort, q.Cursor = inventory.SortYear, p.Next
	if _, err := s.List(ctx, "d1", q); err != inventory.ErrBadCursor {
		t.Errorf("a price cursor for a year list: %v", err)
	}

	// What the sync compares with: the stored vehicle and its digest, as Diff finds unchanged.
	stored, err := s.Remembered(ctx, "d1", "fortellis", inventory.RecordKind, []string{vs[0].VIN, vs[1].VIN, "NOPE"})
	if err != nil || len(stored) != 2 {
		t.Fatalf("Remembered = %v, %v", stored, err)
	}
	old, digest, ok := inventory.Decode(stored[vs[0].VIN])
	if _, changed := inventory.Diff(&old, digest, vs[0]); !ok || changed {
		t.Errorf("a stored vehicle read again is changed (%v)", ok)
	}
	// A removal deletes it.
	if err := s.Remember(ctx, "d1", "fortellis", (&changefeed.Page{Changes: []changefeed.Change{inventory.Removal(old, time.Now())}}).Memories()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "d1", vs[0].VIN); err != inventory.ErrNotFound {
		t.Errorf("removed vehicle: %v", err)
	}
}

func ordered(a, b inventory.Vehicle, sort string) bool {
	price := func(v inventory.Vehicle) float64 {
		if v.Price == 0 {
			return 1e12
		}
		return v.Price
	}
	switch sort {
	case inventory.SortPrice:
		return price(a) <= price(b)
	case inventory.SortPriceDesc:
		return price(a) >= price(b)
	case inventory.SortYear:
		return a.Year < b.Year || a.Year == b.Year && price(a) <= price(b)
	}
	return a.Year > b.Year || a.Year == b.Year && price(a) >= price(b)
}

func TestParseQuery(t *testing.T) {
	for raw, field := range map[string]string{
		"color=red": "color", "condition=demo": "condition", "yearMin=20x": "yearMin", "priceMax=-1": "priceMax",
		"sort=mileage": "sort", "limit=101": "limit", "make=a&make=b": "make", "yearMin=2024&yearMax=2020": "yearMax",
		"priceMin=9&priceMax=5": "priceMax", "q=": "q", "cursor=": "cursor",
	} {
		v, _ := url.ParseQuery(raw)
		_, errs := inventory.ParseQuery(v)
		if len(errs) != 1 || errs[0].Field != field {
			t.Errorf("%s: %v, want one error on %s", raw, errs, field)
		}
	}
	q, errs := inventory.ParseQuery(url.Values{"make": {" Toyota "}, "priceMax": {"35000"}, "sort": {"-year"}})
	if len(errs) > 0 || q.Make != "Toyota" || *q.PriceMax != 35000 || q.Sort != "-year" || q.Limit != inventory.DefaultLimit {
		t.Errorf("%+v %v", q, errs)
	}
	if !strings.Contains(fmt.Sprint(inventory.Params), "yearMin") {
		t.Error("Params")
	}
}
