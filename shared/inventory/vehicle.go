// Package inventory keeps the dealers' vehicle inventories that the two-way sync reads from
// Fortellis (CDK's Merchandisable Vehicles, shared/agents/fortellis) and that the API serves
// (GET /v1/inventory, GET /v1/inventory/{vin}): the vehicle model, what changed between two
// reads of a vehicle (the inventory.vehicle.* inbound events), and the store in the inventory
// table (docs/design.md#data-model).
//
// The sync's change feed reads vehicles page by page, compares each with what the store holds
// (a content digest: a vehicle read again unchanged is neither published nor written), and
// returns the changes; the sync publishes their events and only then hands them to the store
// (Store.Remember: BatchWriteItem puts and deletes), before it stores the feed's cursor.
package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/shared/agents/changefeed"
)

// RecordKind is the change feed's record kind of a vehicle (its RecordID is the VIN).
const RecordKind = "vehicle"

// Platform is the agent platform inventories come from: a dealer has one when its agent of
// this platform is enabled, in its plan and Scoped.
const Platform = "fortellis"

// Scoped reports whether an agent's settings name the dealer's inventory (Fortellis's
// dealerCode or webId setting).
func Scoped(settings map[string]string) bool {
	return settings["dealerCode"] != "" || settings["webId"] != ""
}

// The conditions of a vehicle.
const (
	ConditionNew       = events.ConditionNew
	ConditionUsed      = events.ConditionUsed
	ConditionCertified = events.ConditionCertified
	ConditionDemo      = events.ConditionDemo
)

// Vehicle is one vehicle of a dealer's inventory, as the API answers it.
type Vehicle struct {
	VIN           string  `json:"vin"`
	StockNumber   string  `json:"stockNumber,omitempty"`
	Year          int     `json:"year,omitempty"`
	Make          string  `json:"make,omitempty"`
	Model         string  `json:"model,omitempty"`
	Trim          string  `json:"trim,omitempty"`
	BodyStyle     string  `json:"bodyStyle,omitempty"`
	ExteriorColor string  `json:"exteriorColor,omitempty"`
	InteriorColor string  `json:"interiorColor,omitempty"`
	Condition     string  `json:"condition,omitempty"`
	Mileage       int     `json:"mileage,omitempty"`
	Price         float64 `json:"price,omitempty"`
	MSRP          float64 `json:"msrp,omitempty"`
	Status        string  `json:"status,omitempty"`
	// ListedAt is when the vehicle entered the platform's inventory; UpdatedAt its last
	// change there. Neither is part of the digest: a vehicle touched without a change is
	// unchanged.
	ListedAt  time.Time `json:"listedAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// digestFields are the fields the digest and the changed fields cover, by JSON name.
var digestFields = []string{"vin", "stockNumber", "year", "make", "model", "trim", "bodyStyle", "exteriorColor",
	"interiorColor", "condition", "mileage", "price", "msrp", "status"}

// fields are v's digestFields that are set, by JSON name.
func (v Vehicle) fields() map[string]any {
	b, _ := json.Marshal(v) // plain data: cannot fail
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for k := range maps.Clone(m) {
		if !slices.Contains(digestFields, k) {
			delete(m, k)
		}
	}
	return m
}

// Digest is a digest of the vehicle's content: equal for two reads of an unchanged vehicle.
func (v Vehicle) Digest() string {
	b, _ := json.Marshal(v.fields()) // map keys are sorted
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Changed lists the fields (JSON names) whose values differ between old and v, in catalog
// order.
func (v Vehicle) Changed(old Vehicle) []string {
	a, b := old.fields(), v.fields()
	var out []string
	for _, f := range digestFields {
		x, okx := a[f]
		y, oky := b[f]
		if okx != oky || !jsonEqual(x, y) {
			out = append(out, f)
		}
	}
	return out
}

func jsonEqual(x, y any) bool {
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return string(bx) == string(by)
}

// remembered is what the sync keeps of a vehicle (changefeed.Change.Remember): the vehicle
// and its digest.
type remembered struct {
	Vehicle Vehicle `json:"v"`
	Digest  string  `json:"d"`
}

// Decode reads a Remember value back: the vehicle and its digest.
func Decode(s string) (Vehicle, string, bool) {
	var r remembered
	if err := json.Unmarshal([]byte(s), &r); err != nil || r.Vehicle.VIN == "" {
		return Vehicle{}, "", false
	}
	return r.Vehicle, r.Digest, true
}

func encode(v Vehicle) string {
	b, _ := json.Marshal(remembered{Vehicle: v, Digest: v.Digest()})
	return string(b)
}

// Diff compares a vehicle just read with what the sync remembered of it (Decode's, ok false
// when nothing): the change to publish and keep, and whether there is one. A vehicle never
// seen is added; one whose digest differs updated, with the changed fields.
func Diff(old *Vehicle, oldDigest string, v Vehicle) (changefeed.Change, bool) {
	digest := v.Digest()
	if old != nil && oldDigest == digest {
		return changefeed.Change{}, false
	}
	c := changefeed.Change{
		RecordKind:  RecordKind,
		RecordID:    v.VIN,
		Version:     v.UpdatedAt.UTC().Format(time.RFC3339Nano) + "/" + digest,
		ChangedAt:   v.UpdatedAt,
		EventType:   events.TypeInventoryVehicleAdded,
		Created:     old == nil,
		PlatformIDs: map[string]string{"vin": v.VIN},
		State:       state(v, nil),
		Remember:    encode(v),
	}
	if old != nil {
		changed := v.Changed(*old)
		c.EventType = events.TypeInventoryVehicleUpdated
		c.State = state(v, changed)
		c.State.ChangedFields = strings.Join(changed, ",")
	}
	return c, true
}

// Removal is the change of a remembered vehicle that left the inventory at the platform's
// time at (zero when it gives none): its removal is published with what it last had, and the
// sync forgets it.
func Removal(old Vehicle, at time.Time) changefeed.Change {
	return changefeed.Change{
		RecordKind:  RecordKind,
		RecordID:    old.VIN,
		Version:     "removed/" + at.UTC().Format(time.RFC3339Nano) + "/" + old.Digest(),
		ChangedAt:   at,
		EventType:   events.TypeInventoryVehicleRemoved,
		PlatformIDs: map[string]string{"vin": old.VIN},
		State:       state(old, nil),
		Forget:      true,
	}
}

// state is the event's fields of v: all of them, or with only the VIN, the stock number and
// the named fields.
func state(v Vehicle, only []string) inbound.State {
	m := v.fields()
	if only != nil {
		keep := append([]string{"vin", "stockNumber"}, only...)
		for k := range maps.Clone(m) {
			if !slices.Contains(keep, k) {
				delete(m, k)
			}
		}
	}
	b, _ := json.Marshal(m)
	var s inbound.State
	_ = json.Unmarshal(b, &s)
	return s
}
