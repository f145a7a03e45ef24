package inventory

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/internal/attr"
	"github.com/dealerai/integrations/shared/resources"
)

// ErrNotFound: the dealer has no vehicle with that VIN.
var ErrNotFound = errors.New("no such vehicle")

// ErrBadCursor: a list's cursor is not one a list of the same order returned.
var ErrBadCursor = errors.New("not a cursor this list returned")

// maxPrice bounds prices (a price key holds 12 digits of cents).
const maxPrice = 10_000_000

// maxReads bounds the Query calls of one list page, maxEvaluate the vehicles one call
// evaluates (each reads up to 1 MB): a page with selective filters may come back short, with a
// cursor to continue.
const (
	maxReads    = 6
	maxEvaluate = 3200
)

// DB is the part of the DynamoDB client the store uses; *dynamodb.Client has it.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

var _ DB = (*dynamodb.Client)(nil)

// Store keeps the vehicles in the inventory table: one item per vehicle, pk
// resources.DealerKey, sk resources.InventoryVehicleKeyPrefix + VIN, with the price and year
// keys of the ByPrice and ByYear indexes (docs/design.md#data-model).
type Store struct {
	DB    DB
	Table string
	// Now is the clock of syncedAt (time.Now when nil).
	Now func() time.Time
}

// NewStore returns a store on table.
func NewStore(db DB, table string) *Store { return &Store{DB: db, Table: table} }

func vehicleKey(dealerID, vin string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": attr.S(resources.DealerKey(dealerID)),
		"sk": attr.S(resources.InventoryVehicleKeyPrefix + vin),
	}
}

// priceKey orders by price: 12 digits of cents and the VIN; no price sorts last.
func priceKey(v Vehicle) string {
	cents := int64(999_999_999_999)
	if v.Price > 0 {
		cents = int64(math.Round(v.Price * 100))
	}
	return fmt.Sprintf("%012d#%s", cents, v.VIN)
}

func yearKey(v Vehicle) string { return fmt.Sprintf("%04d#%s", v.Year, priceKey(v)) }

func priceBound(p float64) string { return fmt.Sprintf("%012d", int64(math.Round(p*100))) }

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Store) item(dealerID, platform string, v Vehicle) map[string]types.AttributeValue {
	it := vehicleKey(dealerID, v.VIN)
	set := func(name, val string) {
		if val != "" {
			it[name] = attr.S(val)
		}
	}
	num := func(name string, f float64) {
		if f != 0 {
			it[name] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(f, 'f', -1, 64)}
		}
	}
	set("vin", v.VIN)
	set("stockNumber", v.StockNumber)
	num("year", float64(v.Year))
	set("make", v.Make)
	set("model", v.Model)
	set("trim", v.Trim)
	set("bodyStyle", v.BodyStyle)
	set("exteriorColor", v.ExteriorColor)
	set("interiorColor", v.InteriorColor)
	set("condition", v.Condition)
	num("mileage", float64(v.Mileage))
	num("price", v.Price)
	num("msrp", v.MSRP)
	set("status", v.Status)
	if !v.ListedAt.IsZero() {
		set("listedAt", v.ListedAt.UTC().Format(time.RFC3339Nano))
	}
	if !v.UpdatedAt.IsZero() {
		set("updatedAt", v.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	set("makeLc", strings.ToLower(v.Make))
	set("modelLc", strings.ToLower(v.Model))
	set("search", searchText(v))
	set("digest", v.Digest())
	set("platform", platform)
	set("syncedAt", s.now().Format(time.RFC3339Nano))
	set(resources.InventoryPriceKeyAttr, priceKey(v))
	set(resources.InventoryYearKeyAttr, yearKey(v))
	return it
}

func vehicleOf(it map[string]types.AttributeValue) Vehicle {
	num := func(name string) float64 {
		if n, ok := it[name].(*types.AttributeValueMemberN); ok {
			f, _ := strconv.ParseFloat(n.Value, 64)
			return f
		}
		return 0
	}
	tm := func(name string) time.Time {
		t, _ := time.Parse(time.RFC3339Nano, attr.GetS(it, name))
		return t
	}
	return Vehicle{
		VIN: attr.GetS(it, "vin"), StockNumber: attr.GetS(it, "stockNumber"), Year: int(num("year")),
		Make: attr.GetS(it, "make"), Model: attr.GetS(it, "model"), Trim: attr.GetS(it, "trim"),
		BodyStyle: attr.GetS(it, "bodyStyle"), ExteriorColor: attr.GetS(it, "exteriorColor"),
		InteriorColor: attr.GetS(it, "interiorColor"), Condition: attr.GetS(it, "condition"),
		Mileage: int(num("mileage")), Price: num("price"), MSRP: num("msrp"), Status: attr.GetS(it, "status"),
		ListedAt: tm("listedAt"), UpdatedAt: tm("updatedAt"),
	}
}

// Get reads one of the dealer's vehicles: ErrNotFound when the dealer has none with vin.
func (s *Store) Get(ctx context.Context, dealerID, vin string) (*Vehicle, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: vehicleKey(dealerID, vin)})
	if err != nil {
		return nil, fmt.Errorf("read vehicle: %w", err)
	}
	if len(out.Item) == 0 {
		return nil, ErrNotFound
	}
	v := vehicleOf(out.Item)
	return &v, nil
}

