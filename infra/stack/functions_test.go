package stack

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/resources"
)

func TestFunctions(t *testing.T) {
	s := defaultStack(t)
	want := map[string]struct {
		memory  float64
		timeout time.Duration
		env     []string
	}{
		FuncAPI: {256, resources.APITimeout, []string{"ADMIN_SCOPE", "ADMIN_SCOPE_CLAIM", "CONFIG_TABLE", "DEALER_ID_CLAIM",
			"DEFAULT_AGENT_PLATFORMS", "DELIVERIES_QUEUE_URL", "DELIVERY_LOG_TABLE", "INVENTORY_TABLE", "SYNC_JOBS_QUEUE_URL"}},
		FuncRouter: {256, resources.RouterTimeout, []string{"CONFIG_TABLE", "DEFAULT_AGENT_PLATFORMS", "DELIVERIES_QUEUE_URL", "EVENTS_DLQ_URL", "GOGC",
			"GOMAXPROCS", "GOMEMLIMIT"}},
		FuncDelivery: {512, resources.DeliveryTimeout, []string{"CONFIG_TABLE", "DEFAULT_AGENT_PLATFORMS", "DELIVERIES_QUEUE_URL", "DELIVERY_BACKOFF",
			"DELIVERY_LOG_TABLE", "DELIVERY_TIMEOUT", "GOGC", "GOMAXPROCS", "GOMEMLIMIT"}},
		FuncSync: {256, resources.SyncTimeout, []string{"CONFIG_TABLE", "DEFAULT_AGENT_PLATFORMS", "DELIVERY_TIMEOUT", "GOMAXPROCS", "INBOUND_QUEUE_URL",
			"INVENTORY_TABLE", "SYNC_INTERVAL", "SYNC_JOBS_QUEUE_URL"}},
	}
	if n := len(s.ofType("AWS::Lambda::Function")); n != len(want) {
		t.Errorf("%d functions, want %d", n, len(want))
	}
	for name, w := range want {
		p := props(s.resource[s.logicalID(s.st.Functions[name])])
		if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" || asJSON(p["Architectures"]) != `["arm64"]` {
			t.Errorf("%s: runtime %v handler %v architectures %v", name, p["Runtime"], p["Handler"], p["Architectures"])
		}
		if num(t, p["MemorySize"]) != w.memory {
			t.Errorf("%s: memory %v, want %v", name, p["MemorySize"], w.memory)
		}
		if num(t, p["Timeout"]) != w.timeout.Seconds() {
			t.Errorf("%s: timeout %v, want %v", name, p["Timeout"], w.timeout)
		}
		env, _ := p["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if got := strings.Join(sortedKeys(vars), ","); got != strings.Join(w.env, ",") {
			t.Errorf("%s: environment %s, want %s", name, got, strings.Join(w.env, ","))
		}
		lc, _ := p["LoggingConfig"].(map[string]any)
		logsID := s.logicalID(s.st.LogGroups[name])
		if lc["LogFormat"] != "JSON" || refTarget(lc["LogGroup"]) != logsID {
			t.Errorf("%s: logging config %s, want JSON into %s", name, asJSON(lc), logsID)
		}
		// The functions invoked per batch leave out Lambda's start and report records.
		wantSystem := "INFO"
		if name == FuncRouter || name == FuncDelivery {
			wantSystem = "WARN"
		}
		if lc["ApplicationLogLevel"] != "INFO" || lc["SystemLogLevel"] != wantSystem {
			t.Errorf("%s: log levels %s, want application INFO, system %s", name, asJSON(lc), wantSystem)
		}
		if num(t, props(s.resource[logsID])["RetentionInDays"]) != 30 {
			t.Errorf("%s: log retention %v", name, props(s.resource[logsID])["RetentionInDays"])
		}
		if _, ok := p["ReservedConcurrentExecutions"]; ok {
			t.Errorf("%s: reserved concurrency set without context", name)
		}
		if _, ok := p["TracingConfig"]; ok {
			t.Errorf("%s: X-Ray tracing configured; we use logs and EMF metrics", name)
		}
	}
	vars := props(s.resource[s.logicalID(s.st.Functions[FuncDelivery])])["Environment"].(map[string]any)["Variables"].(map[string]any)
	if vars["DELIVERY_BACKOFF"] != "30s,5m,30m" || vars["DELIVERY_TIMEOUT"] != "10s" || vars["GOMAXPROCS"] != "1" ||
		vars["GOGC"] != "400" || vars["GOMEMLIMIT"] != "358MiB" {
		t.Errorf("delivery settings %s", asJSON(vars))
	}
	routerVars := props(s.resource[s.logicalID(s.st.Functions[FuncRouter])])["Environment"].(map[string]any)["Variables"].(map[string]any)
	if routerVars["GOGC"] != "400" || routerVars["GOMEMLIMIT"] != "179MiB" {
		t.Errorf("router settings %s", asJSON(routerVars))
	}
	syncVars := props(s.resource[s.logicalID(s.st.Functions[FuncSync])])["Environment"].(map[string]any)["Variables"].(map[string]any)
	if syncVars["SYNC_INTERVAL"] != "5m" || syncVars["DELIVERY_TIMEOUT"] != "10s" {
		t.Errorf("sync settings %s", asJSON(syncVars))
	}
	apiVars := props(s.resource[s.logicalID(s.st.Functions[FuncAPI])])["Environment"].(map[string]any)["Variables"].(map[string]any)
	if apiVars["DEALER_ID_CLAIM"] != "dealer_id" || apiVars["ADMIN_SCOPE_CLAIM"] != "scope" || apiVars["ADMIN_SCOPE"] != "dealerai:admin" {
		t.Errorf("api claims %s", asJSON(apiVars))
	}
	// every function applies the same default plan: all four platforms
	for _, fn := range FunctionNames() {
		vars := props(s.resource[s.logicalID(s.st.Functions[fn])])["Environment"].(map[string]any)["Variables"].(map[string]any)
		if vars["DEFAULT_AGENT_PLATFORMS"] != "dealersocket,fortellis,vinsolutions,xtime" {
			t.Errorf("%s: DEFAULT_AGENT_PLATFORMS = %v", fn, vars["DEFAULT_AGENT_PLATFORMS"])
		}
	}
}

