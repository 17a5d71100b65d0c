# KYC webhook intake. `make run` serves the functions locally; `make test` runs every test.
# Everything a target needs is installed by the target itself, into .venv/ (Python tools) and
# target/ (Rust), so both work on a fresh machine with only Rust, Python 3 and pip (which installs
# uv, and uv the rest: it resolves and installs in seconds what pip takes a CPU-minute over). The
# deploy tools (SAM CLI, cfn-lint, cargo-lambda) have a virtualenv of their own, .venv/tools/, so
# their pins never choose the local server's libraries (with SAM CLI's, the integration suite
# took 96 s instead of 81). The local server leaves bytecode for what it and the tests' checkers
# import (`moto_server.py --warm`): where PYTHONDONTWRITEBYTECODE is set, every Python the tests
# start would otherwise compile those imports again.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
PY          := $(VENV)/bin/python
UV          := $(VENV)/bin/uv
UV_STAMP    := $(VENV)/.uv-installed
MOTO_STAMP  := $(VENV)/.moto-installed
TOOLS_VENV  := $(VENV)/tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
# Pinned: the versions the tests were run with.
UV_PKG      := uv==0.13.9
MOTO_PKG    := moto[server]==5.2.5
# What the tests use to check the events as a worker in another language would.
PYTEST_PKGS := jsonschema==4.26.0 rfc3339-validator==0.1.4 cloudevents==2.2.0
TOOLS_PKGS  := cargo-lambda==1.9.2 aws-sam-cli==1.170.0 cfn-lint==1.58.0
# The keep-alive server the end-to-end bench runs the local DynamoDB/SQS server under.
BENCH_PKGS  := waitress==3.0.2
# cargo-lambda finds zig through `python3 -m ziglang`, so the tools' venv goes first on PATH.
TOOLS_PATH  := $(abspath $(TOOLS_VENV))/bin:$(PATH)

EMULATOR_PORT ?= 4566
GATEWAY       ?= 127.0.0.1:3000
REGION        ?= ap-south-1
EVENT         ?=
ID            ?=
# WORKER=off leaves the queue to `make receive` instead of the journey worker.
WORKER        ?= on
# ACCESS_LOG=on prints the local server's access log (a line per AWS call).
ACCESS_LOG    ?= off
# SECRETS=secretsmanager puts the local secrets into the local Secrets Manager and has the
# functions read them from there (<VARIABLE>_SECRET_ID), as a deployment with SecretsSource does.
SECRETS       ?= environment

# The local stack (docs/configuration.md), for run/invoke/receive only: deploy and the AWS CLI
# never see these dummy credentials or the local endpoint. The providers' settings are not here:
# kyc-local and the samples take each function's local values from the registry
# (`FunctionSpec::local`) unless the environment sets them. EVENT_PERSONAL_DATA and RUST_LOG
# keep the caller's value (`EVENT_PERSONAL_DATA=include make run`).
LOCAL_ENV := \
  AWS_ENDPOINT_URL=http://127.0.0.1:$(EMULATOR_PORT) \
  AWS_REGION=$(REGION) \
  AWS_DEFAULT_REGION=$(REGION) \
  AWS_ACCESS_KEY_ID=local \
  AWS_SECRET_ACCESS_KEY=local \
  IDEMPOTENCY_TABLE=kyc-webhook-idempotency \
  EVENTS_QUEUE_URL=http://127.0.0.1:$(EMULATOR_PORT)/123456789012/kyc-webhook-events.fifo \
  EVENTS_DLQ_URL=http://127.0.0.1:$(EMULATOR_PORT)/123456789012/kyc-webhook-events-dlq.fifo \
  ARCHIVE_BUCKET=kyc-webhook-archive \
  ARCHIVE_SIGNING_KEY_ID=alias/kyc-archive-signing \
  ARCHIVE_KEYS_TABLE=kyc-archive-keys \
  ARCHIVE_KMS_KEY_ID=alias/kyc-archive \
  AWS_ENDPOINT_URL_LAMBDA=http://$(GATEWAY) \
  REPLAY_FUNCTION=archive-replay \
  EVENT_PERSONAL_DATA=$${EVENT_PERSONAL_DATA:-withhold} \
  JOURNEY_TABLE=kyc-journeys \
  JOURNEY_STREAM_TOPIC_ARN=arn:aws:sns:$(REGION):123456789012:kyc-journey-stream.fifo \
  APPLICATION_QUEUE_URL=http://127.0.0.1:$(EMULATOR_PORT)/123456789012/kyc-application.fifo \
  RUST_LOG=$${RUST_LOG:-info}

