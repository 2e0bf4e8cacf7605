"""The javascript_evaluator worker's own layer (V8 via mini-racer), built only when a translated
workflow runs JavaScript (INLINE, LAMBDA, a script condition): the function is deployed then only.

The function itself is one of the Workers (infra/workers.py), with no S3 access at all: a script
reads only the input the state machine hands it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from imgpipe.config import JAVASCRIPT_TASK, PROJECT_ROOT
from infra.bundling import DependenciesLayer

JAVASCRIPT_REQUIREMENTS = PROJECT_ROOT / "lambdas" / "javascript_evaluator" / "requirements.txt"


def used_tasks(translated: Mapping[str, Any]) -> set[str]:
    """Every worker a translated workflow invokes."""
    return {task for tw in translated.values() for task in tw.lambda_tasks}


def on_demand_layers(scope: Construct, translated: Mapping[str, Any]) -> dict[str, lambda_.ILayerVersion]:
    """The extra layer of each on-demand worker some workflow uses (none when no workflow does)."""
    if JAVASCRIPT_TASK not in used_tasks(translated):
        return {}
    layer = DependenciesLayer(
        scope, "JavaScriptDependencies", requirements_file=JAVASCRIPT_REQUIREMENTS, services=None
    )
    return {JAVASCRIPT_TASK: layer.layer}
