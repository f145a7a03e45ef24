// Package stack is DealerAI Integrations' AWS CDK stack: the DynamoDB tables and SQS queues of
// package resources, the api, router, delivery and sync Lambdas, the HTTP API (routes from
// package httpapi's route table, JWT authorizer), the sync's schedule, alarms, a dashboard,
// and the producer and consumer policies.
//
// Observability: the functions write structured JSON logs (Lambda LoggingFormat JSON, slog)
// and CloudWatch metrics through the embedded metric format (EMF) in those logs. We do not
// use X-Ray: every hop is an SQS queue whose depth, age and DLQ are already metrics, and the
// logs carry eventId and deliveryId to follow one event across functions.
package stack

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/resources"
)

// Props configures NewStack.
type Props struct {
	awscdk.StackProps
	// CodeDir returns the folder holding a function's bootstrap binary (name is one of
	// FunctionNames). Nil: BuildDir("build").
	CodeDir func(name string) string
	// Config is the deployment's settings; the zero value is not valid, start from
	// Defaults() or ConfigFromContext.
	Config Config
	// PageDir holds the Integrations page's bundle (PageBundle), published when
	// Config.IntegrationsPage is set. Empty: build/web (what `make build` writes).
	PageDir string
}

// BuildDir returns a CodeDir that reads root/<name>/ (what `make build` writes) and fails
// with a clear message when the binary is missing.
func BuildDir(root string) func(name string) string {
	return func(name string) string {
		dir := filepath.Join(root, name)
		if _, err := os.Stat(filepath.Join(dir, "bootstrap")); err != nil {
			panic(fmt.Sprintf("%s/bootstrap is missing: run `make build` first (%v)", dir, err))
		}
		return dir
	}
}

// Stack is the synthesized stack and the constructs tests and outputs refer to.
type Stack struct {
	// Stack is the CDK stack (a Go struct cannot embed a jsii object and be used as one).
	Stack     awscdk.Stack
	Config    Config
	TablesKey awskms.Key
	// Tables and Queues are keyed by their resources ID ("Config", "EventsDLQ", ...).
	Tables    map[string]awsdynamodb.Table
	Queues    map[string]awssqs.Queue
	Functions map[string]awslambda.Function
	// LogGroups holds each function's log group, keyed like Functions, plus "api-access".
	LogGroups map[string]awslogs.LogGroup
	// ProducerPolicy is what DealerAI services attach to publish events; ConsumerPolicy
	// what they attach to consume the inbound events.
	ProducerPolicy awsiam.ManagedPolicy
	ConsumerPolicy awsiam.ManagedPolicy
	// AlarmTopic receives every alarm.
	AlarmTopic awssns.Topic
	// PageBucket and PageDistribution publish the Integrations page (nil unless
	// Config.IntegrationsPage).
	PageBucket       awss3.Bucket
	PageDistribution awscloudfront.Distribution

	httpAPI awsapigatewayv2.HttpApi
}

func seconds(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}

// NewStack builds the whole system into one stack.
func NewStack(scope constructs.Construct, id string, props *Props) *Stack {
	if props == nil {
		props = &Props{Config: Defaults()}
	}
	for _, fn := range queueFunctions {
		if n := props.Config.MaxConcurrency[fn]; n < 2 {
			panic(fmt.Sprintf("stack: Config.MaxConcurrency[%q] = %d; build the Config with Defaults() or ConfigFromContext", fn, n))
		}
	}
	codeDir := props.CodeDir
	if codeDir == nil {
		codeDir = BuildDir("build")
	}
	sprops := props.StackProps
	if sprops.Description == nil {
		sprops.Description = jsii.String("DealerAI Integrations: webhooks and CRM/DMS integration agents")
	}
	s := &Stack{
		Stack:     awscdk.NewStack(scope, jsii.String(id), &sprops),
		Config:    props.Config,
		Tables:    map[string]awsdynamodb.Table{},
		Queues:    map[string]awssqs.Queue{},
		Functions: map[string]awslambda.Function{},
		LogGroups: map[string]awslogs.LogGroup{},
	}
	s.data()
	s.functions(codeDir)
	s.api()
	s.schedule()
	s.producerPolicy()
	s.consumerPolicy()
	s.operations()
	if props.Config.IntegrationsPage {
		s.integrationsPage(cmp.Or(props.PageDir, filepath.Join("build", "web")))
	}
	s.suppressions()
	return s
}

