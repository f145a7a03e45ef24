// Command stack runs the local stack.
//
//	stack dev                     the whole system on this machine until Ctrl-C (make dev)
//	stack token -dealer d1        a JWT the running stack accepts (make token DEALER=d1)
//	stack token -admin            a JWT of DealerAI staff, for the admin routes (make token ADMIN=1)
//	stack dlq                     what the running stack's dead-letter queues hold
//	stack inbound [-take]         what the running stack's inbound queue holds (-take: and delete it)
//	stack emulators -- CMD ARGS   start DynamoDB Local and the SQS emulator on free ports, run
//	                              CMD with AWS_ENDPOINT_URL_DYNAMODB/_SQS set, stop them (make test)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/dealerai/integrations/infra/local"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "dev":
		err = local.RunDev(ctx, local.DevConfigFromEnv(os.Getenv), os.Stdout)
	case "token":
		err = token(os.Args[2:])
	case "dlq":
		err = dlq(ctx)
	case "inbound":
		err = inbound(ctx, os.Args[2:])
	case "emulators":
		err = emulators(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: stack dev | stack token -dealer ID | stack token -admin | stack dlq | stack inbound [-take] | stack emulators -- CMD [ARGS...]")
	os.Exit(2)
}

func token(args []string) error {
	fs := flag.NewFlagSet("token", flag.ExitOnError)
	dealer := fs.String("dealer", "", "dealer id to put in the token's dealer claim")
	admin := fs.Bool("admin", false, "a token of DealerAI staff: the admin scope (ADMIN_SCOPE in ADMIN_SCOPE_CLAIM), no dealer")
	_ = fs.Parse(args)
	if *dealer == "" && !*admin {
		return errors.New("token: -dealer or -admin is required (make token DEALER=<id>, make token ADMIN=1)")
	}
	if *dealer != "" && *admin {
		return errors.New("token: -dealer and -admin exclude each other: staff tokens name no dealer")
	}
	root, err := local.RepoRoot()
	if err != nil {
		return err
	}
	issuer, err := local.LoadIssuer(root)
	if err != nil {
		return err
	}
	var tok string
	if *admin {
		tok, err = issuer.AdminToken(os.Getenv("ADMIN_SCOPE"), os.Getenv("ADMIN_SCOPE_CLAIM"))
	} else {
		tok, err = issuer.Token(*dealer, os.Getenv("DEALER_ID_CLAIM"))
	}
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

func dlq(ctx context.Context) error {
	env, err := stackEnv()
	if err != nil {
		return err
	}
	return local.ShowDLQs(ctx, env, os.Stdout)
}

// stackEnv is the .local/stack.env the running stack wrote.
func stackEnv() (map[string]string, error) {
	root, err := local.RepoRoot()
	if err != nil {
		return nil, err
	}
	return local.ReadStackEnv(root)
}

func inbound(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("inbound", flag.ExitOnError)
	take := fs.Bool("take", false, "delete the messages printed, as a consumer would (a look without it counts as a receive)")
	_ = fs.Parse(args)
	env, err := stackEnv()
	if err != nil {
		return err
	}
	return local.ShowInbound(ctx, env, *take, os.Stdout)
}

func emulators(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("emulators: no command given")
	}
	em, err := local.StartEmulators(ctx, local.EmulatorOptions{})
	if err != nil {
		return err
	}
	defer em.Stop()
	fmt.Fprintf(os.Stderr, "emulators: DynamoDB Local at %s, SQS emulator at %s\n", em.DynamoDBEndpoint, em.SQSEndpoint)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"AWS_ENDPOINT_URL_DYNAMODB="+em.DynamoDBEndpoint,
		"AWS_ENDPOINT_URL_SQS="+em.SQSEndpoint,
		"AWS_REGION="+local.Region,
		"AWS_ACCESS_KEY_ID="+local.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+local.SecretAccessKey,
		local.IntegrationTestsVar+"=required", // an integration test that would skip fails
	)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	return cmd.Run()
}
