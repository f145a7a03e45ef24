// Command infra is the AWS CDK app of DealerAI Integrations. The CDK CLI runs it from the
// repository root (cdk.json: "app": "go run ./infra"), after `make build` has written the
// Lambda binaries to build/<function>/bootstrap. The stack itself is package infra/stack;
// the local stack is package infra/local.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/dealerai/integrations/infra/stack"
)

// stackName is the CloudFormation stack name unless context stackName overrides it (one
// stack per account and region, or several with distinct names, e.g. staging and prod).
const stackName = "DealerAIIntegrations"

func main() {
	for _, fn := range stack.FunctionNames() {
		if _, err := os.Stat(filepath.Join("build", fn, "bootstrap")); err != nil {
			fmt.Fprintf(os.Stderr, "infra: build/%s/bootstrap is missing: run `make build` (cdk.json runs it before synth and deploy)\n", fn)
			os.Exit(1)
		}
	}
	defer jsii.Close()

	app := awscdk.NewApp(nil)
	cfg, err := stack.ConfigFromContext(app.Node())
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
	name := stackName
	if v, ok := app.Node().TryGetContext(jsii.String("stackName")).(string); ok && v != "" {
		name = v
	}
	stack.NewStack(app, name, &stack.Props{
		StackProps: awscdk.StackProps{
			// CloudFormation passes stack tags on to every resource (cost allocation).
			Tags: &map[string]*string{"Project": jsii.String("dealerai-integrations")},
		},
		// Environment-agnostic (no Env): the template deploys to whichever account and
		// region the credentials point at, and synth makes no lookups, so it works offline.
		CodeDir: stack.BuildDir("build"),
		Config:  cfg,
	})
	stack.AddChecks(app)
	app.Synth(nil)
}
