#!/bin/sh
# P9: the highest packet rate a veth sustains into flowd watch (AF_PACKET,
# 1 and 2 workers, the whole engine) with no kernel drops, next to dumpcap
# (and tcpdump, where installed) writing to /dev/null in the same run.
# Needs root, iproute2 and tcpreplay; runs in throw-away network namespaces.
#   bench/live-sweep.sh                  # steps of 3 s
#   FLOWD_LIVE_BENCH_SECONDS=5 FLOWD_LIVE_BENCH_RING_BLOCKS=32 bench/live-sweep.sh
set -eu
cd "$(dirname "$0")/.."
FLOWD_LIVE_BENCH=1 exec go test ./cmd/flowd -run '^TestLiveEngineSweep$' -count=1 -v -timeout 20m
