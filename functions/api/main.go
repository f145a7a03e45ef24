// Command api is the api Lambda: the REST API (package httpapi) behind API Gateway's HTTP API.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/awsconfig"
)

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))
	ctx := context.Background()
	cfg, err := app.ConfigFromEnv(os.Getenv)
	if err != nil {
		fatal("config", err)
	}
	awsCfg, err := awsconfig.FromEnv(os.Getenv)
	if err != nil {
		fatal("aws config", err)
	}
	handler, err := app.NewAPI(ctx, awsCfg, cfg)
	if err != nil {
		fatal("build api", err)
	}
	lambda.Start(handler)
}

func fatal(msg string, err error) {
	slog.Error(msg, "error", err)
	os.Exit(1)
}
