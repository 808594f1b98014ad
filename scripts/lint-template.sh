#!/usr/bin/env bash
# Lints template.yaml with cfn-lint, `sam validate --lint` and checkov (every
# finding fixed, or skipped in the resource's Metadata with a reason), checks
# it against the code (routes, binaries, config variables, no secret in an
# environment), then (when the SAM translator is installed)
# lints its CloudFormation translation: only there do circular dependencies
# and errors in Globals show up.
set -euo pipefail
cd "$(dirname "$0")/.."
CFN_LINT=.local/venv/bin/cfn-lint
PYTHON=${SAM_TRANSLATOR_PYTHON:-.local/venv/bin/python}
if [ ! -x "$CFN_LINT" ]; then
  echo "lint-template: $CFN_LINT is missing; run 'make setup'" >&2
  exit 1
fi
"$CFN_LINT" template.yaml
# SAM's own check (no AWS account needed with --lint and a region).
SAM=.local/sam-venv/bin/sam
if [ ! -x "$SAM" ]; then
  echo "lint-template: $SAM is missing; run 'make setup'" >&2
  exit 1
fi
SAM_CLI_TELEMETRY=0 "$SAM" validate --lint --template template.yaml --region us-east-1
CHECKOV=.local/checkov-venv/bin/checkov
if [ ! -x "$CHECKOV" ]; then
  echo "lint-template: $CHECKOV is missing; run 'make setup'" >&2
  exit 1
fi
# Exits non-zero on any failed check; skips are listed with their reasons.
"$CHECKOV" --file template.yaml --framework cloudformation --compact --quiet --skip-download
.local/venv/bin/python scripts/check-template.py
if "$PYTHON" -c 'import samtranslator' 2>/dev/null; then
  translated=$(mktemp --suffix=.json)
  trap 'rm -f "$translated"' EXIT
  "$PYTHON" scripts/sam-translate.py template.yaml >"$translated"
  "$CFN_LINT" "$translated"
  echo "lint-template: template.yaml and its CloudFormation translation are clean"
else
  echo "lint-template: template.yaml is clean; SKIPPED the translated check" \
    "(aws-sam-translator not importable by $PYTHON; set SAM_TRANSLATOR_PYTHON)" >&2
fi
