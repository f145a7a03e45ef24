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
	cfg, err := AWSConfig(ctx, env["AWS_ENDPOINT_URL_DYNAMODB"], env["AWS_ENDPOINT_URL_SQS"])
	if err != nil {
		return err
	}
	_, client := Clients(cfg)
	for _, q := range resources.DeadLetterQueues() {
		url := env[q.EnvVar]
		attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages},
		})
		if err != nil {
			return fmt.Errorf("%s: %w", q.ID, err)
		}
		fmt.Fprintf(out, "%s: %s message(s)\n", q.ID, attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
		msgs, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 0,
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
		}
	}
	return nil
}
