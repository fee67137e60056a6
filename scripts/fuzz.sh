#!/usr/bin/env bash
# fuzz.sh DURATION: run every Fuzz* target of every package for DURATION each. A
# failure is minimized for at most 5 s (the default, 60 s, took most of a short run).
set -eu
t=${1:-30s}
for pkg in $(go list ./...); do
  for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== fuzz $pkg $f ($t)"
    go test -run='^$' -fuzz="^${f}\$" -fuzztime="$t" -fuzzminimizetime=5s "$pkg"
  done
done
