#!/usr/bin/env bash
# Installs what internal/interop needs to run real authorization servers:
# oidc-provider from npm (pinned by its package-lock.json) and Debian's
# Authlib and Flask for /usr/bin/python3; Ory Hydra, built from the Go
# module proxy; and Debian's redis-server, which the tests of
# replay/redisstore start on a loopback port; and Debian's gcc, which
# go test -race and Hydra's SQLite need (cgo). Safe to run again.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
oidc="$root/internal/interop/oidcprovider"

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
apt_install() {
  if ! $sudo apt-get install -y --no-install-recommends "$@"; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends "$@"
  fi
}

# The machine image ships Node.js 20; a bare Debian gets its own.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt_install nodejs npm
fi

# npm ci installs exactly the lock, replacing any node_modules there is.
npm ci --prefix "$oidc" --no-audit --no-fund

if ! /usr/bin/python3 -c 'import authlib, flask' 2>/dev/null; then
  apt_install python3 python3-authlib python3-flask
  /usr/bin/python3 -c 'import authlib, flask'
fi

# Only the binary is used: the tests start it themselves. Debian's package
# may also enable a service on port 6379 where an init system runs; the
# tests neither need nor touch it.
if ! command -v redis-server >/dev/null; then
  apt_install redis-server
  redis-server --version
fi

# A C compiler: go test -race needs cgo, and so does Hydra's SQLite below.
# Without one the go command turns cgo off and -race fails.
if ! command -v gcc >/dev/null; then
  apt_install gcc libc6-dev
fi

# Ory Hydra, built from the Go module proxy at the version
# internal/interop/testdata/hydra/go.mod pins (a tool module outside the
# workspace), with SQLite, which its in-memory database needs (cgo).
# Rebuilt only when that go.mod or go.sum is newer than the binary.
hydra="$root/internal/interop/testdata/hydra"
if [ ! -x "$hydra/bin/hydra" ] || [ "$hydra/go.mod" -nt "$hydra/bin/hydra" ] || [ "$hydra/go.sum" -nt "$hydra/bin/hydra" ]; then
  start=$(date +%s)
  (cd "$hydra" && GOWORK=off CGO_ENABLED=1 go build -trimpath -tags sqlite,sqlite_omit_load_extension -o bin/hydra github.com/ory/hydra/v2)
  echo "install-interop: built Ory Hydra in $(($(date +%s) - start))s"
fi
"$hydra/bin/hydra" version >/dev/null
