package stack

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/resources"
)

// Metrics the delivery and sync functions emit through the embedded metric format: namespace
// MetricsNamespace, no dimensions.
const (
	MetricsNamespace       = "DealerAI/Integrations"
	MetricDeliverySucceded = "DeliveriesSucceeded" // Count
	MetricDeliveryFailed   = "DeliveriesFailed"    // Count
	MetricDeliveryLatency  = "DeliveryLatency"     // Milliseconds
	// The circuit breaker (package circuit): attempts failed fast, circuits opened and
	// closed, subscriptions disabled after their circuit stayed open (Count each).
	MetricDeliveryCircuitOpen = "DeliveriesCircuitOpen"
	MetricCircuitsOpened      = "CircuitsOpened"
	MetricCircuitsClosed      = "CircuitsClosed"
	MetricEndpointsDisabled   = "EndpointsDisabled"
	MetricSyncRecordsRead     = agentsync.MetricRecordsRead
	MetricSyncEventsPublished = agentsync.MetricEventsPublished
	MetricSyncFailures        = agentsync.MetricFailures
)

// Queue age alarm thresholds. The deliveries queue holds retries for up to 30 min (plus a
// Retry-After of up to 1 h), so its threshold is higher than the events queue's, which is
// drained at once unless the router is failing. The inbound queue is drained by DealerAI's
// services: an old message there means a consumer is down or behind. The sync-jobs queue is
// drained within a minute unless the sync function is failing or throttled.
const (
	EventsAgeThreshold     = 15 * time.Minute
	DeliveriesAgeThreshold = time.Hour
	InboundAgeThreshold    = 30 * time.Minute
	SyncJobsAgeThreshold   = 15 * time.Minute
	// SyncFailuresThreshold: sync runs that a platform failed or rate-limited, in 15 min,
	// across all dealers (each is retried with backoff; many at once is a platform outage or
	// a bug of ours).
	SyncFailuresThreshold = 25
)

// outputName is the stack output prefix of each queue.
var outputName = map[string]string{
	resources.EventsQueue.ID:     "EventsQueue",
	resources.EventsDLQ.ID:       "EventsDLQ",
	resources.DeliveriesQueue.ID: "DeliveriesQueue",
	resources.DeliveriesDLQ.ID:   "DeliveriesDLQ",
	resources.InboundQueue.ID:    "InboundQueue",
	resources.InboundDLQ.ID:      "InboundDLQ",
	resources.SyncJobsQueue.ID:   "SyncJobsQueue",
	resources.SyncJobsDLQ.ID:     "SyncJobsDLQ",
}

// producerPolicy is the managed policy DealerAI services attach to publish events. The
// queue uses SSE-SQS, so no KMS permission is needed.
func (s *Stack) producerPolicy() {
	s.ProducerPolicy = awsiam.NewManagedPolicy(s.Stack, jsii.String("ProducerPolicy"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("Publish events to DealerAI Integrations (SendMessage on the events queue)"),
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("PublishIntegrationEvents"),
			Actions:   jsii.Strings("sqs:SendMessage", "sqs:GetQueueUrl"),
			Resources: jsii.Strings(*s.Queues[resources.EventsQueue.ID].QueueArn()),
		})},
	})
	awscdk.NewCfnOutput(s.Stack, jsii.String("ProducerPolicyArn"), &awscdk.CfnOutputProps{
		Description: jsii.String("Managed policy DealerAI services attach to send events"),
		Value:       s.ProducerPolicy.ManagedPolicyArn(),
	})
}

