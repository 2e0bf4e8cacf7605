"""EVENT: publish the task input, with the workflow's identity, to the task's `sink`.

Conductor (`tasks/Event.java`) publishes the task input plus `workflowInstanceId`, `workflowType`,
`workflowVersion` and `correlationId`; the task output is that payload plus `event_produced`, the
queue name. A `conductor` sink is Conductor's own queue, `conductor:<workflow>:<ref>` (or
`conductor:<workflow>:<name>` for `conductor:<name>`), which Conductor's event handlers listen on:
here an EventBridge event on the default bus whose detail-type is that queue name, so an EventBridge
rule plays the event handler. An `sqs:<queue>` sink sends the payload to that SQS queue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import link, task_states
from statemachines.translator.callback import EVENT_SOURCE
from statemachines.translator.expressions import path_of
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.task_states import optional_catch

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite

PUT_EVENTS = "arn:aws:states:::events:putEvents"
SEND_MESSAGE = "arn:aws:states:::sqs:sendMessage"
# PutEventsRequestEntry.DetailType: at most 128 characters
# (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html)
MAX_DETAIL_TYPE = 128


# SQS queue names: "up to 80 characters ... alphanumeric characters, hyphens (-), and underscores (_).
# A FIFO queue name must end with the .fifo suffix"
# (https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sqs/aws.sdk.kotlin.services.sqs.model/-create-queue-request/queue-name.html)
SQS_QUEUE_NAME_MAX = 80
SQS_QUEUE_NAME = re.compile(rf"[A-Za-z0-9_-]{{1,{SQS_QUEUE_NAME_MAX}}}")
FIFO_SUFFIX = ".fifo"
QUEUE_URL_PREFIX = "QueueUrl_"
# a placeholder holds letters, digits and `_` only (SUBSTITUTION_PLACEHOLDER): the queue name's `-`
# and `_` are written `_2D` and `_5F` (`_` and the character's hex code), so the name reads back
ESCAPED_IN_PLACEHOLDER = re.compile(r"[^A-Za-z0-9]")
ESCAPE = re.compile(r"_([0-9A-F]{2})")


def queue_url_placeholder(queue: str) -> str:
    """`${QueueUrl_<queue, escaped>}`'s name: `conductor-test_1` -> `QueueUrl_conductor_2Dtest_5F1`."""
    return QUEUE_URL_PREFIX + ESCAPED_IN_PLACEHOLDER.sub(lambda c: f"_{ord(c.group()):02X}", queue)


def queue_of_placeholder(placeholder: str) -> str:
    """The queue name `queue_url_placeholder` wrote into `placeholder`."""
    return ESCAPE.sub(lambda c: chr(int(c.group(1), 16)), placeholder.removeprefix(QUEUE_URL_PREFIX))


def sqs_sink_queues(asl: Mapping[str, Any]) -> list[str]:
    """The SQS queues a translation's EVENT tasks send to (`sqs:<queue>` sinks), sorted: what the
    stack creates (infra/workflows.py) and the local engine creates, one queue per name."""
    prefix = "${" + QUEUE_URL_PREFIX
    urls = [
        state["Parameters"].get("QueueUrl") for state in task_states(asl) if state["Resource"] == SEND_MESSAGE
    ]
    # other queues (the trigger envelope's failed-sources queue) have placeholders of their own
    return sorted(
        {queue_of_placeholder(url[2:-1]) for url in urls if isinstance(url, str) and url.startswith(prefix)}
    )


