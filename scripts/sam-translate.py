#!/usr/bin/env python3
"""Translate a SAM template to plain CloudFormation, offline; JSON on stdout.

cfn-lint 1.x checks a SAM template against SAM's schemas without running the
transform, so it cannot see problems that only exist after it, such as a
circular dependency between a function and the API that invokes it. Linting
this output catches those. Needs `aws-sam-translator` (comes with
aws-sam-cli). Usage: sam-translate.py template.yaml > translated.json
"""

import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no managed policy, so no IAM lookup is needed."""

    def load(self):
        return {}


def main():
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(sys.argv[1], encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # As `sam package` would: the built code is uploaded, CodeUri becomes S3.
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/key"
    json.dump(transform(template, {}, NoManagedPolicies()), sys.stdout, indent=1)


if __name__ == "__main__":
    main()
