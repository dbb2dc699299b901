#!/usr/bin/env bash
# The full test suite of bearerguard: what CI runs (.ci/run) and what the
# README tells contributors to run. It installs what a fresh machine lacks:
# the interop servers' dependencies (npm ci, Debian's python3-authlib,
# python3-flask and redis-server) and staticcheck.
#
#   bash scripts/test.sh            # everything
#   FUZZTIME=0 bash scripts/test.sh # skip the bounded fuzz runs
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-15s}
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
# port; internal/interop starts oidc-provider and Authlib; internal/release
# builds a module proxy from this tree and installs every published module
# from it, outside the repository.
for m in $modules; do
  echo "  $m"
  (cd "$m" && go test -race -count=1 -timeout 20m ./...)
done

step "benchmarks compile and run once"
(cd bench && go test -run '^$' -bench . -benchtime 1x ./... >/dev/null)

if [ "$FUZZTIME" != "0" ]; then
  step "fuzzing ($FUZZTIME per target)"
  # Import paths of every module resolve from here through the workspace.
  for m in $modules; do (cd "$m" && go test -list '^Fuzz' ./...); done | awk '/^Fuzz/{f=f" "$1} /^ok/{if(f!=""){print $2 f}; f=""}' |
  while read -r pkg fns; do
    for fn in $fns; do
      echo "  $pkg $fn"
      log=$(mktemp); go test -run "^$" -fuzz "^${fn}\$" -fuzztime "$FUZZTIME" "$pkg" >"$log" 2>&1 || { cat "$log"; exit 1; }
    done
  done
fi

step "all tests passed"
