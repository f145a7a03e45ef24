package stack

import (
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/resources"
)

type alarmInfo struct {
	id, metric, namespace, dimension, comparison string
	threshold                                    float64
	props                                        map[string]any
}

// alarms returns every alarm with the resource its dimension points to.
func alarms(t *testing.T, s *synthesized) []alarmInfo {
	var out []alarmInfo
	for _, id := range s.ofType("AWS::CloudWatch::Alarm") {
		p := props(s.resource[id])
		a := alarmInfo{id: id, props: p, comparison: p["ComparisonOperator"].(string), threshold: num(t, p["Threshold"])}
		a.metric, _ = p["MetricName"].(string)
		a.namespace, _ = p["Namespace"].(string)
		if dims, ok := p["Dimensions"].([]any); ok && len(dims) == 1 {
			a.dimension = refTarget(dims[0].(map[string]any)["Value"])
		}
		out = append(out, a)
	}
	return out
}

func TestAlarms(t *testing.T) {
	s := defaultStack(t)
	topic := s.logicalID(s.st.AlarmTopic)
	all := alarms(t, s)
	find := func(namespace, metric, dimension string) *alarmInfo {
		for i, a := range all {
			if a.namespace == namespace && a.metric == metric && a.dimension == dimension {
				return &all[i]
			}
		}
		return nil
	}
	for _, a := range all {
		if !strings.Contains(asJSON(a.props["AlarmActions"]), `{"Ref":"`+topic+`"}`) {
			t.Errorf("alarm %s does not notify the alarm topic: %s", a.id, asJSON(a.props["AlarmActions"]))
		}
		if a.props["TreatMissingData"] != "notBreaching" {
			t.Errorf("alarm %s TreatMissingData %v", a.id, a.props["TreatMissingData"])
		}
	}
	for _, dlq := range resources.DeadLetterQueues() {
		a := find("AWS/SQS", "ApproximateNumberOfMessagesVisible", s.logicalID(s.st.Queues[dlq.ID]))
		if a == nil {
			t.Errorf("no alarm on %s messages visible", dlq.ID)
		} else if a.comparison != "GreaterThanThreshold" || a.threshold != 0 {
			t.Errorf("%s alarm: %s %v, want > 0", dlq.ID, a.comparison, a.threshold)
		}
	}
	for q, limit := range map[string]float64{resources.EventsQueue.ID: 900, resources.DeliveriesQueue.ID: 3600,
		resources.InboundQueue.ID: 1800, resources.SyncJobsQueue.ID: 900} {
		a := find("AWS/SQS", "ApproximateAgeOfOldestMessage", s.logicalID(s.st.Queues[q]))
		if a == nil {
			t.Errorf("no age alarm on %s", q)
		} else if a.comparison != "GreaterThanThreshold" || a.threshold != limit {
			t.Errorf("%s age alarm: %s %v, want > %v", q, a.comparison, a.threshold, limit)
		}
	}
	if a := find(MetricsNamespace, MetricSyncFailures, ""); a == nil || a.threshold != SyncFailuresThreshold || num(t, a.props["Period"]) != 900 {
		t.Errorf("sync failures alarm %+v", a)
	}
	if a := find(MetricsNamespace, MetricEndpointsDisabled, ""); a == nil || a.threshold != 1 || a.comparison != "GreaterThanOrEqualToThreshold" {
		t.Errorf("endpoints disabled alarm %+v", a)
	}
	for _, fn := range FunctionNames() {
		for _, metric := range []string{"Errors", "Throttles"} {
			a := find("AWS/Lambda", metric, s.logicalID(s.st.Functions[fn]))
			if a == nil {
				t.Errorf("no %s alarm on %s", metric, fn)
			} else if a.comparison != "GreaterThanOrEqualToThreshold" || a.threshold != 1 {
				t.Errorf("%s %s alarm: %s %v", fn, metric, a.comparison, a.threshold)
			}
		}
	}
	// no email address without context: the topic exists, unsubscribed
	if subs := s.ofType("AWS::SNS::Subscription"); len(subs) != 0 {
		t.Errorf("subscriptions without alarmEmail: %v", subs)
	}
}

func TestOutputs(t *testing.T) {
	s := defaultStack(t)
	outputs, _ := s.json["Outputs"].(map[string]any)
	for _, name := range []string{
		"ApiUrl", "ProducerPolicyArn", "ConsumerPolicyArn", "AlarmTopicArn", "DashboardUrl",
		"InboundQueueUrl", "InboundQueueArn", "InboundDLQUrl", "InboundDLQArn", "InboundDLQConsoleUrl",
		"SyncJobsQueueUrl", "SyncJobsQueueArn", "SyncJobsDLQUrl", "SyncJobsDLQArn", "SyncJobsDLQConsoleUrl",
		"EventsQueueUrl", "EventsQueueArn", "EventsDLQUrl", "EventsDLQArn", "EventsDLQConsoleUrl",
		"DeliveriesQueueUrl", "DeliveriesQueueArn", "DeliveriesDLQUrl", "DeliveriesDLQArn", "DeliveriesDLQConsoleUrl",
		"ConfigTableName", "DeliveryLogTableName",
	} {
		if outputs[name] == nil {
			t.Errorf("output %s missing", name)
		}
	}
	for out, q := range map[string]string{"EventsDLQConsoleUrl": resources.EventsDLQ.ID, "DeliveriesDLQConsoleUrl": resources.DeliveriesDLQ.ID} {
		v := asJSON(outputs[out])
		for _, part := range []string{
			`.console.aws.amazon.com/sqs/v3/home?region=`,
			`#/queues/https%3A%2F%2Fsqs.`,
			`{"Fn::GetAtt":["` + s.logicalID(s.st.Queues[q]) + `","QueueName"]}`,
		} {
			if !strings.Contains(v, part) {
				t.Errorf("%s lacks %s: %s", out, part, v)
			}
		}
	}
}

func TestDashboard(t *testing.T) {
	s := defaultStack(t)
	dashboards := s.ofType("AWS::CloudWatch::Dashboard")
	if len(dashboards) != 1 {
		t.Fatalf("%d dashboards", len(dashboards))
	}
	body := asJSON(props(s.resource[dashboards[0]])["DashboardBody"])
	// the delivery function's EMF metrics: namespace, names, no dimensions
	for _, m := range []string{MetricDeliverySucceded, MetricDeliveryFailed, MetricDeliveryLatency, MetricSyncRecordsRead, MetricSyncEventsPublished, MetricSyncFailures,
		MetricDeliveryCircuitOpen, MetricCircuitsOpened, MetricCircuitsClosed, MetricEndpointsDisabled} {
		if !strings.Contains(body, `[\"`+MetricsNamespace+`\",\"`+m+`\",{`) {
			t.Errorf("dashboard lacks %s/%s without dimensions", MetricsNamespace, m)
		}
	}
	for _, m := range []string{"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "Errors", "Throttles"} {
		if !strings.Contains(body, m) {
			t.Errorf("dashboard lacks %s", m)
		}
	}
}
