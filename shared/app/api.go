package app

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// APIHandler is the function the api Lambda hands to lambda.Start.
type APIHandler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// NewAPI builds the api function. (Placeholder until the Subscriptions API lands.)
func NewAPI(ctx context.Context, awsCfg aws.Config, cfg Config) (APIHandler, error) {
	return func(ctx context.Context, r events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{"status":"ok"}`, Headers: map[string]string{"Content-Type": "application/json"}}, nil
	}, nil
}
