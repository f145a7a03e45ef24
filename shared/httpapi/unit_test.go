package httpapi_test

import (
	"context"
	"io"
	"log/slog"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/dealerai/integrations/shared/httpapi"
)

// newUnitAPI is the handler without stores, for requests that never reach one.
func newUnitAPI() *httpapi.API {
	return httpapi.New(httpapi.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
}

// serveDirect calls the Lambda function with a request that has no authorizer context.
func serveDirect(h *httpapi.API, method, path string, claims map[string]string) lambdaevents.APIGatewayV2HTTPResponse {
	req := lambdaevents.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: path, Headers: map[string]string{},
		RequestContext: lambdaevents.APIGatewayV2HTTPRequestContext{
			RequestID: "unit", HTTP: lambdaevents.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path},
		},
	}
	if claims != nil {
		req.RequestContext.Authorizer = &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
		}
	}
	resp, err := httpapi.Lambda(h)(context.Background(), req)
	if err != nil {
		panic(err)
	}
	return resp
}
