# DealerAI Integrations. `make dev` runs the whole system locally; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
STACK := $(GO) run ./infra/local/cmd/stack
FUNCTIONS := api router delivery sync
NODE_STAMP := infra/node_modules/.package-lock.json
WEB_STAMP := web/node_modules/.package-lock.json
CDK := infra/node_modules/.bin/cdk
FUZZTIME ?= 30s
CDK_OUTDIR ?= cdk.out
# jsii (the CDK's Go bindings run the construct library in Node) warns on Node 20; it works.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: dev test build token fmt vet fuzz synth deploy bench bench-load test-faults node web web-node screenshots clean

# Node tools pinned in infra/package-lock.json: DynamoDB Local, the SQS emulator, the CDK CLI.
$(NODE_STAMP): infra/package.json infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund --loglevel=error
node: $(NODE_STAMP)

# The Integrations page's packages, pinned in web/package-lock.json: lit, esbuild, TypeScript,
# and for the browser tests @sparticuz/chromium and axe-core.
$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
web-node: $(WEB_STAMP)

## web: the Integrations page's bundle and standalone page in build/web/
web: web-node
	cd web && node build.mjs

## dev: run the whole system locally until Ctrl-C (writes .local/stack.env)
dev: node web
	$(STACK) dev

## test: every test (unit, integration against the emulators, fuzz seed corpora, CDK stack)
test: node web-node
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	$(GO) vet ./...
	cd web && node_modules/.bin/tsc --noEmit -p .
	$(STACK) emulators -- $(GO) test -count=1 -timeout 30m ./...

## build: each function as a linux/arm64 bootstrap in build/<name>/, the page's bundle in build/web/
build: web
	@for f in $(FUNCTIONS); do \
		echo "build/$$f/bootstrap"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w" -o build/$$f/bootstrap ./functions/$$f || exit 1; \
	done

## token: a JWT the running local stack accepts: make token DEALER=d1, or DealerAI staff's
## (the admin scope, for /v1/admin/...): make token ADMIN=1
token:
	@$(STACK) token $(if $(ADMIN),-admin,-dealer "$(DEALER)")

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

## fuzz: longer fuzzing runs of every fuzz target (FUZZTIME each)
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
			echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 3s $$pkg; \
		done; \
	done

## synth: the CloudFormation template and the cdk-nag report in $(CDK_OUTDIR)/, offline
## (cdk.json's build step runs `make build` first)
synth: node
	$(CDK) synth --no-notices -q -o $(CDK_OUTDIR) $(CDK_ARGS)

## deploy: build, check and deploy to the account/region of the current AWS credentials, e.g.
## make deploy CDK_ARGS="-c jwtIssuer=https://issuer.example/ -c jwtAudience=portal"
deploy: node
	$(CDK) deploy --no-notices -o $(CDK_OUTDIR) $(CDK_ARGS)

## test-faults: the long form of the fault suite on private emulators (make test runs the short form),
## and the two-way sync under DynamoDB and SQS outages
test-faults: node
	FAULTS=long FAULTS_REPORT=$(CURDIR)/.local/faults-long.md $(STACK) emulators -- $(GO) test -count=1 -v -run Fault -timeout 30m ./shared/faultsuite/ ./shared/agentsync/

## bench: the performance report (local figures): cost, CPU beside a bare POST, the light regime at
## batching windows 0 s and 1 s (cost, CPU, latency), isolation, cold start;
## then the two-way sync of 1,000 dealers × 20 changed records, and a Fortellis inventory of
## 5,000 vehicles (first load, unchanged and 1 %-changed runs, the list's latency)
bench: node web-node
	@cd web && node build.mjs --size
	$(STACK) emulators -- $(GO) run ./infra/local/cmd/bench $(BENCH_ARGS)
	$(STACK) emulators -- $(GO) test -count=1 -run '^$$' -bench BenchmarkSyncDealers -benchtime 1x -timeout 30m ./shared/agentsync/
	$(STACK) emulators -- $(GO) test -count=1 -run '^$$' -bench BenchmarkInventory -benchtime 1x -timeout 30m ./shared/inventory/

## bench-load: 20,000 events × fan-out 3 over 50 dealers through the local stack
bench-load: node
	$(STACK) emulators -- $(GO) run ./infra/local/cmd/bench -load $(BENCH_ARGS)

## screenshots: the Integrations page's screenshots in docs/images/, taken by its browser tests
screenshots: node web-node
	SCREENSHOTS=$(CURDIR)/docs/images $(STACK) emulators -- $(GO) test -count=1 -run TestIntegrationsPage ./web/browsertest/

clean:
	rm -rf build cdk.out .local
