# The commands people run. `make help` lists them.
SHELL := /bin/bash
STACK := scripts/local-stack.sh

.PHONY: help setup check test lint-template fmt-check clippy build release sam-build dev events bench simulate fuzz

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## install the local stack (DynamoDB Local, Prism, Twilio specs, cargo-lambda, cfn-lint, sam, checkov) into .local/
	$(STACK) install

check: fmt-check clippy ## format check, clippy, and every test that needs no local stack (no Java, Node or network)
	cargo test --workspace --lib --bins --tests --examples -- --skip local_stack
	cargo test --workspace --bench '*'
	cargo test --workspace --doc

test: setup lint-template fmt-check clippy ## template lint, format check, clippy, every test against the real local stack, then a bounded fuzz run
	$(STACK) run -- bash -c 'cargo test --workspace --all-targets --no-fail-fast && cargo test --workspace --doc'
	$(MAKE) fuzz FUZZ_ARGS="$(FUZZ_TEST_ARGS)"

dev: ## serve every function on 127.0.0.1:9000 (cargo lambda watch) with DynamoDB Local, reading .env
	scripts/dev.sh

bench: ## release sizes, cold start-up vs a minimal lambda_http binary and node, CPU per webhook piece
	scripts/bench.sh

events: ## regenerate the signed events/ fixtures
	cargo run -q -p testkit --bin gen-events

simulate: ## 200 callers over a simulated hour through the real functions and a Twilio stand-in; prints the outcome table
	$(STACK) run -- cargo run -p homeline-tests --example simulate

lint-template: ## cfn-lint template.yaml, check it against the code (and lint its SAM translation when the translator is installed)
	scripts/lint-template.sh

fmt-check:
	cargo fmt --all --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

build: ## debug build of every binary
	cargo build --workspace

release: ## optimised build of every binary (warning-free)
	RUSTFLAGS="-D warnings" cargo build --workspace --release

sam-build: ## sam build (arm64, cross-compiled with cargo-lambda + zig), timed; then run each artifact under qemu on every fixture
	scripts/sam-build.sh

FUZZ_ARGS ?= -max_total_time=60
# In `make test`: a fixed seed and a fixed number of runs (about a minute
# here), so a run finds the same inputs on any machine; bounded in time too.
FUZZ_TEST_ARGS := -seed=1 -runs=1000000 -max_total_time=300

# Sanitizer none: the fuzzed code is safe Rust (unsafe_code is forbidden), so
# AddressSanitizer would double the build for nothing it could find there.
fuzz: ## fuzz the Lambda event conversion and the signature check with cargo-fuzz on nightly (FUZZ_ARGS, default 60 s)
	rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && cargo +nightly fuzz run --sanitizer none event_to_request -- $(FUZZ_ARGS)