// Page is one page of a list.
type Page struct {
	Vehicles []Vehicle
	// Next continues the list; "" at its end.
	Next string
}

type cursor struct {
	Sort string `json:"o"`
	SK   string `json:"s"`
	Key  string `json:"k"`
}

// List returns a page of the dealer's vehicles that pass q's filters, in q's order: one
// Query of the ByPrice or ByYear index over the dealer's partition (the price or year range
// in its key condition, the other filters in its filter expression), continued while the page
// is short, at most maxReads calls, each evaluating twice as many vehicles as the one before.
func (s *Store) List(ctx context.Context, dealerID string, q Query) (*Page, error) {
	index, keyAttr := resources.InventoryByPriceIndex, resources.InventoryPriceKeyAttr
	if q.Sort == SortYear || q.Sort == SortYearDesc {
		index, keyAttr = resources.InventoryByYearIndex, resources.InventoryYearKeyAttr
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxLimit {
		limit = DefaultLimit
	}
	names := map[string]string{"#k": keyAttr}
	values := map[string]types.AttributeValue{":pk": attr.S(resources.DealerKey(dealerID))}
	keyCond := "pk = :pk"
	var filters []string
	filter := func(expr string, name, attrName string, vals map[string]types.AttributeValue) {
		filters = append(filters, expr)
		if name != "" {
			names[name] = attrName
		}
		for k, v := range vals {
			values[k] = v
		}
	}
	n := func(f float64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatFloat(f, 'f', -1, 64)}
	}
	// The range of the index's own order goes in the key condition.
	if keyAttr == resources.InventoryPriceKeyAttr {
		if q.PriceMin != nil || q.PriceMax != nil {
			lo, hi := priceBound(0.01), priceBound(maxPrice)+"#~"
			if q.PriceMin != nil {
				lo = priceBound(max(*q.PriceMin, 0.01))
			}
			if q.PriceMax != nil {
				hi = priceBound(*q.PriceMax) + "#~"
			}
			keyCond += " AND #k BETWEEN :lo AND :hi"
			values[":lo"], values[":hi"] = attr.S(lo), attr.S(hi)
		}
		if q.YearMin != 0 {
			filter("#year >= :ymin", "#year", "year", map[string]types.AttributeValue{":ymin": n(float64(q.YearMin))})
		}
		if q.YearMax != 0 {
			filter("#year <= :ymax", "#year", "year", map[string]types.AttributeValue{":ymax": n(float64(q.YearMax))})
		}
	} else {
		if q.YearMin != 0 || q.YearMax != 0 {
			lo, hi := fmt.Sprintf("%04d", max(q.YearMin, 1)), "9999~"
			if q.YearMax != 0 {
				hi = fmt.Sprintf("%04d~", q.YearMax)
			}
			keyCond += " AND #k BETWEEN :lo AND :hi"
			values[":lo"], values[":hi"] = attr.S(lo), attr.S(hi)
		}
		if q.PriceMin != nil {
			filter("price >= :pmin", "", "", map[string]types.AttributeValue{":pmin": n(max(*q.PriceMin, 0.01))})
		}
		if q.PriceMax != nil {
			filter("price <= :pmax", "", "", map[string]types.AttributeValue{":pmax": n(*q.PriceMax)})
		}
	}
	if keyCond == "pk = :pk" {
		delete(names, "#k")
	}
	if q.Make != "" {
		filter("makeLc = :make", "", "", map[string]types.AttributeValue{":make": attr.S(strings.ToLower(q.Make))})
	}
	if q.Model != "" {
		filter("modelLc = :model", "", "", map[string]types.AttributeValue{":model": attr.S(strings.ToLower(q.Model))})
	}
	if q.Condition != "" {
		filter("#cond = :cond", "#cond", "condition", map[string]types.AttributeValue{":cond": attr.S(q.Condition)})
	}
	if q.Text != "" {
		filter("contains(#search, :q)", "#search", "search", map[string]types.AttributeValue{":q": attr.S(strings.ToLower(q.Text))})
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String(keyCond),
		ExpressionAttributeValues: values,
		ScanIndexForward:          aws.Bool(!strings.HasPrefix(q.Sort, "-")),
	}
	if len(names) > 0 {
		in.ExpressionAttributeNames = names
	}
	// Each call evaluates a bounded number of vehicles: the page itself without filters;
	// with filters 4 pages' worth, doubled at each further call (a selective filter reads on,
	// a loose one stops early), at most 1 MB a call.
	evaluate := limit
	if len(filters) > 0 {
		in.FilterExpression = aws.String(strings.Join(filters, " AND "))
		evaluate = max(4*limit, 100)
	}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, q.Sort)
		if err != nil {
			return nil, err
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			"pk": attr.S(resources.DealerKey(dealerID)), "sk": attr.S(c.SK), keyAttr: attr.S(c.Key),
		}
	}
	page := &Page{Vehicles: []Vehicle{}}
	for range maxReads {
		in.Limit = aws.Int32(int32(min(evaluate, maxEvaluate)))
		evaluate *= 2
		out, err := s.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list vehicles: %w", err)
		}
		for i, it := range out.Items {
			page.Vehicles = append(page.Vehicles, vehicleOf(it))
			if len(page.Vehicles) == limit {
				if i < len(out.Items)-1 || len(out.LastEvaluatedKey) > 0 {
					page.Next = encodeCursor(cursor{Sort: q.Sort, SK: attr.GetS(it, "sk"), Key: attr.GetS(it, keyAttr)})
				}
				return page, nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return page, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	lek := in.ExclusiveStartKey
	page.Next = encodeCursor(cursor{Sort: q.Sort, SK: attr.GetS(lek, "sk"), Key: attr.GetS(lek, keyAttr)})
	return page, nil
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, sort string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Sort != sort ||
		!strings.HasPrefix(c.SK, resources.InventoryVehicleKeyPrefix) || c.Key == "" || len(s) > 512 {
		return cursor{}, ErrBadCursor
	}
	return c, nil
}

// Remembered reads the stored vehicles of ids (VINs) for the sync's change feed
// (agentsync.Seen, record kind RecordKind): BatchGetItem, 100 keys a call, strongly
// consistent; each as Decode reads it. VINs not stored are absent.
func (s *Store) Remembered(ctx context.Context, dealerID, _, recordKind string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if recordKind != RecordKind {
		return out, nil
	}
	seen := map[string]bool{}
	var keys []map[string]types.AttributeValue
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, vehicleKey(dealerID, id))
		}
	}
	for attempt := 0; len(keys) > 0; {
		n := min(len(keys), 100)
		res, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			s.Table: {Keys: keys[:n], ConsistentRead: aws.Bool(true)},
		}})
		if err != nil {
			return nil, fmt.Errorf("read stored vehicles: %w", err)
		}
		for _, it := range res.Responses[s.Table] {
			v := vehicleOf(it)
			b, _ := json.Marshal(remembered{Vehicle: v, Digest: attr.GetS(it, "digest")})
			out[v.VIN] = string(b)
		}
		left := res.UnprocessedKeys[s.Table].Keys
		keys = append(left, keys[n:]...)
		if len(left) > 0 {
			if attempt++; attempt > 8 {
				return nil, fmt.Errorf("read stored vehicles: %d keys left unprocessed", len(left))
			}
			if err := pause(ctx, attempt); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Remember writes a page's vehicle changes once their events are on the inbound queue
// (agentsync.Seen, the changes' changefeed.Memory): a put of each added or updated vehicle, a
// delete of each removed one, BatchWriteItem 25 a call. Memories of other kinds are not the
// store's.
func (s *Store) Remember(ctx context.Context, dealerID, platform string, memories []changefeed.Memory) error {
	byVIN := map[string]types.WriteRequest{}
	var order []string
	for _, c := range memories {
		if c.RecordKind != RecordKind || c.RecordID == "" {
			continue
		}
		var w types.WriteRequest
		switch {
		case c.Forget:
			w.DeleteRequest = &types.DeleteRequest{Key: vehicleKey(dealerID, c.RecordID)}
		case c.Value != "":
			v, _, ok := Decode(c.Value)
			if !ok {
				return fmt.Errorf("store vehicle %s: not a vehicle the feed encoded", c.RecordID)
			}
			w.PutRequest = &types.PutRequest{Item: s.item(dealerID, platform, v)}
		default:
			continue
		}
		if _, dup := byVIN[c.RecordID]; !dup {
			order = append(order, c.RecordID)
		}
		byVIN[c.RecordID] = w // the page's last change of a vehicle wins
	}
	reqs := make([]types.WriteRequest, 0, len(order))
	for _, vin := range order {
		reqs = append(reqs, byVIN[vin])
	}
	return s.write(ctx, reqs)
}

func (s *Store) write(ctx context.Context, reqs []types.WriteRequest) error {
	for attempt := 0; len(reqs) > 0; {
		n := min(len(reqs), 25)
		out, err := s.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.Table: reqs[:n]}})
		if err != nil {
			return fmt.Errorf("write vehicles: %w", err)
		}
		left := out.UnprocessedItems[s.Table]
		reqs = append(left, reqs[n:]...)
		if len(left) > 0 {
			if attempt++; attempt > 8 {
				return fmt.Errorf("write vehicles: %d writes left unprocessed", len(left))
			}
			if err := pause(ctx, attempt); err != nil {
				return err
			}
		}
	}
	return nil
}

// pause waits before retrying unprocessed keys: 50 ms doubled each attempt.
func pause(ctx context.Context, attempt int) error {
	t := time.NewTimer(time.Duration(50<<min(attempt-1, 6)) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