// data creates the KMS key, the tables and the queues from package resources.
func (s *Stack) data() {
	s.TablesKey = awskms.NewKey(s.Stack, jsii.String("TablesKey"), &awskms.KeyProps{
		Description:       jsii.String("DealerAI Integrations: encrypts the config table (webhook secrets, agent credentials) and the delivery log"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	for _, t := range resources.Tables() {
		props := &awsdynamodb.TableProps{
			PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(t.PartitionKey.Name), Type: attrType(t.PartitionKey.Type)},
			BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(true),
			},
			Encryption:         awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
			EncryptionKey:      s.TablesKey,
			DeletionProtection: jsii.Bool(true),
			RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
		}
		if t.SortKey.Name != "" {
			props.SortKey = &awsdynamodb.Attribute{Name: jsii.String(t.SortKey.Name), Type: attrType(t.SortKey.Type)}
		}
		if t.TTLAttribute != "" {
			props.TimeToLiveAttribute = jsii.String(t.TTLAttribute)
		}
		table := awsdynamodb.NewTable(s.Stack, jsii.String(t.ID+"Table"), props)
		for _, ix := range t.Indexes {
			gsi := &awsdynamodb.GlobalSecondaryIndexProps{
				IndexName:      jsii.String(ix.Name),
				PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(ix.PartitionKey.Name), Type: attrType(ix.PartitionKey.Type)},
				ProjectionType: awsdynamodb.ProjectionType_KEYS_ONLY,
			}
			if ix.ProjectAll {
				gsi.ProjectionType = awsdynamodb.ProjectionType_ALL
			}
			if ix.SortKey.Name != "" {
				gsi.SortKey = &awsdynamodb.Attribute{Name: jsii.String(ix.SortKey.Name), Type: attrType(ix.SortKey.Type)}
			}
			table.AddGlobalSecondaryIndex(gsi)
		}
		s.Tables[t.ID] = table
	}

	// SSE-SQS rather than a KMS key: the messages hold event data, never secrets or
	// credentials (those stay in the KMS-encrypted config table), SSE-SQS costs nothing
	// per request, and producers need no kms:GenerateDataKey on a key of ours.
	for _, q := range resources.Queues() { // dead-letter queues come first
		props := &awssqs.QueueProps{
			Encryption:             awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:             jsii.Bool(true),
			VisibilityTimeout:      seconds(q.VisibilityTimeout),
			RetentionPeriod:        seconds(q.RetentionPeriod),
			MaxMessageSizeBytes:    jsii.Number(float64(q.MaxMessageBytes)),
			ReceiveMessageWaitTime: seconds(q.ReceiveWaitTime),
		}
		if q.DeadLetter != nil {
			props.DeadLetterQueue = &awssqs.DeadLetterQueue{
				Queue:           s.Queues[q.DeadLetter.ID],
				MaxReceiveCount: jsii.Number(float64(q.MaxReceiveCount)),
			}
		}
		s.Queues[q.ID] = awssqs.NewQueue(s.Stack, jsii.String(q.ID), props)
	}
}

