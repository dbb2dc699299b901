#!/usr/bin/env bash
# go mod tidy for the modules of this repository (all of go.work, or the
# directories given). Inside the workspace, go mod tidy ignores go.work and
# cannot find the not-yet-released versions the modules require of each
# other (RELEASING.md); this tidies each module against this tree through
# temporary replace directives, then removes them again, pins the
# repository's modules at the version go.work replaces, and leaves no go.sum
# line for them (a hash of the working tree would be wrong once released).
#
#   bash scripts/tidy.sh                       # every module
#   bash scripts/tidy.sh adapters/echo5guard   # one
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
base=github.com/bearerguard/bearerguard

# The version the modules require of each other: the one go.work replaces.
version=$(go work edit -json | sed -n 's/.*"Version": "\(v[^"]*\)".*/\1/p' | head -1)
[ -n "$version" ] || { echo "tidy.sh: go.work replaces no version of $base" >&2; exit 1; }
workspace=$(go work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p')
modules=$workspace
[ $# -gt 0 ] && modules="$*"

# The module path of each workspace directory, read once: "dir path" lines.
paths=$(for other in $workspace; do
  other=${other#./}
  echo "$other $(cd "$other" && go mod edit -json | sed -n 's/^\t\t"Path": "\(.*\)"/\1/p' | head -1)"
done)

for d in $modules; do
  d=${d#./}
  echo "tidy $d"
  mod="$d/go.mod"
  cp "$mod" "$mod.orig"
  trap 'mv "$mod.orig" "$mod"' ERR
  while read -r other path; do
    [ "$other" = "$d" ] && continue
    rel=$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$root/$other" "$root/$d")
    case $rel in .*) ;; *) rel=./$rel ;; esac # a local directory, for go mod edit
    (cd "$d" && go mod edit -replace="$path=$rel")
  done <<<"$paths"
  (cd "$d" && GOWORK=off GOFLAGS=-mod=mod go mod tidy)
  # No go.mod keeps a replace (internal/depcheck, TestWorkspace).
  (cd "$d" && go mod edit -json |
    python3 -c 'import json, sys; [print(r["Old"]["Path"]) for r in json.load(sys.stdin).get("Replace") or []]' |
    while read -r p; do go mod edit -dropreplace="$p"; done)
  sed -i -E "s#^(\t?)($base[^ ]*) v0\.0\.0-00010101000000-000000000000#\1\2 $version#" "$mod"
  [ -f "$d/go.sum" ] && sed -i "\#^$base[/ ]#d" "$d/go.sum"
  rm -f "$mod.orig"
  trap - ERR
done
