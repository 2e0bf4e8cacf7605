"""The callback contract of a task that waits to be completed from outside (HUMAN, and WAIT without
`duration`/`until`): how the translated state announces its task token, and where it is read back.

The translator emits the state (statemachines/translator/callback.py): an EventBridge PutEvents
`.waitForTaskToken` whose entry's detail carries `taskReferenceName` and `taskToken`. Step Functions
records those parameters in the state's TaskScheduled event, so the token is read back from the
execution history by whoever completes the task: `imgpipe complete` and Conductor's task update API
(lambdas/conductor/task_updates.py). Plain values and dicts: the Lambda bundle holds only `lambdas/`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

CALLBACK_RESOURCE = "arn:aws:states:::events:putEvents.waitForTaskToken"
# The EventBridge event that announces a waiting task.
EVENT_SOURCE = "imgpipe.conductor"
WAITING_DETAIL_TYPE = "Conductor task waiting"
# The error a task failed from outside fails with (Conductor's FAILED status): the name a FAILED
# TERMINATE also uses. FAILED_WITH_TERMINAL_ERROR fails with TERMINAL_ERROR.
FAILED_ERROR = "Conductor.FAILED"
TERMINAL_ERROR = "Conductor.FAILED_WITH_TERMINAL_ERROR"


def callback_token(event: Mapping[str, Any], task_ref: str) -> str | None:
    """The task token of `task_ref` if this history event is its callback state's TaskScheduled."""
    details = event.get("taskScheduledEventDetails")
    if event.get("type") != "TaskScheduled" or not isinstance(details, Mapping):
        return None
    if not CALLBACK_RESOURCE.endswith(f":{details.get('resourceType')}:{details.get('resource')}"):
        return None
    try:
        parameters = json.loads(details.get("parameters") or "{}")
    except ValueError:
        return None
    entries = parameters.get("Entries") if isinstance(parameters, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("DetailType") != WAITING_DETAIL_TYPE:
            continue
        detail = entry.get("Detail")
        if isinstance(detail, str):  # the service may record the detail as the JSON text it sends
            try:
                detail = json.loads(detail)
            except ValueError:
                continue
        if isinstance(detail, dict) and detail.get("taskReferenceName") == task_ref:
            return str(detail["taskToken"])
    return None


def latest_callback_token(newest_first: Iterable[Mapping[str, Any]], task_ref: str) -> str | None:
    """The token of the latest callback `task_ref` scheduled, from history events newest first."""
    for event in newest_first:
        token = callback_token(event, task_ref)
        if token is not None:
            return token
    return None
