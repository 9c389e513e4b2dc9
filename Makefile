# Skiff: `make up` starts a one-node cluster, `make test` runs every test.
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
DATA_DIR ?= .skiff
API_PORT ?= 6443

.PHONY: all build deps up test unit bench fmt vet clean

all: build

# CGO_ENABLED=0: a static binary (no libc needed on the host). cgo would
# only bring the C resolver and user lookup, and with it containerd's client
# links Go's plugin package, which exports every symbol: 34 MB more binary
# and 30 MB more resident pages (docs/benchmarks.md, skiff up).
# -s -w: no symbol table and no DWARF (stack traces and pprof still name
# functions, from the pclntab), as upstream's release builds: 121 → 84 MB.
BUILDFLAGS = -trimpath -ldflags "-s -w"
build:
	CGO_ENABLED=0 $(GO) build $(BUILDFLAGS) -o bin/skiff ./cmd/skiff

deps:
	@./hack/install-deps.sh

# Starts a one-node cluster in the foreground; Ctrl-C stops it.
up: deps build
	./bin/skiff up --data-dir $(DATA_DIR) --api-port $(API_PORT)

# Every test: table tests, integration against in-process servers, and
# end-to-end tests with the real kubectl and the built binary.
test: deps build vet
	$(GO) test -count=1 -timeout 25m ./...

unit:
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

bench: build
	./bin/skiff bench api

fmt:
	gofmt -w cmd internal

clean:
	rm -rf bin
