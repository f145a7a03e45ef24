package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/resources"
)

// TestNewSync wires the sync function as main does, from the environment, and runs a tick
// and a job of an agent that does not exist: nothing to do, nothing failed.
func TestNewSync(t *testing.T) {
	env := localtest.New(t)
	vars := env.Env()
	vars["SYNC_INTERVAL"] = "2s"
	cfg, err := app.ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	fn, err := app.NewSync(context.Background(), env.AWS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := fn(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "1", Body: agentsync.TickBody},
		{MessageId: "2", Body: `{"kind":"job","dealerId":"dlr_1","platform":"vinsolutions","reason":"manual"}`},
		{MessageId: "3", Body: `{"kind":"nonsense"}`},
	}})
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "3" {
		t.Fatalf("resp %+v, err %v; want only the malformed message failed", resp, err)
	}
	if n := env.Depth(t, resources.SyncJobsQueue) + env.Depth(t, resources.InboundQueue); n != 0 {
		t.Errorf("%d messages queued", n)
	}
}

func TestNewSyncRequiresItsQueues(t *testing.T) {
	cfg, _ := app.ConfigFromEnv(func(k string) string { return map[string]string{"CONFIG_TABLE": "t", "INVENTORY_TABLE": "i"}[k] })
	if _, err := app.NewSync(context.Background(), aws.Config{}, cfg); err == nil || !strings.Contains(err.Error(), "INBOUND_QUEUE_URL") {
		t.Fatalf("err = %v", err)
	}
	if _, err := app.ConfigFromEnv(func(k string) string { return map[string]string{"SYNC_INTERVAL": "0.5s"}[k] }); err == nil {
		t.Error("SYNC_INTERVAL 0.5s accepted")
	}
}
