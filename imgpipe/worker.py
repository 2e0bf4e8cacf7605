"""A polling worker for the Step Functions activities that SIMPLE tasks without an imgpipe Lambda
worker translate to: what Conductor's worker SDK does for a Conductor task.

    from imgpipe.worker import ActivityWorker, TaskFailure, stepfunctions_client

    def sharpen(task_input: dict) -> dict:            # Conductor's inputData -> outputData
        if "fileLocation" not in task_input:
            raise TaskFailure("InvalidInputError", "fileLocation is required")
        return {"fileLocation": task_input["fileLocation"]}

    sfn = stepfunctions_client()          # AWS; endpoint_url="http://127.0.0.1:5000": imgpipe serve
    worker = ActivityWorker.for_task(sfn, "sharpen_image", sharpen)  # activity imgpipe-sharpen_image
    worker.run()                          # poll, run, report; until worker.stop is set

Each task is taken with GetActivityTask (a long poll of up to 60 s), the function runs with the task's
input, and its result is reported with SendTaskSuccess; an exception is reported with
SendTaskFailure, its error name being `TaskFailure.error` or the exception's class name (what the
state's Retry and Catch match, as for the Lambda workers' typed errors), its cause the message. While
the function runs, SendTaskHeartbeat is sent every `heartbeat_interval_seconds`, so a task whose
definition sets `responseTimeoutSeconds` (HeartbeatSeconds) stays alive while its worker does, and
times out when the worker dies. It works the same against AWS, `imgpipe serve` and the in-process
local runtime: all it needs is a boto3 Step Functions client.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from imgpipe.config import DeploymentConfig
from lambdas.core.limits import STATE_PAYLOAD_BYTES

LOGGER = logging.getLogger("imgpipe.worker")

# SendTaskFailure limits: error up to 256 characters, cause up to 32,768; SendTaskSuccess output up
# to 256 KiB (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html,
# .../API_SendTaskSuccess.html).
MAX_ERROR_CHARS = 256
MAX_CAUSE_CHARS = 32_768
MAX_OUTPUT_CHARS = STATE_PAYLOAD_BYTES
# GetActivityTask holds a poll up to 60 s; AWS asks workers for a socket timeout of at least 65 s
# (https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetActivityTask.html).
POLL_READ_TIMEOUT_SECONDS = 70
# Answers that mean the task is no longer this worker's: timed out, or its execution ended.
TASK_GONE_ERRORS = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})

TaskFunction = Callable[[Any], Mapping[str, Any]]


class TaskFailure(Exception):
    """Raise from a task function to fail the task with this error name (what Retry and Catch match)."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(cause or error)
        self.error = error
        self.cause = cause


class InvalidTaskOutputError(Exception):
    """The function returned something that is not a JSON object of at most 256 KiB."""


def stepfunctions_client(*, endpoint_url: str | None = None, region_name: str | None = None) -> Any:
    """A Step Functions client whose read timeout outlasts GetActivityTask's long poll."""
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint_url,
        region_name=region_name,
        config=Config(read_timeout=POLL_READ_TIMEOUT_SECONDS, retries={"mode": "standard"}),
    )


def activity_arn(sfn: Any, activity_name: str) -> str:
    """The ARN of the activity of that name (ListActivities), or LookupError."""
    for page in sfn.get_paginator("list_activities").paginate():
        for activity in page["activities"]:
            if activity["name"] == activity_name:
                return str(activity["activityArn"])
    raise LookupError(f"no Step Functions activity named {activity_name!r} (is the stack deployed?)")


def _encoded_output(result: Any) -> str:
    if not isinstance(result, Mapping):
        raise InvalidTaskOutputError(f"a task's output is a JSON object, not {type(result).__name__}")
    try:
        text = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidTaskOutputError(f"the output is not JSON: {error}") from error
    if len(text) > MAX_OUTPUT_CHARS:
        raise InvalidTaskOutputError(f"the output is {len(text)} characters, over {MAX_OUTPUT_CHARS}")
    return text


def _error_name(error: BaseException) -> str:
    return (error.error if isinstance(error, TaskFailure) else type(error).__name__)[:MAX_ERROR_CHARS]


def _cause(error: BaseException) -> str:
    return (error.cause if isinstance(error, TaskFailure) else str(error))[:MAX_CAUSE_CHARS]


@dataclass
class ActivityWorker:
    """Polls one activity and runs `function` on each of its tasks, one at a time."""

    sfn: Any
    activity_arn: str
    function: TaskFunction
    worker_name: str = "imgpipe-worker"
    # well below the task's HeartbeatSeconds (Conductor's default responseTimeoutSeconds: 3600 s)
    heartbeat_interval_seconds: float = 30.0
    stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def for_task(
        cls,
        sfn: Any,
        task_name: str,
        function: TaskFunction,
        config: DeploymentConfig | None = None,
        **kw: Any,
    ) -> ActivityWorker:
        """The worker of a Conductor task name: the activity `<prefix>-<task name>` (infra/activities.py)."""
        name = (config or DeploymentConfig.from_cdk_json()).activity_name(task_name)
        return cls(sfn, activity_arn(sfn, name), function, **kw)

    def poll_once(self) -> bool:
        """One long poll; runs and reports the task if one came. Returns whether one did."""
        task = self.sfn.get_activity_task(activityArn=self.activity_arn, workerName=self.worker_name)
        token = task.get("taskToken")
        if not token:
            return False
        self._work(token, task.get("input") or "{}")
        return True

    def run(self, *, max_tasks: int | None = None) -> int:
        """Poll until `stop` is set (checked between polls) or `max_tasks` tasks ran; returns how many."""
        done = 0
        while not self.stop.is_set() and (max_tasks is None or done < max_tasks):
            if self.poll_once():
                done += 1
        return done

    def _work(self, token: str, raw_input: str) -> None:
        finished = threading.Event()
        beating = threading.Thread(target=self._heartbeat, args=(token, finished), daemon=True)
        beating.start()
        try:
            output = _encoded_output(self.function(json.loads(raw_input)))
        except Exception as error:  # every failure is reported, typed; the worker goes on polling
            finished.set()
            LOGGER.warning("task failed: %s: %s", _error_name(error), _cause(error))
            self._report(
                self.sfn.send_task_failure, taskToken=token, error=_error_name(error), cause=_cause(error)
            )
        else:
            finished.set()
            self._report(self.sfn.send_task_success, taskToken=token, output=output)
        finally:
            beating.join()

    def _heartbeat(self, token: str, finished: threading.Event) -> None:
        while not finished.wait(self.heartbeat_interval_seconds):
            if not self._report(self.sfn.send_task_heartbeat, taskToken=token):
                return

    @staticmethod
    def _report(call: Callable[..., Any], **parameters: Any) -> bool:
        """False when the task is gone (timed out, execution ended): nothing left to report to."""
        try:
            call(**parameters)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in TASK_GONE_ERRORS:
                raise
            LOGGER.warning("task no longer accepts reports (%s): %s", code, error)
            return False
        return True
