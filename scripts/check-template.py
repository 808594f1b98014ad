#!/usr/bin/env python3
"""Checks template.yaml against the code, so they cannot drift apart:

- its HTTP API routes are exactly the routes `make dev` serves
  (`[workspace.metadata.lambda.watch.router]` in Cargo.toml), each to the
  same binary;
- every function (AWS::Serverless::Function or AWS::Lambda::Function)
  builds a binary of a crate under functions/, and every such
  crate has a function, named after it (`amd-result` is AmdResultFunction:
  sam build's artifact folders are found by that name);
- the functions' environment sets exactly the variables core/src/config.rs
  reads, less those the Twilio secret holds (core/src/secrets.rs `HELD`),
  plus the secret's ARN;
- no function's environment holds a secret: no `HELD` variable and no
  reference to a NoEcho parameter, in Globals or in a function;
- every function logs to its own log group of the template, and every log
  group of the template (the API's access logs too) is kept LogRetentionDays
  (a log group Lambda makes itself keeps callers' numbers forever).

usage: check-template.py [TEMPLATE]   (default: template.yaml)
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


def references(value):
    """Every name a value refers to: `!Ref X`, `!GetAtt X.Y`, `${X}` in `!Sub`."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                if isinstance(text, str):
                    yield from (m.split(".")[0] for m in re.findall(r"\$\{([\w.:]+)\}", text))
                yield from references(inner)
            else:
                yield from references(inner)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "template.yaml"
    template, errors = decode(str(path))
    if errors:
        fail([str(e) for e in errors])
    resources = template["Resources"]
    problems = []

    # The webhook functions, and the provisioner (a plain Lambda function
    # outside Globals), each built from a crate's binary.
    binaries = {
        name: r["Metadata"]["BuildProperties"]["Binary"]
        for name, r in resources.items()
        if r["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function")
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
        metadata = tomllib.load(f)["workspace"]["metadata"]
    router = metadata["lambda"]["watch"]["router"]
    # cargo-lambda's `{*name}` catch-all is API Gateway's `{proxy+}`.
    expected = {"POST " + re.sub(r"\{\*\w+\}", "{proxy+}", path): fn for path, fn in router.items()}
    for path in metadata["homeline"]["get_routes"]:
        owner = next((fn for p, fn in router.items() if path == p or path.startswith(p.split("{")[0])), None)
        expected["GET " + path] = owner
    if routes != expected:
        for key in sorted(set(routes) | set(expected)):
            if routes.get(key) != expected.get(key):
                problems.append(
                    f"route {key!r}: template -> {routes.get(key)}, cargo-lambda router -> {expected.get(key)}"
                )

    config = (ROOT / "core/src/config.rs").read_text(encoding="utf-8")
    read = set(re.findall(r"vars\s*\.\s*\w+\(\s*\"([A-Z][A-Z0-9_]*)\"", config))
    secrets = (ROOT / "core/src/secrets.rs").read_text(encoding="utf-8")
    held_list = re.search(r"pub const HELD: \[&str; \d+\] = \[([^\]]*)\]", secrets)
    arn_var = re.search(r"pub const SECRET_ARN_VAR: &str = \"(\w+)\"", secrets)
    if not held_list or not arn_var:
        fail(["core/src/secrets.rs no longer declares HELD and SECRET_ARN_VAR as this script reads them"])
    held = set(re.findall(r"\"(\w+)\"", held_list.group(1)))
    expected_env = (read - held) | {arn_var.group(1)}
    globals_env = template["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    env = set(globals_env)
    for var in sorted(expected_env - env):
        problems.append(f"config.rs reads {var}, the template does not set it")
    for var in sorted(env - expected_env - held):
        problems.append(f"the template sets {var}, config.rs does not read it")

    no_echo = {
        name for name, p in template.get("Parameters", {}).items() if str(p.get("NoEcho")).lower() == "true"
    }
    environments = [("Globals", globals_env)] + [
        (name, resources[name]["Properties"].get("Environment", {}).get("Variables", {}))
        for name in binaries
    ]
    for owner, variables in environments:
        for var, value in variables.items():
            if var in held:
                problems.append(f"{owner}'s environment holds {var}: it belongs in the secret only")
            for secret in sorted(set(references(value)) & no_echo):
                problems.append(f"{owner}'s environment variable {var} holds the NoEcho parameter {secret}")

    for name in binaries:
        group = ref_name(resources[name]["Properties"].get("LoggingConfig", {}).get("LogGroup"))
        if resources.get(group, {}).get("Type") != "AWS::Logs::LogGroup":
            problems.append(f"{name} does not log to a log group of the template")
    for name, r in resources.items():
        if r["Type"] == "AWS::Logs::LogGroup" and r["Properties"].get("RetentionInDays") != {"Ref": "LogRetentionDays"}:
            problems.append(f"log group {name} is not kept LogRetentionDays")

    if problems:
        fail(problems)
    print(
        f"check-template: {len(routes)} routes match the cargo-lambda router, "
        f"{len(binaries)} functions match functions/ (each with a kept-for-a-while log group), "
        f"{len(env)} variables match config.rs and secrets.rs, no secret in any environment"
    )


if __name__ == "__main__":
    main()
