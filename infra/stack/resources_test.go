package stack

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/shared/resources"
)

func TestNoUnsuppressedNagFindings(t *testing.T) {
	for name, ctx := range map[string]map[string]any{
		"defaults":   nil,
		"configured": configuredContext,
	} {
		t.Run(name, func(t *testing.T) {
			s := synth(t, ctx)
			ann := assertions.Annotations_FromStack(s.st.Stack)
			match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
			for _, m := range *ann.FindError(jsii.String("*"), match) {
				t.Errorf("cdk-nag error at %s: %v", *m.Id, m.Entry.Data)
			}
			for _, m := range *ann.FindWarning(jsii.String("*"), match) {
				t.Errorf("cdk-nag warning at %s: %v", *m.Id, m.Entry.Data)
			}
		})
	}
}

func TestTables(t *testing.T) {
	s := defaultStack(t)
	keyID := s.logicalID(s.st.TablesKey)
	noPanic(t, "tables key rotation", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
	})
	if got := s.resource[keyID]["DeletionPolicy"]; got != "Retain" {
		t.Errorf("tables key DeletionPolicy = %v, want Retain", got)
	}
	if n := len(s.ofType("AWS::DynamoDB::Table")); n != len(resources.Tables()) {
		t.Errorf("%d tables, want %d", n, len(resources.Tables()))
	}
	for _, def := range resources.Tables() {
		id := s.logicalID(s.st.Tables[def.ID])
		r := s.resource[id]
		p := props(r)
		if p["BillingMode"] != "PAY_PER_REQUEST" {
			t.Errorf("%s: BillingMode %v", def.ID, p["BillingMode"])
		}
		if pitr, _ := p["PointInTimeRecoverySpecification"].(map[string]any); pitr["PointInTimeRecoveryEnabled"] != true {
			t.Errorf("%s: point-in-time recovery not enabled: %v", def.ID, asJSON(pitr))
		}
		sse, _ := p["SSESpecification"].(map[string]any)
		if sse["SSEEnabled"] != true || sse["SSEType"] != "KMS" || refTarget(sse["KMSMasterKeyId"]) != keyID {
			t.Errorf("%s: SSE %s, want KMS with the tables key %s", def.ID, asJSON(sse), keyID)
		}
		if p["DeletionProtectionEnabled"] != true {
			t.Errorf("%s: deletion protection off", def.ID)
		}
		if r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
			t.Errorf("%s: DeletionPolicy %v UpdateReplacePolicy %v, want Retain", def.ID, r["DeletionPolicy"], r["UpdateReplacePolicy"])
		}
		ttl, _ := p["TimeToLiveSpecification"].(map[string]any)
		if def.TTLAttribute == "" {
			if ttl != nil {
				t.Errorf("%s: unexpected TTL %s", def.ID, asJSON(ttl))
			}
		} else if ttl["AttributeName"] != def.TTLAttribute || ttl["Enabled"] != true {
			t.Errorf("%s: TTL %s, want %s enabled", def.ID, asJSON(ttl), def.TTLAttribute)
		}
	}
	// the config table's sparse index of agents by next sync time: keys only
	cfg := props(s.resource[s.logicalID(s.st.Tables[resources.ConfigTable.ID])])
	gsis, _ := cfg["GlobalSecondaryIndexes"].([]any)
	if len(gsis) != 1 || !strings.Contains(asJSON(gsis[0]), `"IndexName":"SyncDue"`) || !strings.Contains(asJSON(gsis[0]), `"ProjectionType":"KEYS_ONLY"`) ||
		!strings.Contains(asJSON(gsis[0]), `{"AttributeName":"syncShard","KeyType":"HASH"}`) || !strings.Contains(asJSON(gsis[0]), `{"AttributeName":"syncDueAt","KeyType":"RANGE"}`) {
		t.Errorf("config table indexes %s", asJSON(gsis))
	}
	// the delivery log expires its items
	noPanic(t, "delivery log TTL", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"TimeToLiveSpecification": map[string]any{"AttributeName": "expiresAt", "Enabled": true},
		})
	})
}

func TestQueuesRedriveIntoTheirOwnDLQ(t *testing.T) {
	s := defaultStack(t)
	for _, c := range []struct {
		queue, dlq resources.Queue
		want       int
	}{
		{resources.EventsQueue, resources.EventsDLQ, 5},
		{resources.DeliveriesQueue, resources.DeliveriesDLQ, 4},
		{resources.InboundQueue, resources.InboundDLQ, 5},
		{resources.SyncJobsQueue, resources.SyncJobsDLQ, 5},
	} {
		dlqID := s.logicalID(s.st.Queues[c.dlq.ID])
		noPanic(t, c.queue.ID+" redrive", func() {
			s.tmpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
				"RedrivePolicy": map[string]any{
					"deadLetterTargetArn": map[string]any{"Fn::GetAtt": []any{dlqID, "Arn"}},
					"maxReceiveCount":     c.want,
				},
			})
		})
		p := props(s.resource[s.logicalID(s.st.Queues[c.queue.ID])])
		rp, _ := p["RedrivePolicy"].(map[string]any)
		if refTarget(rp["deadLetterTargetArn"]) != dlqID || num(t, rp["maxReceiveCount"]) != float64(c.want) {
			t.Errorf("%s redrive policy %s, want %s after %d receives", c.queue.ID, asJSON(rp), dlqID, c.want)
		}
		// a DLQ keeps its messages 14 days and has no DLQ of its own
		dp := props(s.resource[dlqID])
		if num(t, dp["MessageRetentionPeriod"]) != 14*24*3600 {
			t.Errorf("%s retention %v, want 14 days", c.dlq.ID, dp["MessageRetentionPeriod"])
		}
		if dp["RedrivePolicy"] != nil {
			t.Errorf("%s has a redrive policy", c.dlq.ID)
		}
	}
}

