# certrotator — see README.md. `make run` starts the local demo, `make test` runs every check.

GO            ?= go
VAULT_VERSION := v1.21.0
CACHE_DIR     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/certrotator
VAULT_CACHED  := $(CACHE_DIR)/vault-$(VAULT_VERSION)
FUZZTIME      ?= 15s
BENCHTIME     ?= 100x

.PHONY: all build run dev vault test lint rules browser-note fmt fuzz bench tidy clean

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
# The first build downloads about 4 GB of modules and takes a while; later
# ones are instant.
vault:
	@if [ ! -x "$(VAULT_CACHED)" ]; then \
		echo "building vault $(VAULT_VERSION) into $(VAULT_CACHED) (first time: 7-15 min, ~4 GB of modules)"; \
		mkdir -p "$(CACHE_DIR)" && \
		cd tools/vault && $(GO) build -ldflags "-s -w" -o "$(VAULT_CACHED).tmp" github.com/hashicorp/vault && \
		mv "$(VAULT_CACHED).tmp" "$(VAULT_CACHED)"; \
	fi
	@mkdir -p bin && ln -sf "$(VAULT_CACHED)" bin/vault
	@bin/vault version

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

test: vault lint rules
	$(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory browser-note

# rules checks the alert rules and runs their unit tests with promtool
# (Debian package prometheus). Missing promtool fails under CI and is said
# plainly elsewhere.
rules:
	@if command -v promtool >/dev/null 2>&1; then \
		promtool check rules deploy/prometheus/alerts.yaml && \
		cd deploy/prometheus && promtool test rules alerts_test.yaml; \
	elif [ "$$CI" = true ]; then \
		echo "promtool is not installed: .ci/run installs it (apt-get install prometheus)"; exit 1; \
	else \
		echo "*** ALERT RULE TESTS DID NOT RUN: promtool is not installed (apt-get install -y prometheus)"; \
	fi

# browser-note says plainly when the status page's browser test was skipped
# (worker's TestStatusPageInBrowser needs chromium; under CI it fails instead).
browser-note:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		echo "*** BROWSER TEST DID NOT RUN: chromium is not installed (apt-get install -y chromium), so the status page was not tested in a browser"

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 500x ./bundle
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 500x ./config
	$(GO) test -run '^$$' -fuzz '^FuzzParseJWT$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 500x ./connector/graphsim

# bench runs the end-to-end benchmarks (real Vault, graphsim, NATS). A fixed
# iteration count keeps the asynchronous throughput benchmark bounded.
bench: vault
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./bench/...

tidy:
	$(GO) mod tidy

clean:
	rm -rf bin data .dev
