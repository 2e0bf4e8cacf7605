"""The trigger workflow's envelope: claim the S3 event once, run the workflow, record a failure.

EventBridge delivers at least once and starts a new execution per delivery (its StartExecution
passes no name), so the state machine the upload rule starts is the translated workflow wrapped
in a few states of its own:

1. an upload whose key lacks an image suffix ends SUCCEEDED as `{"notAnImage": ...}` (the rule can only match
   the prefix: EventBridge cannot AND two matchers on one key, see ``imgpipe.trigger``);
2. a conditional ``dynamodb:putItem`` claims the event (bucket, key, version id, sequencer); a
   ConditionalCheckFailed means another run has it, and this one ends SUCCEEDED as a duplicate;
3. the translated workflow runs unchanged as the one branch of a Parallel state;
4. success marks the claim DONE; any error marks it FAILED (with the error and cause), sends a
   message to the failed-sources queue, and the run still ends FAILED: with the original error, or
   ``WorkflowFailed`` (cause: the original error and cause) when that was a ``States.*`` name, which
   a Fail state may not raise.

A start without ``sourceEvent`` (a manual StartExecution) skips the suffix check and the claim.
``wrap`` is the one function CDK and the local runtime use, so both deploy the same text; the
table name and queue URL are definition-substitution placeholders. The generated ASL in
``statemachines/generated`` stays the translator's pure output.
"""

from __future__ import annotations

import calendar
import dataclasses
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from imgpipe.config import DeploymentConfig
from imgpipe.trigger import SOURCE_EVENT_FIELD, encode_event_key

if TYPE_CHECKING:
    from statemachines.project import Project
    from statemachines.translator import Translation

CLAIM_TABLE_PLACEHOLDER = "ClaimTableName"
FAILED_SOURCES_QUEUE_PLACEHOLDER = "FailedSourcesQueueUrl"
CLAIM_KEY = "claimId"
TTL_ATTRIBUTE = "expiresAt"
# The run's error when the workflow failed with a Step Functions error (States.TaskFailed, ...).
WORKFLOW_FAILED_ERROR = "WorkflowFailed"
STATUS_RUNNING, STATUS_DONE, STATUS_FAILED = "RUNNING", "DONE", "FAILED"
# A claim outlives the last redelivery EventBridge may make (its retry window is at most 24 hours)
# by weeks: it expires this many days after the end of the year it was made in.
CLAIM_RETENTION_DAYS = 30
# JSONPath ASL has no date arithmetic, so the expiry is looked up by the year of the claim.
FIRST_CLAIM_YEAR, LAST_CLAIM_YEAR = 2025, 2125
# Each DynamoDB/SQS call: bounded, so the envelope adds a known worst case to an Express run (a
# single-item PutItem/UpdateItem or SendMessage answers in milliseconds; 2 s is a wide margin).
SERVICE_TASK_TIMEOUT_SECONDS = 2
# Throttling or a 5xx of DynamoDB/SQS is retried; a refused condition never is.
SERVICE_RETRY = {
    "ErrorEquals": [
        "DynamoDB.ProvisionedThroughputExceededException",
        "DynamoDB.ThrottlingException",
        "DynamoDB.RequestLimitExceeded",
        "DynamoDB.InternalServerErrorException",
        "DynamoDB.AmazonDynamoDBException",
        "SQS.AmazonSQSException",
        "SQS.SdkClientException",
    ],
    "IntervalSeconds": 1,
    "MaxAttempts": 2,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 4,
    "JitterStrategy": "FULL",
}
# Top-level ASL fields a Parallel branch is not documented to take (it has StartAt and States);
# the envelope carries the timeout, the query language and the comment instead.
MACHINE_ONLY_FIELDS = ("TimeoutSeconds", "Version", "QueryLanguage", "Comment")

SOURCE = f"$.{SOURCE_EVENT_FIELD}"
CLAIM_ID_EXPRESSION = (
    "States.Format('s3://{}/{}?versionId={}&sequencer={}', "
    f"{SOURCE}.bucket, {SOURCE}.key, {SOURCE}.versionId, {SOURCE}.sequencer)"
)


class EnvelopeError(ValueError):
    """A workflow the envelope cannot wrap; the message names the field."""


def claim_id(bucket: str, event_key: str, version_id: str, sequencer: str) -> str:
    """The claim's key for one S3 write, as ``CLAIM_ID_EXPRESSION`` builds it (key as S3 sends it)."""
    return f"s3://{bucket}/{event_key}?versionId={version_id}&sequencer={sequencer}"