// TestEventSourceMappings checks each SQS mapping, and that the queue's visibility timeout is
// at least 6 times the consuming function's timeout (plus the batching window), computed
// from the template: the mapping names its queue and function. With the context
// batchingWindow at its maximum, the router's and delivery's mappings take it, not the sync's.
func TestEventSourceMappings(t *testing.T) {
	for _, window := range []float64{0, resources.MaxBatchingWindow.Seconds()} {
		s := defaultStack(t)
		if window > 0 {
			s = synth(t, map[string]any{CtxBatchingWindow: resources.MaxBatchingWindow.String()})
		}
		checkEventSourceMappings(t, s, window)
	}
}

func checkEventSourceMappings(t *testing.T, s *synthesized, wantWindow float64) {
	wantPairs := map[string]string{ // queue logical ID -> function logical ID
		s.logicalID(s.st.Queues[resources.EventsQueue.ID]):     s.logicalID(s.st.Functions[FuncRouter]),
		s.logicalID(s.st.Queues[resources.DeliveriesQueue.ID]): s.logicalID(s.st.Functions[FuncDelivery]),
		s.logicalID(s.st.Queues[resources.SyncJobsQueue.ID]):   s.logicalID(s.st.Functions[FuncSync]),
	}
	wantConcurrency := map[string]float64{
		s.logicalID(s.st.Functions[FuncRouter]):   20,
		s.logicalID(s.st.Functions[FuncDelivery]): 50,
		s.logicalID(s.st.Functions[FuncSync]):     10,
	}
	wantBatch := map[string]float64{
		s.logicalID(s.st.Functions[FuncRouter]):   10,
		s.logicalID(s.st.Functions[FuncDelivery]): 10,
		s.logicalID(s.st.Functions[FuncSync]):     5,
	}
	mappings := s.ofType("AWS::Lambda::EventSourceMapping")
	if len(mappings) != len(wantPairs) {
		t.Fatalf("%d event source mappings, want %d", len(mappings), len(wantPairs))
	}
	for _, id := range mappings {
		p := props(s.resource[id])
		queueID, fnID := refTarget(p["EventSourceArn"]), refTarget(p["FunctionName"])
		if wantPairs[queueID] != fnID {
			t.Errorf("mapping %s: %s -> %s, not an expected pair", id, queueID, fnID)
			continue
		}
		if asJSON(p["FunctionResponseTypes"]) != `["ReportBatchItemFailures"]` {
			t.Errorf("mapping %s: FunctionResponseTypes %v", id, p["FunctionResponseTypes"])
		}
		if num(t, p["BatchSize"]) != wantBatch[fnID] {
			t.Errorf("mapping %s: BatchSize %v", id, p["BatchSize"])
		}
		sc, _ := p["ScalingConfig"].(map[string]any)
		if sc == nil || num(t, sc["MaximumConcurrency"]) != wantConcurrency[fnID] {
			t.Errorf("mapping %s: ScalingConfig %s, want MaximumConcurrency %v", id, asJSON(sc), wantConcurrency[fnID])
		}
		window := 0.0
		if w, ok := p["MaximumBatchingWindowInSeconds"]; ok {
			window = num(t, w)
		}
		if want := wantWindow; fnID == s.logicalID(s.st.Functions[FuncSync]) && window != 0 || fnID != s.logicalID(s.st.Functions[FuncSync]) && window != want {
			t.Errorf("mapping %s: batching window %vs, want %vs (sync: 0)", id, window, want)
		}
		visibility := num(t, props(s.resource[queueID])["VisibilityTimeout"])
		timeout := num(t, props(s.resource[fnID])["Timeout"])
		if visibility < 6*timeout+window {
			t.Errorf("queue %s visibility %vs < 6 × %s timeout %vs + window %vs", queueID, visibility, fnID, timeout, window)
		}
	}
}