KYC_LOCAL := target/debug/kyc-local
# One Lambda function per crate under functions/ (the workspace takes them all as members).
FUNCTION_CRATES := $(sort $(shell sed -n 's/^name = "\(.*\)"/\1/p' functions/*/Cargo.toml))

.PHONY: help
help:
	@echo "make run        local AWS-compatible server, every webhook route on http://$(GATEWAY), the journey worker (Ctrl-C stops all)"
	@echo "make test       every test: lint, unit, integration against the local server, property tests"
	@echo "make invoke EVENT=events/...json   send a sample event to 'make run' (fresh timestamp/signature)"
	@echo "make consume    the README's consumer: every event the journey stream gives the local application queue"
	@echo "make load       with 'make run': 600 events x 3 deliveries, each accepted event once on the application queue, latency p50/p99"
	@echo "make receive    print and delete the normalized events on the local queue (with 'make run WORKER=off')"
	@echo "make journey ID=cashfree/vkyc#test333   a journey's state, as the journey worker keeps it"
	@echo "make secret VAR=<secret setting> < new.txt   a local rotation (with 'make run SECRETS=secretsmanager')"
	@echo "make pause / make resume / make purge   the incident drill: pause the worker of 'make run', resume it, purge the local queue"
	@echo "make dead-letter   a poison record in the local dead-letter queue, for 'make kycctl ARGS=\"dlq list\"'"
	@echo "make console    the operator console on 'make run': journeys, timelines, deliveries, replay in a browser"
	@echo "make kycctl ARGS='archive list --source cashfree/vkyc'   kycctl against 'make run'"
	@echo "make lint       rustfmt, clippy, cfn-lint (the template, in the deploy region)"
	@echo "make fuzz       long property/fuzz run (FUZZ_CASES=1000000 by default)"
	@echo "make bench      end-to-end figures of the release bootstrap (init, latency, CPU, RSS, size, concurrency)"
	@echo "make bench BASELINE=<rev>   the same, side by side with the bootstrap of an earlier revision"
	@echo "make bench MEMORY=128,256,512 TLS=on   as Lambda runs it: each memory size's CPU share, HTTPS"
	@echo "make package    cargo lambda build --release --x86-64 (one bootstrap per function, with sizes)"
	@echo "make sam-build  sam build (rust-cargolambda)"
	@echo "make generate   write the template's and docs' provider parts from the registry (CHECK=1: only check)"
	@echo "make deploy     sam build && sam deploy, asking only to confirm the change set (PARAMS=, CONFIRM=0, GUIDED=1)"

$(UV_STAMP):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check '$(UV_PKG)'
	touch $@

$(MOTO_STAMP): $(UV_STAMP)
	$(UV) pip install --quiet --python $(PY) '$(MOTO_PKG)' $(PYTEST_PKGS)
	env -u PYTHONDONTWRITEBYTECODE $(PY) tools/local/moto_server.py --warm
	touch $@

$(BENCH_STAMP): $(MOTO_STAMP)
	$(UV) pip install --quiet --python $(PY) $(BENCH_PKGS)
	touch $@

# After the bench's (uv's one install at a time). No bytecode ahead: each tool runs once a session
# (cfn-lint in `make test`), and compiling all of SAM CLI costs more than the modules a run imports.
$(TOOLS_STAMP): $(BENCH_STAMP)
	python3 -m venv $(TOOLS_VENV)
	$(UV) pip install --quiet --python $(TOOLS_VENV)/bin/python $(TOOLS_PKGS)
	touch $@

# What `cargo test` runs: libraries, binaries, tests and examples (not `--all-targets`, whose
# benches build every binary a second time in test mode).
TARGETS := --lib --bins --tests --examples

.PHONY: build
build:
	@# Every target, as `make test` builds them: the tests' dev-dependencies (tokio's paused clock)
	@# change the features of half the dependency tree, so building the binaries alone would
	@# compile that half a second time.
	cargo build --workspace $(TARGETS)

.PHONY: run
run: $(MOTO_STAMP) build
	@env $(LOCAL_ENV) $(KYC_LOCAL) serve --listen $(GATEWAY) --start-server $(PY) \
	  $(if $(filter off,$(WORKER)),--no-worker) $(if $(filter secretsmanager,$(SECRETS)),--secrets-manager) \
	  $(if $(filter on,$(ACCESS_LOG)),--access-log)

.PHONY: invoke
invoke: build
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/cashfree/vkyc/call_completed.json"; exit 2; }
	@env $(LOCAL_ENV) $(KYC_LOCAL) invoke $(EVENT) --gateway http://$(GATEWAY)

.PHONY: receive
receive: build
	@env $(LOCAL_ENV) $(KYC_LOCAL) receive

.PHONY: consume
# The README's consumer (docs/consumer.py) on the local application queue, as written; short
# polls and a quiet Ctrl-C (tools/local/consume.py says why).
consume: $(MOTO_STAMP)
	@env $(LOCAL_ENV) $(PY) tools/local/consume.py docs/consumer.py

.PHONY: load
# A load on a running `make run`: 600 events x 3 deliveries, measured at the application queue.
load: build
	@env $(LOCAL_ENV) $(KYC_LOCAL) load --events $${EVENTS:-600} --deliveries $${DELIVERIES:-3} $${RATE:+--rate $$RATE}

.PHONY: journey
# `kycctl journey show` on the local table; ID is `<source>#<subject>`.
journey: build
	@test -n "$(ID)" || { echo "usage: make journey ID=cashfree/vkyc#<verification_id>"; exit 2; }
	@id='$(ID)'; test "$${id}" != "$${id%%#*}" || { echo "make journey: ID is <source>#<subject>, e.g. cashfree/vkyc#test333"; exit 2; }; \
	  env $(LOCAL_ENV) target/debug/kycctl journey show "$${id%%#*}" "$${id#*#}"

.PHONY: secret
# A local rotation: the new value of a secret setting from standard input, into the local
# Secrets Manager of `make run SECRETS=secretsmanager`.
secret: build
	@test -n "$(VAR)" || { echo "usage: make secret VAR=<secret setting> < new-and-old.txt (kyc-local secret lists them)"; exit 2; }
	@env $(LOCAL_ENV) $(KYC_LOCAL) secret '$(VAR)'

.PHONY: dead-letter
# The dead-letter walkthrough on `make run`: a poison record in the local DLQ, at once (the worker
# would take five receives and minutes to put one there).
dead-letter: build
	@env $(LOCAL_ENV) $(KYC_LOCAL) dead-letter

.PHONY: pause resume purge
# The incident drill: pause the worker of a running `make run` (events wait on the queue), purge
# the queue (events lost downstream), resume; `make kycctl ARGS='replay --from DAY --to DAY'`
# brings every journey back from the archive.
pause: build
	@$(KYC_LOCAL) worker pause
resume: build
	@$(KYC_LOCAL) worker resume
purge: build
	@env $(LOCAL_ENV) $(KYC_LOCAL) purge

.PHONY: local-env
local-env: build
	@providers=$$(env $(LOCAL_ENV) $(KYC_LOCAL) env) && echo $(LOCAL_ENV) $$providers

.PHONY: kycctl
# The build's own output goes to stderr, so `make -s kycctl ARGS='--json ...' | jq` reads only JSON.
kycctl:
	@cargo build -q --workspace >&2
	@providers=$$(env $(LOCAL_ENV) $(KYC_LOCAL) env) && env $(LOCAL_ENV) $$providers target/debug/kycctl $(ARGS)

.PHONY: browser
# The console's browser tests drive headless Chromium through chromedriver. Installed with apt
# where this machine can (as root); elsewhere one line says what to do, and those tests fail
# rather than skip.
browser:
	@command -v chromedriver >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Chromium and chromedriver (apt-get) for the console's browser tests"; \
	    apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	  else \
	    echo "make test: the console's browser tests need Chromium and chromedriver on PATH: install them (Debian/Ubuntu: sudo apt-get install chromium chromium-driver; macOS: brew install --cask chromium chromedriver)"; \
	  fi; }

.PHONY: screenshots
# The docs' screenshots of the console, made by its browser test.
screenshots: $(MOTO_STAMP) browser
	KYC_CONSOLE_SCREENSHOTS=$(abspath docs/images) KYC_MOTO_PYTHON=$(abspath $(PY)) \
	  cargo test --workspace --test integration -- console::

.PHONY: console
# The operator console on `make run`'s stack: prints the URL (with its token) and opens it.
console:
	@cargo build -q --workspace >&2
	@providers=$$(env $(LOCAL_ENV) $(KYC_LOCAL) env) && env $(LOCAL_ENV) $$providers target/debug/kycctl console --open $(ARGS)

# `cargo clippy` is clippy-driver standing in for rustc on the workspace's own crates, with the
# lints it is given in CLIPPY_ARGS. Run that way, one `cargo build` both lints (any warning fails
# it) and builds what the tests run, so the dependencies are compiled once instead of once for the
# lint and once for the build.
# Where lint-rest's cargo checks build: apart from the tests' target, so both run at once.
LINT_TARGET := target/lint
CLIPPY_BUILD := RUSTC_WORKSPACE_WRAPPER=$$(command -v clippy-driver) CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

.PHONY: lint
lint: lint-rest
	cargo clippy --workspace --all-targets -- -D warnings

# Every check but clippy's: formatting, the template, the idempotency crate as published. At the
# lowest CPU priority: beside `make test`'s tests they take only what the integration suite leaves
# idle (it waits on the local server much of the time), so they never hold it back.
LINT_NICE := nice -n 19
.PHONY: lint-rest lint-format lint-template lint-crate
lint-rest: lint-format lint-template lint-crate
lint-format:
	cargo fmt --all -- --check
# cfn-lint transforms the SAM template and checks the result against the deploy region's resource
# specifications (`sam validate --lint` is the same linter: running both only doubled the work).
lint-template: $(TOOLS_STAMP)
	$(LINT_NICE) $(TOOLS_VENV)/bin/cfn-lint --regions $(REGION) -- template.yaml
lint-crate:
	@# The idempotency crate as crates.io would take it: no missing metadata, no warning. Its
	@# checks build in a target directory of their own, so they run beside `make test`'s tests.
	@mkdir -p $(LINT_TARGET)
	set -o pipefail; CARGO_TARGET_DIR=$(LINT_TARGET) $(LINT_NICE) cargo package -p lambda-idempotency --no-verify --allow-dirty 2>&1 | tee $(LINT_TARGET)/package.log
	! grep -q '^warning' $(LINT_TARGET)/package.log
	@# Each of its features builds on its own, and with none (the protocol and its port alone), and
	@# its documentation too: every public item documented (deny(missing_docs)), every link whole.
	@# Each documentation build takes its check's features, so it reuses the dependencies that
	@# check compiled (another feature set compiles them all again: 30 CPU-seconds). With every
	@# feature the crate is built, linted and tested by the workspace's own build.
	@set -e; for features in '' dynamodb sqs,test-util; do \
	  echo "lambda-idempotency, features: $${features:-none}"; \
	  CARGO_TARGET_DIR=$(LINT_TARGET) $(LINT_NICE) cargo check -q -p lambda-idempotency --no-default-features --features "$$features"; \
	  RUSTDOCFLAGS='-D warnings' CARGO_TARGET_DIR=$(LINT_TARGET) $(LINT_NICE) cargo doc -q -p lambda-idempotency --no-default-features --features "$$features" --no-deps; \
	done

# `make test`: first what it needs, at once (the Python tools and Chromium come over the network
# while the Rust build, linted as it builds: CLIPPY_BUILD, keeps the CPUs busy); then the tests,
# with the other lints beside them at the lowest priority, taking only what the integration suite
# leaves idle while it waits on the local server. (Started beside the build instead, they slowed
# the build by about as much as they saved the tests: measured, a minute each way.)
.PHONY: test test-prepare python-tools rust-build test-run
test:
	@$(MAKE) --no-print-directory -j3 --output-sync=target test-prepare
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-run lint-rest
test-prepare: python-tools browser rust-build
python-tools: $(TOOLS_STAMP)
rust-build:
	@# Every target at once (bins, tests, examples), so the dependencies are built once with the
	@# features the tests unify, and `cargo test` below builds nothing again.
	$(CLIPPY_BUILD) cargo build --workspace $(TARGETS)
# Four tests at a time: the integration tests spend much of their time waiting on the one local
# server (or on a condition), so two (libtest's default here) leave the CPUs idle.
TEST_THREADS ?= 4
test-run:
	@# The generated parts of the template and docs are the registry's: never stale.
	$(KYC_LOCAL) generate --check
	KYC_MOTO_PYTHON=$(abspath $(PY)) RUST_TEST_THREADS=$(TEST_THREADS) $(CLIPPY_BUILD) cargo test --workspace

.PHONY: fuzz
fuzz:
	PROPTEST_CASES=$${FUZZ_CASES:-1000000} cargo test --release -p kyc-intake --test properties -- --nocapture

# BASELINE=<git revision> also builds that revision's bootstrap (into target/baseline/, about
# 5 minutes) and measures it side by side with this tree's: the before/after of a change.
BASELINE ?=
BASELINE_BIN := target/baseline/release/cashfree-webhook
# MEMORY=128,256,512: hold the bootstrap to each Lambda memory size's CPU share (cgroup quota).
# TLS=on: a TLS front with its own CA between the bootstrap and the local server, as AWS is HTTPS.
MEMORY ?=
TLS ?= off
# ARCHIVE=on: the bootstrap also measured writing the audit archive, in clear and sealed (an
# erasable archive: a data key per delivery), side by side.
ARCHIVE ?= off

.PHONY: bench
bench: $(BENCH_STAMP)
	cargo build --release -p cashfree-webhook -p hyperverge-webhook -p digio-webhook -p archive-replay -p kyc-bench
	@echo "== the webhook bootstraps and archive-replay's, stripped (release profile), in bytes"
	@stat -c '%n %s' target/release/cashfree-webhook target/release/hyperverge-webhook target/release/digio-webhook target/release/archive-replay
	@# A webhook bootstrap links neither the sweeper nor its HTTPS client: the panic locations a linked
	@# crate leaves in a release binary would name them.
	@for b in cashfree-webhook hyperverge-webhook digio-webhook; do \
	  if grep -a -q -E '/reqwest-[0-9]|journeys/sweeper\.rs|/status_api\.rs' target/release/$$b; then \
	    echo "$$b links the sweeper or reqwest"; exit 1; fi; done
ifneq ($(BASELINE),)
	rm -rf target/baseline-src && mkdir -p target/baseline-src
	set -o pipefail; git archive '$(BASELINE)' | tar -x -C target/baseline-src
	cd target/baseline-src && cargo build --release --target-dir ../baseline -p cashfree-webhook --bin cashfree-webhook
endif
	@echo "== in-process (no AWS calls): what the pipeline itself costs"
	cargo run --release -q -p kyc-intake --example bench
	@echo "== end to end: the release bootstrap under the Runtime API emulator, the local server with keep-alive"
	target/release/kyc-bench --python $(abspath $(PY)) --n $${BENCH_N:-1000} $(if $(BASELINE),--baseline $(BASELINE_BIN)) \
	  $(if $(MEMORY),--memory $(MEMORY)) $(if $(filter on,$(TLS)),--tls) $(if $(filter on,$(ARCHIVE)),--archive)
	@echo "== replay: archive-replay's rate over sealed deliveries the webhook bootstrap archived"
	target/release/kyc-bench --python $(abspath $(PY)) --replay $${REPLAY_N:-200}

.PHONY: package
package: $(TOOLS_STAMP)
	PATH="$(TOOLS_PATH)" cargo lambda build --release --x86-64 $(addprefix -p ,$(FUNCTION_CRATES))
	@ls -l $(foreach c,$(FUNCTION_CRATES),target/lambda/$(c)/bootstrap)

.PHONY: sam-build
sam-build: $(TOOLS_STAMP)
	PATH="$(TOOLS_PATH)" SAM_CLI_TELEMETRY=0 sam build

.PHONY: deploy
# Deploys with samconfig.toml (stack name, region, capabilities, an S3 bucket SAM manages) and
# asks only to confirm the change set: every parameter has a default, and an existing stack keeps
# its values. PARAMS="Key=Value ..." sets parameters; CONFIRM=0 deploys without asking (a
# pipeline); GUIDED=1 keeps SAM's prompts for every parameter.
PARAMS  ?=
CONFIRM ?= 1
GUIDED  ?=
deploy: sam-build
	PATH="$(TOOLS_PATH)" SAM_CLI_TELEMETRY=0 sam deploy $(if $(GUIDED),--guided) \
	  $(if $(filter 0,$(CONFIRM)),--no-confirm-changeset) \
	  $(if $(PARAMS),--parameter-overrides $(PARAMS))

.PHONY: generate
# Writes every provider-specific part of template.yaml, the docs' tables, the JSON Schema's lists
# and a new provider's function crate from the registry. CHECK=1 writes nothing and fails, with
# the diff, when anything would change (make test runs it).
CHECK ?=
generate:
	@cargo build -q -p kyc-local >&2
	@$(KYC_LOCAL) generate $(if $(CHECK),--check)

.PHONY: fmt
fmt:
	cargo fmt --all
