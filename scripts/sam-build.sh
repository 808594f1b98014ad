#!/usr/bin/env bash
# `sam build` as an operator runs it before `sam deploy`: every function built
# for arm64 by cargo-lambda (zig cross-compiles, so any x86-64 machine will
# do), timed. Then each built artifact is run as Lambda runs it, under
# qemu-aarch64, and must answer every events/ fixture of its function
# (tests/tests/it/local_stack/sam_artifacts.rs).
#
#   scripts/sam-build.sh            build into .aws-sam/build, then check it
#   SAM_BUILD_CHECK=0 scripts/...   build only
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET=aarch64-unknown-linux-gnu
log() { printf 'sam-build: %s\n' "$*" >&2; }

scripts/local-stack.sh install
# The arm64 standard library for the toolchain rust-toolchain.toml pins.
if ! rustup target list --installed | grep -qx "$TARGET"; then
  log "adding the $TARGET target to the Rust toolchain"
  rustup target add "$TARGET"
fi
# cargo-lambda and zig (its pip dependency) come from .local/venv, sam from
# .local/sam-venv; samconfig.toml turns on the rust-cargolambda build method.
export PATH="$ROOT/.local/venv/bin:$ROOT/.local/sam-venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0

started=$(date +%s)
sam build
log "sam build took $(( $(date +%s) - started )) s"

[ "${SAM_BUILD_CHECK:-1}" = 1 ] || exit 0
scripts/local-stack.sh install-arm64
HOMELINE_SAM_BUILD_DIR="$ROOT/.aws-sam/build" scripts/local-stack.sh run -- \
  cargo test -p homeline-tests --test it -- --ignored local_stack::sam_artifacts::