func TestQueuesEncryptedAndTLSOnly(t *testing.T) {
	s := defaultStack(t)
	// queue logical ID -> has a policy statement denying requests without TLS
	tlsOnly := map[string]bool{}
	for _, id := range s.ofType("AWS::SQS::QueuePolicy") {
		p := props(s.resource[id])
		doc, _ := p["PolicyDocument"].(map[string]any)
		stmts, _ := doc["Statement"].([]any)
		for _, st := range stmts {
			st := st.(map[string]any)
			cond := asJSON(st["Condition"])
			if st["Effect"] == "Deny" && st["Action"] == "sqs:*" && strings.Contains(cond, `"aws:SecureTransport":"false"`) {
				for _, q := range p["Queues"].([]any) {
					tlsOnly[refTarget(q)] = true
				}
			}
		}
	}
	for _, def := range resources.Queues() {
		id := s.logicalID(s.st.Queues[def.ID])
		if props(s.resource[id])["SqsManagedSseEnabled"] != true {
			t.Errorf("%s: SSE-SQS not enabled", def.ID)
		}
		if !tlsOnly[id] {
			t.Errorf("%s: no queue policy denying aws:SecureTransport=false", def.ID)
		}
	}
}

// TestMatchesLocalStack renders the local stack's CreateTable and CreateQueue calls from the
// same definitions and compares them with the template.
func TestMatchesLocalStack(t *testing.T) {
	s := defaultStack(t)
	for _, def := range resources.Tables() {
		in := local.TableInput("test", def)
		p := props(s.resource[s.logicalID(s.st.Tables[def.ID])])
		want := map[string]string{}
		for _, k := range in.KeySchema {
			want[*k.AttributeName] = string(k.KeyType)
		}
		for _, a := range in.AttributeDefinitions {
			want[*a.AttributeName] += "/" + string(a.AttributeType)
		}
		got := map[string]string{}
		for _, k := range p["KeySchema"].([]any) {
			k := k.(map[string]any)
			got[k["AttributeName"].(string)] = k["KeyType"].(string)
		}
		for _, a := range p["AttributeDefinitions"].([]any) {
			a := a.(map[string]any)
			got[a["AttributeName"].(string)] += "/" + a["AttributeType"].(string)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("table %s: CDK key schema %v, local %v", def.ID, got, want)
		}
		if string(in.BillingMode) != p["BillingMode"] {
			t.Errorf("table %s: CDK billing %v, local %v", def.ID, p["BillingMode"], in.BillingMode)
		}
		// the local stack enables TTL on def.TTLAttribute (Provision)
		ttl, _ := p["TimeToLiveSpecification"].(map[string]any)
		gotTTL, _ := ttl["AttributeName"].(string)
		if gotTTL != def.TTLAttribute {
			t.Errorf("table %s: CDK TTL attribute %q, local %q", def.ID, gotTTL, def.TTLAttribute)
		}
	}

	// a fake ARN per queue lets the local redrive policy name its target
	fakeARN := func(id string) string { return "arn:aws:sqs:local:000000000000:" + id }
	for _, def := range resources.Queues() {
		dlqARN := ""
		if def.DeadLetter != nil {
			dlqARN = fakeARN(def.DeadLetter.ID)
		}
		in := local.QueueInput("test", def, dlqARN)
		p := props(s.resource[s.logicalID(s.st.Queues[def.ID])])
		for _, attr := range []string{"VisibilityTimeout", "MessageRetentionPeriod", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds"} {
			localV, ok := in.Attributes[attr]
			if !ok {
				t.Errorf("queue %s: local stack sets no %s", def.ID, attr)
				continue
			}
			if p[attr] == nil || num(t, p[attr]) != num(t, localV) {
				t.Errorf("queue %s: %s CDK %v, local %s", def.ID, attr, p[attr], localV)
			}
		}
		localRP, hasLocal := in.Attributes["RedrivePolicy"]
		cdkRP, _ := p["RedrivePolicy"].(map[string]any)
		if !hasLocal {
			if cdkRP != nil {
				t.Errorf("queue %s: CDK redrive %s, local none", def.ID, asJSON(cdkRP))
			}
			continue
		}
		var lrp struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     int    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(localRP), &lrp); err != nil {
			t.Fatalf("queue %s: local RedrivePolicy %q: %v", def.ID, localRP, err)
		}
		localTarget := strings.TrimPrefix(lrp.DeadLetterTargetArn, fakeARN(""))
		cdkTarget := refTarget(cdkRP["deadLetterTargetArn"])
		if cdkTarget != s.logicalID(s.st.Queues[localTarget]) {
			t.Errorf("queue %s: CDK redrives into %s, local into %s", def.ID, cdkTarget, localTarget)
		}
		if num(t, cdkRP["maxReceiveCount"]) != float64(lrp.MaxReceiveCount) {
			t.Errorf("queue %s: maxReceiveCount CDK %v, local %d", def.ID, cdkRP["maxReceiveCount"], lrp.MaxReceiveCount)
		}
	}
}
