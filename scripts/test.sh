#!/usr/bin/env bash
# The full test suite of bearerguard: what CI runs (.ci/run) and what the
# README tells contributors to run. It installs what a fresh machine lacks:
# the interop servers' dependencies (npm ci, Debian's python3-authlib,
# python3-flask and redis-server) and staticcheck.
#
#   bash scripts/test.sh              # everything, as CI runs it
#   FUZZ=0 bash scripts/test.sh       # everything but the fuzz smoke run
#   bash scripts/quick.sh             # the inner loop: no installs, no race, no interop servers
#   bash scripts/fuzz.sh 10m          # long fuzzing, every target for 10 minutes
set -euo pipefail
cd "$(dirname "$0")/.."

# FUZZTIME=0 is the older spelling of FUZZ=0.
FUZZ=${FUZZ:-1}
if [ "${FUZZTIME:-}" = "0" ]; then FUZZ=0; fi
export PATH="$(go env GOPATH)/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

step "installing test dependencies"
bash .ci/install-interop.sh
if ! command -v staticcheck >/dev/null 2>&1; then
  go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...
(cd bench && go vet ./...)
(cd adapters/mcpguard && go vet ./...)
(cd replay/redisstore && go vet ./...)
(cd adapters/grpcguard && go vet ./...)
(cd otelguard && go vet ./...)
(cd examples/otelmetrics && go vet ./...)

step "staticcheck"
staticcheck ./...
(cd bench && staticcheck ./...)
(cd adapters/mcpguard && staticcheck ./...)
(cd replay/redisstore && staticcheck ./...)
(cd adapters/grpcguard && staticcheck ./...)
(cd otelguard && staticcheck ./...)
(cd examples/otelmetrics && staticcheck ./...)

step "go test -race"
go test -race -count=1 -timeout 20m ./...
# The MCP adapter is a module of its own (it keeps the MCP SDK out of the
# root module's go.sum); ./... above does not reach it.
(cd adapters/mcpguard && go test -race -count=1 -timeout 5m ./...)
# So is the Redis replay store (go-redis stays out of the root go.sum); its
# tests start Debian's redis-server on a loopback port.
(cd replay/redisstore && go test -race -count=1 -timeout 5m ./...)
# The gRPC adapter is a module of its own (grpc-go and genproto stay out of
# the root go.sum); its tests run a grpc-go server over loopback TLS.
(cd adapters/grpcguard && go test -race -count=1 -timeout 5m ./...)
# So is the OpenTelemetry observer (the OTel SDK stays out of the root go.sum).
(cd otelguard && go test -race -count=1 -timeout 5m ./...)
# Its example server (the Prometheus exporter stays out of otelguard's
# go.sum), scraped on a loopback port.
(cd examples/otelmetrics && go test -race -count=1 -timeout 5m ./...)

step "benchmarks compile and run once"
(cd bench && go test -run '^$' -bench . -benchtime 1x ./... >/dev/null)
(cd adapters/grpcguard && go test -run '^$' -bench . -benchtime 1x ./... >/dev/null)
(cd otelguard && go test -run '^$' -bench . -benchtime 1x ./... >/dev/null)

if [ "$FUZZ" != "0" ]; then
  # Execution budgets per target, not durations: a duration races the fuzzing
  # coordinator's deadline (golang/go#75804). internal/fuzzsmoke says what
  # fails the run: a reproducer written, a panic, a t.Error, a build failure.
  step "fuzz smoke run (execution budgets per target)"
  go run ./internal/fuzzsmoke .
fi

step "all tests passed"
