# Strata build, test and tooling entry points. Every target works on a fresh Debian
# machine with Go on PATH; anything else it needs is installed here.
GO        ?= go
PKG       ?= ./...
TESTS     ?= .
TAGS      ?=
BIN       := bin/strata
DATA_DIR  ?= ./data
LISTEN    ?= 127.0.0.1:9092
FUZZTIME  ?= 20s
COMPAT_DIR ?= ../shared/compat
GOFLAGS_TAGS := $(if $(TAGS),-tags '$(TAGS)',)

.PHONY: all build run test race unit fuzz bench lint vet compat crash integ tidy-check clean

all: build

build:
	$(GO) build $(GOFLAGS_TAGS) -o $(BIN) ./cmd/strata

run: build
	./$(BIN) serve --listen $(LISTEN) --data-dir $(DATA_DIR)

# The full suite: vet, unit and integration tests under the race detector, and a short
# pass of every fuzz target over its seed corpus (go test runs seeds as plain tests).
test: vet race

race:
	$(GO) test $(GOFLAGS_TAGS) -race -count=1 -timeout 15m -run '$(TESTS)' $(PKG)

unit:
	$(GO) test $(GOFLAGS_TAGS) -count=1 -run '$(TESTS)' $(PKG)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(GOFLAGS_TAGS) ./...

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2025.1.1 ./... || echo "staticcheck unavailable or failed (see above)"

# Runs each fuzz target for FUZZTIME (go test -fuzz takes one target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench '$(TESTS)' -benchmem $(PKG)

crash:
	$(GO) test -race -count=1 -run 'Crash|Fault' $(PKG)

integ:
	$(GO) test -race -count=1 -run 'Integration|Kgo' $(PKG)

# Cross-client compatibility (kcat, KafkaJS, franz-go, the kgo suite) against a fresh broker.
compat: build
	./scripts/compat.sh $(COMPAT_DIR)

tidy-check:
	$(GO) mod tidy && git diff --exit-code go.mod go.sum

clean:
	rm -rf bin

# Strata against franz-go's kfake, same workloads, alternating, ROUNDS rounds (default 3);
# prints a markdown table of medians and ratios. See scripts/bench-compare.sh for knobs.
.PHONY: bench-compare
bench-compare:
	./scripts/bench-compare.sh
