#!/usr/bin/env python3
"""Checks template.yaml against the code, so they cannot drift apart:

- its HTTP API routes are exactly the routes `make dev` serves
  (`[workspace.metadata.lambda.watch.router]` in Cargo.toml), each to the
  same binary;
- every function builds a binary of a crate under functions/, and every such
  crate has a function, named after it (`amd-result` is AmdResultFunction:
  sam build's artifact folders are found by that name);
- the functions' environment sets exactly the variables core/src/config.rs reads;
- every function logs to its own log group of the template, with a retention
  (a log group Lambda makes itself keeps callers' numbers forever).

Run with the Python of .local/venv (it needs cfn-lint's YAML loader).
"""

import re
import sys
import tomllib
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[1]


def fail(problems):
    for p in problems:
        print(f"check-template: {p}", file=sys.stderr)
    sys.exit(1)


def ref_name(value, prefix=""):
    """The resource named by `!Ref X`, `!GetAtt X.Arn` or `!Sub "<prefix>${X}"`."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return att[0] if isinstance(att, list) else att.split(".")[0]
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            m = re.fullmatch(re.escape(prefix) + r"\$\{(\w+)\}", value["Fn::Sub"])
            return m.group(1) if m else None
    return None


def main():
    template, errors = decode(str(ROOT / "template.yaml"))
    if errors:
        fail([str(e) for e in errors])
    resources = template["Resources"]
    problems = []

    binaries = {
        name: r["Metadata"]["BuildProperties"]["Binary"]
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    crates = {p.parent.name for p in (ROOT / "functions").glob("*/Cargo.toml")}
    for name, binary in binaries.items():
        expected_name = "".join(word.capitalize() for word in binary.split("-")) + "Function"
        if name != expected_name:
            problems.append(f"the function building {binary} is {name}, expected {expected_name}")
    if set(binaries.values()) != crates:
        problems.append(f"functions build {sorted(binaries.values())}, crates are {sorted(crates)}")

    integrations = {
        name: ref_name(r["Properties"]["IntegrationUri"])
        for name, r in resources.items()
        if r["Type"] == "AWS::ApiGatewayV2::Integration"
    }
    routes = {}
    for name, r in resources.items():
        if r["Type"] != "AWS::ApiGatewayV2::Route":
            continue
        integration = ref_name(r["Properties"]["Target"], "integrations/")
        routes[r["Properties"]["RouteKey"]] = binaries.get(integrations.get(integration))

    with open(ROOT / "Cargo.toml", "rb") as f:
        router = tomllib.load(f)["workspace"]["metadata"]["lambda"]["watch"]["router"]
    # cargo-lambda's `{*name}` catch-all is API Gateway's `{proxy+}`.
    expected = {"POST " + re.sub(r"\{\*\w+\}", "{proxy+}", path): fn for path, fn in router.items()}
    if routes != expected:
        for key in sorted(set(routes) | set(expected)):
            if routes.get(key) != expected.get(key):
                problems.append(
                    f"route {key!r}: template -> {routes.get(key)}, cargo-lambda router -> {expected.get(key)}"
                )

    config = (ROOT / "core/src/config.rs").read_text(encoding="utf-8")
    read = set(re.findall(r"vars\s*\.\s*\w+\(\s*\"([A-Z][A-Z0-9_]*)\"", config))
    env = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for var in sorted(read - env):
        problems.append(f"config.rs reads {var}, the template does not set it")
    for var in sorted(env - read):
        problems.append(f"the template sets {var}, config.rs does not read it")

    for name in binaries:
        group = ref_name(resources[name]["Properties"].get("LoggingConfig", {}).get("LogGroup"))
        kept = resources.get(group, {})
        if kept.get("Type") != "AWS::Logs::LogGroup" or "RetentionInDays" not in kept.get("Properties", {}):
            problems.append(f"{name} does not log to a log group of the template with RetentionInDays")

    if problems:
        fail(problems)
    print(
        f"check-template: {len(routes)} routes match the cargo-lambda router, "
        f"{len(binaries)} functions match functions/ (each with a kept-for-a-while log group), "
        f"{len(env)} variables match config.rs"
    )


if __name__ == "__main__":
    main()
