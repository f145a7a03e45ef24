// Command publish sends event bodies to the running local stack's events queue, as a DealerAI
// service would: go run ./infra/local/cmd/publish events/examples/lead.created.json [...]
// The dealerId of each body can be replaced with -dealer, and the timestamp is set to now
// unless -keep-timestamp is given. Bodies are sent as they are otherwise, so poison can be
// tried too.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/infra/local"
)

func main() {
	dealer := flag.String("dealer", "", "replace each body's dealerId")
	keepTimestamp := flag.Bool("keep-timestamp", false, "keep each body's timestamp instead of now")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: publish [-dealer ID] FILE.json ...")
		os.Exit(2)
	}
	if err := run(*dealer, *keepTimestamp, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "publish:", err)
		os.Exit(1)
	}
}

func run(dealer string, keepTimestamp bool, files []string) error {
	root, err := local.RepoRoot()
	if err != nil {
		return err
	}
	env, err := local.ReadStackEnv(root)
	if err != nil {
		return err
	}
	ctx := context.Background()
	cfg, err := local.AWSConfig(ctx, env["AWS_ENDPOINT_URL_DYNAMODB"], env["AWS_ENDPOINT_URL_SQS"])
	if err != nil {
		return err
	}
	_, client := local.Clients(cfg)
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		body = adjust(body, dealer, keepTimestamp)
		out, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(env["EVENTS_QUEUE_URL"]), MessageBody: aws.String(string(body))})
		if err != nil {
			return err
		}
		fmt.Printf("%s → message %s\n", f, aws.ToString(out.MessageId))
	}
	return nil
}

// adjust sets dealerId and timestamp in a JSON object body; anything else is left as is.
func adjust(body []byte, dealer string, keepTimestamp bool) []byte {
	var obj map[string]any
	if json.Unmarshal(body, &obj) != nil {
		return body
	}
	if dealer != "" {
		obj["dealerId"] = dealer
	}
	if !keepTimestamp {
		obj["timestamp"] = time.Now().UTC().Format(time.RFC3339Nano)
	}
	delete(obj, "eventId") // a fresh event each time
	out, err := json.Marshal(obj)
	if err != nil {
		return body
	}
	return out
}
