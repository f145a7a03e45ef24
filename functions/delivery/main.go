// Command delivery is the delivery Lambda (provided.al2023, arm64, binary bootstrap): it reads its
// configuration, builds the handler once per container and hands it to lambda.Start.
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
	ctx := context.Background()
	cfg, err := app.ConfigFromEnv(os.Getenv)
	if err != nil {
		fail("configuration", err)
	}
	awsCfg, err := awsconfig.FromEnv(os.Getenv)
	if err != nil {
		fail("AWS configuration", err)
	}
	handler, err := app.NewDelivery(ctx, awsCfg, cfg)
	if err != nil {
		fail("delivery", err)
	}
	lambda.Start(handler)
}

func fail(what string, err error) {
	slog.New(slog.NewJSONHandler(os.Stdout, nil)).Error("cannot start: "+what, "error", err.Error())
	os.Exit(1)
}
