// Package local is the local stack: it starts DynamoDB Local and the SQS emulator, creates the
// tables and queues from package resources (the same definitions the CDK stack renders),
// serves the API behind a JWT check that behaves like API Gateway's, and polls the queues
// into the router and delivery handlers the way Lambda's SQS event source mapping does.
package local

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealerai/integrations/shared/resources"
)

// TableInput renders a table definition as the CreateTable call the local stack makes.
func TableInput(prefix string, t resources.Table) *dynamodb.CreateTableInput {
	attrs := []ddbtypes.AttributeDefinition{{AttributeName: aws.String(t.PartitionKey.Name), AttributeType: ddbtypes.ScalarAttributeType(t.PartitionKey.Type)}}
	keys := []ddbtypes.KeySchemaElement{{AttributeName: aws.String(t.PartitionKey.Name), KeyType: ddbtypes.KeyTypeHash}}
	if t.SortKey.Name != "" {
		attrs = append(attrs, ddbtypes.AttributeDefinition{AttributeName: aws.String(t.SortKey.Name), AttributeType: ddbtypes.ScalarAttributeType(t.SortKey.Type)})
		keys = append(keys, ddbtypes.KeySchemaElement{AttributeName: aws.String(t.SortKey.Name), KeyType: ddbtypes.KeyTypeRange})
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(resources.Name(prefix, t.ID)),
		KeySchema:   keys,
		BillingMode: ddbtypes.BillingModePayPerRequest,
	}
	for _, ix := range t.Indexes {
		gsi := ddbtypes.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.Name),
			KeySchema:  []ddbtypes.KeySchemaElement{{AttributeName: aws.String(ix.PartitionKey.Name), KeyType: ddbtypes.KeyTypeHash}},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeKeysOnly},
		}
		if ix.ProjectAll {
			gsi.Projection.ProjectionType = ddbtypes.ProjectionTypeAll
		}
		attrs = addAttr(attrs, ix.PartitionKey)
		if ix.SortKey.Name != "" {
			gsi.KeySchema = append(gsi.KeySchema, ddbtypes.KeySchemaElement{AttributeName: aws.String(ix.SortKey.Name), KeyType: ddbtypes.KeyTypeRange})
			attrs = addAttr(attrs, ix.SortKey)
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	in.AttributeDefinitions = attrs
	return in
}

// addAttr defines a key attribute once (an index may share the table's partition key).
func addAttr(attrs []ddbtypes.AttributeDefinition, k resources.KeyAttr) []ddbtypes.AttributeDefinition {
	for _, a := range attrs {
		if aws.ToString(a.AttributeName) == k.Name {
			return attrs
		}
	}
	return append(attrs, ddbtypes.AttributeDefinition{AttributeName: aws.String(k.Name), AttributeType: ddbtypes.ScalarAttributeType(k.Type)})
}

// QueueInput renders a queue definition as the CreateQueue call the local stack makes;
// deadLetterARN is the ARN of q.DeadLetter.
func QueueInput(prefix string, q resources.Queue, deadLetterARN string) *sqs.CreateQueueInput {
	return &sqs.CreateQueueInput{
		QueueName:  aws.String(resources.Name(prefix, q.ID)),
		Attributes: q.Attributes(deadLetterARN),
	}
}

// Names are the physical names, URLs and ARNs of one provisioned set of tables and queues.
type Names struct {
	Prefix    string
	Tables    map[string]string // resources ID -> table name
	QueueURLs map[string]string // resources ID -> queue URL
	QueueARNs map[string]string // resources ID -> queue ARN
}

// Env returns the variables the functions read (CONFIG_TABLE, EVENTS_QUEUE_URL, ...).
func (n Names) Env() map[string]string {
	env := map[string]string{}
	for _, t := range resources.Tables() {
		env[t.EnvVar] = n.Tables[t.ID]
	}
	for _, q := range resources.Queues() {
		env[q.EnvVar] = n.QueueURLs[q.ID]
	}
	return env
}

// Provision creates every table and queue under prefix (idempotently) and waits until each
// is ready.
func Provision(ctx context.Context, ddb *dynamodb.Client, sq *sqs.Client, prefix string) (Names, error) {
	n := Names{Prefix: prefix, Tables: map[string]string{}, QueueURLs: map[string]string{}, QueueARNs: map[string]string{}}
	for _, t := range resources.Tables() {
		in := TableInput(prefix, t)
		_, err := ddb.CreateTable(ctx, in)
		var inUse *ddbtypes.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return n, fmt.Errorf("create table %s: %w", *in.TableName, err)
		}
		if err := dynamodb.NewTableExistsWaiter(ddb).Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, 30*time.Second); err != nil {
			return n, fmt.Errorf("wait for table %s: %w", *in.TableName, err)
		}
		if t.TTLAttribute != "" {
			_, err := ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
				TableName:               in.TableName,
				TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(t.TTLAttribute), Enabled: aws.Bool(true)},
			})
			if err != nil && !isTTLAlreadyEnabled(err) {
				return n, fmt.Errorf("enable TTL on %s: %w", *in.TableName, err)
			}
		}
		n.Tables[t.ID] = *in.TableName
	}
	for _, q := range resources.Queues() {
		dlqARN := ""
		if q.DeadLetter != nil {
			dlqARN = n.QueueARNs[q.DeadLetter.ID]
		}
		out, err := sq.CreateQueue(ctx, QueueInput(prefix, q, dlqARN))
		if err != nil {
			return n, fmt.Errorf("create queue %s: %w", resources.Name(prefix, q.ID), err)
		}
		attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return n, fmt.Errorf("queue %s attributes: %w", resources.Name(prefix, q.ID), err)
		}
		n.QueueURLs[q.ID] = *out.QueueUrl
		n.QueueARNs[q.ID] = attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	}
	return n, nil
}

func isTTLAlreadyEnabled(err error) bool {
	var v *ddbtypes.ResourceInUseException
	return errors.As(err, &v)
}

// Deprovision deletes what Provision created, as best it can within 20 s: a test's or a
// bench's clean-up, where an emulator already stopped is no error worth reporting.
func Deprovision(ddb *dynamodb.Client, sq *sqs.Client, n Names) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, name := range n.Tables {
		_, _ = ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	}
	for _, url := range n.QueueURLs {
		_, _ = sq.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
	}
}
