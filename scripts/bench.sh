#!/usr/bin/env bash
# `make bench`: what a cold start and a webhook cost.
#   1. release binaries (the profile Lambda runs) and their sizes, raw and zipped
#   2. cold start of each: until it asks the Lambda Runtime API for its first
#      event, and until it has answered a signed events/ fixture on DynamoDB
#      Local and the Twilio stand-in (tests/examples/cold_start.rs), next to a
#      minimal lambda_http binary and to node's require('twilio')
#   3. CPU per webhook (criterion: one request of each function through its
#      real handler, and the pieces: signature check, form parsing, TwiML)
#   4. under load: bursts of 50 concurrent signed webhooks to one in-process
#      inbound on DynamoDB Local and the Twilio stand-in (p50/p99, errors)
# Fake configuration from .env.example; nothing leaves 127.0.0.1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS="${BENCH_RUNS:-11}"
FUNCTIONS=(intake inbound assignment amd-result dial-status taskrouter-events)

scripts/local-stack.sh install
echo "== building release binaries"
# One build, so lambda_hello shares the functions' dependency features.
cargo build -q --release --workspace --bins --example lambda_hello

echo "== sizes (stripped, LTO; zip as Lambda receives it)"
python3 - "${FUNCTIONS[@]}" lambda_hello <<'PY'
import io, os, sys, zipfile
print(f"{'binary':<20} {'bytes':>10} {'zip bytes':>10}")
for name in sys.argv[1:]:
    path = f"target/release/{name}" if name != "lambda_hello" else "target/release/examples/lambda_hello"
    raw = os.path.getsize(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, "bootstrap")
    print(f"{name:<20} {raw:>10} {len(buffer.getvalue()):>10}")
PY

if [ ! -d .local/bench-node/node_modules/twilio ]; then
  mkdir -p .local/bench-node
  (cd .local/bench-node && echo '{"private":true}' > package.json \
    && npm install --no-audit --no-fund --loglevel=error twilio@5)
fi

echo "== cold start"
cargo build -q -p homeline-tests --example cold_start
commands=("lambda_hello=target/release/examples/lambda_hello")
for f in "${FUNCTIONS[@]}"; do commands+=("$f=target/release/$f"); done
commands+=("node_require_twilio=node -e require('$ROOT/.local/bench-node/node_modules/twilio')")
# Without Prism's check of each Twilio request (see the example's comment).
scripts/local-stack.sh run -- env -u HOMELINE_TEST_PRISM_API_URL -u HOMELINE_TEST_PRISM_TASKROUTER_URL \
  target/debug/examples/cold_start "$RUNS" "${commands[@]}"

echo "== CPU per webhook and per piece (criterion --quick; middle figure is the estimate)"
for bench in "-p homeline-tests --bench webhooks" "-p homeline-core --bench webhook"; do
  # shellcheck disable=SC2086
  cargo bench -q $bench -- --quick 2>/dev/null | grep -E "^[a-zA-Z].*:|time:" | grep -vE "^(Found|Benchmarking|Warming)" || true
done

echo "== under load (50 concurrent webhooks to one function process; debug build, as make simulate)"
scripts/local-stack.sh run -- cargo run -q -p homeline-tests --example burst
