package local

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealerai/integrations/shared/resources"
)

// ShowDLQs prints what the running stack's dead-letter queues hold, as ops would see it in
// the SQS console: the count, then each message's attributes and body. Peeking makes the
// messages visible again at once (visibility timeout 0); nothing is deleted.
func ShowDLQs(ctx context.Context, env map[string]string, out io.Writer) error {
	return showQueues(ctx, env, resources.DeadLetterQueues(), false, out)
}

// ShowInbound prints what the running stack's inbound queue holds: the inbound events the
// sync published for DealerAI's services, with their attributes. Like a look in the SQS
// console each look counts as a receive, and after resources.InboundMaxReceiveCount a message
// moves to the inbound DLQ, as it would on AWS; take deletes what it prints instead, as a
// consumer would.
func ShowInbound(ctx context.Context, env map[string]string, take bool, out io.Writer) error {
	return showQueues(ctx, env, []resources.Queue{resources.InboundQueue}, take, out)
}

func showQueues(ctx context.Context, env map[string]string, queues []resources.Queue, take bool, out io.Writer) error {
	cfg, err := AWSConfig(ctx, env["AWS_ENDPOINT_URL_DYNAMODB"], env["AWS_ENDPOINT_URL_SQS"])
	if err != nil {
		return err
	}
	_, client := Clients(cfg)
	for _, q := range queues {
		url := env[q.EnvVar]
		if url == "" {
			return fmt.Errorf("%s is not in .local/stack.env: restart make dev", q.EnvVar)
		}
		attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages},
		})
		if err != nil {
			return fmt.Errorf("%s: %w", q.ID, err)
		}
		fmt.Fprintf(out, "%s: %s message(s)\n", q.ID, attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
		visibility := int32(0)
		if take {
			visibility = 30
		}
		msgs, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: visibility, WaitTimeSeconds: 0,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return fmt.Errorf("%s: %w", q.ID, err)
		}
		for _, m := range msgs.Messages {
			fmt.Fprintf(out, "  message %s\n", aws.ToString(m.MessageId))
			for k, v := range m.MessageAttributes {
				fmt.Fprintf(out, "    %s = %s\n", k, aws.ToString(v.StringValue))
			}
			body := aws.ToString(m.Body)
			if len(body) > 300 {
				body = body[:300] + "..."
			}
			fmt.Fprintf(out, "    body %s\n", body)
			if take {
				if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
					return fmt.Errorf("%s: %w", q.ID, err)
				}
			}
		}
	}
	return nil
}
