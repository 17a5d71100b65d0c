# KYC webhook intake. `make run` serves the functions locally; `make test` runs every test.
# Everything a target needs is installed by the target itself, into .venv/ (Python tools) and
# target/ (Rust), so both work on a fresh machine with only Rust, Python 3 and pip.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
PY          := $(VENV)/bin/python
MOTO_STAMP  := $(VENV)/.moto-installed
TOOLS_STAMP := $(VENV)/.tools-installed
# Pinned: the versions the tests were run with.
MOTO_PKG    := moto[server]==5.2.5
TOOLS_PKGS  := cargo-lambda==1.9.2 aws-sam-cli==1.170.0 cfn-lint==1.58.0

EMULATOR_PORT ?= 4566
GATEWAY       ?= 127.0.0.1:3000

# The local configuration (README: "Configuration"). Override any of these on the command line.
export AWS_ENDPOINT_URL      ?= http://127.0.0.1:$(EMULATOR_PORT)
export AWS_REGION            ?= ap-south-1
export AWS_ACCESS_KEY_ID     ?= local
export AWS_SECRET_ACCESS_KEY ?= local
export IDEMPOTENCY_TABLE     ?= kyc-webhook-idempotency
export EVENTS_QUEUE_URL      ?= http://127.0.0.1:$(EMULATOR_PORT)/123456789012/kyc-webhook-events.fifo
export CASHFREE_CLIENT_SECRETS ?= local_cashfree_secret
export HYPERVERGE_RESULTS_AUTH_TOKENS ?= local_results_token
# HyperVerge's three documented IPs, plus loopback so that curl works locally.
export HYPERVERGE_ALLOWED_IPS ?= 65.0.82.147,3.7.90.248,3.6.33.64,127.0.0.1
export RUST_LOG ?= info

KYC_LOCAL := target/debug/kyc-local

.PHONY: help
help:
	@echo "make run      start a local DynamoDB/SQS server and serve the four webhook routes on http://$(GATEWAY)"
	@echo "make test     run every test (unit, integration against the local server, lint checks)"
	@echo "make invoke EVENT=events/...json   send a sample event to 'make run' (fresh timestamp and signature)"
	@echo "make receive  print and delete the normalized events on the local queue"
	@echo "make build | lint | fmt"

$(MOTO_STAMP):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check '$(MOTO_PKG)'
	touch $@

$(TOOLS_STAMP): $(MOTO_STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TOOLS_PKGS)
	touch $@

.PHONY: venv tools
venv: $(MOTO_STAMP)
tools: $(TOOLS_STAMP)

.PHONY: build
build:
	cargo build --workspace

.PHONY: run
run: $(MOTO_STAMP) build
	@$(PY) tools/local/moto_server.py --port $(EMULATOR_PORT) --exit-with-parent & \
	  trap 'kill %1 2>/dev/null' EXIT INT TERM; \
	  for i in $$(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$(EMULATOR_PORT)) 2>/dev/null && break; sleep 0.2; done; \
	  $(KYC_LOCAL) serve --listen $(GATEWAY)

.PHONY: invoke
invoke: build
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/cashfree/vkyc/call_completed.json"; exit 2; }
	@$(KYC_LOCAL) invoke $(EVENT) --gateway http://$(GATEWAY)

.PHONY: receive
receive: build
	@$(KYC_LOCAL) receive

.PHONY: test
test: $(MOTO_STAMP)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	KYC_MOTO_PYTHON=$(abspath $(PY)) cargo test --workspace

.PHONY: lint
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: fmt
fmt:
	cargo fmt --all
