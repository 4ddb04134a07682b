# certrotator — see README.md. `make run` starts the local demo, `make test` runs every check.

GO            ?= go
VAULT_VERSION := v1.21.0
CACHE_DIR     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/certrotator
VAULT_CACHED  := $(CACHE_DIR)/vault-$(VAULT_VERSION)
# The oldest nats-server certrotator supports (docs/nats-versions.md), built
# from the Go module proxy (tools/nats-server-$(NATS_OLDEST)).
NATS_OLDEST   := v2.10.27
NATS_OLDEST_CACHED := $(CACHE_DIR)/nats-server-$(NATS_OLDEST)
# The nats CLI the docs test runs the guides' `nats` commands with (tools/natscli).
NATSCLI_VERSION := v0.5.1
NATSCLI_CACHED  := $(CACHE_DIR)/nats-cli-$(NATSCLI_VERSION)
# nsc, for the operator/JWT story of docs/onboarding.md (tools/nsc).
NSC_VERSION   := v2.15.0
NSC_CACHED    := $(CACHE_DIR)/nsc-$(NSC_VERSION)
# golangci-lint, for `make lint`'s layering rules (.golangci.yaml; tools/golangci-lint).
GOLANGCI_VERSION := v2.15.0
GOLANGCI_CACHED  := $(CACHE_DIR)/golangci-lint-$(GOLANGCI_VERSION)
FUZZTIME      ?= 15s
BENCHTIME     ?= 100x

# Stamped into release and image binaries (cmd/certrotator/version.go).
# Expanded once (:=), so a commit made during a long build cannot split it.
VERSION       := $(or $(VERSION),$(shell git describe --tags --always --dirty 2>/dev/null),dev)
COMMIT        := $(or $(COMMIT),$(shell git rev-parse HEAD 2>/dev/null),unknown)
LDFLAGS       := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64 darwin/arm64
IMAGE         ?= localhost/certrotator:$(VERSION)
# vfs needs no kernel overlay support and no prior buildah configuration.
BUILDAH       ?= buildah --storage-driver vfs

.PHONY: nats-oldest test-nats-oldest soak-short
.PHONY: all build run dev vault nats-cli nsc golangci docs-test test lint rules browser-note fmt fuzz bench soak tidy clean release image

all: build

build:
	$(GO) build -o bin/certrotator ./cmd/certrotator
	$(GO) build -o bin/graphsim ./cmd/graphsim

# run is the one-command local demo: embedded NATS, the Graph emulator, a Vault
# dev server and the worker. Ctrl-C stops everything.
run: build
	@command -v vault >/dev/null 2>&1 || $(MAKE) --no-print-directory vault
	./bin/certrotator dev

dev: run

# vault builds the pinned Vault server from the Go module proxy (tools/vault)
# into a cache outside the repo, keyed by version, and links it to bin/vault.
# The first build downloads about 4 GB of modules and compiles ~2,800
# packages: about 21 minutes on two cores (measured: 21 m 38 s on a fresh
# 2-core machine). tools/build-progress.sh prints a line per 100 modules and
# per 100 packages so that it is never silent for long. Later runs are instant.
vault:
	@if [ ! -x "$(VAULT_CACHED)" ]; then \
		echo "building vault $(VAULT_VERSION) into $(VAULT_CACHED) (first time: about 21 min on two cores, ~4 GB of modules)"; \
		mkdir -p "$(CACHE_DIR)" && \
		GO="$(GO)" tools/build-progress.sh "$(VAULT_CACHED).tmp" tools/vault github.com/hashicorp/vault -ldflags "-s -w" && \
		mv "$(VAULT_CACHED).tmp" "$(VAULT_CACHED)"; \
	fi
	@mkdir -p bin && ln -sf "$(VAULT_CACHED)" bin/vault
	@bin/vault version

# nats-oldest builds the oldest supported nats-server from the Go module
# proxy (tools/nats-server-$(NATS_OLDEST)) into the cache, keyed by version,
# and links it to bin/ (about a minute the first time, instant later).
nats-oldest:
	@if [ ! -x "$(NATS_OLDEST_CACHED)" ]; then \
		echo "building nats-server $(NATS_OLDEST) into $(NATS_OLDEST_CACHED)"; \
		mkdir -p "$(CACHE_DIR)" && \
		cd tools/nats-server-$(NATS_OLDEST) && $(GO) build -ldflags "-s -w" -o "$(NATS_OLDEST_CACHED).tmp" github.com/nats-io/nats-server/v2 && \
		mv "$(NATS_OLDEST_CACHED).tmp" "$(NATS_OLDEST_CACHED)"; \
	fi
	@mkdir -p bin && ln -sf "$(NATS_OLDEST_CACHED)" bin/nats-server-$(NATS_OLDEST)
	@bin/nats-server-$(NATS_OLDEST) --version

