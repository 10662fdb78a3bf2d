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

.PHONY: all build run cluster cluster-soak jepsen bench-replication confluent-kafka librdkafka-tests compat-single compat-cluster test race unit fuzz bench lint vet compat crash integ tidy-check clean kcat chromium legacy-clients burrow sarama soak

all: build

build:
	$(GO) build $(GOFLAGS_TAGS) -o $(BIN) ./cmd/strata

run: build
	./$(BIN) serve --listen $(LISTEN) --data-dir $(DATA_DIR)

# A local three-node cluster on loopback (clients on 127.0.0.1:9092, 9192, 9292; data
# under $(DATA_DIR)/node-N); Ctrl-C stops it. docs/cluster.md has a walk-through.
cluster: build
	DATA=$(DATA_DIR) ./scripts/cluster.sh ./$(BIN)

# The process-level cluster tests (cmd/strata TestClusterProcess*: three strata serve
# processes, kill -9 of the controller, restart, SIGSTOP) CLUSTER_COUNT times (default
# 10); make test runs them once.
CLUSTER_COUNT ?= 10
cluster-soak:
	$(GO) test -count=$(CLUSTER_COUNT) -timeout 0 -run '^TestClusterProcess' -v ./cmd/strata

# The Jepsen-style replication tests (cmd/strata TestJepsenProcess*: idempotent acks=all
# load on an RF 3 topic of three processes; kill -9 of a leader, of every node, of a
# committing group's coordinator, SIGSTOP of one and of two nodes; a checker of every
# acknowledged record and of the replicas byte for byte) JEPSEN_COUNT times
# (default 10; JEPSEN_RUN narrows the tests); make test runs them once.
JEPSEN_COUNT ?= 10
JEPSEN_RUN ?= ^TestJepsenProcess
jepsen:
	$(GO) test -count=$(JEPSEN_COUNT) -timeout 0 -run '$(JEPSEN_RUN)' -v ./cmd/strata

# librdkafka's own tests (RDK_TESTS, default 0103,0129) against a three-node cluster;
# not in CI: LIBRDKAFKA_SRC is a librdkafka v2.0.2 source tree (scripts/librdkafka-tests.sh;
# 0098 runs its Java producer as scripts/txnproducercli and needs RapidJSON in the tree).
RDK_TESTS ?= 0103,0129
librdkafka-tests: build
	./scripts/librdkafka-tests.sh $(LIBRDKAFKA_SRC) $(RDK_TESTS)

# RF 3 against RF 1 acks=all throughput, replication bytes and CPU through three strata
# serve processes (docs/benchmarks.md); ROUNDS, DURATION, RATE tune it.
bench-replication: build
	./scripts/bench-replication.sh ./$(BIN)

# The full suite: vet, unit and integration tests under the race detector, and a short
# pass of every fuzz target over its seed corpus (go test runs seeds as plain tests).
# The kcat integration tests (server, TestKcat*) need kcat, TestClusterProcessLibrdkafka
# (cmd/strata) python3-confluent-kafka, the kafka-python and Burrow
# ones (TestKafkaPython*, TestBurrowLag) Debian's python3-kafka, burrow and zookeeper, the
# console's browser tests (observe, TestConsole*) Chromium: installed first when missing.
# Then the Sarama module's tests (compat/sarama).
test: kcat confluent-kafka chromium legacy-clients vet race sarama

# kcat (librdkafka's CLI) for the cross-client tests: apt-get install only when it is not
# on PATH (as root or with sudo -n; apt-get update only if the first attempt fails).
kcat:
	@command -v kcat >/dev/null 2>&1 || ./scripts/install-kcat.sh

# Debian's python3-confluent-kafka (librdkafka 2.0.2, as kcat) for the librdkafka
# transactions against a three-node cluster (cmd/strata TestClusterProcessLibrdkafka).
confluent-kafka:
	@./scripts/install-debs.sh "/usr/bin/python3 -c 'import confluent_kafka'" python3-confluent-kafka

