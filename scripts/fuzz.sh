#!/usr/bin/env bash
# fuzz.sh DURATION: run every Fuzz* target of the module for DURATION each
# (default 30s), through the same runner make test uses for its short smoke
# run. A failure is minimized for at most 5 s (Go's default, 60 s, took most of
# a short run).
set -eu
FUZZ_SMOKE=${1:-30s} FUZZ_MINIMIZE=5s exec "$(dirname "$0")/fuzz-smoke.sh"