def claim_expiry_table() -> list[int]:
    """Epoch seconds at which a claim made in year FIRST_CLAIM_YEAR + i expires."""
    return [
        calendar.timegm((year + 1, 1, 1, 0, 0, 0)) + CLAIM_RETENTION_DAYS * 86400
        for year in range(FIRST_CLAIM_YEAR, LAST_CLAIM_YEAR + 1)
    ]


def claim_expiry_expression() -> str:
    """The TTL attribute's value: the expiry of the claim's year, from ``$$.State.EnteredTime``."""
    table = json.dumps(claim_expiry_table(), separators=(",", ":"))
    year = "States.StringToJson(States.ArrayGetItem(States.StringSplit($$.State.EnteredTime, '-'), 0))"
    index = f"States.MathAdd({year}, -{FIRST_CLAIM_YEAR})"
    return f"States.JsonToString(States.ArrayGetItem(States.StringToJson('{table}'), {index}))"


def suffix_patterns(suffixes: Iterable[str]) -> list[str]:
    """``StringMatches`` patterns for keys ending in a suffix, in every letter case.

    ASL has no case folding, so ``.jpg`` becomes ``*.jpg``, ``*.jpG`` ... ``*.JPG``.
    """
    patterns: list[str] = []
    for suffix in suffixes:
        # The key arrives URL-encoded: vary the letters, never the hex digits of a %XX escape.
        parts = re.findall(r"%[0-9A-F]{2}|.", encode_event_key(suffix), flags=re.DOTALL)
        escaped = [part.replace("\\", "\\\\").replace("*", "\\*") for part in parts]
        variants = [
            (part.lower(), part.upper()) if len(part) == 1 and part.lower() != part.upper() else (part,)
            for part in escaped
        ]
        for letters in itertools.product(*variants):
            pattern = "*" + "".join(letters)
            if pattern not in patterns:
                patterns.append(pattern)
    return patterns


def service_task_worst_case_seconds() -> float:
    """One envelope task with every retry taken and every attempt timing out."""
    retry: dict[str, Any] = SERVICE_RETRY
    attempts = 1 + int(retry["MaxAttempts"])
    delays = sum(
        min(retry["IntervalSeconds"] * retry["BackoffRate"] ** n, retry["MaxDelaySeconds"])
        for n in range(int(retry["MaxAttempts"]))
    )
    return float(attempts * SERVICE_TASK_TIMEOUT_SECONDS + delays)


def envelope_worst_case_seconds() -> float:
    """What the envelope adds to the workflow's worst case: the longest path has three service
    tasks (claim, mark the claim failed, record the failed source)."""
    return 3 * service_task_worst_case_seconds()


def _service_task(resource: str, parameters: dict[str, Any], next_state: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": resource,
        "Parameters": parameters,
        "TimeoutSeconds": SERVICE_TASK_TIMEOUT_SECONDS,
        "ResultPath": None,
        "Retry": [dict(SERVICE_RETRY)],
        "Next": next_state,
    }


def _claim_key() -> dict[str, Any]:
    return {CLAIM_KEY: {"S.$": CLAIM_ID_EXPRESSION}}


def _has_source_event(next_state: str) -> dict[str, Any]:
    return {
        "And": [
            {"Variable": f"{SOURCE}.{field}", "IsPresent": True}
            for field in ("bucket", "key", "versionId", "sequencer")
        ]
        + [{"Variable": f"{SOURCE}.sequencer", "IsString": True}],
        "Next": next_state,
    }


def state_names(states: Mapping[str, Any]) -> set[str]:
    """Every state name in ``states``, inside Parallel branches and Map processors too."""
    names = set(states)
    for state in states.values():
        nested = [*state.get("Branches", []), state.get("ItemProcessor"), state.get("Iterator")]
        for machine in nested:
            if isinstance(machine, Mapping) and isinstance(machine.get("States"), Mapping):
                names |= state_names(machine["States"])
    return names


