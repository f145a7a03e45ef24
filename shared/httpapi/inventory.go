package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/inventory"
	"github.com/dealerai/integrations/shared/validation"
)

// InventoryStore reads the dealers' vehicle inventories (*inventory.Store).
type InventoryStore interface {
	Get(ctx context.Context, dealerID, vin string) (*inventory.Vehicle, error)
	List(ctx context.Context, dealerID string, q inventory.Query) (*inventory.Page, error)
}

var _ InventoryStore = (*inventory.Store)(nil)

// inventoryList is the answer of GET /v1/inventory: a page of vehicles, and whether the dealer
// has an inventory at all (detail says why not).
type inventoryList struct {
	Available  bool                `json:"available"`
	Detail     string              `json:"detail,omitempty"`
	Items      []inventory.Vehicle `json:"items"`
	NextCursor *string             `json:"nextCursor"`
}

// inventoryAvailable says whether the dealer's inventory is synced: its Fortellis agent is
// enabled, in its plan and scoped to the inventory; why not otherwise.
func (a *API) inventoryAvailable(ctx context.Context, dealerID string) (bool, string, error) {
	p, ok := a.opts.Platforms.Get(inventory.Platform)
	if !ok {
		return false, "this deployment has no inventory platform", nil
	}
	ag, err := a.opts.Agents.Get(ctx, dealerID, p.ID)
	switch {
	case errors.Is(err, agents.ErrNotFound):
		return false, "the dealer has no " + p.Name + " agent: configure it with dealerCode or webId to sync the inventory", nil
	case err != nil:
		return false, "", err
	case !ag.Enabled:
		return false, "the dealer's " + p.Name + " agent is disabled", nil
	case !inventory.Scoped(ag.Settings):
		return false, "the dealer's " + p.Name + " agent has neither dealerCode nor webId: no inventory is synced", nil
	}
	plan, _, err := a.entitlement(ctx, dealerID)
	if err != nil {
		return false, "", err
	}
	if !plan.Includes(p.ID) {
		return false, p.Name + " is not in the dealer's plan", nil
	}
	return true, "", nil
}

// listInventory lists the dealer's vehicles with filters, sorted, a page at a time. A dealer
// without an inventory gets an empty list with available false.
func (a *API) listInventory(w http.ResponseWriter, r *http.Request) error {
	q, errs := inventory.ParseQuery(r.URL.Query())
	if len(errs) > 0 {
		return NewProblem(http.StatusBadRequest, "invalid query parameter", errs...)
	}
	ok, detail, err := a.inventoryAvailable(r.Context(), dealerOf(r))
	if err != nil {
		return err
	}
	out := inventoryList{Available: ok, Detail: detail, Items: []inventory.Vehicle{}}
	if ok {
		page, err := a.opts.Inventory.List(r.Context(), dealerOf(r), q)
		if errors.Is(err, inventory.ErrBadCursor) {
			return NewProblem(http.StatusBadRequest, "invalid query parameter", validation.FieldError{Field: "cursor", Message: "is not a cursor this list returned (with this sort)"})
		}
		if err != nil {
			return err
		}
		out.Items = page.Vehicles
		if page.Next != "" {
			out.NextCursor = &page.Next
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getInventoryVehicle answers one of the dealer's vehicles by VIN; 404 for a VIN the dealer
// does not have (another dealer's included), or when it has no inventory.
func (a *API) getInventoryVehicle(w http.ResponseWriter, r *http.Request) error {
	vin := strings.ToUpper(r.PathValue("vin"))
	if len(vin) > 32 || vin == "" {
		return NewProblem(http.StatusNotFound, "no such vehicle")
	}
	ok, _, err := a.inventoryAvailable(r.Context(), dealerOf(r))
	if err != nil {
		return err
	}
	if !ok {
		return NewProblem(http.StatusNotFound, "no such vehicle: the dealer has no inventory")
	}
	v, err := a.opts.Inventory.Get(r.Context(), dealerOf(r), vin)
	if errors.Is(err, inventory.ErrNotFound) {
		return NewProblem(http.StatusNotFound, "no such vehicle")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