# Chromium (Debian's package) for the console's browser tests, installed the same way.
# Outside CI a failed install only makes those tests skip; with CI=true they fail.
chromium:
	@command -v chromium >/dev/null 2>&1 || ./scripts/install-chromium.sh || [ "$$CI" != true ]

# Old clients for the cross-client tests of old protocol versions (issue 21), from Debian:
# kafka-python 2.0.2 with its lz4, snappy and xxhash codecs (PyPI is not used), Burrow
# 1.2.1 and the ZooKeeper it coordinates through (with a Java runtime).
legacy-clients:
	@./scripts/install-debs.sh "/usr/bin/python3 -c 'import kafka, lz4, snappy, xxhash'" \
		python3-kafka python3-lz4 python3-snappy python3-xxhash
	@./scripts/install-debs.sh "test -x /usr/bin/Burrow && test -f /usr/share/java/zookeeper.jar && command -v java" \
		burrow zookeeper

# Sarama (github.com/IBM/sarama) as a Kafka 0.10.0 and 2.0 client: a module of its own
# (compat/sarama), so that Sarama stays out of Strata's go.mod.
sarama:
	cd compat/sarama && $(GO) vet ./... && $(GO) test -race -count=1 ./...

# Burrow against the broker with every kafka-version its Sarama knows (0.8.2 to 2.0.0);
# make test runs the short form (0.10.0 only, TestBurrowLag).
burrow: legacy-clients
	STRATA_BURROW=long $(GO) test -race -count=1 -run '^TestBurrowLag$$' -v ./server

race:
	$(GO) test $(GOFLAGS_TAGS) -race -count=1 -timeout 15m -run '$(TESTS)' $(PKG)

unit:
	$(GO) test $(GOFLAGS_TAGS) -count=1 -run '$(TESTS)' $(PKG)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(GOFLAGS_TAGS) ./...

# staticcheck, pinned, from the Go module proxy (settings in staticcheck.conf).
lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# Runs each fuzz target for FUZZTIME (go test -fuzz takes one target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench '$(TESTS)' -benchmem $(PKG)

# Crash and fault tests, among them TestServerCrash* (SIGKILL of the real binary under
# acks=all load, then a restart that must hold every acknowledged record).
crash:
	$(GO) test -race -count=1 -run 'Crash|Fault' $(PKG)

integ: kcat legacy-clients
	$(GO) test -race -count=1 -run 'Integration|Kgo|Kcat|KafkaPython|Burrow' $(PKG)

# The compaction soak (server TestSoakCompaction) for SOAK (default 10m): compacted topics
# rolling a segment every 100 ms, the cleaner every 50 ms, idempotent producers and
# re-reading consumers; it fails if the segments of a compacted partition or the open
# descriptors grow, or an acknowledged record is lost. make test runs it for 8 s.
SOAK ?= 10m
soak:
	STRATA_SOAK=$(SOAK) $(GO) test -count=1 -timeout 0 -run '^TestSoakCompaction$$' -v ./server

# Cross-client compatibility (kcat, KafkaJS, franz-go, the kgo suite) against a fresh
# bin/strata on a free port, then against a fresh three-node cluster (compat-cluster);
# CHECKS picks some of them (e.g. CHECKS="kcat franz"); the kgo suite runs its full
# profile (transactions included) unless PROFILE=core.
compat: compat-single compat-cluster

compat-single: build
	./scripts/compat.sh $(COMPAT_DIR) $(CHECKS)

compat-cluster: build
	NODES=3 ./scripts/compat.sh $(COMPAT_DIR) $(CHECKS)

# Both modules: compat/sarama imports this one (replace ../..), so a new dependency here
# needs its go.sum entries there too.
tidy-check:
	$(GO) mod tidy && git diff --exit-code go.mod go.sum
	cd compat/sarama && $(GO) mod tidy && git diff --exit-code go.mod go.sum

clean:
	rm -rf bin

# Strata against franz-go's kfake, same workloads, alternating, ROUNDS rounds (default 3);
# prints a markdown table of medians and ratios. See scripts/bench-compare.sh for knobs.
.PHONY: bench-compare
bench-compare:
	./scripts/bench-compare.sh
