package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// The stack is synthesized once per configuration (a synth costs seconds: jsii runs the CDK
// in node) and every test reads the result.

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	if codeRoot != "" {
		os.RemoveAll(codeRoot)
	}
	os.Exit(code)
}

// codeRoot holds placeholder bootstrap files, so the tests need no `make build`.
var codeRoot string

func placeholderCode(name string) string {
	dir := filepath.Join(codeRoot, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		panic(err)
	}
	return dir
}

// placeholderBundle stands in for the Integrations page's bundle.
const placeholderBundle = "export class DealerAIIntegrations {}\n"

// placeholderPage is a folder holding a placeholder bundle (and a standalone page, which is
// not published).
func placeholderPage() string {
	dir := filepath.Join(codeRoot, "web")
	if err := os.MkdirAll(filepath.Join(dir, "standalone"), 0o755); err != nil {
		panic(err)
	}
	for name, body := range map[string]string{PageBundle: placeholderBundle, "standalone/index.html": "<!doctype html>"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			panic(err)
		}
	}
	return dir
}

// cdkJSONContext is the "context" object of the repository's cdk.json (feature flags), so
// the tests synthesize what `cdk synth` does.
func cdkJSONContext() map[string]any {
	b, err := os.ReadFile(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		panic(err)
	}
	var cfg struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		panic(fmt.Sprintf("cdk.json: %v", err))
	}
	return cfg.Context
}

// synthesized is one synthesized stack.
type synthesized struct {
	err      error // synthesis failed
	st       *Stack
	tmpl     assertions.Template
	json     map[string]any
	resource map[string]map[string]any // logical ID -> resource
}

var (
	synthMu    sync.Mutex
	synthCache = map[string]*synthesized{}
)

// synth builds the stack with the given extra context (as `cdk synth -c key=value` would),
// once per distinct context.
func synth(t *testing.T, extra map[string]any) *synthesized {
	t.Helper()
	key, _ := json.Marshal(extra)
	synthMu.Lock()
	defer synthMu.Unlock()
	if s, ok := synthCache[string(key)]; ok {
		if s.err != nil {
			t.Fatal(s.err)
		}
		return s
	}
	if codeRoot == "" {
		var err error
		if codeRoot, err = os.MkdirTemp("", "infra-stack-test"); err != nil {
			t.Fatal(err)
		}
	}
	ctx := cdkJSONContext()
	for k, v := range extra {
		ctx[k] = v
	}
	outdir, err := os.MkdirTemp(codeRoot, "cdk.out")
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(outdir)})
	cfg, err := ConfigFromContext(app.Node())
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	s := &synthesized{resource: map[string]map[string]any{}}
	synthCache[string(key)] = s
	func() {
		// jsii reports a failed synthesis (e.g. an unsuppressed cdk-nag error, which the
		// feature flags of cdk.json turn into a validation failure) as a panic
		defer func() {
			if r := recover(); r != nil {
				s.err = fmt.Errorf("synthesis failed (cdk-nag findings, if any, are printed above): %v", r)
			}
		}()
		s.st = NewStack(app, "Test", &Props{CodeDir: placeholderCode, Config: cfg, PageDir: placeholderPage()})
		AddChecks(app)
		s.tmpl = assertions.Template_FromStack(s.st.Stack, nil)
		s.json = *s.tmpl.ToJSON()
	}()
	if s.err != nil {
		t.Fatal(s.err)
	}
	for id, r := range s.json["Resources"].(map[string]any) {
		s.resource[id] = r.(map[string]any)
	}
	return s
}

// defaultStack is the stack as `make synth` builds it with no context.
func defaultStack(t *testing.T) *synthesized { return synth(t, nil) }

// logicalID is the CloudFormation logical ID of an L2 construct's main resource.
func (s *synthesized) logicalID(c constructs.IConstruct) string {
	var el awscdk.CfnElement
	jsii.UnsafeCast(c.Node().DefaultChild(), &el)
	return *s.st.Stack.GetLogicalId(el)
}

// ofType returns the logical IDs of every resource of a type, sorted.
func (s *synthesized) ofType(typ string) []string {
	var ids []string
	for id, r := range s.resource {
		if r["Type"] == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// refTarget returns the logical ID a {"Ref": id} or {"Fn::GetAtt": [id, attr]} points to.
func refTarget(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if r, ok := m["Ref"].(string); ok {
		return r
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
		s, _ := ga[0].(string)
		return s
	}
	return ""
}

// num reads a number from a template value (a JSON number or a numeric string).
func num(t *testing.T, v any) float64 {
	t.Helper()
	switch v := v.(type) {
	case float64:
		return v
	case string:
		var f float64
		if _, err := fmt.Sscan(v, &f); err == nil {
			return f
		}
	}
	t.Fatalf("not a number: %#v", v)
	return 0
}

// noPanic turns an assertions failure (a panic through jsii) into a test error.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinSorted(set map[string]bool) string {
	return strings.Join(sortedKeys(set), ",")
}