# test-nats-oldest runs the NATS-facing tests (the worker's provisioning,
# consumer, locks, watch and warnings; the client; the shared budget)
# against the oldest supported nats-server as an external process
# (internal/testkit's CERTROTATOR_NATS_SERVER). Tests of the embedded server
# itself and the cluster test keep the embedded one.
test-nats-oldest: nats-oldest vault
	CERTROTATOR_NATS_SERVER=$(CURDIR)/bin/nats-server-$(NATS_OLDEST) $(GO) test -race -count=1 \
		-skip 'TestEmbedded|TestClusterNodeLoss' \
		./internal/testkit ./client ./worker ./budget
# nats-cli builds the pinned nats CLI (tools/natscli) into the cache, keyed by
# version, and links it to bin/nats: about 3 minutes the first time (nsc below: 1).
nats-cli:
	@if [ ! -x "$(NATSCLI_CACHED)" ]; then \
		mkdir -p "$(CACHE_DIR)" && \
		GO="$(GO)" tools/build-progress.sh "$(NATSCLI_CACHED).tmp" tools/natscli github.com/nats-io/natscli/nats -ldflags "-s -w" && \
		mv "$(NATSCLI_CACHED).tmp" "$(NATSCLI_CACHED)"; \
	fi
	@mkdir -p bin && ln -sf "$(NATSCLI_CACHED)" bin/nats

# nsc builds the pinned nsc (tools/nsc) into the cache and links it to bin/nsc.
nsc:
	@if [ ! -x "$(NSC_CACHED)" ]; then \
		mkdir -p "$(CACHE_DIR)" && \
		GO="$(GO)" tools/build-progress.sh "$(NSC_CACHED).tmp" tools/nsc github.com/nats-io/nsc/v2 -ldflags "-s -w" && \
		mv "$(NSC_CACHED).tmp" "$(NSC_CACHED)"; \
	fi
	@mkdir -p bin && ln -sf "$(NSC_CACHED)" bin/nsc

# docs-test runs the guides (docs/*.md) as a reader would: docs/docs_test.go.
docs-test: vault nats-cli nsc
	$(GO) test -race -count=1 ./docs/

# golangci builds the pinned golangci-lint into the cache (about 2 minutes the
# first time) and links it to bin/golangci-lint.
golangci:
	@if [ ! -x "$(GOLANGCI_CACHED)" ]; then \
		mkdir -p "$(CACHE_DIR)" && \
		GO="$(GO)" tools/build-progress.sh "$(GOLANGCI_CACHED).tmp" tools/golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint -ldflags "-s -w" && \
		mv "$(GOLANGCI_CACHED).tmp" "$(GOLANGCI_CACHED)"; \
	fi
	@mkdir -p bin && ln -sf "$(GOLANGCI_CACHED)" bin/golangci-lint

# lint: gofmt, go vet, and golangci-lint's layering (depguard), staticcheck and
# errorlint rules from .golangci.yaml.
lint: golangci
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd deploy/kubernetes/check && $(GO) vet ./...
	bin/golangci-lint run ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

