package httpapi

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/dealerai/integrations/events"
)

// OpenAPIDocument is the API's OpenAPI 3.1 document, served at GET /v1/openapi.json.
//
//go:embed openapi.json
var OpenAPIDocument []byte

func (a *API) health(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(OpenAPIDocument)
	return nil
}

func (a *API) listEventTypes(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(eventTypesDocument())
	return nil
}

type eventTypeView struct {
	Type        string          `json:"type"`
	Group       string          `json:"group"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
}

// eventTypesDocument is the body of GET /v1/event-types, rendered on the first request
// (not in New: a cold start that serves other routes should not pay for the schemas) and
// kept: the catalog never changes while the process runs.
var eventTypesDocument = sync.OnceValue(func() []byte {
	catalog := events.Catalog()
	items := make([]eventTypeView, len(catalog))
	for i, d := range catalog {
		items[i] = eventTypeView{d.Type, d.Group, d.Description, d.Schema}
	}
	body, err := json.Marshal(struct {
		Items []eventTypeView `json:"items"`
	}{items})
	if err != nil {
		panic("httpapi: render event types: " + err.Error())
	}
	return body
})
