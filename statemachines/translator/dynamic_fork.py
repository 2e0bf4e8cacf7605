"""FORK_JOIN_DYNAMIC and its JOIN: a Map over the planned items, and the JOIN output as a map or list."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import link, ordered
from statemachines.translator.expressions import Literal, Path, intrinsic_text, path_of
from statemachines.translator.javascript import forked_inline_state
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.model import WorkflowTask
from statemachines.translator.references import SimpleFork, simple_fork
from statemachines.translator.sub_workflow import default_workflow_targets
from statemachines.translator.task_states import child_execution_name, lambda_state, start_execution_state

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite

JOIN_SCRATCH = "dynamicJoin"  # transient top-level key while a dynamic JOIN output is assembled
# items merged per Pass when assembling a dynamic JOIN map, largest first; 8 chained JsonMerge calls
# stay within AWS's limit of 10 intrinsic functions per field
JOIN_MERGE_CHUNKS = (8, 4, 2, 1)


def emit_dynamic_fork(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    """A Map over the planned items (the legacy forms' list, or the newer form's forkTaskInputs),
    then the JOIN output as a map or a list (dynamic_join_output)."""
    task, join, location, states, next_name = site.task, site.join, site.location, site.states, site.next_name
    ref = task.taskReferenceName
    if task.forkTaskName or task.forkTaskInputs is not None:
        emitter.diagnostics.error(
            f"{location}.forkTaskName" if task.forkTaskName else f"{location}.forkTaskInputs",
            f"FORK_JOIN_DYNAMIC '{ref}': Conductor reads forkTaskName and forkTaskInputs from "
            "inputParameters and ignores them beside it; move them into inputParameters",
        )
        return next_name
    new_form = simple_fork(task)
    prepare: dict[str, Any] | None = None
    if new_form is not None:
        items, prepare = _new_form_items(emitter, task, location)
    else:
        items = _legacy_items(emitter, task, location)
        targets = _dynamic_targets(emitter, task, location)
    if items is None:
        return next_name
    result_ref = join.taskReferenceName if join is not None else ref
    as_list = emitter.options.join_output(emitter.workflow.name, result_ref) == "list"
    after = ensure_outputs(emitter, result_ref, states, next_name)
    if new_form is not None:
        processor, limits = _simple_fork_processor(emitter, task, new_form, location, as_list)
        # Conductor names the forked tasks `_<forkTaskName>_<index>` and adds `__index` to each input
        reference = f"States.Format('{intrinsic_text('_' + new_form.name + '_')}{{}}', $$.Map.Item.Index)"
        selector: dict[str, Any] = {
            "taskReferenceName.$": reference,
            "value.$": "$$.Map.Item.Value",
            "index": {"__index.$": "$$.Map.Item.Index"},
            "braces": ["{", "}"],
        }
    else:
        processor, limits = _routing_processor(emitter, ref, targets, location, as_list)
        reference = "$$.Map.Item.Value.taskReferenceName"
        selector = {"taskReferenceName.$": reference, "item.$": "$$.Map.Item.Value"}
    concurrency = min([emitter.options.max_concurrency_cap, *limits])
    name = emitter.names.allocate(ref)
    state: dict[str, Any] = {
        "Type": "Map",
        "Comment": "Conductor FORK_JOIN_DYNAMIC: one iteration per planned item, each ending as "
        + ("{taskReferenceName, output}" if as_list else "{<taskReferenceName>: <output>}"),
        "ItemsPath": items,
        "ItemSelector": selector,
        "ItemProcessor": processor,
        "MaxConcurrency": concurrency,
    }
    first = name
    if prepare is not None:
        # a literal forkTaskInputs list: kept in the fork's input, which the Map iterates
        first = emitter.names.allocate(f"{ref}: inputs")
        states[first] = {
            "Type": "Pass",
            "Comment": "Conductor FORK_JOIN_DYNAMIC: the literal forkTaskInputs",
            "Result": prepare,
            "ResultPath": path_of(("tasks", ref, "input")),
            "Next": name,
        }
    if as_list:
        # the Map's result is the JOIN output as it stands: nothing to assemble after it
        state["ResultSelector"] = {"output.$": "$"}
        state["ResultPath"] = path_of(("tasks", result_ref))
        states[name] = link(state, after)
        return first
    selector["braces"] = ["{", "}"]
    state["ResultSelector"] = {"parts.$": "$", "map": {}}
    state["ResultPath"] = f"$.{JOIN_SCRATCH}"
    state["Next"] = _emit_join_map(emitter, result_ref, states, after)
    states[name] = state
    return first


def _emit_join_map(
    emitter: WorkflowEmitter, join_ref: str, states: dict[str, Any], next_name: str | None
) -> str:
    """Conductor's JOIN output, a map keyed by reference name. JSONPath has no n-ary merge, so the
    one-key objects are merged up to 8 per Pass (`States.JsonMerge` chained, within AWS's limit of
    10 intrinsic functions per field), consuming the list with a slice: one Choice and one Pass per
    chunk of 8, 4, 2 or 1 items instead of two states per item."""
    scratch = f"$.{JOIN_SCRATCH}"
    tidy = emitter.names.allocate(f"{join_ref}: output")
    states[tidy] = link(
        {
            "Type": "Pass",
            "Comment": "Conductor JOIN output: {<taskReferenceName>: <output>} of every forked task",
            "Parameters": {
                "workflow.$": "$.workflow",
                "tasks.$": f"States.JsonMerge($.tasks, {scratch}.tasks, false)",
            },
        },
        next_name,
    )
    place = emitter.names.allocate(f"{join_ref}: place")
    states[place] = {
        "Type": "Pass",
        "Parameters": {"tasks": {join_ref: {"output.$": f"{scratch}.map"}}},
        "ResultPath": scratch,
        "Next": tidy,
    }
    more = emitter.names.allocate(f"{join_ref}: more items?")
    rules: list[dict[str, Any]] = []
    for chunk in JOIN_MERGE_CHUNKS:
        step = emitter.names.allocate(f"{join_ref}: add {chunk} item{'s' if chunk > 1 else ''}")
        merged = f"{scratch}.map"
        for position in range(chunk):
            merged = f"States.JsonMerge({merged}, {scratch}.parts[{position}], false)"
        states[step] = {
            "Type": "Pass",
            "Parameters": {"parts.$": f"{scratch}.parts[{chunk}:]", "map.$": merged},
            "ResultPath": scratch,
            "Next": more,
        }
        rules.append({"Variable": f"{scratch}.parts[{chunk - 1}]", "IsPresent": True, "Next": step})
    states[more] = {"Type": "Choice", "Choices": rules, "Default": place}
    return more


def _legacy_items(emitter: WorkflowEmitter, task: WorkflowTask, location: str) -> str | None:
    param = task.dynamicForkTasksParam
    if not param:
        emitter.diagnostics.error(
            location, "FORK_JOIN_DYNAMIC needs dynamicForkTasksParam (or forkTaskName/forkTaskInputs)"
        )
        return None
    value = task.inputParameters.get(param)
    match = re.fullmatch(r"\$\{([A-Za-z0-9_-]+)\.output\.([A-Za-z0-9_.-]+)\}", value or "")
    if not match or match.group(1) not in emitter.refs:
        emitter.diagnostics.error(
            f"{location}.inputParameters.{param}",
            "must be '${<task ref>.output.<field>}' naming the task that plans the fork",
        )
        return None
    producer, field_path = match.groups()
    parent = field_path.rsplit(".", 1)[0] + "." if "." in field_path else ""
    items = f"{parent}dynamicForkItems"
    emitter.diagnostics.warning(
        f"{location}.inputParameters.{param}",
        f"JSONPath ASL cannot look up dynamicTasksInput by a computed key: the Map iterates "
        f"'{producer}.output.{items}', a list of {{taskReferenceName, name, type, input"
        f"[, subWorkflowName]}} that task '{producer}' must emit beside {field_path}",
    )
    segments = ("tasks", producer, "output", *items.split("."))
    emitter.referenced.add(segments)
    return emitter.locate(segments)


def _new_form_items(
    emitter: WorkflowEmitter, task: WorkflowTask, location: str
) -> tuple[str | None, dict[str, Any] | None]:
    """The list the Map iterates: `forkTaskInputs` as one expression, or a literal list."""
    where = f"{location}.inputParameters.forkTaskInputs"
    value = task.inputParameters.get("forkTaskInputs")
    resolved = emitter.analysis.value(value, where)
    if isinstance(resolved, Literal) and isinstance(resolved.value, list):
        path = path_of(("tasks", task.taskReferenceName, "input", "forkTaskInputs"))
        return path, {"forkTaskInputs": resolved.value}
    if not isinstance(resolved, Path) or resolved.asl.startswith("States."):
        emitter.diagnostics.error(
            where, "must be a list, or one expression such as '${ref.output.items}' that gives one"
        )
        return None, None
    return resolved.asl, None


def _simple_fork_processor(
    emitter: WorkflowEmitter, task: WorkflowTask, fork: SimpleFork, location: str, as_list: bool
) -> tuple[dict[str, Any], list[int]]:
    """One iteration: the item's input as Conductor builds it, then the one task or sub-workflow.

    An object item gets `__index` added; any other value becomes `{"input": value, "__index": i}`
    (ForkJoinDynamicTaskMapper.getDynamicTasksSimple).
    """
    ref = task.taskReferenceName
    states: dict[str, Any] = {}
    where = f"{location}.inputParameters"
    run = emitter.names.allocate(f"{ref}: {fork.workflow or fork.name}")
    if fork.workflow:
        if fork.workflow not in emitter.workflows:
            emitter.diagnostics.error(
                f"{where}.forkTaskWorkflow", f"'{fork.workflow}' is not a workflow of this project"
            )
        state = start_execution_state(emitter, fork.workflow)
        state["Parameters"] = {
            "StateMachineArn": f"${{StateMachineArn_{fork.workflow}}}",
            "Name.$": child_execution_name("$.taskReferenceName"),
            "Input.$": "$.item",
        }
        state["ResultSelector"] = {"output.$": "$.Output"}
        limits: list[int] = []
    elif fork.type == "INLINE":
        state, limits = forked_inline_state(emitter, ref, location), []
    else:
        if fork.type != "SIMPLE":
            emitter.diagnostics.error(
                f"{where}.forkTaskType",
                f"FORK_JOIN_DYNAMIC '{ref}' forks system task type {fork.type}, which is not "
                "translated; fork a SIMPLE or INLINE task or a sub-workflow",
            )
        state = lambda_state(emitter, fork.name, f"{where}.forkTaskName", "$.item")
        definition = emitter.task_defs.get(fork.name)
        limits = [definition.concurrentExecLimit] if definition and definition.concurrentExecLimit else []
    states[run] = _item_result(emitter, state, f"{ref}: {fork.workflow or fork.name} done", states, as_list)
    shape = emitter.names.allocate(f"{ref}: item input")
    merged = emitter.names.allocate(f"{ref}: object input")
    wrapped = emitter.names.allocate(f"{ref}: value input")
    keep = {"taskReferenceName.$": "$.taskReferenceName", "braces.$": "$.braces"}
    states[shape] = {
        "Type": "Choice",
        "Comment": "Conductor: an object item is the input, any other value is wrapped as {input}",
        "Choices": [
            {
                "Or": [
                    {"Variable": "$.value", "IsNull": True},
                    {"Variable": "$.value", "IsString": True},
                    {"Variable": "$.value", "IsNumeric": True},
                    {"Variable": "$.value", "IsBoolean": True},
                    {"Variable": "$.value[0]", "IsPresent": True},
                ],
                "Next": wrapped,
            }
        ],
        "Default": merged,
    }
    states[merged] = {
        "Type": "Pass",
        "Parameters": {**keep, "item.$": "States.JsonMerge($.value, $.index, false)"},
        "Next": run,
    }
    states[wrapped] = {
        "Type": "Pass",
        "Parameters": {**keep, "item": {"input.$": "$.value", "__index.$": "$.index.__index"}},
        "Next": run,
    }
    processor = {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": shape,
        "States": ordered(states, shape),
    }
    return processor, limits


def _dynamic_targets(emitter: WorkflowEmitter, task: WorkflowTask, location: str) -> list[str]:
    key = f"{emitter.workflow.name}.{task.taskReferenceName}"
    configured = emitter.options.dynamic_fork_targets.get(key)
    if configured is not None:
        unknown = [t for t in configured if t not in emitter.task_defs and t not in emitter.workflows]
        for target in unknown:
            emitter.diagnostics.error(
                location, f"dynamic fork target '{target}' is neither a task nor a workflow"
            )
        return [t for t in configured if t not in unknown]
    workflows = default_workflow_targets(emitter, f"dynamic fork '{task.taskReferenceName}'", location)
    targets = sorted(emitter.task_defs) + workflows
    emitter.diagnostics.warning(
        location,
        f"dynamic fork '{task.taskReferenceName}' may run any of {len(targets)} tasks/workflows; "
        f"list the ones it needs in the translator option dynamic_fork_targets['{key}']",
    )
    return targets


def _item_result(
    emitter: WorkflowEmitter, state: dict[str, Any], shape_name: str, states: dict[str, Any], as_list: bool
) -> dict[str, Any]:
    """A forked task's iteration ends as one entry of the JOIN output: `{taskReferenceName,
    output}` for a list, else `{<taskReferenceName>: <output>}`, one key of the map. JsonToString
    quotes the reference, so any name gives valid JSON. The braces come from the item (`braces`),
    not the template: moto's States.Format mishandles escaped braces."""
    shape = emitter.names.allocate(shape_name)
    if as_list:
        entry = {"taskReferenceName.$": "$.taskReferenceName", "output.$": "$.result.output"}
        states[shape] = {"Type": "Pass", "Parameters": entry, "End": True}
    else:
        states[shape] = {
            "Type": "Pass",
            "Parameters": {
                "entry.$": "States.StringToJson(States.Format('{}{}:{}{}', $.braces[0], "
                "States.JsonToString($.taskReferenceName), "
                "States.JsonToString($.result.output), $.braces[1]))"
            },
            "OutputPath": "$.entry",
            "End": True,
        }
    state["ResultPath"] = "$.result"
    state["Next"] = shape
    return state


def _routing_processor(
    emitter: WorkflowEmitter, ref: str, targets: list[str], location: str, as_list: bool
) -> tuple[dict[str, Any], list[int]]:
    """Each item is routed by its type/name to a known worker or child workflow, else fails."""
    states: dict[str, Any] = {}
    limits: list[int] = []
    unknown = emitter.names.allocate(f"{ref}: unknown task")
    states[unknown] = {
        "Type": "Fail",
        "Error": "DynamicForkUnknownTask",
        "Cause": f"an item of dynamic fork '{ref}' names a task or sub-workflow this state machine "
        f"does not know (known: {', '.join(targets)}), or lacks 'name'/'type'",
    }
    route_simple = emitter.names.allocate(f"{ref}: route task")
    route_child = emitter.names.allocate(f"{ref}: route sub-workflow")
    simple_rules: list[dict[str, Any]] = [
        {"Not": {"Variable": "$.item.name", "IsPresent": True}, "Next": unknown}
    ]
    child_rules: list[dict[str, Any]] = [
        {"Not": {"Variable": "$.item.subWorkflowName", "IsPresent": True}, "Next": unknown}
    ]
    for target in targets:
        name = emitter.names.allocate(f"{ref}: {target}")
        if target in emitter.task_defs:
            state = lambda_state(emitter, target, location, "$.item.input")
            simple_rules.append({"Variable": "$.item.name", "StringEquals": target, "Next": name})
            if emitter.task_defs[target].concurrentExecLimit:
                limits.append(emitter.task_defs[target].concurrentExecLimit or 0)
        else:
            state = start_execution_state(emitter, target)
            state["Parameters"] = {
                "StateMachineArn": f"${{StateMachineArn_{target}}}",
                "Name.$": child_execution_name("$.taskReferenceName"),
                "Input.$": "$.item.input",
            }
            state["ResultSelector"] = {"output.$": "$.Output"}
            child_rules.append({"Variable": "$.item.subWorkflowName", "StringEquals": target, "Next": name})
        states[name] = _item_result(emitter, state, f"{ref}: {target} done", states, as_list)
    route = emitter.names.allocate(f"{ref}: route item")
    states[route] = {
        "Type": "Choice",
        "Choices": [
            {"Not": {"Variable": "$.item.type", "IsPresent": True}, "Next": route_simple},
            {"Variable": "$.item.type", "StringEquals": "SIMPLE", "Next": route_simple},
            {"Variable": "$.item.type", "StringEquals": "SUB_WORKFLOW", "Next": route_child},
        ],
        "Default": unknown,
    }
    states[route_simple] = {"Type": "Choice", "Choices": simple_rules, "Default": unknown}
    states[route_child] = {"Type": "Choice", "Choices": child_rules, "Default": unknown}
    processor = {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": route,
        "States": ordered(states, route),
    }
    return processor, limits
