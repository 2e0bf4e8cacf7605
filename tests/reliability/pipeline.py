"""Driving the whole local pipeline (imgpipe.local.engine.LocalAws) from reliability tests.

Helpers only read what the deployed system would expose: execution status, error and cause, the
execution history, and the buckets' objects. Attempts are counted from the history, not from mocks.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from imgpipe.config import DeploymentConfig
from imgpipe.local.engine import LocalAws, default_handler
from lambdas.core.keys import MANIFEST_NAME
from tests.support import worker_faults
from tests.support.worker_faults import FaultPlan

SINGLE_IMAGE_WORKFLOW = "image_convert_resize"
MULTI_IMAGE_WORKFLOW = "image_multiple_convert_resize"
# Generous guard against a hang; a healthy execution takes well under a second here.
EXECUTION_GUARD_SECONDS = 120.0


def reset_worker_clients() -> None:
    """The S3 adapter caches its boto3 client per process; each moto mock needs a fresh one."""
    importlib.import_module("lambdas.adapters.s3").reset_client()


def default_config(**overrides: Any) -> DeploymentConfig:
    return DeploymentConfig.model_validate(overrides)


@contextmanager
def local_pipeline(
    config: DeploymentConfig | None = None,
    faults: Mapping[str, FaultPlan] | None = None,
    max_environments: int | None = None,
) -> Iterator[LocalAws]:
    """The stack, emulated locally, with Retry back-off and Wait states made immediate; the tasks
    in `faults` run their handler inside tests/support/worker_faults.py's fault injector.
    `max_environments`: worker processes per function (default: one per core)."""
    reset_worker_clients()
    plans = dict(faults or {})

    def handler_for(task: str) -> str:
        return worker_faults.HANDLER if task in plans else default_handler(task)

    environment = {task: plan.environment() for task, plan in plans.items()}
    with LocalAws(
        config or default_config(),
        time_scale=0.0,
        handler_for=handler_for,
        extra_environment=environment,
        max_environments=max_environments,
    ) as aws:
        yield aws
    reset_worker_clients()


def fault_plan(task: str, state_dir: Any, **settings: Any) -> FaultPlan:
    """A FaultPlan around `task`'s real handler, counting in `state_dir` (a test's tmp_path)."""
    return FaultPlan(handler=default_handler(task), state_dir=str(state_dir), **settings)


def single_image_input(location: str, recipe: dict[str, Any]) -> dict[str, Any]:
    """The single-image workflow's input (the seeds' shape) for a resize-task recipe."""
    return {
        "fileLocation": location,
        "recipeParameters": {
            "outputFormat": recipe["outputFormat"],
            "outputSize": {"width": recipe["outputWidth"], "height": recipe["outputHeight"]},
            "maintainAspectRatio": recipe.get("maintainAspectRatio", True),
        },
    }


def execution_name(text: str) -> str:
    """A valid, readable execution name (moto needs one: see test_duplicates)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text)[:80]


@dataclass
class Finished:
    """One finished execution as an operator sees it."""

    arn: str
    status: str
    error: str | None
    cause: str | None
    output: Any
    history: list[dict[str, Any]]

    def lambda_calls(self, function_suffix: str) -> list[dict[str, Any]]:
        """The payloads the execution sent to the function whose name ends with `function_suffix`,
        whether the task uses the function ARN (legacy) or arn:aws:states:::lambda:invoke."""
        payloads = []
        for event in self.history:
            if event["type"] == "LambdaFunctionScheduled":
                details = event["lambdaFunctionScheduledEventDetails"]
                function, payload = details["resource"], json.loads(details.get("input") or "{}")
            elif (
                event["type"] == "TaskScheduled"
                and event["taskScheduledEventDetails"]["resourceType"] == "lambda"
            ):
                parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
                function, payload = parameters["FunctionName"], parameters.get("Payload", {})
            else:
                continue
            if function.split(":")[-1].endswith(function_suffix):
                payloads.append(payload)
        return payloads

    def attempts(self, function_suffix: str) -> int:
        """How many times the execution invoked the function whose name ends with `function_suffix`."""
        return len(self.lambda_calls(function_suffix))

    def lambda_results(self) -> list[Any]:
        """What each successful Lambda attempt returned, in order."""
        results = []
        for event in self.history:
            if event["type"] == "LambdaFunctionSucceeded":
                results.append(json.loads(event["lambdaFunctionSucceededEventDetails"]["output"]))
            elif (
                event["type"] == "TaskSucceeded"
                and event["taskSucceededEventDetails"]["resourceType"] == "lambda"
            ):
                results.append(json.loads(event["taskSucceededEventDetails"]["output"])["Payload"])
        return results

    def failures(self) -> list[str]:
        """Error names of every failed Lambda attempt, in order."""
        names = []
        for event in self.history:
            kind = event["type"]
            if kind in ("LambdaFunctionFailed", "LambdaFunctionTimedOut", "LambdaFunctionStartFailed"):
                details = next(v for k, v in event.items() if k.endswith("EventDetails"))
                names.append(details.get("error", "States.Timeout"))
            elif kind in ("TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed"):
                details = next(v for k, v in event.items() if k.endswith("EventDetails"))
                if details.get("resourceType") == "lambda":
                    names.append(details.get("error", "States.Timeout"))
        return names

    def error_message(self) -> str:
        """The worker's message from the cause (Lambda's error payload, JSON)."""
        if not self.cause:
            return ""
        try:
            payload = json.loads(self.cause)
        except ValueError:
            return self.cause
        return str(payload.get("errorMessage", self.cause)) if isinstance(payload, dict) else self.cause


def run(aws: LocalAws, workflow: str, workflow_input: Any, *, name: str) -> Finished:
    arn = aws.start_execution(workflow, workflow_input, name=execution_name(name))
    return finished(aws, arn)


def finished(aws: LocalAws, arn: str) -> Finished:
    described = aws.wait(arn, timeout_seconds=EXECUTION_GUARD_SECONDS)
    output = json.loads(described["output"]) if described.get("output") else None
    return Finished(
        arn, described["status"], described.get("error"), described.get("cause"), output, aws.history(arn)
    )


def objects(aws: LocalAws, bucket: str, prefix: str = "", *, manifests: bool = False) -> dict[str, bytes]:
    """Every object of a bucket under `prefix`, with its bytes (follows pagination); the render-all
    worker's per-source manifests (`<...>/manifest.json`) only with `manifests=True`, so that the
    rest are images."""
    s3 = aws.s3
    found: dict[str, bytes] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if manifests or not obj["Key"].endswith(f"/{MANIFEST_NAME}"):
                found[obj["Key"]] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return found


def key_of(uri: str) -> str:
    return uri.split("/", 3)[3]
