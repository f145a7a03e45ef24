// Package localtest gives integration tests their own tables and queues on the emulators
// that `make test` starts (it exports AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS), or
// private emulator instances for tests that must disturb them (the fault suite).
//
// Test files anywhere in the module may import it; no production package does.
package localtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/shared/resources"
)

// Env is one test's freshly provisioned tables and queues.
type Env struct {
	// AWS is a config whose DynamoDB and SQS clients reach this Env's emulators.
	AWS              aws.Config
	DynamoDB         *dynamodb.Client
	SQS              *sqs.Client
	DynamoDBEndpoint string
	SQSEndpoint      string
	local.Names
}

// Integration marks t as an integration test (DynamoDB Local and the SQS emulator). Without
// the emulators' endpoints it skips t with one line saying how to run it, or fails t when
// integration tests are required (local.IntegrationTestsVar, set by make test).
func Integration(t testing.TB) {
	t.Helper()
	if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") != "" && os.Getenv("AWS_ENDPOINT_URL_SQS") != "" {
		return
	}
	const msg = "integration test: run `make test`, which starts DynamoDB Local and the SQS emulator (or set AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS to running ones)"
	if os.Getenv(local.IntegrationTestsVar) == "required" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// New provisions every table and queue of package resources under a prefix unique to this
// test on the shared emulators, and deletes them when the test ends. Without the emulators
// the test skips (see Integration).
func New(t testing.TB) *Env {
	t.Helper()
	Integration(t)
	return provision(t, os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"), os.Getenv("AWS_ENDPOINT_URL_SQS"))
}

// NewPrivate starts emulator instances of the test's own (stopped at cleanup) and provisions
// the resources there: for tests that pause or cut the emulators. It runs where the shared
// emulators run (see Integration), since it needs the same Java and Node tools.
func NewPrivate(t testing.TB, opts local.EmulatorOptions) (*Env, *local.Emulators) {
	t.Helper()
	Integration(t)
	em, err := local.StartEmulators(context.Background(), opts)
	if err != nil {
		t.Fatalf("start private emulators: %v", err)
	}
	t.Cleanup(em.Stop)
	return provision(t, em.DynamoDBEndpoint, em.SQSEndpoint), em
}

func provision(t testing.TB, ddbURL, sqsURL string) *Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg, err := local.AWSConfig(ctx, ddbURL, sqsURL)
	if err != nil {
		t.Fatal(err)
	}
	ddb, sq := local.Clients(cfg)
	names, err := local.Provision(ctx, ddb, sq, Prefix(t))
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	t.Cleanup(func() { local.Deprovision(ddb, sq, names) })
	return &Env{AWS: cfg, DynamoDB: ddb, SQS: sq, DynamoDBEndpoint: ddbURL, SQSEndpoint: sqsURL, Names: names}
}

// Prefix is a table/queue name prefix unique to this test (queue names allow [A-Za-z0-9_-],
// at most 80 characters).
func Prefix(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '-'
	}, t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "t-" + name + "-" + hex.EncodeToString(b)
}

// Table and QueueURL look up a provisioned resource by its resources definition.
func (e *Env) Table(t resources.Table) string    { return e.Tables[t.ID] }
func (e *Env) QueueURL(q resources.Queue) string { return e.QueueURLs[q.ID] }
