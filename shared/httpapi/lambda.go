package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// LambdaFunc is the function the api Lambda hands to lambda.Start: an API Gateway HTTP API
// (payload format 2.0) request in, its response out.
type LambdaFunc = func(context.Context, lambdaevents.APIGatewayV2HTTPRequest) (lambdaevents.APIGatewayV2HTTPResponse, error)

type gatewayRequestKey struct{}

// GatewayRequest returns the API Gateway request an http.Request served through Lambda
// came from (nil otherwise). The handler reads the JWT claims from it — on Lambda and behind
// the local stack's gateway alike, since both call the function Lambda returns.
func GatewayRequest(ctx context.Context) *lambdaevents.APIGatewayV2HTTPRequest {
	req, _ := ctx.Value(gatewayRequestKey{}).(*lambdaevents.APIGatewayV2HTTPRequest)
	return req
}

// Lambda adapts an http.Handler to API Gateway's HTTP API payload format 2.0. It is a small
// adapter of its own (rather than aws-lambda-go-api-proxy): one http.Request built directly
// from the event, with the event in its context, and the response buffered in memory.
func Lambda(h http.Handler) LambdaFunc {
	return func(ctx context.Context, event lambdaevents.APIGatewayV2HTTPRequest) (lambdaevents.APIGatewayV2HTTPResponse, error) {
		r, err := newRequest(context.WithValue(ctx, gatewayRequestKey{}, &event), &event)
		if err != nil {
			return lambdaevents.APIGatewayV2HTTPResponse{StatusCode: http.StatusBadRequest, Body: `{"message":"Bad Request"}`,
				Headers: map[string]string{"Content-Type": "application/json"}}, nil
		}
		w := &responseBuffer{header: make(http.Header, 4)}
		h.ServeHTTP(w, r)
		return w.response(), nil
	}
}

func newRequest(ctx context.Context, e *lambdaevents.APIGatewayV2HTTPRequest) (*http.Request, error) {
	body := []byte(e.Body)
	if e.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(e.Body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	rawPath := e.RawPath
	if rawPath == "" {
		rawPath = e.RequestContext.HTTP.Path
	}
	// An HTTP API hands over rawPath already percent-decoded, and has routed the request on
	// it: it is the path, not to be decoded again (a '%' in it is a '%').
	u := &url.URL{Path: rawPath, RawQuery: e.RawQueryString}
	r, err := http.NewRequestWithContext(ctx, e.RequestContext.HTTP.Method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.URL = u
	r.RequestURI = u.RequestURI()
	r.RemoteAddr = e.RequestContext.HTTP.SourceIP
	r.Header = make(http.Header, len(e.Headers)+1)
	for k, v := range e.Headers {
		r.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if len(e.Cookies) > 0 {
		r.Header["Cookie"] = []string{strings.Join(e.Cookies, "; ")}
	}
	r.Host = e.Headers["host"]
	if r.Host == "" {
		r.Host = e.RequestContext.DomainName
	}
	return r, nil
}

// responseBuffer is the http.ResponseWriter of one Lambda invocation.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseBuffer) Header() http.Header { return w.header }

func (w *responseBuffer) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseBuffer) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// ReadFrom lets io.Copy write into the buffer without an intermediate one.
func (w *responseBuffer) ReadFrom(r io.Reader) (int64, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.ReadFrom(r)
}

func (w *responseBuffer) response() lambdaevents.APIGatewayV2HTTPResponse {
	resp := lambdaevents.APIGatewayV2HTTPResponse{StatusCode: w.status, Headers: make(map[string]string, len(w.header))}
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	for k, vs := range w.header {
		if k == "Set-Cookie" {
			resp.Cookies = vs
			continue
		}
		resp.Headers[k] = strings.Join(vs, ",")
	}
	if w.body.Len() > 0 {
		body := w.body.Bytes()
		if utf8.Valid(body) && textual(w.header.Get("Content-Type")) {
			resp.Body = string(body)
		} else {
			resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return resp
}

func textual(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") || strings.Contains(contentType, "json") || strings.Contains(contentType, "xml")
}
