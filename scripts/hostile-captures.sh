#!/usr/bin/env bash
# hostile-captures.sh [DIR]: write the hostile capture corpus (truncated
# headers, lying caplens and block lengths, wrong magic, zero-length
# records, interface ids out of range, gzip bombs, fragment storms, 100-deep
# extension header chains...) into DIR (default ${TMPDIR:-/tmp}/flowd-hostile;
# about 45 files, 25 MB: nothing to commit), and replay each file with
# flowd, one line per file. The corpus is made by cmd/flowd/hostile_test.go, whose
# TestHostileCaptures replays it on every go test with what each file must
# give: a named file and offset, or counts by reason, never a panic.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
dir=${1:-${TMPDIR:-/tmp}/flowd-hostile}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
"$GO" test -count=1 -run '^TestHostileCorpusWrite$' ./cmd/flowd -args -hostile.out "$dir" >/dev/null
bin=$(mktemp -d)/flowd
trap 'rm -rf "$(dirname "$bin")"' EXIT
"$GO" build -o "$bin" ./cmd/flowd
n=0
for f in "$dir"/*; do
  n=$((n + 1))
  rc=0
  out=$("$bin" replay --format none --progress never "$f" 2>&1) || rc=$?
  printf '%-40s exit %d  %s\n' "$(basename "$f")" "$rc" "$(printf '%s\n' "$out" | tail -n 1 | cut -c1-160)"
  if [ "$rc" -gt 1 ] || printf '%s' "$out" | grep -q '^panic'; then
    echo "hostile-captures: $f: exit $rc" >&2
    exit 1
  fi
done
echo "hostile-captures: $n files in $dir replayed, none crashed"
