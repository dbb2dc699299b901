#!/usr/bin/env bash
# The full test suite of bearerguard: what CI runs (.ci/run) and what the
# README tells contributors to run. It installs what a fresh machine lacks:
# the interop servers' dependencies (npm ci, Debian's python3-authlib,
# python3-flask and redis-server, and Ory Hydra built from the Go module
# proxy; Debian's gcc and libc6-dev, for -race and Hydra's cgo SQLite; see
# .ci/install-interop.sh) and staticcheck.
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

# The modules of the repository, as the workspace (go.work) lists them: the
# root module (the core and net/http), each adapter and store with a
# dependency of its own, and the modules of examples, benchmarks and
# interop tests. ./... in one module does not reach the others.
modules=$(go work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p')

step "go vet"
for m in $modules; do (cd "$m" && go vet ./...); done

step "staticcheck"
for m in $modules; do (cd "$m" && staticcheck ./...); done

step "go test -race"
# The Redis replay store's tests start Debian's redis-server on a loopback
# port; internal/interop starts oidc-provider, Authlib and Ory Hydra; internal/release
# builds a module proxy from this tree and installs every published module
# from it, outside the repository.
for m in $modules; do
  echo "  $m"
  (cd "$m" && go test -race -count=1 -timeout 20m ./...)
done

step "benchmarks compile and run once"
(cd bench && go test -run '^$' -bench . -benchtime 1x ./... >/dev/null)
(cd adapters/grpcguard && go test -run '^$' -bench . -benchtime 1x ./... >/dev/null)
(cd otelguard && go test -run '^$' -bench . -benchtime 1x ./... >/dev/null)

if [ "$FUZZ" != "0" ]; then
  # Execution budgets per target, not durations: a duration races the fuzzing
  # coordinator's deadline (golang/go#75804). internal/fuzzsmoke says what
  # fails the run: a reproducer written, a panic, a t.Error, a build failure.
  step "fuzz smoke run (execution budgets per target)"
  go run ./internal/fuzzsmoke $modules
fi

step "all tests passed"
