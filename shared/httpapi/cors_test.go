package httpapi_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/httpapi"
)

// The CORS policy lets a page use every route: each method of the route table, the headers
// the API reads (If-Match for updates) and the ones a page needs to read (ETag).
func TestCORSCoversTheRouteTable(t *testing.T) {
	for _, rt := range httpapi.Routes {
		if !slices.Contains(httpapi.CORS.AllowMethods, rt.Method) {
			t.Errorf("%s %s: method not in CORS.AllowMethods", rt.Method, rt.Path)
		}
	}
	for _, h := range []string{"authorization", "content-type", "if-match"} {
		if !slices.Contains(httpapi.CORS.AllowHeaders, h) {
			t.Errorf("request header %s not allowed", h)
		}
	}
	for _, h := range []string{"etag", "location", "retry-after"} {
		if !slices.Contains(httpapi.CORS.ExposeHeaders, h) {
			t.Errorf("response header %s not exposed", h)
		}
	}
	for _, h := range append(httpapi.CORS.AllowHeaders, httpapi.CORS.ExposeHeaders...) {
		if h != strings.ToLower(h) {
			t.Errorf("header %q: the policy lists header names in lower case", h)
		}
	}
}
