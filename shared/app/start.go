package app

import (
	"context"
	"io"
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
	log := NewLogger(os.Stdout)
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

// NewLogger is the functions' logger: JSON lines on w without slog's "time" attribute. Every
// line the functions print becomes a CloudWatch Logs event that carries its own timestamp
// (@timestamp), and ingestion is billed by the byte: the attribute added ~45 bytes to every
// line, a third of a router batch's line.
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: dropTime}))
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