def wrap(asl: Mapping[str, Any], *, suffixes: Iterable[str]) -> dict[str, Any]:
    """The translated workflow ``asl`` inside the claim-and-failure-record envelope."""
    if not isinstance(asl.get("States"), Mapping) or not isinstance(asl.get("StartAt"), str):
        raise EnvelopeError("workflow ASL: needs StartAt and States to be wrapped")
    if asl.get("QueryLanguage", "JSONPath") != "JSONPath":
        raise EnvelopeError("workflow ASL QueryLanguage: only JSONPath workflows can be wrapped")
    branch = {k: v for k, v in asl.items() if k not in MACHINE_ONLY_FIELDS}
    patterns = suffix_patterns(suffixes)
    if not patterns:
        raise EnvelopeError("inputSuffixes: the envelope needs at least one image suffix")
    table = "${" + CLAIM_TABLE_PLACEHOLDER + "}"
    update_claim = "arn:aws:states:::dynamodb:updateItem"
    states: dict[str, Any] = {
        "trigger: started by an upload?": {
            "Type": "Choice",
            "Comment": "An S3 event carries sourceEvent (input transformer); a manual start does not",
            "Choices": [_has_source_event("trigger: image suffix?")],
            "Default": "trigger: run workflow",
        },
        "trigger: image suffix?": {
            "Type": "Choice",
            "Comment": "The rule matches the key prefix only; the suffix (any letter case) is checked here",
            "Choices": [
                {
                    "Or": [{"Variable": f"{SOURCE}.key", "StringMatches": p} for p in patterns],
                    "Next": "trigger: claim event",
                }
            ],
            "Default": "trigger: not an image",
        },
        "trigger: not an image": {
            "Type": "Pass",
            "Parameters": {"notAnImage": "the key has none of the image suffixes", "key.$": f"{SOURCE}.key"},
            "End": True,
        },
        "trigger: claim event": {
            **_service_task(
                "arn:aws:states:::dynamodb:putItem",
                {
                    "TableName": table,
                    "Item": {
                        **_claim_key(),
                        "status": {"S": STATUS_RUNNING},
                        "executionArn": {"S.$": "$$.Execution.Id"},
                        "claimedAt": {"S.$": "$$.State.EnteredTime"},
                        TTL_ATTRIBUTE: {"N.$": claim_expiry_expression()},
                    },
                    # Free, failed, or this very execution's: an asynchronous Express execution runs
                    # at least once, so it may reach this state again under the same execution ARN.
                    "ConditionExpression": (
                        f"attribute_not_exists({CLAIM_KEY}) OR #status = :failed OR executionArn = :self"
                    ),
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":failed": {"S": STATUS_FAILED},
                        ":self": {"S.$": "$$.Execution.Id"},
                    },
                },
                "trigger: run workflow",
            ),
            "Comment": "One run per S3 write: a FAILED claim may be retaken, another run's is a duplicate",
            "Catch": [
                {
                    "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                    "ResultPath": None,
                    "Next": "trigger: duplicate delivery",
                },
                {
                    "ErrorEquals": ["States.ALL"],
                    "ResultPath": "$.failure",
                    "Next": "trigger: record failed source",
                },
            ],
        },
        "trigger: duplicate delivery": {
            "Type": "Pass",
            "Parameters": {"duplicate": True, "claimId.$": CLAIM_ID_EXPRESSION},
            "End": True,
        },
        "trigger: run workflow": {
            "Type": "Parallel",
            "Comment": "The translated workflow, unchanged, as the only branch",
            "Branches": [branch],
            "ResultSelector": {"output.$": "$[0]"},
            "ResultPath": "$.workflowResult",
            "Catch": [
                {
                    "ErrorEquals": ["States.ALL"],
                    "ResultPath": "$.failure",
                    "Next": "trigger: claimed? (failed)",
                }
            ],
            "Next": "trigger: claimed? (succeeded)",
        },
        "trigger: claimed? (succeeded)": {
            "Type": "Choice",
            "Choices": [_has_source_event("trigger: mark claim done")],
            "Default": "trigger: workflow output",
        },
        "trigger: mark claim done": _service_task(
            update_claim,
            {
                "TableName": table,
                "Key": _claim_key(),
                "UpdateExpression": "SET #status = :done, finishedAt = :at",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":done": {"S": STATUS_DONE},
                    ":at": {"S.$": "$$.State.EnteredTime"},
                },
            },
            "trigger: workflow output",
        ),
        "trigger: workflow output": {"Type": "Pass", "InputPath": "$.workflowResult.output", "End": True},
        "trigger: claimed? (failed)": {
            "Type": "Choice",
            "Choices": [_has_source_event("trigger: mark claim failed")],
            "Default": "trigger: record failed source",
        },
        "trigger: mark claim failed": {
            **_service_task(
                update_claim,
                {
                    "TableName": table,
                    "Key": _claim_key(),
                    "UpdateExpression": (
                        "SET #status = :failed, #error = :error, #cause = :cause, finishedAt = :at"
                    ),
                    "ExpressionAttributeNames": {"#status": "status", "#error": "error", "#cause": "cause"},
                    "ExpressionAttributeValues": {
                        ":failed": {"S": STATUS_FAILED},
                        ":error": {"S.$": "$.failure.Error"},
                        ":cause": {"S.$": "$.failure.Cause"},
                        ":at": {"S.$": "$$.State.EnteredTime"},
                    },
                },
                "trigger: record failed source",
            ),
            "Catch": [
                {"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "trigger: record failed source"}
            ],
        },
        "trigger: record failed source": {
            **_service_task(
                "arn:aws:states:::sqs:sendMessage",
                {
                    "QueueUrl": "${" + FAILED_SOURCES_QUEUE_PLACEHOLDER + "}",
                    "MessageBody": {
                        "executionArn.$": "$$.Execution.Id",
                        "stateMachineArn.$": "$$.StateMachine.Id",
                        "input.$": "$$.Execution.Input",
                        "error.$": "$.failure.Error",
                        "cause.$": "$.failure.Cause",
                    },
                },
                "trigger: run failed",
            ),
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "trigger: run failed"}],
        },
        "trigger: run failed": {
            "Type": "Choice",
            "Comment": "A Fail state may not raise a States.* name: those become WorkflowFailed",
            "Choices": [
                {
                    "Variable": "$.failure.Error",
                    "StringMatches": "States.*",
                    "Next": "trigger: run failed (Step Functions error)",
                }
            ],
            "Default": "trigger: run failed (workflow error)",
        },
        "trigger: run failed (Step Functions error)": {
            "Type": "Fail",
            "Error": WORKFLOW_FAILED_ERROR,
            "CausePath": "States.Format('{}: {}', $.failure.Error, $.failure.Cause)",
        },
        "trigger: run failed (workflow error)": {
            "Type": "Fail",
            "ErrorPath": "$.failure.Error",
            "CausePath": "$.failure.Cause",
        },
    }
    # "state names MUST be unique within the scope of the whole state machine", branches included
    # (https://states-language.net/spec.html#states-fields); moto does not check it, AWS does.
    clashes = sorted(set(states) & state_names(branch["States"]))
    if clashes:
        raise EnvelopeError(f"workflow ASL States: names the envelope uses itself: {clashes}")
    wrapped: dict[str, Any] = {
        "Comment": f"{asl.get('Comment', 'workflow')}, in the imgpipe trigger envelope (imgpipe.envelope)",
        "QueryLanguage": "JSONPath",
        "StartAt": "trigger: started by an upload?",
        "States": states,
    }
    if "TimeoutSeconds" in asl:
        wrapped["TimeoutSeconds"] = asl["TimeoutSeconds"]
    return wrapped