// consumerPolicy is the managed policy DealerAI services attach to consume the inbound events
// (the InboundQueueUrl output). SSE-SQS: no KMS permission is needed.
func (s *Stack) consumerPolicy() {
	s.ConsumerPolicy = awsiam.NewManagedPolicy(s.Stack, jsii.String("ConsumerPolicy"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("Consume the inbound events of DealerAI Integrations' two-way sync (receive, delete, extend visibility on the inbound queue)"),
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("ConsumeInboundEvents"),
			Actions: jsii.Strings("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
				"sqs:GetQueueAttributes", "sqs:GetQueueUrl"),
			Resources: jsii.Strings(*s.Queues[resources.InboundQueue.ID].QueueArn()),
		})},
	})
	awscdk.NewCfnOutput(s.Stack, jsii.String("ConsumerPolicyArn"), &awscdk.CfnOutputProps{
		Description: jsii.String("Managed policy DealerAI services attach to consume the inbound events"),
		Value:       s.ConsumerPolicy.ManagedPolicyArn(),
	})
}

// consoleQueueURL is the SQS console page of a queue, where ops inspect messages and start
// a DLQ redrive.
func (s *Stack) consoleQueueURL(id string) *string {
	region, account := *awscdk.Aws_REGION(), *awscdk.Aws_ACCOUNT_ID()
	return jsii.String("https://" + region + ".console.aws.amazon.com/sqs/v3/home?region=" + region +
		"#/queues/https%3A%2F%2Fsqs." + region + "." + *awscdk.Aws_URL_SUFFIX() + "%2F" + account + "%2F" +
		*s.Queues[id].QueueName())
}

