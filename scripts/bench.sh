#!/usr/bin/env bash
# bench.sh full|quick: the run behind `make bench` and `make bench-quick`.
#   1. Go benchmarks (full: every package, -count 6 for benchstat; quick:
#      those behind P5 and P6, once), one package at a time.
#   2. flowd bench at several table sizes (full: 10 k, 100 k and 1 M flows;
#      quick: 10 k and 100 k, fewer packets), against the other flow tools
#      that are installed (full: all, at every size, but tshark not at 1 M;
#      quick: softflowd and argus at 100 k).
#   3. flowd bench report: a new row at the top of every table of
#      bench/RESULTS.md (older rows kept) and bench/throughput.svg.
# Raw outputs stay in bench/out/STAMP-MODE/ (compare two gobench.txt with
# benchstat). Budget on a 2-core machine: full <= 15 min, quick <= 2 min.
# Environment: GO (default go), FLOWD (default bin/flowd, built if absent).
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-full}
GO=${GO:-go}
flowd=${FLOWD:-bin/flowd}

cpus=$(nproc 2>/dev/null || echo 2)
workers="1,2"
[ "$cpus" -gt 2 ] && workers="1,2,$cpus"
case $mode in
full)
  # "pattern package" pairs; -count 6 gives benchstat enough samples.
  gobench=(". ./...") count=6
  # flows, packets, runs of the other tools (0: none), which tools. 100 k
  # flows and ~1 M packets is the reference capture of docs/TARGETS.md (P1): seven
  # runs there (on the shared 2-vCPU VM single runs of flowd vary from 0.10
  # to 0.25 s, so three-run medians flip the P1 verdict from run to run), one
  # at the other sizes, for the plot. At 1 M flows (5.7 M
  # packets) tshark alone would take a minute and 4.5 GB; it is left out.
  sizes=("10000 1000000 1 all" "100000 1000000 7 all" "1000000 3000000 1 softflowd,nfpcapd,argus")
  n=3 label="" ;;
quick)
  # The Go benchmarks behind P5 and P6 only, once.
  gobench=("BenchmarkUpdate/flows=1000000/zipf ./flowtable" "BenchmarkScanFilters ./engine") count=1
  sizes=("10000 200000 0 -" "100000 500000 3 softflowd,argus")
  n=3 label=quick ;;
*)
  echo "usage: $0 full|quick" >&2
  exit 2 ;;
esac

t0=$(date +%s)
log() { echo "== bench.sh $mode, $(($(date +%s) - t0)) s: $*" >&2; }

if [ ! -x "$flowd" ]; then
  log "building $flowd"
  $GO build -o "$flowd" ./cmd/flowd || exit 1
fi
out=bench/out/$(date -u +%Y%m%dT%H%M%SZ)-$mode
mkdir -p "$out"

: > "$out/gobench.txt"
for gb in "${gobench[@]}"; do
  read -r pattern pkgs <<<"$gb"
  log "go test -bench '$pattern' -count $count $pkgs >> $out/gobench.txt"
  # -p 1: two packages' benchmarks must not share the cores. 100 ms per
  # benchmark is plenty for the per-op figures; setup dominates the time.
  $GO test -p 1 -run '^$' -bench "$pattern" -benchmem -count "$count" -benchtime 100ms $pkgs >> "$out/gobench.txt" 2>&1
  rc=$?
  [ $rc = 0 ] || log "go test failed (exit $rc); its results so far are kept, see $out/gobench.txt"
done
grep -E '^(ok|FAIL|panic|--- FAIL)' "$out/gobench.txt" >&2

reports=()
for s in "${sizes[@]}"; do
  read -r flows packets vsn vs <<<"$s"
  args=(-flows "$flows" -packets "$packets" -n "$n" -workers "$workers" -o "$out/flowd-$flows.json")
  [ "$vsn" -gt 0 ] && args+=(-vs "$vs" -vs-n "$vsn")
  log "flowd bench ${args[*]}"
  if "$flowd" bench "${args[@]}" > "$out/flowd-$flows.txt"; then
    cat "$out/flowd-$flows.txt"
    reports+=("$out/flowd-$flows.json")
  else
    log "flowd bench failed at $flows flows"
  fi
done
[ ${#reports[@]} -gt 0 ] || { log "no flowd bench report; RESULTS.md left as it was"; exit 1; }

elapsed=$(($(date +%s) - t0))
log "flowd bench report"
"$flowd" bench report -results bench/RESULTS.md -svg bench/throughput.svg -gobench "$out/gobench.txt" \
  -label "$label" -raw "$out" -elapsed "${elapsed}s" "${reports[@]}" || exit 1
log "done"
