package httpapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/httpapi"
)

// TestOpenAPIMatchesRouteTable: the document's paths, methods, operation ids and security
// are exactly the route table's: public operations have no security (or a platform's own
// scheme, which the handler checks), dealer operations the bearer token, admin operations the
// bearer token with the admin scope as its role.
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
			access := "dealer" // nil: the document's default, bearerAuth without a role
			if op.Security != nil {
				switch reqs := *op.Security; {
				case len(reqs) == 0:
					access = "public"
				case len(reqs) == 1 && slices.Equal(reqs[0]["bearerAuth"], []string{httpapi.DefaultAdminScope}):
					access = "admin"
				case len(reqs) == 1 && reqs[0]["bearerAuth"] != nil && len(reqs[0]["bearerAuth"]) == 0:
				case len(reqs) == 1 && len(reqs[0]) == 1 && reqs[0]["bearerAuth"] == nil:
					access = "public" // no API Gateway authorizer: the handler authenticates the platform its own way
				default:
					access = fmt.Sprintf("security %v", reqs)
				}
			}
			inDoc = append(inDoc, strings.Join([]string{method, path, op.OperationID, access}, " "))
		}
	}
	for _, rt := range httpapi.Routes {
		inTable = append(inTable, strings.Join([]string{rt.Method, rt.Path, rt.OperationID, accessString(rt.Auth)}, " "))
	}
	slices.Sort(inDoc)
	slices.Sort(inTable)
	if !slices.Equal(inDoc, inTable) {
		t.Errorf("openapi.json and the route table differ:\n doc:   %s\n table: %s", strings.Join(inDoc, "\n        "), strings.Join(inTable, "\n        "))
	}
}

func accessString(a httpapi.Access) string {
	switch a {
	case httpapi.Public:
		return "public"
	case httpapi.Admin:
		return "admin"
	}
	return "dealer"
}
