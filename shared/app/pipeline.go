package app

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// SQSHandler is the function the router and delivery Lambdas hand to lambda.Start.
type SQSHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// NewRouter builds the router function. (Placeholder until the delivery pipeline lands.)
func NewRouter(ctx context.Context, awsCfg aws.Config, cfg Config) (SQSHandler, error) {
	return nil, errors.New("router not built yet")
}

// NewDelivery builds the delivery function. (Placeholder until the delivery pipeline lands.)
func NewDelivery(ctx context.Context, awsCfg aws.Config, cfg Config) (SQSHandler, error) {
	return nil, errors.New("delivery not built yet")
}
