"""Deployment settings from the CDK context, so `-c imgpipe:<field>=<value>` overrides cdk.json."""

from __future__ import annotations

import json
from typing import Any

from constructs import Node

from imgpipe.config import CONTEXT_NAMESPACE, DeploymentConfig

# Infra-only switch, not (yet) a DeploymentConfig field: reserved concurrency from the concurrency
# plan (infra/concurrency.py), on by default; `false` opts out. The plan fits the reservations into
# `imgpipe:lambdaConcurrency`, so an account with a reduced quota sets that, not this.
RESERVED_CONCURRENCY_KEY = f"{CONTEXT_NAMESPACE}reservedConcurrency"


def _from_cli(value: Any) -> Any:
    """`cdk -c key=value` passes strings; JSON lists/objects/booleans are decoded, the rest kept."""
    if (isinstance(value, str) and value.strip()[:1] in ("[", "{")) or value in ("true", "false"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def deployment_config(node: Node) -> DeploymentConfig:
    context = {}
    for field in DeploymentConfig.model_fields:
        key = f"{CONTEXT_NAMESPACE}{field}"
        value = node.try_get_context(key)
        if value is not None:
            context[key] = _from_cli(value)
    return DeploymentConfig.from_context(context)


def reserved_concurrency_enabled(node: Node) -> bool:
    value = _from_cli(node.try_get_context(RESERVED_CONCURRENCY_KEY))
    if value is False:
        return False
    if value in (None, True):
        return True
    raise ValueError(f"{RESERVED_CONCURRENCY_KEY} must be true or false, got {value!r}")
