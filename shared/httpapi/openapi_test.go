package httpapi_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/httpapi"
)

// TestOpenAPIMatchesRouteTable: the document's paths, methods, operation ids and security
// are exactly the route table's.
func TestOpenAPIMatchesRouteTable(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if _, ok := doc.Components.SecuritySchemes["bearerAuth"]; !ok {
		t.Error("no bearerAuth security scheme")
	}
	var inDoc, inTable []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			auth := op.Security == nil || len(*op.Security) > 0 // nil: the document's default, bearerAuth
			inDoc = append(inDoc, strings.Join([]string{method, path, op.OperationID, authString(auth)}, " "))
		}
	}
	for _, rt := range httpapi.Routes {
		inTable = append(inTable, strings.Join([]string{rt.Method, rt.Path, rt.OperationID, authString(rt.Auth)}, " "))
	}
	slices.Sort(inDoc)
	slices.Sort(inTable)
	if !slices.Equal(inDoc, inTable) {
		t.Errorf("openapi.json and the route table differ:\n doc:   %s\n table: %s", strings.Join(inDoc, "\n        "), strings.Join(inTable, "\n        "))
	}
}

func authString(auth bool) string {
	if auth {
		return "auth"
	}
	return "public"
}
