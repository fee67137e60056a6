#!/usr/bin/env bash
# fuzz-smoke.sh: run every fuzz target of the module for FUZZ_SMOKE (default
# 3s) each, one after another, as part of make test. Any crash fails the run
# (the failing input is left in the package's testdata/fuzz/ for go test to
# replay); the last line sums up. make fuzz (scripts/fuzz.sh) runs the same
# targets longer through this script; FUZZ_MINIMIZE bounds the minimizing of
# a failure (default 1s).
#
# Each package's instrumented test binary is built once (go test -c -fuzz)
# and run once per target, with the fuzz cache go test itself uses: linking
# per target instead cost 144 s for 15 targets on a 2-core machine, this
# about 95 s (Dec 2026).
set -u
cd "$(dirname "$0")/.."
GO=${GO:-go}
t=${FUZZ_SMOKE:-3s}
start=$(date +%s)
cache=$("$GO" env GOCACHE)/fuzz
module=$("$GO" list -m)
bins=$(mktemp -d)
trap 'rm -rf "$bins"' EXIT
targets=0
failed=()
# Targets are found in the test sources: "DIR NAME" per target, by DIR.
list=$(git ls-files -co --exclude-standard -- '*_test.go' |
  xargs grep -H '^func Fuzz[A-Za-z0-9_]*(' |
  sed -E 's#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#; s#^[^/ ]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#. \1#' |
  sort -u)
for dir in $(printf '%s\n' "$list" | cut -d' ' -f1 | uniq); do
  bin=$bins/$(printf '%s' "$dir" | tr / _).test
  pkg=$module/${dir#.}
  pkg=${pkg%/}
  if ! "$GO" test -c -fuzz=. -o "$bin" "./$dir" >"$bins/log" 2>&1; then
    failed+=("$dir:build")
    echo "fuzz-smoke: FAIL building ./$dir" >&2
    tail -n 30 "$bins/log" >&2
    continue
  fi
  for name in $(printf '%s\n' "$list" | awk -v d="$dir" '$1 == d { print $2 }'); do
    targets=$((targets + 1))
    for try in 1 2 3; do
      before=$(ls "$dir/testdata/fuzz/$name" 2>/dev/null | wc -l)
      if (cd "$dir" && "$bin" -test.run='^$' -test.fuzz="^${name}\$" -test.fuzztime="$t" \
        -test.fuzzminimizetime="${FUZZ_MINIMIZE:-1s}" -test.fuzzcachedir="$cache/$pkg") >"$bins/log" 2>&1; then
        break
      fi
      after=$(ls "$dir/testdata/fuzz/$name" 2>/dev/null | wc -l)
      # Go before 1.27 can fail a target with a bare "context deadline
      # exceeded" when -fuzztime runs out while a worker is mid-call
      # (golang/go#75804): nothing was found and no input was written. Such a
      # run is tried again, at most twice; a real finding always leaves its
      # input in testdata/fuzz/NAME and fails at once.
      if [ "$try" -lt 3 ] && [ "$after" -eq "$before" ] &&
        grep -q '^    context deadline exceeded$' "$bins/log" && ! grep -q 'panic\|Failing input' "$bins/log"; then
        echo "fuzz-smoke: ./$dir $name stopped on Go's fuzz-deadline race (no input found); again" >&2
        continue
      fi
      failed+=("$dir:$name")
      echo "fuzz-smoke: FAIL ./$dir $name" >&2
      tail -n 30 "$bins/log" >&2
      break
    done
  done
done
secs=$(($(date +%s) - start))
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-smoke: ${#failed[@]} FAILED of $targets targets in ${secs}s ($t each): ${failed[*]}"
  exit 1
fi
echo "fuzz-smoke: $targets targets passed, $t each, ${secs}s in all"
