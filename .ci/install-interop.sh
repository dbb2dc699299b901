#!/usr/bin/env bash
# Installs what internal/interop needs to run real authorization servers:
# oidc-provider from npm (pinned by its package-lock.json) and Debian's
# Authlib and Flask for /usr/bin/python3. Safe to run again.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
oidc="$root/internal/interop/oidcprovider"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-interop: node and npm are required (Node.js 20 or later)" >&2
  exit 1
fi

# npm ci installs exactly the lock, replacing any node_modules there is.
npm ci --prefix "$oidc" --no-audit --no-fund

if ! /usr/bin/python3 -c 'import authlib, flask' 2>/dev/null; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y --no-install-recommends python3-authlib python3-flask; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends python3-authlib python3-flask
  fi
  /usr/bin/python3 -c 'import authlib, flask'
fi
