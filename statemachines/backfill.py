"""The backfill state machine: one Distributed Map that renders every image under a bucket prefix.

The one definition CDK deploys (`infra/backfill.py`) and the local runtime creates
(`imgpipe.local.engine`), with the placeholders both substitute: `${LambdaArn_<worker>}` and
`${BackfillReportBucket}`. Execution input: `{"bucket", "prefix", "recipe"}` (+ `"manifest":
{"bucket", "key"}` with the inventory reader); the recipe is the worker's `RenditionsRecipe`
(lambdas.core.inputs: formats, sizes, fit, gravity, writeManifest, ...), every field of which is
passed to the worker with the source's `fileLocation` (`States.JsonMerge`, shallow: the source wins
over a `fileLocation` in the recipe), as the S3 trigger's workflow passes the default recipe.

Shape (every field is the AWS one; the docs page of each is in `DOCS`):
- `Backfill`: Map, `ProcessorConfig` Mode DISTRIBUTED, ExecutionType EXPRESS. `ItemReader` lists the
  prefix (`s3:listObjectsV2`, every page) or reads an S3 Inventory manifest; `ItemBatcher` hands each
  child execution `MaxItemsPerBatch` objects with the bucket and recipe as `BatchInput`;
  `MaxConcurrency` children at once; `ToleratedFailurePercentage` of failed children before the Map
  Run fails; `ResultWriter` writes the children's results to the report prefix.
- A child (one batch): an inline Map over its objects, all at once. Each object passes a Choice on
  its key's suffix (the configured input suffixes, any letter case: the S3 trigger's rule), then one
  `lambda:invoke` of the render-all worker, whose renditions are content-addressed, so a source whose
  renditions exist is skipped by the worker and a re-run renders only what is missing. A worker error
  is caught per source and recorded `{"sourceLocation", "error", "cause", "failed": true}`; a batch
  with any failed source then fails with `BackfillSourcesFailed` and, as its cause, the JSON list of
  every source's result, so the ResultWriter's FAILED file names each failed source with its error
  and a succeeded one keeps its counts. Keys without an image suffix are recorded
  `{"sourceLocation", "ignored": true}`.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any, Literal

from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.duration import longest_seconds
from statemachines.translator.model import TaskDef
from statemachines.translator.options import TranslatorOptions
from statemachines.translator.retries import fit_throttle_retries, task_policy

BACKFILL_WORKFLOW = "backfill"
BACKFILL_WORKER_TASK = "image_render_renditions"
REPORT_BUCKET_PLACEHOLDER = "BackfillReportBucket"
BATCH_FAILED_ERROR = "BackfillSourcesFailed"
MAP_STATE = "Backfill"
# A child is an Express execution: it must end within 5 minutes (Step Functions quotas).
EXPRESS_MAX_SECONDS = 300
# A worker without a Conductor task definition gets this timeout and only the Lambda service retries.
DEFAULT_WORKER_TIMEOUT_SECONDS = 60

ItemReaderKind = Literal["listObjectsV2", "inventory"]

DOCS = {
    "Distributed Map": "https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html",
    "ItemReader": "https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html",
    "ItemBatcher": "https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html",
    "ResultWriter": "https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html",
    "ToleratedFailurePercentage": "https://docs.aws.amazon.com/step-functions/latest/dg/maprun-fail-threshold.html",
    "MaxConcurrency": "https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html",
    "IAM": "https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html",
    "States.JsonMerge": "https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html",
}


@dataclass(frozen=True)
class BackfillSettings:
    """What a deployer tunes (the `imgpipe:backfill*` fields of cdk.json)."""

    input_suffixes: tuple[str, ...]
    max_concurrency: int
    items_per_batch: int
    tolerated_failure_percentage: float
    report_prefix: str
    item_reader: ItemReaderKind = "listObjectsV2"


@dataclass(frozen=True)
class BackfillDefinition:
    """The ASL (with placeholders), and what CDK needs to know about it."""

    asl: dict[str, Any]
    lambda_tasks: frozenset[str]
    child_worst_case_seconds: float | None

    @property
    def asl_json(self) -> str:
        return json.dumps(self.asl, indent=2)


def suffix_patterns(suffixes: tuple[str, ...]) -> list[str]:
    """`StringMatches` patterns for every letter case of each suffix (`.jpg` -> `*.jpg`, `*.JPG`, ...):
    ASL has no case-insensitive match, and the S3 trigger matches suffixes ignoring case."""
    patterns: list[str] = []
    for suffix in suffixes:
        variants = [(c.lower(), c.upper()) if c.isalpha() else (c,) for c in suffix]
        for combination in itertools.product(*variants):
            pattern = "*" + "".join(combination).replace("\\", "\\\\").replace("*", "\\*")
            if pattern not in patterns:
                patterns.append(pattern)
    return patterns


def _item_reader(kind: ItemReaderKind) -> dict[str, Any]:
    if kind == "inventory":
        # The S3 Inventory manifest.json of the bucket (for buckets past a few million objects).
        return {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "MANIFEST"},
            "Parameters": {"Bucket.$": "$.manifest.bucket", "Key.$": "$.manifest.key"},
        }
    return {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket.$": "$.bucket", "Prefix.$": "$.prefix"},
    }


def _source_location() -> str:
    return "States.Format('s3://{}/{}', $.bucket, $.key)"


def _render_source(worker_task: str, task_def: TaskDef, suffixes: tuple[str, ...]) -> dict[str, Any]:
    """The inline processor of one source: suffix Choice, worker invocation, per-source Catch."""
    policy = task_policy(task_def, TranslatorOptions(), Diagnostics(), f"tasks.{worker_task}").fields
    return {
        "StartAt": "IsImage",
        "States": {
            "IsImage": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Or": [
                            {"Variable": "$.key", "StringMatches": pattern}
                            for pattern in suffix_patterns(suffixes)
                        ],
                        "Next": "Render",
                    }
                ],
                "Default": "NotAnImage",
            },
            "NotAnImage": {
                "Type": "Pass",
                "Parameters": {"sourceLocation.$": _source_location(), "ignored": True, "failed": False},
                "End": True,
            },
            "Render": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": f"${{LambdaArn_{worker_task}}}",
                    # every field of the recipe, as an upload's workflow passes them, and the source
                    "Payload.$": "States.JsonMerge($.recipe, $.source, false)",
                },
                # Counts only: a batch's results become a failed child's cause (at most 32,768 characters).
                "ResultSelector": {
                    "sourceLocation.$": "$.Payload.sourceLocation",
                    "rendered.$": "$.Payload.rendered",
                    "skipped.$": "$.Payload.skipped",
                    "failed": False,
                },
                **policy,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "RenderFailed"}],
                "End": True,
            },
            "RenderFailed": {
                "Type": "Pass",
                "Parameters": {
                    "sourceLocation.$": _source_location(),
                    "error.$": "$.failure.Error",
                    "cause.$": "$.failure.Cause",
                    "failed": True,
                },
                "End": True,
            },
        },
    }


def _batch_processor(worker_task: str, task_def: TaskDef, settings: BackfillSettings) -> dict[str, Any]:
    """One child execution: every source of its batch at once, then fail if any source failed."""
    return {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "RenderBatch",
        "States": {
            "RenderBatch": {
                "Type": "Map",
                "ItemsPath": "$.Items",
                "ItemSelector": {
                    "key.$": "$$.Map.Item.Value.Key",
                    "bucket.$": "$.BatchInput.bucket",
                    "recipe.$": "$.BatchInput.recipe",
                    "source": {
                        "fileLocation.$": "States.Format('s3://{}/{}', $.BatchInput.bucket, "
                        "$$.Map.Item.Value.Key)"
                    },
                },
                "MaxConcurrency": settings.items_per_batch,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    **_render_source(worker_task, task_def, settings.input_suffixes),
                },
                "ResultSelector": {"results.$": "$", "flags.$": "$[*].failed"},
                "Next": "CountFailures",
            },
            "CountFailures": {
                "Type": "Pass",
                "Parameters": {
                    "results.$": "$.results",
                    "anyFailed.$": "States.ArrayContains($.flags, true)",
                },
                "Next": "AnyFailed",
            },
            "AnyFailed": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.anyFailed", "BooleanEquals": True, "Next": "BatchFailed"}],
                "Default": "BatchSucceeded",
            },
            "BatchFailed": {
                "Type": "Fail",
                "Error": BATCH_FAILED_ERROR,
                "CausePath": "States.JsonToString($.results)",
            },
            "BatchSucceeded": {"Type": "Pass", "OutputPath": "$.results", "End": True},
        },
    }


def backfill_definition(
    settings: BackfillSettings,
    *,
    worker_task: str = BACKFILL_WORKER_TASK,
    worker_task_def: TaskDef | None = None,
) -> BackfillDefinition:
    """The backfill ASL for these settings (the worker's retry/timeout from its Conductor task definition)."""
    task_def = worker_task_def or TaskDef.model_validate(
        {"name": worker_task, "retryCount": 0, "timeoutSeconds": DEFAULT_WORKER_TIMEOUT_SECONDS}
    )
    processor = _batch_processor(worker_task, task_def, settings)
    asl: dict[str, Any] = {
        "Comment": "imgpipe backfill: render every image under a prefix (statemachines/backfill.py)",
        "StartAt": MAP_STATE,
        "States": {
            MAP_STATE: {
                "Type": "Map",
                "ItemReader": _item_reader(settings.item_reader),
                "ItemBatcher": {
                    "MaxItemsPerBatch": settings.items_per_batch,
                    "BatchInput": {"bucket.$": "$.bucket", "recipe.$": "$.recipe"},
                },
                "MaxConcurrency": settings.max_concurrency,
                "ToleratedFailurePercentage": settings.tolerated_failure_percentage,
                "ItemProcessor": processor,
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {
                        "Bucket": f"${{{REPORT_BUCKET_PLACEHOLDER}}}",
                        "Prefix": settings.report_prefix.rstrip("/"),
                    },
                },
                "End": True,
            }
        },
    }
    # The batch's sources all run at once (MaxConcurrency = MaxItemsPerBatch), so a child lasts as long
    # as its slowest source; the other states of a child are Pass/Choice/Fail (no time).
    source = processor["States"]["RenderBatch"]["ItemProcessor"]
    # children are Express: the worker's throttle retries are fitted into its 5 minutes
    fit_throttle_retries(source, EXPRESS_MAX_SECONDS, TranslatorOptions(), Diagnostics())
    return BackfillDefinition(
        asl=asl,
        lambda_tasks=frozenset({worker_task}),
        child_worst_case_seconds=longest_seconds(source),
    )


def project_backfill_definition(settings: BackfillSettings) -> BackfillDefinition:
    """The backfill ASL with the worker's policy from the project's Conductor task definitions."""
    from statemachines.project import load_project

    return backfill_definition(settings, worker_task_def=load_project().task_defs.get(BACKFILL_WORKER_TASK))