def emit_event(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task, states = site.task, site.states
    ref = task.taskReferenceName
    where = _sink_location(site)
    target = _sink(emitter, site)
    if target is None:
        return site.next_name
    resource, queue_name = target
    if task.model_extra and task.model_extra.get("asyncComplete"):
        emitter.diagnostics.error(
            f"{site.location}.asyncComplete",
            f"EVENT '{ref}' with asyncComplete waits to be completed from outside: not translated",
        )
        return site.next_name
    emitter.diagnostics.warning(
        where, f"EVENT '{ref}': the payload's correlationId is null (Step Functions has none)"
    )
    params = emitter.analysis.parameters(task.inputParameters, f"{site.location}.inputParameters")
    if task.sink is not None:  # EventTaskMapper: the task's sink replaces any input of that name
        params = {k: v for k, v in params.items() if k.removesuffix(".$") != "sink"} | {"sink": task.sink}
    else:
        emitter.diagnostics.warning(
            where,
            f"EVENT '{ref}': Conductor reads the task's `sink` field and sets the input's sink from it "
            "(null without one, and the EVENT fails); this sink is translated as if it were the field",
        )
    identity: dict[str, Any] = {
        "workflowInstanceId.$": "$$.Execution.Name",
        "workflowType": emitter.workflow.name,
        "workflowVersion": emitter.workflow.version,
        "correlationId": None,
    }
    # Conductor puts the workflow's identity over any input of the same name
    named = {key.removesuffix(".$") for key in identity}
    payload = {k: v for k, v in params.items() if k.removesuffix(".$") not in named} | identity
    keys = [key.removesuffix(".$") for key in payload]
    message = {f"{key}.$": path_of(("tasks", ref, "output", key)) for key in keys}
    if resource == PUT_EVENTS:
        arguments: dict[str, Any] = {
            "Entries": [{"Source": EVENT_SOURCE, "DetailType": queue_name, "Detail": message}]
        }
    else:
        queue = queue_name.removeprefix("sqs:")
        arguments = {"QueueUrl": f"${{{queue_url_placeholder(queue)}}}", "MessageBody": message}
    after = ensure_outputs(emitter, ref, states, site.next_name)
    publish = emitter.names.allocate(f"{ref}: publish")
    states[publish] = link(
        {
            "Type": "Task",
            "Comment": f"Conductor EVENT to {queue_name}: the payload, without event_produced",
            "Resource": resource,
            "Parameters": arguments,
            "ResultPath": None,
        },
        after,
    )
    if task.optional:
        states[publish]["Catch"] = [optional_catch(emitter, ref, states, after)]
    name = emitter.names.allocate(ref)
    states[name] = {
        "Type": "Pass",
        "Comment": "Conductor EVENT output: the payload and the queue it went to",
        "Parameters": {**payload, "event_produced": queue_name},
        "ResultPath": f"$.tasks.{ref}.output",
        "Next": publish,
    }
    return name


def _sink_location(site: EmitSite) -> str:
    """Conductor's field is the task's `sink`; `inputParameters.sink` is read when it is absent."""
    if site.task.sink is not None:
        return f"{site.location}.sink"
    return f"{site.location}.inputParameters.sink"


def _sink(emitter: WorkflowEmitter, site: EmitSite) -> tuple[str, str] | None:
    """The integration and Conductor's queue name of the task's sink; None (reported) if refused."""
    ref = site.task.taskReferenceName
    where = _sink_location(site)
    sink = site.task.sink if site.task.sink is not None else site.task.inputParameters.get("sink")
    if not isinstance(sink, str) or "${" in sink:
        emitter.diagnostics.error(where, f"EVENT '{ref}' needs a literal sink ('conductor', 'sqs:<queue>')")
        return None
    if sink == "conductor":
        queue_name = f"conductor:{emitter.workflow.name}:{ref}"
    elif sink.startswith("conductor:"):
        queue_name = f"conductor:{emitter.workflow.name}:{sink.replace('conductor:', '')}"
    elif sink.startswith("sqs:"):
        queue = sink.removeprefix("sqs:")
        problem = None
        if queue.endswith(FIFO_SUFFIX):
            problem = "is a FIFO queue, which needs a MessageGroupId Conductor's EVENT does not give"
        elif not SQS_QUEUE_NAME.fullmatch(queue):
            problem = "is not one SQS allows (up to 80 letters, digits, - and _)"
        if problem:
            emitter.diagnostics.error(where, f"EVENT '{ref}': SQS queue name {queue!r} {problem}")
            return None
        return SEND_MESSAGE, sink
    else:
        emitter.diagnostics.error(
            where,
            f"EVENT '{ref}': sink {sink!r} is not translated (only 'conductor', 'conductor:<name>' -> "
            "EventBridge and 'sqs:<queue>' -> SQS)",
        )
        return None
    if len(queue_name) > MAX_DETAIL_TYPE:
        emitter.diagnostics.error(
            where, f"EVENT '{ref}': {queue_name!r} is longer than an EventBridge detail-type may be"
        )
        return None
    return PUT_EVENTS, queue_name
