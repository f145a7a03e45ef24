package awsconfig

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func TestFromEnv(t *testing.T) {
	env := map[string]string{
		"AWS_REGION":                "eu-west-1",
		"AWS_ACCESS_KEY_ID":         "AKID",
		"AWS_SECRET_ACCESS_KEY":     "SECRET",
		"AWS_SESSION_TOKEN":         "TOKEN",
		"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
	}
	cfg, err := FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("region %q", cfg.Region)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "SECRET" || creds.SessionToken != "TOKEN" {
		t.Errorf("credentials %+v, %v", creds, err)
	}
	if got := dynamodb.NewFromConfig(cfg).Options().BaseEndpoint; got == nil || *got != "http://127.0.0.1:8000" {
		t.Errorf("DynamoDB endpoint %v", got)
	}
	if got := sqs.NewFromConfig(cfg).Options().BaseEndpoint; got != nil {
		t.Errorf("SQS endpoint %v, want the default", *got)
	}

	env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:4566"
	cfg, _ = FromEnv(func(k string) string { return env[k] })
	if got := sqs.NewFromConfig(cfg).Options().BaseEndpoint; got == nil || *got != "http://127.0.0.1:4566" {
		t.Errorf("SQS endpoint %v, want the global one", got)
	}

	for _, missing := range []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		v := env[missing]
		delete(env, missing)
		if _, err := FromEnv(func(k string) string { return env[k] }); err == nil {
			t.Errorf("no error without %s", missing)
		}
		env[missing] = v
	}
}