test: vault nats-cli nsc lint rules
	$(GO) test -race -count=1 ./...
	cd deploy/kubernetes/check && $(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory browser-note

# rules checks the alert rules and runs their unit tests with promtool
# (Debian package prometheus). Missing promtool fails under CI and is said
# plainly elsewhere.
rules:
	@if command -v promtool >/dev/null 2>&1; then \
		promtool check rules deploy/prometheus/alerts.yaml deploy/prometheus/alerts-notify.yaml && \
		cd deploy/prometheus && promtool test rules alerts_test.yaml; \
	elif [ "$$CI" = true ]; then \
		echo "promtool is not installed: .ci/run installs it (apt-get install prometheus)"; exit 1; \
	else \
		echo "*** ALERT RULE TESTS DID NOT RUN: promtool is not installed (apt-get install -y prometheus)"; \
	fi

# browser-note says plainly when the status page's browser test was skipped
# (statuspage's TestStatusPageInBrowser needs chromium; under CI it fails instead).
browser-note:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		echo "*** BROWSER TEST DID NOT RUN: chromium is not installed (apt-get install -y chromium), so the status page was not tested in a browser"

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 500x ./bundle
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 500x ./config
	$(GO) test -run '^$$' -fuzz '^FuzzParseJWT$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 500x ./connector/graphsim

# bench is issue 9's fleet harness (bench/fleet_test.go): the real worker
# over embedded NATS, Vault and graphsim with Graph's limits on a 6 s clock,
# for 100, 1,000 and 10,000 connectors and one hot tenant of 1,000, one and
# three replicas, and the sequential baseline; one JSON line per run on
# stdout (PERFORMANCE.md says what each field means). It runs in the package directory so that go test
# streams those lines. Then the Go benchmarks: the hot paths (bundle decode
# per encoding, thumbprint, request decoding, outcome encoding) and the
# pipeline ones, with a fixed iteration count for the end-to-end ones.
# BENCH_QUICK=1 runs the smallest fleet only (under two minutes).
bench: vault
	cd bench && BENCH_FLEET=1 $(GO) test -run '^TestFleet$$' -count=1 -timeout 120m
	@if [ -z "$(BENCH_QUICK)" ]; then \
		$(GO) test -run '^$$' -bench '^Benchmark(Decode|Thumbprint)$$' -benchmem ./bundle && \
		$(GO) test -run '^$$' -bench '^Benchmark(RequestDecode|OutcomeEncode)$$' -benchmem ./bench && \
		$(GO) test -run '^$$' -bench '^Benchmark(Rotate|Worker|OneConnector)' -benchmem -benchtime $(BENCHTIME) ./bench; \
	fi

# soak runs issue 8's soak (bench/soak_test.go, not part of make test):
# SOAK_REQUESTS requests (10000; SOAK_REQUESTS=500 is the quick mode) with
# Graph 429/503/latency, NATS link cuts and worker restarts injected at
# random, without the race detector so that RSS means something. It prints
# the goroutine and RSS samples that RELIABILITY.md quotes; SOAK_SEED replays
# a run's faults, SOAK_LOG=FILE keeps the worker's log.
SOAK_REQUESTS ?= 10000
soak: vault
	SOAK_REQUESTS=$(SOAK_REQUESTS) $(GO) test -run '^TestSoak$$' -count=1 -v -timeout 20m ./bench/

# soak-short is the soak with a few hundred requests, faults on (about two
# minutes): .ci/run runs it so that a stall or a lost answer cannot land
# unseen. It prints the soak's throughput line.
soak-short: vault
	SOAK_REQUESTS=300 $(GO) test -run '^TestSoak$$' -count=1 -v -timeout 6m ./bench/

# release cross-compiles static binaries (no cgo, paths trimmed, version and
# commit stamped) into dist/, with their SHA-256 sums in dist/SHA256SUMS.
release:
	@mkdir -p dist && rm -f dist/certrotator-* dist/SHA256SUMS
	@for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=dist/certrotator-$(VERSION)-$$os-$$arch; \
		echo "building $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./cmd/certrotator || exit 1; \
	done
	cd dist && sha256sum certrotator-* > SHA256SUMS
	@cat dist/SHA256SUMS

# image builds the FROM-scratch image (Containerfile) with buildah, without a
# daemon: build, run `certrotator --version` inside it, export it to
# dist/certrotator.oci.tar (load it with `podman load -i` or push it with
# `skopeo copy oci-archive:dist/certrotator.oci.tar docker://REGISTRY/certrotator:TAG`).
image:
	@command -v buildah >/dev/null 2>&1 || { echo "make image needs buildah (apt-get install buildah)"; exit 1; }
	rm -rf dist/image && mkdir -p dist/image
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/image/certrotator ./cmd/certrotator
	cp /etc/ssl/certs/ca-certificates.crt dist/image/ca-certificates.crt
	printf 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' > dist/image/passwd
	printf 'nonroot:x:65532:\n' > dist/image/group
	$(BUILDAH) bud --isolation chroot --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) \
		-f Containerfile -t $(IMAGE) dist/image
	@ctr=$$($(BUILDAH) from $(IMAGE)) && \
		out=$$($(BUILDAH) run --isolation chroot $$ctr -- /usr/local/bin/certrotator --version); rc=$$?; \
		$(BUILDAH) rm $$ctr >/dev/null; echo "in the image: $$out"; \
		[ $$rc -eq 0 ] && case "$$out" in "certrotator $(VERSION) (commit $(COMMIT)"*) ;; *) echo "unexpected --version output"; exit 1;; esac
	rm -f dist/certrotator.oci.tar
	$(BUILDAH) push $(IMAGE) oci-archive:dist/certrotator.oci.tar:$(IMAGE)
	@# vfs stores whole copies: drop the untagged leftovers of earlier builds.
	@$(BUILDAH) rmi --prune >/dev/null 2>&1 || true
	@ls -l dist/certrotator.oci.tar

tidy:
	$(GO) mod tidy

clean:
	rm -rf bin data .dev dist