def translate_for_deployment(
    config: DeploymentConfig, project: Project | None = None
) -> dict[str, Translation]:
    """The project's workflows translated as this deployment runs them, before the envelope: the
    Express ones with their throttle retries fitted into 5 minutes, the trigger workflow's budget
    less what the envelope itself may take. The one translation CDK and the local runtime deploy."""
    from statemachines.project import load_project, translate_project

    loaded = project or load_project()
    return dict(
        translate_project(
            loaded,
            express=config.express_workflows(loaded.workflows),
            reserved_seconds={config.triggerWorkflow: envelope_worst_case_seconds()},
        )
    )


def for_deployment(translated: Mapping[str, Translation], config: DeploymentConfig) -> dict[str, Translation]:
    """The project's translated workflows as deployed: the trigger workflow wrapped, the rest as is.

    The one place CDK (infra/stack.py) and the local runtime (imgpipe/local/engine.py) apply the envelope.
    """
    deployed = dict(translated)
    name = config.triggerWorkflow
    if name in deployed:
        tw = deployed[name]
        worst = tw.worst_case_seconds
        deployed[name] = dataclasses.replace(
            tw,
            asl=wrap(tw.asl, suffixes=config.inputSuffixes),
            worst_case_seconds=None if worst is None else worst + envelope_worst_case_seconds(),
        )
    return deployed
