package app

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dealerai/integrations/shared/awsconfig"
)

// Start is the whole of a function's main: JSON logs on stdout (what Lambda sends to
// CloudWatch Logs), the configuration read from the environment, the handler built once per
// container by build, and lambda.Start. A function that cannot start logs why and exits 1, so
// the failure shows in its log group rather than as a timeout.
func Start[H any](function string, build func(context.Context, aws.Config, Config) (H, error)) {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(log)
	fail := func(what string, err error) {
		log.Error("cannot start", "function", function, "step", what, "error", err.Error())
		os.Exit(1)
	}
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		fail("configuration", err)
	}
	cfg.Logger = log
	awsCfg, err := awsconfig.FromEnv(os.Getenv)
	if err != nil {
		fail("AWS configuration", err)
	}
	handler, err := build(context.Background(), awsCfg, cfg)
	if err != nil {
		fail("build the handler", err)
	}
	lambda.Start(handler)
}
