// Package awsconfig builds the functions' AWS SDK configuration straight from the environment
// Lambda sets: AWS_REGION and the execution role's credentials in AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (valid for the life of the execution
// environment), plus the endpoint overrides AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>
// (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS) that the local stack uses.
//
// It replaces config.LoadDefaultConfig in the Lambdas' main: the default chain reads shared
// config files and links the SSO, STS, IMDS and container credential providers, none of which
// a Lambda function uses, and they weigh megabytes of binary and milliseconds of cold start.
package awsconfig

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"
)

// FromEnv returns the SDK configuration the environment describes (getenv is os.Getenv in
// the functions). It fails when the region or the credentials are missing.
func FromEnv(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return aws.Config{}, errors.New("awsconfig: AWS_REGION is not set")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Config{}, errors.New("awsconfig: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
	}
	cfg := aws.Config{
		Region:        region,
		Credentials:   credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN")),
		Logger:        logging.NewStandardLogger(os.Stderr), // as LoadDefaultConfig's
		ConfigSources: []any{endpoints(getenv)},
	}
	if v := getenv("AWS_ENDPOINT_URL"); v != "" {
		cfg.BaseEndpoint = aws.String(v)
	}
	return cfg, nil
}

// endpoints is an SDK config source of service-specific endpoints read from
// AWS_ENDPOINT_URL_<SDK id, upper case, spaces as underscores> (the variables the SDK's own
// environment config reads).
type endpoints func(string) string

// GetServiceBaseEndpoint is what the service clients ask their config sources for.
func (e endpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v := e("AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(sdkID, " ", "_")))
	return v, v != "", nil
}
