"""Conductor WorkflowDef -> Amazon States Language (JSONPath query language).

States are emitted back to front: every emitter receives the name of the state that follows it
(or None at the end of a branch) and returns the name of its own first state.
See docs/translator.md for the context document and the mapping of each task type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from statemachines.translator.conditions import ConditionError, choice_rule
from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.expressions import (
    Literal,
    Path,
    Scope,
    field_value,
    parameters,
    path_of,
    string_value,
)
from statemachines.translator.model import TaskDef, WorkflowDef, WorkflowTask
from statemachines.translator.options import TranslatorOptions
from statemachines.translator.retries import task_policy

START_EXECUTION_SYNC = "arn:aws:states:::states:startExecution.sync:2"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
NULL_PATH = "$.workflow.missing"  # always null: the value a missing Conductor path reads as
JOIN_SCRATCH = "dynamicJoin"  # transient top-level key while a dynamic JOIN output is assembled
# items merged per Pass when assembling a dynamic JOIN map, largest first; 8 chained JsonMerge calls
# stay within AWS's limit of 10 intrinsic functions per field
JOIN_MERGE_CHUNKS = (8, 4, 2, 1)
PLACEHOLDER_NAME = re.compile(r"^[A-Za-z0-9_]+$")
MAX_STATE_NAME = 80
EXPRESS_MAX_SECONDS = 300
UNSUPPORTED_TYPES = {
    "INLINE": "it evaluates JavaScript, which JSONPath ASL cannot; move the logic into a worker",
    "LAMBDA": "it evaluates JavaScript, which JSONPath ASL cannot; move the logic into a worker",
    "JSON_JQ_TRANSFORM": "jq has no JSONPath ASL equivalent; move the transform into a worker",
    "HTTP": "HTTP calls need an EventBridge connection; call the endpoint from a worker",
    "KAFKA_PUBLISH": "Kafka publishing has no Step Functions integration; publish from a worker",
    "EVENT": "Conductor event sinks have no direct equivalent; publish from a worker",
    "HUMAN": "human tasks need a callback (waitForTaskToken) design",
    "WAIT_FOR_WEBHOOK": "webhooks need a callback (waitForTaskToken) design",
    "EXCLUSIVE_JOIN": "exclusive joins have no ASL equivalent",
    "START_WORKFLOW": "fire-and-forget starts are not translated; use SUB_WORKFLOW",
}
DURATION_UNITS = {
    "d": 86400, "day": 86400, "days": 86400,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
}  # fmt: skip


@dataclass
class EmitResult:
    """The ASL of one workflow and the facts CDK needs about it."""

    asl: dict[str, Any]
    lambda_tasks: set[str] = field(default_factory=set)
    child_workflows: set[str] = field(default_factory=set)
    concurrency_hints: dict[str, int] = field(default_factory=dict)
    longest_wait_seconds: int = 0


class _Names:
    """State names: unique in the whole state machine, at most 80 characters, as ASL requires."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def allocate(self, base: str) -> str:
        base = base[:MAX_STATE_NAME]
        name, counter = base, 2
        while name in self.used:
            suffix = f" #{counter}"
            name = base[: MAX_STATE_NAME - len(suffix)] + suffix
            counter += 1
        self.used.add(name)
        return name


def _link(state: dict[str, Any], next_name: str | None) -> dict[str, Any]:
    if next_name is None:
        state["End"] = True
    else:
        state["Next"] = next_name
    return state


def context_refs(tasks: Iterable[WorkflowTask]) -> list[str]:
    """Task references whose results live in the context (everything but dynamic-fork items)."""
    refs: list[str] = []
    for task in tasks:
        refs.append(task.taskReferenceName)
        for branch in task.forkTasks:
            refs.extend(context_refs(branch))
        for case in task.decisionCases.values():
            refs.extend(context_refs(case))
        refs.extend(context_refs(task.defaultCase))
        refs.extend(context_refs(task.loopOver))
    return refs


def dynamic_join_refs(tasks: list[WorkflowTask]) -> list[str]:
    """The reference holding each dynamic fork's result: its JOIN's, or the fork's own without one."""
    refs: list[str] = []
    for index, task in enumerate(tasks):
        if task.type == "FORK_JOIN_DYNAMIC":
            after = tasks[index + 1] if index + 1 < len(tasks) else None
            refs.append(after.taskReferenceName if after and after.type == "JOIN" else task.taskReferenceName)
        for branch in task.forkTasks:
            refs.extend(dynamic_join_refs(branch))
        for case in task.decisionCases.values():
            refs.extend(dynamic_join_refs(case))
        refs.extend(dynamic_join_refs(task.defaultCase))
        refs.extend(dynamic_join_refs(task.loopOver))
    return refs


