# flowd — make targets are the interface. `make help` lists them.
SHELL := /bin/bash
GO ?= go
BIN := bin
FUZZTIME ?= 30s
# Packages with goroutines crossing each other: run under the race detector.
RACE_PKGS := ./engine/... ./flowtable/... ./api/... ./capture/... ./filter/... ./internal/output/... ./internal/ipfix/... ./internal/flowlogs/... ./internal/s3store/...

.PHONY: help build demo test test-short bench bench-quick fuzz lint deps clean man

help:
	@echo "make demo        replay the bundled sample pcap and print its flows"
	@echo "make test        install what tests need (root), vet, test, race-test"
	@echo "make bench       Go benchmarks + flowd bench; writes bench/RESULTS.md (<= 15 min)"
	@echo "make bench-quick a 2-minute subset of make bench"
	@echo "make fuzz        run every fuzz target for FUZZTIME (default $(FUZZTIME)) each"
	@echo "make lint        gofmt, go vet, staticcheck"
	@echo "make build       build bin/flowd and bin/flowctl"
	@echo "make man         man pages of flowd and flowctl into man/man1, from their flag definitions"

deps:
	@scripts/deps.sh
	@scripts/install-minio.sh
	@scripts/install-goflow2.sh

build:
	@scripts/deps.sh --quiet demo
	$(GO) build -o $(BIN)/ ./cmd/...

demo:
	@scripts/deps.sh --quiet demo
	$(GO) build -o $(BIN)/ ./cmd/...
	$(BIN)/flowd replay testdata/sample.pcap

test: deps
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race $(RACE_PKGS)
	@FUZZ_SMOKE=$${FUZZ_SMOKE:-2s} scripts/fuzz-smoke.sh

test-short:
	$(GO) test -short ./...

bench:
	@scripts/deps.sh bench
	$(GO) build -o $(BIN)/ ./cmd/...
	GO=$(GO) FLOWD=$(BIN)/flowd scripts/bench.sh full

bench-quick:
	@scripts/deps.sh --quiet demo
	$(GO) build -o $(BIN)/ ./cmd/...
	GO=$(GO) FLOWD=$(BIN)/flowd scripts/bench.sh quick

fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest ./...

MANDIR ?= man/man1

man: build
	$(BIN)/flowd man $(MANDIR)
	$(BIN)/flowctl man $(MANDIR)

clean:
	rm -rf $(BIN) man
