#!/usr/bin/env bash
# install-minio.sh: build the MinIO server that the S3 tests (internal/s3store,
# internal/testminio) run against, into $(go env GOPATH)/bin, when it is not
# there yet. MinIO tags its releases RELEASE.*, which Go modules cannot name,
# so the pin is the pseudo-version that `go install github.com/minio/minio@latest`
# resolved to on 2026-12-04. A build takes several minutes on two cores; after
# that the script does nothing. When it cannot build, it says why and exits 0:
# the tests that need MinIO then skip with the reason.
#
# MinIO is AGPL-3.0: it is built and run here as a separate test server, never
# linked into flowd.
set -u
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}
GO=${GO:-go}

if ! command -v "$GO" >/dev/null 2>&1; then
  echo "install-minio: $GO not found; not installing MinIO (S3 tests will skip)" >&2
  exit 0
fi
bin="$("$GO" env GOPATH | cut -d: -f1)/bin/minio"

# Already built at the pinned version: nothing to do.
if [ -x "$bin" ] && "$GO" version -m "$bin" 2>/dev/null | grep -q "mod[[:space:]]*$MINIO_MODULE[[:space:]]*$MINIO_VERSION"; then
  exit 0
fi
# Some other minio on PATH (a package, a download): the tests use it.
if [ ! -x "$bin" ] && command -v minio >/dev/null 2>&1; then
  echo "install-minio: using $(command -v minio) from PATH"
  exit 0
fi

echo "install-minio: building $MINIO_MODULE@$MINIO_VERSION into $bin (several minutes on 2 cores)"
start=$(date +%s)
if GOFLAGS=-mod=mod "$GO" install "$MINIO_MODULE@$MINIO_VERSION"; then
  echo "install-minio: done in $(( $(date +%s) - start ))s: $bin"
else
  echo "install-minio: WARNING: go install $MINIO_MODULE@$MINIO_VERSION failed; S3 tests will skip" >&2
fi
exit 0
