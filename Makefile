# ocikit: `make demo` and `make test` do everything on a fresh Debian 12
# machine as root (they install what they need through scripts/install-deps.sh).
export PATH := /usr/local/go/bin:$(PATH)
export GOFLAGS := -buildvcs=false

GO      ?= go
COMMIT  := $(shell git rev-parse --short HEAD 2>/dev/null)
# A static binary (glibc, libseccomp and jansson linked in; the netgo and osusergo
# tags keep glibc's NSS out): every container process starts from it, and
# without the dynamic loader each start maps and relocates nothing (about
# 4 ms less per process here, where a page fault costs ~12 us).
LDFLAGS := -s -w -X github.com/ocikit/ocikit/version.Commit=$(COMMIT) -linkmode external -extldflags -static
TAGS    := netgo,osusergo
# The pre-Go 1.26 garbage collector (Green Tea off): Green Tea keeps a
# small-object span's mark bits in the span's last bytes, so every span a
# process starts may touch two 4 KiB pages instead of one. Every runtime
# command is a fresh process that allocates a few hundred KB across many
# size classes: measured on `state`, Go-heap page faults 239-247 -> 204-216
# (~0.4 ms here, and that much less memory per process). ocikit's
# long-running work (image copy, unpack) moves byte buffers without
# pointers, where Green Tea's gain is small. Go versions without the switch
# build with their default.
GOEXP   := $(shell GOEXPERIMENT=nogreenteagc $(GO) env GOEXPERIMENT 2>/dev/null)
BIN     := $(CURDIR)/bin/ocikit
FUZZTIME ?= 10s

.PHONY: all build deps test unit fuzz demo bench conformance vmtest clean vet

all: build

deps:
	bash scripts/install-deps.sh

build:
	GOEXPERIMENT=$(GOEXP) $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ocikit

# vet, and the library builds outside Linux and without cgo (Linux code
# lives in _linux.go files; cgo-only code has a fallback).
vet:
	$(GO) vet ./...
	GOOS=darwin $(GO) build ./...
	CGO_ENABLED=0 $(GO) build ./...

# Every test: unit tests (no root), integration tests against the real peers
# (root; they skip cleanly without it), and a short run of every fuzz target.
test: deps build vet
	OCIKIT_BIN=$(BIN) $(GO) test -count=1 -timeout 30m ./...
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

unit: build
	$(GO) test -count=1 -short ./...

fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

demo: deps build
	OCIKIT=$(BIN) bash scripts/demo.sh

bench: deps build
	OCIKIT=$(BIN) bash bench/run.sh

# Pure cgroup v2: boots a throw-away qemu VM (software emulation) with
# Debian's cloud kernel and runs the runtime's cgroup checks inside it. Also
# part of `make test` (test/integration TestCgroupV2VM).
vmtest: deps build
	bash test/vm/run.sh deps
	OCIKIT=$(BIN) bash test/vm/run.sh run

# The runtime-tools suite (a measurement) and then the distribution-spec
# suite against `ocikit image serve`, which fails the target on any FAIL.
conformance: deps build
	OCIKIT=$(BIN) bash conformance/run.sh
	OCIKIT=$(BIN) bash conformance/distribution/run.sh

clean:
	rm -rf bin out bench/work conformance/bin
