#!/usr/bin/env bash
# install-goflow2.sh: build goflow2, the second real collector the IPFIX and
# NetFlow v9 export tests send to (cmd/flowd TestReplayExportToGoflow2), into
# $(go env GOPATH)/bin when it is not there yet. The pin is the version that
# `go install github.com/netsampler/goflow2/v2/cmd/goflow2@latest` resolved to
# on 2026-12-05; a build takes about 30 s on two cores. When it cannot build,
# it says why and exits 0: the goflow2 test then skips with the reason.
set -u
MODULE=github.com/netsampler/goflow2/v2/cmd/goflow2
VERSION=${GOFLOW2_VERSION:-v2.2.6}
GO=${GO:-go}

if ! command -v "$GO" >/dev/null 2>&1; then
  echo "install-goflow2: $GO not found; not installing goflow2 (its test will skip)" >&2
  exit 0
fi
bin="$("$GO" env GOPATH | cut -d: -f1)/bin/goflow2"
if [ -x "$bin" ] && "$GO" version -m "$bin" 2>/dev/null | grep -q "mod[[:space:]]*github.com/netsampler/goflow2/v2[[:space:]]*$VERSION"; then
  exit 0
fi
echo "install-goflow2: building $MODULE@$VERSION into $bin"
if ! GOFLAGS=-mod=mod "$GO" install "$MODULE@$VERSION"; then
  echo "install-goflow2: WARNING: go install $MODULE@$VERSION failed; the goflow2 test will skip" >&2
fi
exit 0