// operations creates the alarm topic, the alarms, the dashboard and the outputs.
func (s *Stack) operations() {
	name := *s.Stack.StackName()
	s.AlarmTopic = awssns.NewTopic(s.Stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("DealerAI Integrations alarms"),
		EnforceSSL:  jsii.Bool(true),
	})
	// EnforceSSL replaces the topic's default access policy, so say explicitly that this
	// account's CloudWatch alarms may publish.
	s.AlarmTopic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarms"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*s.AlarmTopic.TopicArn()),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	}))
	if s.Config.AlarmEmail != "" {
		s.AlarmTopic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(s.Config.AlarmEmail), nil))
	}
	action := awscloudwatchactions.NewSnsAction(s.AlarmTopic)
	var alarms []interfacesawscloudwatch.IAlarmRef
	alarm := func(id, alarmName, description string, metric awscloudwatch.IMetric, threshold float64, op awscloudwatch.ComparisonOperator) {
		a := awscloudwatch.NewAlarm(s.Stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(name + "-" + alarmName),
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			ComparisonOperator: op,
			EvaluationPeriods:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
		a.AddOkAction(action)
		alarms = append(alarms, a)
	}
	minute, fiveMinutes := awscdk.Duration_Minutes(jsii.Number(1)), awscdk.Duration_Minutes(jsii.Number(5))

	for _, dlq := range []struct {
		q    resources.Queue
		what string
	}{
		{resources.EventsDLQ, "Events the router rejected as poison (message attributes errorCode, errorMessage) or failed " + fmt.Sprint(resources.EventsMaxReceiveCount) + " times."},
		{resources.DeliveriesDLQ, "Deliveries that failed all " + fmt.Sprint(resources.DeliveriesMaxReceiveCount) + " attempts (their delivery log records are 'failed')."},
		{resources.InboundDLQ, "Inbound events a DealerAI consumer received " + fmt.Sprint(resources.InboundMaxReceiveCount) + " times without deleting them (the consumer fails on them)."},
		{resources.SyncJobsDLQ, "Sync ticks or jobs that failed " + fmt.Sprint(resources.SyncJobsMaxReceiveCount) + " times on our side (config table or inbound queue unreachable, or a bug); their agents are synced again by the schedule."},
	} {
		alarm(dlq.q.ID+"NotEmptyAlarm", dlq.q.ID+"-not-empty",
			dlq.what+" Open the "+outputName[dlq.q.ID]+"ConsoleUrl stack output, inspect the messages, fix the cause, then Start DLQ redrive.",
			s.Queues[dlq.q.ID].MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum")}),
			0, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD)
	}
	for _, q := range []struct {
		q         resources.Queue
		threshold time.Duration
	}{{resources.EventsQueue, EventsAgeThreshold}, {resources.DeliveriesQueue, DeliveriesAgeThreshold},
		{resources.InboundQueue, InboundAgeThreshold}, {resources.SyncJobsQueue, SyncJobsAgeThreshold}} {
		alarm(q.q.ID+"AgeAlarm", q.q.ID+"-oldest-message-age",
			fmt.Sprintf("The oldest message of the %s queue is older than %s: its consumer is failing, throttled or too slow.", q.q.ID, q.threshold),
			s.Queues[q.q.ID].MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Maximum")}),
			q.threshold.Seconds(), awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD)
	}
	alarm("SyncFailuresAlarm", "sync-failures",
		fmt.Sprintf("At least %d sync runs in 15 min were failed or rate-limited by a platform (each is retried with backoff). See the sync function's log lines \"sync run\" with a failure: one platform's outage, or a bug of ours.", SyncFailuresThreshold),
		awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(MetricsNamespace), MetricName: jsii.String(MetricSyncFailures),
			Statistic: jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(15)),
		}),
		SyncFailuresThreshold, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
	alarm("EndpointsDisabledAlarm", "endpoints-disabled",
		"A subscription was disabled because its endpoint failed for CIRCUIT_DISABLE_AFTER (5 days by default) without a success. See the delivery function's \"endpoint disabled\" log lines (dealerId, target, reason); the dealer re-enables it with PATCH and recovers the failed deliveries with POST .../recover.",
		awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(MetricsNamespace), MetricName: jsii.String(MetricEndpointsDisabled),
			Statistic: jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(15)),
		}),
		1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
	for _, fn := range FunctionNames() {
		f := s.Functions[fn]
		alarm(fn+"ErrorsAlarm", fn+"-errors",
			fmt.Sprintf("The %s function failed (crash, timeout or out of memory); see its log group.", fn),
			f.MetricErrors(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}),
			1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
		alarm(fn+"ThrottlesAlarm", fn+"-throttles",
			fmt.Sprintf("The %s function was throttled: raise the account or reserved concurrency, or lower maxConcurrency.", fn),
			f.MetricThrottles(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}),
			1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
	}

	s.dashboard(alarms)

	for _, q := range resources.Queues() {
		out := outputName[q.ID]
		awscdk.NewCfnOutput(s.Stack, jsii.String(out+"Url"), &awscdk.CfnOutputProps{Value: s.Queues[q.ID].QueueUrl()})
		awscdk.NewCfnOutput(s.Stack, jsii.String(out+"Arn"), &awscdk.CfnOutputProps{Value: s.Queues[q.ID].QueueArn()})
		if q.DeadLetter == nil {
			awscdk.NewCfnOutput(s.Stack, jsii.String(out+"ConsoleUrl"), &awscdk.CfnOutputProps{
				Description: jsii.String("SQS console page of the DLQ: inspect messages, Start DLQ redrive"),
				Value:       s.consoleQueueURL(q.ID),
			})
		}
	}
	for _, t := range resources.Tables() {
		awscdk.NewCfnOutput(s.Stack, jsii.String(t.ID+"TableName"), &awscdk.CfnOutputProps{Value: s.Tables[t.ID].TableName()})
	}
	awscdk.NewCfnOutput(s.Stack, jsii.String("AlarmTopicArn"), &awscdk.CfnOutputProps{
		Description: jsii.String("SNS topic every alarm notifies; subscribe on-call here"),
		Value:       s.AlarmTopic.TopicArn(),
	})
}

