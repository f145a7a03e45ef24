package local

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Local credentials and region: the emulators accept anything.
// IntegrationTestsVar is the environment variable the stack command's emulators mode (make
// test) sets to "required": integration tests then fail where they would skip without the
// emulators (localtest.Integration), so make test cannot pass by skipping them.
const IntegrationTestsVar = "INTEGRATION_TESTS"

const (
	Region          = "us-east-1"
	AccessKeyID     = "local"
	SecretAccessKey = "local"
)

// AWSConfig is an SDK config with the local region and credentials whose DynamoDB and SQS
// clients (any built with NewFromConfig, in our code or the functions') talk to the given
// emulator endpoints — like AWS_ENDPOINT_URL_DYNAMODB/_SQS, but per config, so a test can
// run private emulators beside the shared ones.
func AWSConfig(ctx context.Context, dynamoDBEndpoint, sqsEndpoint string) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")),
	)
	if err != nil {
		return cfg, err
	}
	endpoints := serviceEndpoints{"DynamoDB": dynamoDBEndpoint, "SQS": sqsEndpoint}
	cfg.ConfigSources = append([]any{endpoints}, cfg.ConfigSources...)
	return cfg, nil
}

// serviceEndpoints is an SDK config source of service-specific endpoints, keyed by SDK id.
type serviceEndpoints map[string]string

func (s serviceEndpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v, ok := s[sdkID]
	return v, ok && v != "", nil
}

// Clients builds DynamoDB and SQS clients from cfg.
func Clients(cfg aws.Config) (*dynamodb.Client, *sqs.Client) {
	return dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
}
