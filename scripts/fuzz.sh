#!/usr/bin/env bash
# Long fuzzing: every fuzz target of the root module for the given duration
# (default 10m), one after the other. Failing inputs are written under the
# package's testdata/fuzz/<target>/: commit them with the fix, as seeds.
#
#   bash scripts/fuzz.sh        # 10 minutes per target
#   bash scripts/fuzz.sh 1h
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./internal/fuzzsmoke -fuzztime "${1:-10m}" .