// schedule puts the sync's tick on the sync-jobs queue every minute (an EventBridge rule; the
// queue's policy lets only this rule send). Each agent is synced every SYNC_INTERVAL: the tick
// queues the agents that are due.
func (s *Stack) schedule() {
	rule := awsevents.NewRule(s.Stack, jsii.String("SyncSchedule"), &awsevents.RuleProps{
		Description: jsii.String("DealerAI Integrations: the two-way sync's tick (queues a job per agent that is due)"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
	})
	rule.AddTarget(awseventstargets.NewSqsQueue(s.Queues[resources.SyncJobsQueue.ID], &awseventstargets.SqsQueueProps{
		Message: awsevents.RuleTargetInput_FromObject(map[string]any{"kind": agentsync.KindTick}), // agentsync.TickBody
	}))
}

func attrType(t string) awsdynamodb.AttributeType {
	switch t {
	case "S":
		return awsdynamodb.AttributeType_STRING
	case "N":
		return awsdynamodb.AttributeType_NUMBER
	case "B":
		return awsdynamodb.AttributeType_BINARY
	}
	panic(fmt.Sprintf("unknown DynamoDB attribute type %q", t))
}

type function struct {
	name    string
	memory  int
	timeout time.Duration
	desc    string
	// tables and queues whose name/URL the function reads from the environment
	tables []resources.Table
	queues []resources.Queue
	env    map[string]string
}

// functions creates the three Lambdas, their roles, log groups and permissions, and the SQS
// event source mappings.
func (s *Stack) functions(codeDir func(string) string) {
	cfg := s.Config
	defs := []function{
		{
			name: FuncAPI, memory: 256, timeout: resources.APITimeout,
			desc:   "REST API: subscriptions, agents, delivery log, sync status (behind API Gateway)",
			tables: []resources.Table{resources.ConfigTable, resources.DeliveryLogTable, resources.InventoryTable},
			queues: []resources.Queue{resources.DeliveriesQueue, resources.SyncJobsQueue},
			env: map[string]string{"DEALER_ID_CLAIM": cfg.DealerIDClaim, "ADMIN_SCOPE_CLAIM": cfg.AdminScopeClaim,
				"ADMIN_SCOPE": cfg.AdminScope, "DEFAULT_AGENT_PLATFORMS": cfg.DefaultAgentPlatforms},
		},
		{
			name: FuncRouter, memory: 256, timeout: resources.RouterTimeout,
			desc:   "Router: validates events and enqueues one delivery per matching target",
			tables: []resources.Table{resources.ConfigTable},
			queues: []resources.Queue{resources.EventsDLQ, resources.DeliveriesQueue},
			env:    map[string]string{"GOMAXPROCS": resources.PipelineGOMAXPROCS, "DEFAULT_AGENT_PLATFORMS": cfg.DefaultAgentPlatforms},
		},
		{
			name: FuncDelivery, memory: 512, timeout: resources.DeliveryTimeout,
			desc:   "Delivery: one signed webhook POST or agent call per message, with retries",
			tables: []resources.Table{resources.ConfigTable, resources.DeliveryLogTable},
			queues: []resources.Queue{resources.DeliveriesQueue},
			env: map[string]string{"DELIVERY_BACKOFF": cfg.DeliveryBackoff, "DELIVERY_TIMEOUT": cfg.DeliveryTimeout,
				"GOMAXPROCS": resources.PipelineGOMAXPROCS, "DEFAULT_AGENT_PLATFORMS": cfg.DefaultAgentPlatforms},
		},
		{
			name: FuncSync, memory: 256, timeout: resources.SyncTimeout,
			desc:   "Sync: reads the agents' platforms' changes and publishes inbound events (ticks and jobs of the sync-jobs queue)",
			tables: []resources.Table{resources.ConfigTable, resources.InventoryTable},
			queues: []resources.Queue{resources.InboundQueue, resources.SyncJobsQueue},
			// DELIVERY_TIMEOUT bounds each platform request, as it does a delivery's
			env: map[string]string{"SYNC_INTERVAL": cfg.SyncInterval, "DELIVERY_TIMEOUT": cfg.DeliveryTimeout,
				"GOMAXPROCS": resources.PipelineGOMAXPROCS, "DEFAULT_AGENT_PLATFORMS": cfg.DefaultAgentPlatforms},
		},
	}
	for _, d := range defs {
		if d.name == FuncRouter || d.name == FuncDelivery {
			d.env["GOGC"], d.env["GOMEMLIMIT"] = resources.PipelineGOGC, resources.PipelineGOMEMLIMIT(d.memory)
		}
	}
	for _, d := range defs {
		if d.name != FuncAPI {
			continue
		}
		if cfg.RateLimits != "" { // the api counts test sends, retries and recoveries
			d.env["RATE_LIMITS"] = cfg.RateLimits
		}
		if cfg.MaxSubscriptionsPerHost != 0 {
			d.env["MAX_SUBSCRIPTIONS_PER_HOST"] = strconv.Itoa(cfg.MaxSubscriptionsPerHost)
		}
	}
	if cfg.FortellisNoticeJWKSURL != "" {
		for _, d := range defs {
			if d.name == FuncAPI { // the api verifies Fortellis Event Relay's tokens
				d.env["FORTELLIS_NOTICE_JWKS_URL"], d.env["FORTELLIS_NOTICE_AUDIENCE"] = cfg.FortellisNoticeJWKSURL, cfg.FortellisNoticeAudience
				if cfg.FortellisNoticeIssuer != "" {
					d.env["FORTELLIS_NOTICE_ISSUER"] = cfg.FortellisNoticeIssuer
				}
			}
		}
	}
	if len(cfg.AgentExtraHosts) > 0 {
		// the api checks agent URL settings against them, the delivery and sync functions
		// their requests
		for _, d := range defs {
			if d.name == FuncAPI || d.name == FuncDelivery || d.name == FuncSync {
				d.env["AGENT_EXTRA_HOSTS"] = strings.Join(cfg.AgentExtraHosts, ",")
			}
		}
	}
	for _, d := range defs {
		logs := awslogs.NewLogGroup(s.Stack, jsii.String(d.name+"Logs"), &awslogs.LogGroupProps{
			Retention: awslogs.RetentionDays_ONE_MONTH,
		})
		// An explicit role instead of the default AWSLambdaBasicExecutionRole: the managed
		// policy may write to any log group; this one may write to its own.
		role := awsiam.NewRole(s.Stack, jsii.String(d.name+"Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String(fmt.Sprintf("DealerAI Integrations %s function", d.name)),
		})
		logs.GrantWrite(role)

		env := map[string]*string{}
		for _, t := range d.tables {
			env[t.EnvVar] = s.Tables[t.ID].TableName()
		}
		for _, q := range d.queues {
			env[q.EnvVar] = s.Queues[q.ID].QueueUrl()
		}
		for k, v := range d.env {
			env[k] = jsii.String(v)
		}
		// Lambda's own records of each invocation (platform.start and platform.report, a few
		// hundred bytes) are INFO. The router and delivery functions, invoked per batch, log
		// them at WARN and up only: at light load (a batch per event) they would add ~$0.12
		// per million deliveries. Their Duration, Errors and Throttles metrics, and the alarms
		// on them, do not come from these records; the api and sync functions keep them.
		systemLogLevel := awslambda.SystemLogLevel_INFO
		if d.name == FuncRouter || d.name == FuncDelivery {
			systemLogLevel = awslambda.SystemLogLevel_WARN
		}
		props := &awslambda.FunctionProps{
			Description:  jsii.String(d.desc),
			Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
			Architecture: awslambda.Architecture_ARM_64(),
			Handler:      jsii.String("bootstrap"),
			Code:         awslambda.Code_FromAsset(jsii.String(codeDir(d.name)), nil),
			MemorySize:   jsii.Number(float64(d.memory)),
			Timeout:      seconds(d.timeout),
			Role:         role,
			Environment:  &env,
			// Structured logs: slog's JSON lines pass through as-is, Lambda's own records
			// become JSON too, and DEBUG lines are dropped at the source.
			LogGroup:              logs,
			LoggingFormat:         awslambda.LoggingFormat_JSON,
			ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
			SystemLogLevelV2:      systemLogLevel,
		}
		if n, ok := cfg.ReservedConcurrency[d.name]; ok {
			props.ReservedConcurrentExecutions = jsii.Number(float64(n))
		}
		s.Functions[d.name] = awslambda.NewFunction(s.Stack, jsii.String(d.name+"Function"), props)
		s.LogGroups[d.name] = logs
	}

	cfgTable := s.Tables[resources.ConfigTable.ID]
	logTable := s.Tables[resources.DeliveryLogTable.ID]
	invTable := s.Tables[resources.InventoryTable.ID]
	api, router, delivery, sync := s.Functions[FuncAPI], s.Functions[FuncRouter], s.Functions[FuncDelivery], s.Functions[FuncSync]

	// api: subscriptions, agents and counters (transactions are Put/Update/ConditionCheck
	// for IAM), the delivery log (lists, manual retries), and test sends and retries go
	// straight to the deliveries queue, sync runs asked for to the sync-jobs queue.
	cfgTable.GrantReadWriteData(api)
	logTable.GrantReadWriteData(api)
	s.Queues[resources.DeliveriesQueue.ID].GrantSendMessages(api)
	s.Queues[resources.SyncJobsQueue.ID].GrantSendMessages(api)
	// api: the dealers' inventories, read only (GetItem, Query of the table and its indexes).
	invTable.Grant(api, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:Query"))
	invTable.GrantOnKey(api, jsii.String("kms:Decrypt"), jsii.String("kms:DescribeKey"))

	// sync: reads agents (with their credentials) and reverse pointers, queries the SyncDue
	// index, writes only the sync state, the agents' due time and their claims (UpdateItem);
	// publishes inbound events; queues continuation jobs. No delete, no put, no scan.
	cfgTable.Grant(sync, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:BatchGetItem"), jsii.String("dynamodb:Query"), jsii.String("dynamodb:UpdateItem"))
	cfgTable.GrantOnKey(sync, jsii.String("kms:Decrypt"), jsii.String("kms:DescribeKey"), jsii.String("kms:Encrypt"), jsii.String("kms:GenerateDataKey*"), jsii.String("kms:ReEncrypt*"))
	s.Queues[resources.InboundQueue.ID].GrantSendMessages(sync)
	// sync: the inventories it keeps: read what it stored (BatchGetItem), write what changed
	// (BatchWriteItem puts and deletes). No scan, no query.
	invTable.Grant(sync, jsii.String("dynamodb:BatchGetItem"), jsii.String("dynamodb:BatchWriteItem"))
	invTable.GrantOnKey(sync, jsii.String("kms:Decrypt"), jsii.String("kms:DescribeKey"), jsii.String("kms:Encrypt"), jsii.String("kms:GenerateDataKey*"), jsii.String("kms:ReEncrypt*"))
	s.Queues[resources.SyncJobsQueue.ID].GrantSendMessages(sync)

	// router: one Query per dealer (pk = dealer, begins_with(sk, "T#")) and nothing else on
	// the table; poison events to the events DLQ; one delivery message per target. It
	// consumes the events queue through the event source mapping below.
	cfgTable.Grant(router, jsii.String("dynamodb:Query"))
	cfgTable.GrantOnKey(router, jsii.String("kms:Decrypt"), jsii.String("kms:DescribeKey"))
	s.Queues[resources.EventsDLQ.ID].GrantSendMessages(router)
	s.Queues[resources.DeliveriesQueue.ID].GrantSendMessages(router)

	// delivery: reads targets and credentials, writes back (410 disables a subscription,
	// agents store correlation ids), records every attempt; consumes the deliveries queue
	// (the mapping's grant includes ChangeMessageVisibility, used for the backoff).
	cfgTable.GrantReadWriteData(delivery)
	logTable.GrantReadWriteData(delivery)

	mappings := []struct {
		fn     awslambda.Function
		name   string
		queue  resources.Queue
		batch  int
		window time.Duration
	}{
		{router, FuncRouter, resources.EventsQueue, 10, s.Config.BatchingWindow},
		{delivery, FuncDelivery, resources.DeliveriesQueue, 10, s.Config.BatchingWindow},
		// a batch's jobs run concurrently, each bounded by resources.SyncJobBudget
		{sync, FuncSync, resources.SyncJobsQueue, 5, 0},
	}
	for _, m := range mappings {
		m.fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(s.Queues[m.queue.ID], &awslambdaeventsources.SqsEventSourceProps{
			BatchSize: jsii.Number(float64(m.batch)),
			// by default no batching window: an event goes out as soon as it arrives
			MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(m.window.Seconds())),
			ReportBatchItemFailures: jsii.Bool(true),
			// Bounded concurrency instead of Lambda throttling: a throttled batch would
			// still count as a receive and eat into the redrive budget.
			MaxConcurrency: jsii.Number(float64(s.Config.MaxConcurrency[m.name])),
		}))
	}
}
