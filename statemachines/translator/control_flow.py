"""SWITCH/DECISION, TERMINATE, WAIT and SET_VARIABLE: the constructs that steer or pause the flow."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from statemachines.translator.asl_states import EXPRESS_MAX_SECONDS, link
from statemachines.translator.emitter_state import EmitterState
from statemachines.translator.expressions import Literal, Path, field_value, parameters
from statemachines.translator.model import WorkflowTask

DURATION_UNITS = {
    "d": 86400, "day": 86400, "days": 86400,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
}  # fmt: skip


class ControlFlowMixin(EmitterState):
    """Choice, Fail/Pass, Wait and variable-merging states."""

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
            rules.extend(typed_case_rules(value.asl, case, target))
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
            seconds = duration_seconds(params["duration"])
            if seconds is None:
                self.diagnostics.error(
                    f"{location}.inputParameters.duration", f"cannot read '{params['duration']}'"
                )
                return next_name
            state["Seconds"] = seconds
            self.result.longest_wait_seconds = max(self.result.longest_wait_seconds, seconds)
        elif "until" in params and isinstance(params["until"], str) and "${" not in params["until"]:
            timestamp = until_timestamp(params["until"])
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
        states[name] = link(state, next_name)
        return name

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
        states[merge] = link(
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


def typed_case_rules(variable: str, case: str, target: str) -> list[dict[str, Any]]:
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


def duration_seconds(text: str) -> int | None:
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


def until_timestamp(text: str) -> str | None:
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