// policyActions returns, for one function, resource logical ID -> allowed actions, from
// every policy attached to its role; a statement on a resource that is not a reference
// (e.g. "*") is recorded under its literal value.
func policyActions(t *testing.T, s *synthesized, fn string) map[string]map[string]bool {
	t.Helper()
	fnProps := props(s.resource[s.logicalID(s.st.Functions[fn])])
	roleID := refTarget(fnProps["Role"])
	if arns := props(s.resource[roleID])["ManagedPolicyArns"]; arns != nil {
		t.Errorf("%s: role has managed policies %v", fn, arns)
	}
	out := map[string]map[string]bool{}
	for _, pid := range s.ofType("AWS::IAM::Policy") {
		p := props(s.resource[pid])
		attached := false
		for _, r := range p["Roles"].([]any) {
			attached = attached || refTarget(r) == roleID
		}
		if !attached {
			continue
		}
		for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := st.(map[string]any)
			if st["Effect"] != "Allow" {
				continue
			}
			var actions, res []any
			if a, ok := st["Action"].([]any); ok {
				actions = a
			} else {
				actions = []any{st["Action"]}
			}
			if r, ok := st["Resource"].([]any); ok {
				res = r
			} else {
				res = []any{st["Resource"]}
			}
			for _, r := range res {
				key := refTarget(r)
				if key == "" {
					key = asJSON(r)
				}
				if out[key] == nil {
					out[key] = map[string]bool{}
				}
				for _, a := range actions {
					out[key][a.(string)] = true
				}
			}
		}
	}
	return out
}

