"""SWITCH/DECISION, TERMINATE and SET_VARIABLE: the constructs that steer the flow."""

from __future__ import annotations

import json
from typing import Any

from statemachines.translator.asl_states import link
from statemachines.translator.emitter_state import EmitterState
from statemachines.translator.expressions import Literal, Path, Resolved, field_value, parameters
from statemachines.translator.model import WorkflowTask


class ControlFlowMixin(EmitterState):
    """Choice, Fail/Pass and variable-merging states."""

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
        # Conductor schedules defaultCase when the selected case is missing *or empty* (SwitchTaskMapper
        # and DecisionTaskMapper alike); at the workflow's end, a route that runs no task at all makes
        # this task's own output the workflow output.
        tail = self._at_workflow_end(next_name)

        def route(tasks: list[WorkflowTask], where: str) -> str:
            if tasks:
                return self._emit_sequence(tasks, where, states, next_name) or next_name
            return self._output_of(task) if tail else next_name

        default = route(task.defaultCase, f"{location}.defaultCase")
        cases = {
            case: route(tasks, f"{location}.decisionCases.{case}") if tasks else default
            for case, tasks in task.decisionCases.items()
        }
        if isinstance(value, Literal) or value is None:
            selected = java_string(value.value if value is not None else None)
            target = cases.get(selected, default)
            return self._case_output(task, Literal(selected), states, target, always=tail)
        if value.asl.startswith("States."):
            self.diagnostics.error(
                f"{location}.inputParameters.{param}", "switch on a single expression, not a formatted string"
            )
            return next_name
        rules = []
        for case, start in cases.items():
            target = self._case_output(task, Literal(case), states, start, always=tail)
            if case == "null":
                # Conductor's case value is `"" + value`: a missing or null value selects case "null"
                rules.append(
                    {
                        "Or": [
                            {"Variable": value.asl, "IsPresent": False},
                            {"Variable": value.asl, "IsNull": True},
                        ],
                        "Next": target,
                    }
                )
            rules.append({"Variable": value.asl, "StringEquals": case, "Next": target})
            rules.extend(typed_case_rules(value.asl, case, target))
        otherwise = self._case_output(
            task, Path(f"States.Format('{{}}', {value.asl})"), states, default, always=tail
        )
        name = self.names.allocate(ref)
        states[name] = {
            "Type": "Choice",
            "Comment": f"Conductor {task.type} on {param}",
            "Choices": rules,
            "Default": otherwise,
        }
        if not rules:
            states[name] = {"Type": "Pass", "Next": otherwise}
        return name

    def _case_output(
        self,
        task: WorkflowTask,
        selected: Resolved,
        states: dict[str, Any],
        next_name: str,
        *,
        always: bool = False,
    ) -> str:
        """The SWITCH/DECISION task's own output, written when an expression reads it or it may be the
        workflow's output (`always`).

        SWITCH: ``{"evaluationResult": [case], "selectedCase": case}``; DECISION: ``{"caseOutput": [case]}``.
        """
        ref = task.taskReferenceName
        if not always and not any(p[:3] == ("tasks", ref, "output") for p in self.scope.referenced):
            return next_name
        key = "evaluationResult" if task.type == "SWITCH" else "caseOutput"
        output = _output_entry(key, selected, as_list=True)
        if task.type == "SWITCH":
            output |= _output_entry("selectedCase", selected, as_list=False)
        name = self.names.allocate(f"{ref}: output")
        states[name] = {
            "Type": "Pass",
            "Comment": f"Conductor {task.type} output",
            "Parameters": output,
            "ResultPath": f"$.tasks.{ref}.output",
            "Next": next_name,
        }
        return name

    # --- TERMINATE, SET_VARIABLE --------------------------------------------------------------------
    def _emit_terminate(
        self, task: WorkflowTask, location: str, states: dict[str, Any], next_name: str | None
    ) -> str | None:
        ref = task.taskReferenceName
        params = task.inputParameters
        status = params.get("terminationStatus")
        if status is None:
            self.diagnostics.error(
                f"{location}.inputParameters.terminationStatus",
                f"TERMINATE '{ref}' has no terminationStatus: Conductor refuses the definition "
                "(it must be COMPLETED or FAILED)",
            )
            return next_name
        name = self.names.allocate(ref)
        if status == "COMPLETED" and self.branch_depth:
            self.diagnostics.error(
                f"{location}.inputParameters.terminationStatus",
                f"TERMINATE '{ref}' (COMPLETED) inside a fork branch cannot end the whole execution in ASL",
            )
            return next_name
        if status == "COMPLETED":
            self._emit_completed_output(task, location, states, name)
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

    def _emit_completed_output(
        self, task: WorkflowTask, location: str, states: dict[str, Any], name: str
    ) -> None:
        """The workflow output of a TERMINATE (COMPLETED), as Conductor's Terminate task computes it.

        A map is the output as it is; null or absent gives ``{}`` (outputParameters are not applied);
        any other value is wrapped as ``{"output": value}``.
        """
        where = f"{location}.inputParameters.workflowOutput"
        output = task.inputParameters.get("workflowOutput")
        if isinstance(output, dict):
            resolved: Resolved | None = None
            body: dict[str, Any] = {
                "Parameters": parameters(output, where, self.emit_scope.resolve, self.quiet)
            }
        else:
            resolved = field_value(output, where, self.emit_scope.resolve, self.quiet)
            body = {"Result": {}}
            if isinstance(resolved, Literal) and resolved.value is not None:
                body = {"Result": {"output": resolved.value}}
        comment = "Conductor TERMINATE (COMPLETED): workflowOutput is the workflow output"
        if not isinstance(resolved, Path):
            states[name] = {"Type": "Pass", "Comment": comment, **body, "End": True}
            return
        value = resolved.asl
        if value.startswith(("States.", "$$.")):
            # a formatted string, an array built by intrinsics or an execution attribute: never a map
            states[name] = {
                "Type": "Pass",
                "Comment": comment,
                "Parameters": {"output.$": value},
                "End": True,
            }
            return
        ref = task.taskReferenceName
        empty, wrapped, whole = (self.names.allocate(f"{ref}: {kind}") for kind in ("empty", "wrap", "map"))
        states[empty] = {"Type": "Pass", "Result": {}, "End": True}
        states[wrapped] = {"Type": "Pass", "Parameters": {"output.$": value}, "End": True}
        states[whole] = {"Type": "Pass", "InputPath": value, "End": True}
        states[name] = {
            "Type": "Choice",
            "Comment": comment + " (null -> {}, a map as is, anything else wrapped in 'output')",
            "Choices": [
                {
                    "Or": [{"Variable": value, "IsPresent": False}, {"Variable": value, "IsNull": True}],
                    "Next": empty,
                },
                {
                    "Or": [
                        {"Variable": value, "IsString": True},
                        {"Variable": value, "IsNumeric": True},
                        {"Variable": value, "IsBoolean": True},
                        {"Variable": f"{value}[0]", "IsPresent": True},
                    ],
                    "Next": wrapped,
                },
            ],
            "Default": whole,
        }

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
        workflow: dict[str, Any] = {
            "input.$": "$.workflow.input",
            "missing": None,
            "variables.$": f"States.JsonMerge($.workflow.variables, $.tasks.{ref}.input, false)",
        }
        if self.branch_depth:
            # inside a fork branch: also the branch's own changes, which the join applies (fork.py)
            workflow["changed.$"] = f"States.JsonMerge($.workflow.changed, $.tasks.{ref}.input, false)"
        states[merge] = link(
            {"Type": "Pass", "Parameters": {"workflow": workflow, "tasks.$": "$.tasks"}}, after
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


def _output_entry(key: str, selected: Resolved, *, as_list: bool) -> dict[str, Any]:
    if isinstance(selected, Path):
        return {f"{key}.$": f"States.Array({selected.asl})" if as_list else selected.asl}
    return {key: [selected.value] if as_list else selected.value}


def java_string(value: Any) -> str:
    """A value as Conductor compares it with the case names: Java's ``"" + value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
