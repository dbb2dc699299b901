#!/usr/bin/env bash
# The inner loop: gofmt, go vet and the root module's tests without the race
# detector, skipping the tests that start real authorization servers
# (-short). It installs nothing and takes about 80 seconds on a 2-core machine.
# Run scripts/test.sh, the full suite CI runs, before a pull request.
#
#   bash scripts/quick.sh                 # every package
#   bash scripts/quick.sh ./middleware/   # some packages
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then pkgs=(./...); fi

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet "${pkgs[@]}"
go test -short -count=1 "${pkgs[@]}"