// TestLeastPrivilege checks that each function may touch only its own resources, with the
// actions it needs and no more than the grant sets allow.
func TestLeastPrivilege(t *testing.T) {
	s := defaultStack(t)
	cfgTable := s.logicalID(s.st.Tables[resources.ConfigTable.ID])
	// a grant on a table with an index covers <table ARN>/index/* as well
	cfgIndexes := `{"Fn::Join":["",[{"Fn::GetAtt":["` + cfgTable + `","Arn"]},"/index/*"]]}`
	logTable := s.logicalID(s.st.Tables[resources.DeliveryLogTable.ID])
	invTable := s.logicalID(s.st.Tables[resources.InventoryTable.ID])
	invIndexes := `{"Fn::Join":["",[{"Fn::GetAtt":["` + invTable + `","Arn"]},"/index/*"]]}`
	key := s.logicalID(s.st.TablesKey)
	events := s.logicalID(s.st.Queues[resources.EventsQueue.ID])
	eventsDLQ := s.logicalID(s.st.Queues[resources.EventsDLQ.ID])
	deliveries := s.logicalID(s.st.Queues[resources.DeliveriesQueue.ID])
	inboundQ := s.logicalID(s.st.Queues[resources.InboundQueue.ID])
	syncJobs := s.logicalID(s.st.Queues[resources.SyncJobsQueue.ID])

	set := func(a ...string) map[string]bool {
		m := map[string]bool{}
		for _, x := range a {
			m[x] = true
		}
		return m
	}
	// allowed: what the grants may add; required: what the function's code calls
	tableRW := set("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
		"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:PutItem",
		"dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem")
	keyRW := set("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
	send := set("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
	consume := set("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
	logs := set("logs:CreateLogStream", "logs:PutLogEvents")

	type perm struct{ allowed, required map[string]bool }
	cases := map[string]map[string]perm{
		FuncAPI: {
			cfgTable:   {tableRW, set("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem")},
			cfgIndexes: {tableRW, nil},
			logTable:   {tableRW, set("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem")},
			key:        {keyRW, set("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*")},
			deliveries: {send, set("sqs:SendMessage")},
			syncJobs:   {send, set("sqs:SendMessage")},
			// the inventory: read only (a vehicle, a list through an index)
			invTable:   {set("dynamodb:GetItem", "dynamodb:Query"), set("dynamodb:GetItem", "dynamodb:Query")},
			invIndexes: {set("dynamodb:GetItem", "dynamodb:Query"), set("dynamodb:Query")},
		},
		FuncRouter: {
			cfgTable:   {set("dynamodb:Query"), set("dynamodb:Query")},
			cfgIndexes: {set("dynamodb:Query"), nil},
			key:        {set("kms:Decrypt", "kms:DescribeKey"), set("kms:Decrypt")},
			events:     {consume, set("sqs:ReceiveMessage", "sqs:DeleteMessage")},
			eventsDLQ:  {send, set("sqs:SendMessage")},
			deliveries: {send, set("sqs:SendMessage")},
		},
		FuncDelivery: {
			cfgTable:   {tableRW, set("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem")},
			cfgIndexes: {tableRW, nil},
			logTable:   {tableRW, set("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")},
			key:        {keyRW, set("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*")},
			deliveries: {consume, set("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility")},
		},
		FuncSync: {
			// no Put, Delete, BatchWrite or Scan: it reads agents and pointers, queries the
			// SyncDue index and updates sync state, due times and claims
			cfgTable: {set("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem"),
				set("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem")},
			cfgIndexes: {set("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem"), set("dynamodb:Query")},
			key:        {keyRW, set("kms:Decrypt")},
			inboundQ:   {send, set("sqs:SendMessage")},
			syncJobs:   {union(send, consume), set("sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage")},
			// the inventory: what it stored, and the changes (no Query, no Scan)
			invTable:   {set("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"), set("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem")},
			invIndexes: {set("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"), nil},
		},
	}
	for fn, want := range cases {
		want[s.logicalID(s.st.LogGroups[fn])] = perm{logs, logs}
		got := policyActions(t, s, fn)
		for res, actions := range got {
			w, ok := want[res]
			if !ok {
				t.Errorf("%s may %s on %s, which is not one of its resources", fn, joinSorted(actions), res)
				continue
			}
			for a := range actions {
				if !w.allowed[a] {
					t.Errorf("%s: %s on %s is more than it needs", fn, a, res)
				}
			}
		}
		for res, w := range want {
			for a := range w.required {
				if !got[res][a] {
					t.Errorf("%s: missing %s on %s", fn, a, res)
				}
			}
		}
	}

	// no statement anywhere grants on "*"
	for _, pid := range append(s.ofType("AWS::IAM::Policy"), s.ofType("AWS::IAM::ManagedPolicy")...) {
		for _, st := range props(s.resource[pid])["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := st.(map[string]any)
			if st["Effect"] == "Allow" && strings.Contains(asJSON(st["Resource"]), `"*"`) {
				t.Errorf("%s: statement on resource * %s", pid, asJSON(st))
			}
		}
	}
}

func union(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func TestProducerPolicy(t *testing.T) {
	s := defaultStack(t)
	p := props(s.resource[s.logicalID(s.st.ProducerPolicy)])
	stmts := p["PolicyDocument"].(map[string]any)["Statement"].([]any)
	if len(stmts) != 1 {
		t.Fatalf("producer policy statements %s", asJSON(stmts))
	}
	st := stmts[0].(map[string]any)
	var actions []string
	for _, a := range st["Action"].([]any) {
		actions = append(actions, a.(string))
	}
	sort.Strings(actions)
	if strings.Join(actions, ",") != "sqs:GetQueueUrl,sqs:SendMessage" {
		t.Errorf("producer actions %v", actions)
	}
	if refTarget(st["Resource"]) != s.logicalID(s.st.Queues[resources.EventsQueue.ID]) {
		t.Errorf("producer policy resource %s, want the events queue", asJSON(st["Resource"]))
	}
}

// TestConsumerPolicy: DealerAI services consume the inbound queue, and nothing else.
func TestConsumerPolicy(t *testing.T) {
	s := defaultStack(t)
	p := props(s.resource[s.logicalID(s.st.ConsumerPolicy)])
	stmts := p["PolicyDocument"].(map[string]any)["Statement"].([]any)
	if len(stmts) != 1 {
		t.Fatalf("consumer policy statements %s", asJSON(stmts))
	}
	st := stmts[0].(map[string]any)
	var actions []string
	for _, a := range st["Action"].([]any) {
		actions = append(actions, a.(string))
	}
	sort.Strings(actions)
	if got := strings.Join(actions, ","); got != "sqs:ChangeMessageVisibility,sqs:DeleteMessage,sqs:GetQueueAttributes,sqs:GetQueueUrl,sqs:ReceiveMessage" {
		t.Errorf("consumer actions %v", got)
	}
	if refTarget(st["Resource"]) != s.logicalID(s.st.Queues[resources.InboundQueue.ID]) {
		t.Errorf("consumer policy resource %s, want the inbound queue", asJSON(st["Resource"]))
	}
}

// TestSyncSchedule: an EventBridge rule puts the tick on the sync-jobs queue every minute,
// and the queue lets only that rule send.
func TestSyncSchedule(t *testing.T) {
	s := defaultStack(t)
	rules := s.ofType("AWS::Events::Rule")
	if len(rules) != 1 {
		t.Fatalf("%d rules, want 1", len(rules))
	}
	p := props(s.resource[rules[0]])
	targets, _ := p["Targets"].([]any)
	if p["ScheduleExpression"] != "rate(1 minute)" || p["State"] != "ENABLED" || len(targets) != 1 {
		t.Fatalf("rule %s", asJSON(p))
	}
	tgt := targets[0].(map[string]any)
	if refTarget(tgt["Arn"]) != s.logicalID(s.st.Queues[resources.SyncJobsQueue.ID]) || tgt["Input"] != agentsync.TickBody {
		t.Errorf("target %s, want the tick on the sync-jobs queue", asJSON(tgt))
	}
	allowed := false
	for _, id := range s.ofType("AWS::SQS::QueuePolicy") {
		for _, st := range props(s.resource[id])["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := st.(map[string]any)
			if st["Effect"] == "Allow" && strings.Contains(asJSON(st["Principal"]), "events.amazonaws.com") {
				allowed = refTarget(st["Resource"]) == s.logicalID(s.st.Queues[resources.SyncJobsQueue.ID]) &&
					strings.Contains(asJSON(st["Condition"]), rules[0])
			}
		}
	}
	if !allowed {
		t.Error("no queue policy lets the rule (and only it) send to the sync-jobs queue")
	}
}