func (s *Stack) dashboard(alarms []interfacesawscloudwatch.IAlarmRef) {
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))
	emf := func(metric, stat, label string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(MetricsNamespace), MetricName: jsii.String(metric),
			Statistic: jsii.String(stat), Label: jsii.String(label), Period: fiveMinutes,
		})
	}
	graph := func(title string, width float64, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Width: jsii.Number(width), Height: jsii.Number(6), Left: &metrics,
		})
	}
	opts := func(stat, label string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Statistic: jsii.String(stat), Label: jsii.String(label), Period: fiveMinutes}
	}

	var depth, age, errs, throttles, durations []awscloudwatch.IMetric
	for _, q := range resources.Queues() {
		depth = append(depth, s.Queues[q.ID].MetricApproximateNumberOfMessagesVisible(opts("Maximum", q.ID)))
		if q.DeadLetter != nil {
			age = append(age, s.Queues[q.ID].MetricApproximateAgeOfOldestMessage(opts("Maximum", q.ID)))
		}
	}
	for _, fn := range FunctionNames() {
		f := s.Functions[fn]
		errs = append(errs, f.MetricErrors(opts("Sum", fn)))
		throttles = append(throttles, f.MetricThrottles(opts("Sum", fn)))
		durations = append(durations, f.MetricDuration(opts("p99", fn+" p99")))
	}
	api := s.httpAPI
	rows := []*[]awscloudwatch.IWidget{
		{
			graph("Deliveries (per 5 min)", 12,
				emf(MetricDeliverySucceded, "Sum", "succeeded"),
				emf(MetricDeliveryFailed, "Sum", "failed")),
			graph("Delivery latency (ms)", 12,
				emf(MetricDeliveryLatency, "p50", "p50"),
				emf(MetricDeliveryLatency, "p90", "p90"),
				emf(MetricDeliveryLatency, "p99", "p99")),
		},
		{
			graph("Circuit breakers (per 5 min)", 24,
				emf(MetricDeliveryCircuitOpen, "Sum", "attempts failed fast"),
				emf(MetricCircuitsOpened, "Sum", "circuits opened"),
				emf(MetricCircuitsClosed, "Sum", "circuits closed"),
				emf(MetricEndpointsDisabled, "Sum", "endpoints disabled")),
		},
		{
			graph("Queue depth (visible messages)", 12, depth...),
			graph("Age of oldest message (s)", 12, age...),
		},
		{
			graph("Two-way sync (per 5 min)", 12,
				emf(MetricSyncRecordsRead, "Sum", "records read"),
				emf(MetricSyncEventsPublished, "Sum", "inbound events published"),
				emf(MetricSyncFailures, "Sum", "runs failed or rate-limited")),
			graph("Inbound queue", 12,
				s.Queues[resources.InboundQueue.ID].MetricApproximateNumberOfMessagesVisible(opts("Maximum", "inbound waiting")),
				s.Queues[resources.InboundDLQ.ID].MetricApproximateNumberOfMessagesVisible(opts("Maximum", "inbound DLQ"))),
		},
		{
			graph("Function errors", 8, errs...),
			graph("Function throttles", 8, throttles...),
			graph("Function duration p99 (ms)", 8, durations...),
		},
		{
			graph("API requests and errors", 12,
				api.MetricCount(opts("Sum", "requests")),
				api.MetricClientError(opts("Sum", "4xx")),
				api.MetricServerError(opts("Sum", "5xx"))),
			graph("API latency (ms)", 12,
				api.MetricLatency(opts("p50", "p50")),
				api.MetricLatency(opts("p99", "p99")),
				api.MetricIntegrationLatency(opts("p99", "integration p99"))),
		},
		{
			awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
				Title: jsii.String("Alarms"), Alarms: &alarms, Width: jsii.Number(24),
			}),
		},
	}
	dashboardName := *s.Stack.StackName() + "-" + *awscdk.Aws_REGION()
	awscloudwatch.NewDashboard(s.Stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(dashboardName),
		Widgets:       &rows,
	})
	region := *awscdk.Aws_REGION()
	awscdk.NewCfnOutput(s.Stack, jsii.String("DashboardUrl"), &awscdk.CfnOutputProps{
		Value: jsii.String("https://" + region + ".console.aws.amazon.com/cloudwatch/home?region=" + region + "#dashboards/dashboard/" + dashboardName),
	})
}