class WorkflowEmitter:
    """Translates one WorkflowDef; findings go to `diagnostics`, never raised."""

    def __init__(
        self,
        workflow: WorkflowDef,
        task_defs: Mapping[str, TaskDef],
        workflows: Mapping[str, WorkflowDef],
        options: TranslatorOptions,
        diagnostics: Diagnostics,
    ) -> None:
        self.workflow = workflow
        self.task_defs = task_defs
        self.workflows = workflows
        self.options = options
        self.diagnostics = diagnostics
        self.names = _Names()
        self.result = EmitResult(asl={})
        refs = context_refs(workflow.tasks)
        self.refs = frozenset(refs)
        list_outputs = frozenset(
            ref
            for ref in dynamic_join_refs(workflow.tasks)
            if options.join_output(workflow.name, ref) == "list"
        )
        self.scope = Scope(workflow.name, workflow.version, self.refs, diagnostics, list_outputs=list_outputs)
        self._check_refs(refs)
        # first pass: resolve every expression once, so every read path is known before emitting
        self._collect(workflow.tasks, "tasks")
        parameters(workflow.outputParameters, "outputParameters", self.scope.resolve, diagnostics)
        # second pass (emission) resolves again; its findings would be duplicates
        self.quiet = Diagnostics(workflow.name)
        self.emit_scope = Scope(
            workflow.name, workflow.version, self.refs, self.quiet, list_outputs=list_outputs
        )
        self.emit_scope.referenced = self.scope.referenced
        self.emit_scope.inputs_read = self.scope.inputs_read
        self.policy_warned: set[str] = set()
        self.output_state = ""
        self.branch_depth = 0  # > 0 while emitting the inside of a Parallel branch

    # --- entry point -----------------------------------------------------------------------------
    def emit(self) -> EmitResult:
        states: dict[str, Any] = {}
        output = self._emit_output(states)
        self.output_state = output
        first = self._emit_sequence(self.workflow.tasks, "tasks", states, output)
        start = self._emit_start(states, first or output)
        asl: dict[str, Any] = {
            "Comment": f"Conductor workflow '{self.workflow.name}' v{self.workflow.version}, "
            "translated by imgpipe",
            "QueryLanguage": "JSONPath",
            "StartAt": start,
            "States": _ordered(states, start),
        }
        if self.workflow.timeoutSeconds > 0:
            if self.workflow.timeoutPolicy == "TIME_OUT_WF":
                asl["TimeoutSeconds"] = self.workflow.timeoutSeconds
            else:
                self.diagnostics.warning(
                    "timeoutSeconds",
                    f"timeoutPolicy {self.workflow.timeoutPolicy} only alerts in Conductor: "
                    "no TimeoutSeconds is set",
                )
        self.result.asl = asl
        return self.result

    # --- validation and collection -----------------------------------------------------------------
    def _check_refs(self, refs: list[str]) -> None:
        seen: set[str] = set()
        for ref in refs:
            if ref in seen:
                self.diagnostics.error("tasks", f"taskReferenceName '{ref}' is used more than once")
            seen.add(ref)
            if ref in ("workflow",):
                self.diagnostics.error("tasks", "taskReferenceName 'workflow' clashes with ${workflow...}")

    def _collect(self, tasks: list[WorkflowTask], location: str) -> None:
        for index, task in enumerate(tasks):
            where = f"{location}[{index}]"
            parameters(task.inputParameters, f"{where}.inputParameters", self.scope.resolve, self.diagnostics)
            for b, branch in enumerate(task.forkTasks):
                self._collect(branch, f"{where}.forkTasks[{b}]")
            for case, case_tasks in task.decisionCases.items():
                self._collect(case_tasks, f"{where}.decisionCases.{case}")
            self._collect(task.defaultCase, f"{where}.defaultCase")
            self._collect(task.loopOver, f"{where}.loopOver")

    # --- sequences ---------------------------------------------------------------------------------
    def _emit_sequence(
        self, tasks: list[WorkflowTask], location: str, states: dict[str, Any], next_name: str | None
    ) -> str | None:
        groups: list[tuple[int, WorkflowTask, WorkflowTask | None]] = []
        index = 0
        while index < len(tasks):
            task = tasks[index]
            if task.type in ("FORK_JOIN", "FORK_JOIN_DYNAMIC"):
                join = tasks[index + 1] if index + 1 < len(tasks) else None
                if join is None or join.type != "JOIN":
                    self.diagnostics.error(
                        f"{location}[{index}]",
                        f"{task.type} '{task.taskReferenceName}' must be followed by a JOIN task",
                    )
                    join = None
                    index += 1
                else:
                    index += 2
                groups.append((index - (2 if join else 1), task, join))
                continue
            if task.type == "JOIN":
                self.diagnostics.error(
                    f"{location}[{index}]", f"JOIN '{task.taskReferenceName}' does not follow a fork"
                )
                index += 1
                continue
            groups.append((index, task, None))
            index += 1
        current = next_name
        for position, task, join in reversed(groups):
            where = f"{location}[{position}]"
            current = self._emit_task(task, join, where, states, current)
        return current

    def _emit_task(
        self,
        task: WorkflowTask,
        join: WorkflowTask | None,
        location: str,
        states: dict[str, Any],
        next_name: str | None,
    ) -> str | None:
        kind = task.type
        if kind == "SIMPLE":
            return self._emit_simple(task, location, states, next_name)
        if kind == "SUB_WORKFLOW":
            return self._emit_sub_workflow(task, location, states, next_name)
        if kind == "FORK_JOIN":
            return self._emit_fork(task, join, location, states, next_name)
        if kind == "FORK_JOIN_DYNAMIC":
            return self._emit_dynamic_fork(task, join, location, states, next_name)
        if kind in ("SWITCH", "DECISION"):
            return self._emit_switch(task, location, states, next_name)
        if kind == "TERMINATE":
            return self._emit_terminate(task, location, states, next_name)
        if kind == "WAIT":
            return self._emit_wait(task, location, states, next_name)
        if kind == "SET_VARIABLE":
            return self._emit_set_variable(task, location, states, next_name)
        if kind == "DO_WHILE":
            return self._emit_do_while(task, location, states, next_name)
        reason = UNSUPPORTED_TYPES.get(kind, "this task type has no Step Functions translation")
        self.diagnostics.error(
            f"{location}.type",
            f"task '{task.taskReferenceName}' of type {kind} cannot be translated: {reason}",
        )
        return next_name

    # --- start and end ---------------------------------------------------------------------------
    def _emit_start(self, states: dict[str, Any], next_name: str) -> str:
        ensured = [p for p in self.scope.referenced if p[:1] == ("workflow",) and len(p) > 2]
        after = self._ensure(ensured, "workflow input", states, next_name, guaranteed=2)
        workflow: dict[str, Any] = {"input.$": "$", "variables": self.workflow.variables, "missing": None}
        if self.workflow.inputTemplate:
            workflow["template"] = self.workflow.inputTemplate
        start_name = self.names.allocate("Start")
        state: dict[str, Any] = {
            "Type": "Pass",
            "Comment": "Builds the context: workflow input, variables, one entry per task reference",
            "Parameters": {"workflow": workflow, "tasks": self._skeleton()},
        }
        if self.workflow.inputTemplate:
            merge = self.names.allocate("Apply inputTemplate")
            states[merge] = _link(
                {
                    "Type": "Pass",
                    "Comment": "Conductor's inputTemplate: defaults under the execution input",
                    "Parameters": {
                        "workflow": {
                            "input.$": "States.JsonMerge($.workflow.template, $.workflow.input, false)",
                            "variables.$": "$.workflow.variables",
                            "missing": None,
                        },
                        "tasks.$": "$.tasks",
                    },
                },
                after,
            )
            after = merge
        states[start_name] = _link(state, after)
        return start_name

    def _skeleton(self) -> dict[str, Any]:
        """`tasks` with every reference, and null at every read path: Conductor's missing value."""
        skeleton: dict[str, Any] = {ref: {"output": None} for ref in sorted(self.refs)}
        for path in sorted(self.scope.referenced):
            if path[0] != "tasks" or len(path) < 3:
                continue
            node = skeleton.setdefault(path[1], {})
            for depth, segment in enumerate(path[2:]):
                last = depth == len(path) - 3
                if not isinstance(node.get(segment), dict):
                    node[segment] = None if last else {}
                node = node[segment]
                if node is None:
                    break
        return skeleton

    def _emit_output(self, states: dict[str, Any]) -> str:
        name = self.names.allocate("Workflow output")
        if self.workflow.outputParameters:
            state: dict[str, Any] = {
                "Type": "Pass",
                "Comment": "Conductor outputParameters",
                "Parameters": parameters(
                    self.workflow.outputParameters, "outputParameters", self.emit_scope.resolve, self.quiet
                ),
            }
        else:
            last = self.workflow.tasks[-1].taskReferenceName
            state = {
                "Type": "Pass",
                "Comment": "No outputParameters: the last task's output, as in Conductor",
                "InputPath": f"$.tasks.{last}.output",
            }
        states[name] = _link(state, None)
        return name

    # --- paths that must exist -------------------------------------------------------------------
    def _ensure(
        self,
        paths: Iterable[tuple[str, ...]],
        label: str,
        states: dict[str, Any],
        next_name: str | None,
        *,
        guaranteed: int,
    ) -> str | None:
        """Choice/Pass states that create missing read paths (null leaves, {} parents).

        One Choice answers the common case (everything present); the chain below it runs only when
        something is missing. `guaranteed` is how many leading segments always exist.
        """
        wanted = sorted(set(paths))
        if not wanted:
            return next_name
        if next_name is None:
            next_name = self.names.allocate(f"{label}: ready")
            states[next_name] = {"Type": "Pass", "End": True}
        prefixes: list[tuple[str, ...]] = []
        for path in wanted:
            for depth in range(guaranteed + 1, len(path) + 1):
                if path[:depth] not in prefixes:
                    prefixes.append(path[:depth])
        parents = {p[:-1] for p in prefixes}
        leaves = [p for p in prefixes if p not in parents]
        checks = [{"Variable": path_of(p), "IsPresent": True} for p in leaves]
        follow = next_name
        for number, prefix in reversed(list(enumerate(prefixes, start=1))):
            check = self.names.allocate(f"{label}: check {number}")
            fix = self.names.allocate(f"{label}: default {number}")
            rules: list[dict[str, Any]] = [
                {"Not": {"Variable": path_of(prefix), "IsPresent": True}, "Next": fix}
            ]
            if prefix in parents:
                rules.append({"Variable": path_of(prefix), "IsNull": True, "Next": fix})
            states[check] = {"Type": "Choice", "Choices": rules, "Default": follow}
            states[fix] = {
                "Type": "Pass",
                "Comment": f"Conductor reads a missing {'.'.join(prefix)} as null",
                "ResultPath": path_of(prefix),
                "Next": follow,
            }
            if prefix in parents:
                states[fix]["Result"] = {}
            else:  # a null from the context: a Pass `Result` of null is easily read as "no Result"
                states[fix]["InputPath"] = NULL_PATH
            follow = check
        fast = self.names.allocate(f"{label}: all present?")
        condition = checks[0] if len(checks) == 1 else {"And": checks}
        states[fast] = {"Type": "Choice", "Choices": [{**condition, "Next": next_name}], "Default": follow}
        return fast

    def _ensure_outputs(self, ref: str, states: dict[str, Any], next_name: str | None) -> str | None:
        paths = [p for p in self.scope.referenced if p[:2] == ("tasks", ref) and len(p) > 3]
        return self._ensure(paths, ref, states, next_name, guaranteed=2)

    # --- SIMPLE ------------------------------------------------------------------------------------
    def _task_def(self, name: str, location: str) -> TaskDef:
        task_def = self.task_defs.get(name)
        if task_def is None:
            self.diagnostics.error(
                location,
                f"SIMPLE task '{name}' has no task definition: no worker is registered under that name "
                f"(known: {', '.join(sorted(self.task_defs)) or 'none'})",
            )
            return TaskDef.model_validate({"name": name})
        return task_def

    def _lambda_state(self, task_name: str, location: str, payload: dict[str, Any] | str) -> dict[str, Any]:
        """A Lambda Task state: the optimised integration, whose result `{"output": <worker output>}`
        is what the context keeps per task. `payload` is a Parameters object or a JSONPath."""
        task_def = self._task_def(task_name, location)
        if not PLACEHOLDER_NAME.match(task_name):
            self.diagnostics.error(location, f"task name '{task_name}' cannot be part of a placeholder")
        self.result.lambda_tasks.add(task_name)
        if task_def.concurrentExecLimit:
            self.result.concurrency_hints[task_name] = task_def.concurrentExecLimit
        # task-definition findings are reported once per workflow, at the task definition
        sink = self.diagnostics if task_name not in self.policy_warned else self.quiet
        self.policy_warned.add(task_name)
        arguments: dict[str, Any] = {"FunctionName": f"${{LambdaArn_{task_name}}}"}
        if isinstance(payload, str):
            arguments["Payload.$"] = payload
        else:
            arguments["Payload"] = payload
        state: dict[str, Any] = {
            "Type": "Task",
            "Comment": f"Conductor SIMPLE task '{task_name}'",
            "Resource": LAMBDA_INVOKE,
            "Parameters": arguments,
            "ResultSelector": {"output.$": "$.Payload"},
        }
        state.update(task_policy(task_def, self.options, sink, f"taskDefs.{task_name}"))
        return state

    def _emit_simple(
        self, task: WorkflowTask, location: str, states: dict[str, Any], next_name: str | None
    ) -> str | None:
        ref = task.taskReferenceName
        if task.name == ref:
            self.diagnostics.warning(
                f"{location}.name",
                f"name and taskReferenceName are both '{ref}': the name should be the worker's task "
                "definition name, the reference a name for this use of it",
            )
        after = self._ensure_outputs(ref, states, next_name)
        params = parameters(
            task.inputParameters, f"{location}.inputParameters", self.emit_scope.resolve, self.quiet
        )
        if ref in self.scope.inputs_read:
            input_name = self.names.allocate(f"{ref}: keep input")
            states[input_name] = _link(
                {
                    "Type": "Pass",
                    "Comment": "Keeps the task input: another expression reads it",
                    "Parameters": params,
                    "ResultPath": f"$.tasks.{ref}.input",
                },
                after,
            )
            after = input_name
        state = self._lambda_state(task.name, f"{location}.name", params)
        state["ResultPath"] = f"$.tasks.{ref}"
        name = self.names.allocate(ref)
        if task.optional:
            state["Catch"] = [self._optional_catch(ref, states, after)]
        states[name] = _link(state, after)
        return name

    def _optional_catch(self, ref: str, states: dict[str, Any], next_name: str | None) -> dict[str, Any]:
        """optional: true -> after the retries, record COMPLETED_WITH_ERRORS and carry on."""
        record = self.names.allocate(f"{ref}: completed with errors")
        states[record] = _link(
            {
                "Type": "Pass",
                "Comment": "Conductor's optional task: the failure is recorded, the workflow goes on",
                "Parameters": {
                    "status": "COMPLETED_WITH_ERRORS",
                    "output": {},
                    "error.$": f"$.tasks.{ref}.failure.Error",
                    "reasonForIncompletion.$": f"$.tasks.{ref}.failure.Cause",
                },
                "ResultPath": f"$.tasks.{ref}",
            },
            next_name,
        )
        return {"ErrorEquals": ["States.ALL"], "ResultPath": f"$.tasks.{ref}.failure", "Next": record}

    # --- SUB_WORKFLOW ------------------------------------------------------------------------------
    def _child_name(self, task: WorkflowTask, location: str) -> str | None:
        child = (task.subWorkflowParam or {}).get("name")
        if not isinstance(child, str) or not child:
            self.diagnostics.error(f"{location}.subWorkflowParam.name", "SUB_WORKFLOW needs a workflow name")
            return None
        if child not in self.workflows:
            self.diagnostics.error(
                f"{location}.subWorkflowParam.name",
                f"sub-workflow '{child}' is not among the workflows being translated "
                f"({', '.join(sorted(self.workflows))})",
            )
            return None
        if not PLACEHOLDER_NAME.match(child):
            self.diagnostics.error(
                f"{location}.subWorkflowParam.name",
                f"workflow name '{child}' cannot be part of a definition-substitution placeholder "
                "(letters, digits and _ only)",
            )
            return None
        if child == self.workflow.name:
            self.diagnostics.error(f"{location}.subWorkflowParam.name", "a workflow cannot start itself")
            return None
        return child

    def _start_execution_state(self, child: str) -> dict[str, Any]:
        self.result.child_workflows.add(child)
        return {
            "Type": "Task",
            "Resource": START_EXECUTION_SYNC,
            "Comment": f"Conductor SUB_WORKFLOW '{child}'",
        }

    def _emit_sub_workflow(
        self, task: WorkflowTask, location: str, states: dict[str, Any], next_name: str | None
    ) -> str | None:
        ref = task.taskReferenceName
        child = self._child_name(task, location)
        if child is None:
            return next_name
        after = self._ensure_outputs(ref, states, next_name)
        params = parameters(
            task.inputParameters, f"{location}.inputParameters", self.emit_scope.resolve, self.quiet
        )
        name = self.names.allocate(ref)
        if self.options.inline_sub_workflows:
            if ref in self.scope.inputs_read:
                keep = self.names.allocate(f"{ref}: keep input")
                states[keep] = _link(
                    {"Type": "Pass", "Parameters": params, "ResultPath": f"$.tasks.{ref}.input"}, after
                )
                after = keep
            state = self._inline_child(child, ref)
            # the branch input is prepared by a Pass: cfn-lint's schema still rejects Parallel.Parameters
            prepare = self.names.allocate(f"{ref}: child input")
            states[prepare] = {
                "Type": "Pass",
                "Comment": "The child workflow's input",
                "Parameters": params,
                "ResultPath": f"$.tasks.{ref}.input",
                "Next": name,
            }
            state["InputPath"] = f"$.tasks.{ref}.input"
            state["ResultPath"] = f"$.tasks.{ref}"
            if task.optional:
                state["Catch"] = [self._optional_catch(ref, states, after)]
            states[name] = _link(state, after)
            return prepare
        else:
            state = self._start_execution_state(child)
            state["Parameters"] = {
                "StateMachineArn": f"${{StateMachineArn_{child}}}",
                "Name.$": _child_execution_name(f"'{ref}'"),
                "Input": params,
            }
            selector = {"output.$": "$.Output"}
            if ref in self.scope.inputs_read:
                selector["input.$"] = "$.Input"
            state["ResultSelector"] = selector
        state["ResultPath"] = f"$.tasks.{ref}"
        if task.optional:
            state["Catch"] = [self._optional_catch(ref, states, after)]
        states[name] = _link(state, after)
        return name

    def _inline_child(self, child: str, ref: str) -> dict[str, Any]:
        """The child's own translation as the single branch of a Parallel state."""
        child_diagnostics = Diagnostics(child)
        child_asl = WorkflowEmitter(
            self.workflows[child], self.task_defs, self.workflows, self.options, child_diagnostics
        ).emit()
        self.diagnostics.items.extend(child_diagnostics.items)
        self.result.lambda_tasks |= child_asl.lambda_tasks
        self.result.child_workflows |= child_asl.child_workflows
        branch = _prefixed(child_asl.asl, f"{ref}/", self.names)
        return {
            "Type": "Parallel",
            "Comment": f"Conductor SUB_WORKFLOW '{child}', inlined",
            "Branches": [branch],
            "ResultSelector": {"output.$": "$[0]"},
        }

    # --- FORK_JOIN + JOIN --------------------------------------------------------------------------
    def _emit_fork(
        self,
        task: WorkflowTask,
        join: WorkflowTask | None,
        location: str,
        states: dict[str, Any],
        next_name: str | None,
    ) -> str | None:
        ref = task.taskReferenceName
        if not task.forkTasks:
            self.diagnostics.error(f"{location}.forkTasks", f"FORK_JOIN '{ref}' has no branches")
            return next_name
        after = next_name
        branch_refs = [context_refs(branch) for branch in task.forkTasks]
        if join is not None:
            join_ref = join.taskReferenceName
            after = self._ensure_outputs(join_ref, states, after)
            where: dict[str, int] = {r: b for b, refs in enumerate(branch_refs) for r in refs}
            join_output: dict[str, Any] = {}
            for position, waited in enumerate(join.joinOn):
                if waited not in where:
                    self.diagnostics.error(
                        f"{location.rsplit('[', 1)[0]}[?].joinOn[{position}]",
                        f"JOIN '{join_ref}' waits on '{waited}', which is not in fork '{ref}'",
                    )
                    continue
                join_output[f"{waited}.$"] = f"$.tasks.{waited}.output"
            join_name = self.names.allocate(join_ref)
            states[join_name] = _link(
                {
                    "Type": "Pass",
                    "Comment": "Conductor JOIN: output keyed by reference name",
                    "Parameters": {"output": join_output},
                    "ResultPath": f"$.tasks.{join_ref}",
                },
                after,
            )
            after = join_name
        merge_name = self.names.allocate(f"{ref}: merge branches")
        states[merge_name] = _link(
            {
                "Type": "Pass",
                "Comment": "Puts every branch's task results back into one context",
                "Parameters": {
                    "workflow.$": "$.workflow",
                    "tasks.$": "States.JsonMerge($.tasks, $.fork.merged, false)",
                },
            },
            after,
        )
        branches = []
        for b, branch in enumerate(task.forkTasks):
            branch_states: dict[str, Any] = {}
            collect = self.names.allocate(f"{ref}: branch {b + 1} results")
            branch_states[collect] = {
                "Type": "Pass",
                "Parameters": {f"{r}.$": f"$.tasks.{r}" for r in branch_refs[b]},
                "End": True,
            }
            self.branch_depth += 1
            first = self._emit_sequence(branch, f"{location}.forkTasks[{b}]", branch_states, collect)
            self.branch_depth -= 1
            start = first or collect
            branches.append({"StartAt": start, "States": _ordered(branch_states, start)})
        merged = "$[0]"
        for b in range(1, len(branches)):
            merged = f"States.JsonMerge({merged}, $[{b}], false)"
        name = self.names.allocate(ref)
        states[name] = {
            "Type": "Parallel",
            "Comment": "Conductor FORK_JOIN",
            "Branches": branches,
            "ResultSelector": {"merged.$": merged},
            "ResultPath": "$.fork",
            "Next": merge_name,
        }
        return name

    # --- FORK_JOIN_DYNAMIC + JOIN ----------------------------------------------------------------
    def _emit_dynamic_fork(
        self,
        task: WorkflowTask,
        join: WorkflowTask | None,
        location: str,
        states: dict[str, Any],
        next_name: str | None,
    ) -> str | None:
        ref = task.taskReferenceName
        if task.forkTaskName or (task.forkTaskInputs is not None):
            items = self._new_form_items(task, location)
            targets = [task.forkTaskName] if task.forkTaskName else []
        else:
            items = self._legacy_items(task, location)
            targets = self._dynamic_targets(task, location)
        if items is None:
            return next_name
        result_ref = join.taskReferenceName if join is not None else ref
        as_list = self.options.join_output(self.workflow.name, result_ref) == "list"
        after = self._ensure_outputs(result_ref, states, next_name)
        if task.forkTaskName:
            processor, limits = self._single_task_processor(ref, task.forkTaskName, location, as_list)
            reference = f"States.Format('{task.forkTaskName}_{{}}', $$.Map.Item.Index)"
        else:
            processor, limits = self._routing_processor(ref, targets, location, as_list)
            reference = "$$.Map.Item.Value.taskReferenceName"
        selector: dict[str, Any] = {"taskReferenceName.$": reference, "item.$": "$$.Map.Item.Value"}
        concurrency = min([self.options.max_concurrency_cap, *limits])
        name = self.names.allocate(ref)
        state: dict[str, Any] = {
            "Type": "Map",
            "Comment": "Conductor FORK_JOIN_DYNAMIC: one iteration per planned item, each ending as "
            + ("{taskReferenceName, output}" if as_list else "{<taskReferenceName>: <output>}"),
            "ItemsPath": items,
            "ItemSelector": selector,
            "ItemProcessor": processor,
            "MaxConcurrency": concurrency,
        }
        if as_list:
            # the Map's result is the JOIN output as it stands: nothing to assemble after it
            state["ResultSelector"] = {"output.$": "$"}
            state["ResultPath"] = path_of(("tasks", result_ref))
            states[name] = _link(state, after)
            return name
        selector["braces"] = ["{", "}"]
        state["ResultSelector"] = {"parts.$": "$", "map": {}}
        state["ResultPath"] = f"$.{JOIN_SCRATCH}"
        state["Next"] = self._emit_join_map(result_ref, states, after)
        states[name] = state
        return name

    def _emit_join_map(self, join_ref: str, states: dict[str, Any], next_name: str | None) -> str:
        """Conductor's JOIN output, a map keyed by reference name. JSONPath has no n-ary merge, so the
        one-key objects are merged up to 8 per Pass (`States.JsonMerge` chained, within AWS's limit of
        10 intrinsic functions per field), consuming the list with a slice: one Choice and one Pass per
        chunk of 8, 4, 2 or 1 items instead of two states per item."""
        scratch = f"$.{JOIN_SCRATCH}"
        tidy = self.names.allocate(f"{join_ref}: output")
        states[tidy] = _link(
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
        place = self.names.allocate(f"{join_ref}: place")
        states[place] = {
            "Type": "Pass",
            "Parameters": {"tasks": {join_ref: {"output.$": f"{scratch}.map"}}},
            "ResultPath": scratch,
            "Next": tidy,
        }
        more = self.names.allocate(f"{join_ref}: more items?")
        rules: list[dict[str, Any]] = []
        for chunk in JOIN_MERGE_CHUNKS:
            step = self.names.allocate(f"{join_ref}: add {chunk} item{'s' if chunk > 1 else ''}")
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

    def _legacy_items(self, task: WorkflowTask, location: str) -> str | None:
        param = task.dynamicForkTasksParam
        if not param:
            self.diagnostics.error(
                location, "FORK_JOIN_DYNAMIC needs dynamicForkTasksParam (or forkTaskName/forkTaskInputs)"
            )
            return None
        value = task.inputParameters.get(param)
        match = re.fullmatch(r"\$\{([A-Za-z0-9_-]+)\.output\.([A-Za-z0-9_.-]+)\}", value or "")
        if not match or match.group(1) not in self.refs:
            self.diagnostics.error(
                f"{location}.inputParameters.{param}",
                "must be '${<task ref>.output.<field>}' naming the task that plans the fork",
            )
            return None
        producer, field_path = match.groups()
        parent = field_path.rsplit(".", 1)[0] + "." if "." in field_path else ""
        items = f"{parent}dynamicForkItems"
        self.diagnostics.warning(
            f"{location}.inputParameters.{param}",
            f"JSONPath ASL cannot look up dynamicTasksInput by a computed key: the Map iterates "
            f"'{producer}.output.{items}', a list of {{taskReferenceName, name, type, input"
            f"[, subWorkflowName]}} that task '{producer}' must emit beside {field_path}",
        )
        segments = ("tasks", producer, "output", *items.split("."))
        self.scope.referenced.add(segments)
        return path_of(segments)

    def _new_form_items(self, task: WorkflowTask, location: str) -> str | None:
        if not task.forkTaskName:
            self.diagnostics.error(f"{location}.forkTaskName", "forkTaskInputs needs forkTaskName")
            return None
        resolved = None
        if isinstance(task.forkTaskInputs, str):
            resolved = string_value(task.forkTaskInputs, f"{location}.forkTaskInputs", self.scope.resolve)
        if not isinstance(resolved, Path) or resolved.asl.startswith("States."):
            self.diagnostics.error(
                f"{location}.forkTaskInputs", "must be one expression such as '${ref.output.items}'"
            )
            return None
        return resolved.asl

    def _dynamic_targets(self, task: WorkflowTask, location: str) -> list[str]:
        key = f"{self.workflow.name}.{task.taskReferenceName}"
        configured = self.options.dynamic_fork_targets.get(key)
        if configured is not None:
            unknown = [t for t in configured if t not in self.task_defs and t not in self.workflows]
            for target in unknown:
                self.diagnostics.error(
                    location, f"dynamic fork target '{target}' is neither a task nor a workflow"
                )
            return [t for t in configured if t not in unknown]
        targets = sorted(self.task_defs) + sorted(w for w in self.workflows if w != self.workflow.name)
        self.diagnostics.warning(
            location,
            f"dynamic fork '{task.taskReferenceName}' may run any of {len(targets)} tasks/workflows; "
            f"list the ones it needs in the translator option dynamic_fork_targets['{key}']",
        )
        return targets

    def _item_result(
        self, state: dict[str, Any], shape_name: str, states: dict[str, Any], as_list: bool
    ) -> dict[str, Any]:
        """A forked task's iteration ends as one entry of the JOIN output: `{taskReferenceName,
        output}` for a list, else `{<taskReferenceName>: <output>}`, one key of the map. JsonToString
        quotes the reference, so any name gives valid JSON. The braces come from the item (`braces`),
        not the template: moto's States.Format mishandles escaped braces."""
        shape = self.names.allocate(shape_name)
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

    def _single_task_processor(
        self, ref: str, task_name: str, location: str, as_list: bool
    ) -> tuple[dict[str, Any], list[int]]:
        states: dict[str, Any] = {}
        name = self.names.allocate(f"{ref}: {task_name}")
        state = self._lambda_state(task_name, f"{location}.forkTaskName", "$.item")
        states[name] = self._item_result(state, f"{ref}: {task_name} done", states, as_list)
        limit = self.task_defs.get(task_name)
        limits = [limit.concurrentExecLimit] if limit and limit.concurrentExecLimit else []
        processor = {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": name, "States": _ordered(states, name)}
        return processor, limits

    def _routing_processor(
        self, ref: str, targets: list[str], location: str, as_list: bool
    ) -> tuple[dict[str, Any], list[int]]:
        """Each item is routed by its type/name to a known worker or child workflow, else fails."""
        states: dict[str, Any] = {}
        limits: list[int] = []
        unknown = self.names.allocate(f"{ref}: unknown task")
        states[unknown] = {
            "Type": "Fail",
            "Error": "DynamicForkUnknownTask",
            "Cause": f"an item of dynamic fork '{ref}' names a task or sub-workflow this state machine "
            f"does not know (known: {', '.join(targets)}), or lacks 'name'/'type'",
        }
        route_simple = self.names.allocate(f"{ref}: route task")
        route_child = self.names.allocate(f"{ref}: route sub-workflow")
        simple_rules: list[dict[str, Any]] = [
            {"Not": {"Variable": "$.item.name", "IsPresent": True}, "Next": unknown}
        ]
        child_rules: list[dict[str, Any]] = [
            {"Not": {"Variable": "$.item.subWorkflowName", "IsPresent": True}, "Next": unknown}
        ]
        for target in targets:
            name = self.names.allocate(f"{ref}: {target}")
            if target in self.task_defs:
                state = self._lambda_state(target, location, "$.item.input")
                simple_rules.append({"Variable": "$.item.name", "StringEquals": target, "Next": name})
                if self.task_defs[target].concurrentExecLimit:
                    limits.append(self.task_defs[target].concurrentExecLimit or 0)
            else:
                state = self._start_execution_state(target)
                state["Parameters"] = {
                    "StateMachineArn": f"${{StateMachineArn_{target}}}",
                    "Name.$": _child_execution_name("$.taskReferenceName"),
                    "Input.$": "$.item.input",
                }
                state["ResultSelector"] = {"output.$": "$.Output"}
                child_rules.append(
                    {"Variable": "$.item.subWorkflowName", "StringEquals": target, "Next": name}
                )
            states[name] = self._item_result(state, f"{ref}: {target} done", states, as_list)
        route = self.names.allocate(f"{ref}: route item")
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
            "States": _ordered(states, route),
        }
        return processor, limits

    # --- SWITCH / DECISION ---------------------------------------------------------------------------
    def _emit_switch(
        self, task: WorkflowTask, location: str, states: dict[str, Any], next_name: str | None
    ) -> str | None:
        ref = task.taskReferenceName
        if task.type == "SWITCH":
            if (task.evaluatorType or "value-param") != "value-param":
                self.diagnostics.error(
                    f"{location}.evaluatorType",
                    f"SWITCH '{ref}' uses evaluatorType {task.evaluatorType}: only value-param "
                    "(no JavaScript) can be translated",
                )
                return next_name
            param = task.expression
        else:
            if task.caseExpression:
                self.diagnostics.error(
                    f"{location}.caseExpression",
                    f"DECISION '{ref}' uses a JavaScript caseExpression: "
                    "only caseValueParam can be translated",
                )
                return next_name
            param = task.caseValueParam
        if not param or param not in task.inputParameters:
            self.diagnostics.error(
                location, f"'{ref}' must name one of its inputParameters as the value to switch on"
            )
            return next_name
        value = field_value(
            task.inputParameters[param],
            f"{location}.inputParameters.{param}",
            self.emit_scope.resolve,
            self.quiet,
        )
        if next_name is None:
            next_name = self.names.allocate(f"{ref}: done")
            states[next_name] = {"Type": "Pass", "End": True}
        default = self._emit_sequence(task.defaultCase, f"{location}.defaultCase", states, next_name)
        cases = {
            case: self._emit_sequence(tasks, f"{location}.decisionCases.{case}", states, next_name)
            for case, tasks in task.decisionCases.items()
        }
        if isinstance(value, Literal) or value is None:
            chosen = cases.get(str(value.value)) if value is not None else None
            return chosen or default or next_name
        if value.asl.startswith("States."):
            self.diagnostics.error(
                f"{location}.inputParameters.{param}", "switch on a single expression, not a formatted string"
            )
            return next_name
        rules = []
        for case, start in cases.items():
            target = start or next_name
            rules.append({"Variable": value.asl, "StringEquals": case, "Next": target})
            rules.extend(_typed_case_rules(value.asl, case, target))
        name = self.names.allocate(ref)
        states[name] = {
            "Type": "Choice",
            "Comment": f"Conductor {task.type} on {param}",
            "Choices": rules,
            "Default": default or next_name,
        }
        if not rules:
            states[name] = {"Type": "Pass", "Next": default or next_name}
        return name

    # --- TERMINATE, WAIT, SET_VARIABLE ---------------------------------------------------------------
    def _emit_terminate(
        self, task: WorkflowTask, location: str, states: dict[str, Any], next_name: str | None
    ) -> str | None:
        ref = task.taskReferenceName
        params = task.inputParameters
        status = params.get("terminationStatus", "COMPLETED")
        name = self.names.allocate(ref)
        if status == "COMPLETED" and self.branch_depth:
            self.diagnostics.error(
                f"{location}.inputParameters.terminationStatus",
                f"TERMINATE '{ref}' (COMPLETED) inside a fork branch cannot end the whole execution in ASL",
            )
            return next_name
        if status == "COMPLETED":
            output = params.get("workflowOutput")
            if isinstance(output, dict):
                states[name] = {
                    "Type": "Pass",
                    "Comment": "Conductor TERMINATE (COMPLETED) with workflowOutput",
                    "Parameters": parameters(
                        output,
                        f"{location}.inputParameters.workflowOutput",
                        self.emit_scope.resolve,
                        self.quiet,
                    ),
                    "End": True,
                }
                return name
            states[name] = {
                "Type": "Pass",
                "Comment": "Conductor TERMINATE (COMPLETED): the workflow output, then stop",
                "Next": self.output_state,
            }
            return name
        if status not in ("FAILED", "TERMINATED"):
            self.diagnostics.error(
                f"{location}.inputParameters.terminationStatus", f"unknown status '{status}'"
            )
            return next_name
        state: dict[str, Any] = {"Type": "Fail", "Error": f"Conductor.{status}"}
        reason = params.get("terminationReason", f"terminated by task '{ref}'")
        resolved = field_value(
            reason, f"{location}.inputParameters.terminationReason", self.emit_scope.resolve, self.quiet
        )
        if isinstance(resolved, Path):
            state["CausePath"] = resolved.asl
        elif resolved is not None:
            state["Cause"] = str(resolved.value)
        states[name] = state
        return name

    def _emit_wait(
        self, task: WorkflowTask, location: str, states: dict[str, Any], next_name: str | None
    ) -> str | None:
        params = task.inputParameters
        state: dict[str, Any] = {"Type": "Wait", "Comment": "Conductor WAIT"}
        if "duration" in params and isinstance(params["duration"], str) and "${" not in params["duration"]:
            seconds = _duration_seconds(params["duration"])
            if seconds is None:
                self.diagnostics.error(
                    f"{location}.inputParameters.duration", f"cannot read '{params['duration']}'"
                )
                return next_name
            state["Seconds"] = seconds
            self.result.longest_wait_seconds = max(self.result.longest_wait_seconds, seconds)
        elif "until" in params and isinstance(params["until"], str) and "${" not in params["until"]:
            timestamp = _until_timestamp(params["until"])
            if timestamp is None:
                self.diagnostics.error(
                    f"{location}.inputParameters.until", "use 'yyyy-MM-dd HH:mm UTC' or an ISO-8601 UTC time"
                )
                return next_name
            state["Timestamp"] = timestamp
            self.result.longest_wait_seconds = max(self.result.longest_wait_seconds, EXPRESS_MAX_SECONDS + 1)
        else:
            self.diagnostics.error(
                f"{location}.inputParameters",
                f"WAIT '{task.taskReferenceName}' needs a literal 'duration' or 'until'; "
                "a wait for an external signal needs a callback (waitForTaskToken) design",
            )
            return next_name
        name = self.names.allocate(task.taskReferenceName)
        states[name] = _link(state, next_name)
        return name

    def _emit_do_while(
        self, task: WorkflowTask, location: str, states: dict[str, Any], next_name: str | None
    ) -> str | None:
        """A counter, the body, and a Choice that loops back while the condition holds."""
        ref = task.taskReferenceName
        if not task.loopOver:
            self.diagnostics.error(f"{location}.loopOver", f"DO_WHILE '{ref}' has no tasks to loop over")
            return next_name
        resolve = _loop_variable(
            ref, set(context_refs(task.loopOver)), task.inputParameters, self.scope.referenced
        )
        try:
            rule = choice_rule(task.loopCondition or "", resolve)
        except ConditionError as error:
            self.diagnostics.error(
                f"{location}.loopCondition",
                f"DO_WHILE '{ref}': {error}; only comparisons of $.{ref}['iteration'], the body's outputs "
                "and the loop's inputParameters (joined by && or ||) can be translated",
            )
            return next_name
        after = self._ensure_outputs(ref, states, next_name)
        if after is None:
            after = self.names.allocate(f"{ref}: done")
            states[after] = {"Type": "Pass", "End": True}
        again = self.names.allocate(f"{ref}: again?")
        count = self.names.allocate(f"{ref}: count")
        states[count] = {
            "Type": "Pass",
            "Comment": "Conductor's iteration counter, read by the loop condition",
            "Parameters": {"iteration.$": f"States.MathAdd($.tasks.{ref}.output.iteration, 1)"},
            "ResultPath": f"$.tasks.{ref}.output",
            "Next": again,
        }
        body = self._emit_sequence(task.loopOver, f"{location}.loopOver", states, count) or count
        states[again] = {
            "Type": "Choice",
            "Comment": f"Conductor DO_WHILE condition: {task.loopCondition}",
            "Choices": [{**rule, "Next": body}],
            "Default": after,
        }
        start = self.names.allocate(ref)
        params = parameters(
            task.inputParameters, f"{location}.inputParameters", self.emit_scope.resolve, self.quiet
        )
        states[start] = {
            "Type": "Pass",
            "Comment": "Conductor DO_WHILE: the loop's inputs and a counter at 0",
            "Parameters": {"input": params, "output": {"iteration": 0}},
            "ResultPath": f"$.tasks.{ref}",
            "Next": body,
        }
        return start

    def _emit_set_variable(
        self, task: WorkflowTask, location: str, states: dict[str, Any], next_name: str | None
    ) -> str | None:
        ref = task.taskReferenceName
        after = next_name
        variables = [p for p in self.scope.referenced if p[:2] == ("workflow", "variables") and len(p) > 3]
        after = self._ensure(variables, ref, states, after, guaranteed=2)
        params = parameters(
            task.inputParameters, f"{location}.inputParameters", self.emit_scope.resolve, self.quiet
        )
        merge = self.names.allocate(f"{ref}: merge")
        states[merge] = _link(
            {
                "Type": "Pass",
                "Parameters": {
                    "workflow": {
                        "input.$": "$.workflow.input",
                        "missing": None,
                        "variables.$": f"States.JsonMerge($.workflow.variables, $.tasks.{ref}.input, false)",
                    },
                    "tasks.$": "$.tasks",
                },
            },
            after,
        )
        name = self.names.allocate(ref)
        states[name] = {
            "Type": "Pass",
            "Comment": "Conductor SET_VARIABLE",
            "Parameters": params,
            "ResultPath": f"$.tasks.{ref}.input",
            "Next": merge,
        }
        return name


def _loop_variable(
    loop_ref: str, body_refs: set[str], inputs: dict[str, Any], referenced: set[tuple[str, ...]]
) -> Any:
    """Resolves `$.name...` in a loop condition: the loop itself, a task of its body, or an input."""

    def resolve(segments: list[str]) -> str | None:
        if not segments:
            return None
        head, rest = segments[0], tuple(segments[1:])
        if head == loop_ref:
            path = ("tasks", loop_ref, "output", *rest)
        elif head in body_refs:
            path = ("tasks", head, "output", *rest)
        elif head in inputs:
            path = ("tasks", loop_ref, "input", head, *rest)
        else:
            return None
        referenced.add(path)
        return path_of(path)

    return resolve


def _child_execution_name(reference: str) -> str:
    """Deterministic and unique per parent execution and task reference, always 64 characters:
    a retried parent state finds its child (Standard start is idempotent for the same name and
    input) instead of starting a second one."""
    return f"States.Hash(States.Format('{{}}/{{}}', $$.Execution.Id, {reference}), 'SHA-256')"


def _typed_case_rules(variable: str, case: str, target: str) -> list[dict[str, Any]]:
    """Conductor compares the value's string form: numbers and booleans match their case text too."""
    rules: list[dict[str, Any]] = []
    try:
        number = json.loads(case)
    except ValueError:
        return rules
    if isinstance(number, bool):
        rules.append(
            {
                "And": [
                    {"Variable": variable, "IsBoolean": True},
                    {"Variable": variable, "BooleanEquals": number},
                ],
                "Next": target,
            }
        )
    elif isinstance(number, int | float):
        rules.append(
            {
                "And": [
                    {"Variable": variable, "IsNumeric": True},
                    {"Variable": variable, "NumericEquals": number},
                ],
                "Next": target,
            }
        )
    return rules


def _duration_seconds(text: str) -> int | None:
    """Conductor durations: '30s', '5 minutes', '1d 2h', '2 days 3 hours'."""
    tokens = re.findall(r"(\d+)\s*([A-Za-z]+)", text)
    if not tokens or re.sub(r"(\d+)\s*([A-Za-z]+)", "", text).strip():
        return None
    total = 0
    for amount, unit in tokens:
        factor = DURATION_UNITS.get(unit.lower())
        if factor is None:
            return None
        total += int(amount) * factor
    return total


def _until_timestamp(text: str) -> str | None:
    for pattern in (
        "%Y-%m-%d %H:%M UTC",
        "%Y-%m-%d %H:%M GMT",
        "%Y-%m-%dT%H:%M:%SZ",
        "%Y-%m-%d %H:%M:%S UTC",
    ):
        try:
            moment = datetime.strptime(text.strip(), pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def _ordered(states: dict[str, Any], start: str) -> dict[str, Any]:
    """States in execution order (depth-first from StartAt), so the golden files read top-down."""
    order: list[str] = []
    pending = [start]
    while pending:
        name = pending.pop(0)
        if name in order or name not in states:
            continue
        order.append(name)
        state = states[name]
        successors = [rule["Next"] for rule in state.get("Choices", [])]
        successors += [state[k] for k in ("Next", "Default") if k in state]
        successors += [c["Next"] for c in state.get("Catch", [])]
        pending = successors + pending
    order += [n for n in states if n not in order]
    return {name: states[name] for name in order}


def _prefixed(asl: dict[str, Any], prefix: str, names: _Names) -> dict[str, Any]:
    """A copy of a child state machine as a branch, its state names prefixed to stay unique."""
    renamed: dict[str, str] = {}

    def rename(name: str) -> str:
        if name not in renamed:
            renamed[name] = names.allocate(f"{prefix}{name}")
        return renamed[name]

    def walk(container: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"StartAt": rename(container["StartAt"]), "States": {}}
        for name, state in container["States"].items():
            copy = json.loads(json.dumps(state))
            for key in ("Next", "Default"):
                if key in copy:
                    copy[key] = rename(copy[key])
            for rule in copy.get("Choices", []):
                rule["Next"] = rename(rule["Next"])
            for catcher in copy.get("Catch", []):
                catcher["Next"] = rename(catcher["Next"])
            if "Branches" in copy:
                copy["Branches"] = [walk(b) for b in copy["Branches"]]
            if "ItemProcessor" in copy:
                processor = copy["ItemProcessor"]
                copy["ItemProcessor"] = {**processor, **walk(processor)}
            result["States"][rename(name)] = copy
        return result

    return walk(asl)
