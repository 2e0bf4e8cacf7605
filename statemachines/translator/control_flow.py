"""SWITCH/DECISION, TERMINATE and SET_VARIABLE: the constructs that steer the flow."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import link
from statemachines.translator.conditions import ConditionError, case_rules
from statemachines.translator.expressions import Literal, Path, Resolved, path_of
from statemachines.translator.fork_terminate import carry_out_of_branch
from statemachines.translator.missing_paths import ensure
from statemachines.translator.model import WorkflowTask
from statemachines.translator.script_evaluation import evaluation_state

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite

# (Choice rule, outcome) pairs in order, the outcome when none holds, the input paths read
ScriptCases = tuple[list[tuple[dict[str, Any], Any]], Any, list[tuple[str, ...]]]
# Conductor's JavaScript evaluators of a SWITCH expression (Nashorn's "javascript", GraalJS's "graaljs").
SCRIPT_EVALUATORS = ("javascript", "graaljs")
# The outcome of an expression outside the lark subset (conditions.py): the evaluator worker runs it.
EVALUATE = object()


# --- SWITCH / DECISION ---------------------------------------------------------------------------
def emit_switch(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    """A Choice over the cases (on an input, or on a JavaScript expression compiled to Choice rules
    or run by the evaluator worker), each case's tasks, and the task's own output."""
    task, location, states, next_name = site.task, site.location, site.states, site.next_name
    ref = task.taskReferenceName
    switched = _switched_on(emitter, task, location)
    if switched is None:
        return next_name
    script, param = switched
    compiled: ScriptCases | None = None
    evaluated = False  # the expression is outside the lark subset: the evaluator worker runs it
    if script is not None:
        compiled = _script_cases(emitter, task, *script)
        if compiled is None:
            return next_name
        evaluated = not compiled[0] and compiled[1] is EVALUATE
        compiled = None if evaluated else compiled
    elif not param or param not in task.inputParameters:
        emitter.diagnostics.error(
            location, f"'{ref}' must name one of its inputParameters as the value to switch on"
        )
        return next_name
    if next_name is None:
        next_name = emitter.names.allocate(f"{ref}: done")
        states[next_name] = {"Type": "Pass", "End": True}
    # Conductor schedules defaultCase when the selected case is missing *or empty* (SwitchTaskMapper
    # and DecisionTaskMapper alike); at the workflow's end, a route that runs no task at all makes
    # this task's own output the workflow output.
    tail = emitter.at_workflow_end(next_name)

    def route(tasks: list[WorkflowTask], where: str) -> str:
        if tasks:
            return emitter.emit_sequence(tasks, where, states, next_name) or next_name
        return emitter.output_of_task(task) if tail else next_name

    default = route(task.defaultCase, f"{location}.defaultCase")
    cases = {
        case: route(tasks, f"{location}.decisionCases.{case}") if tasks else default
        for case, tasks in task.decisionCases.items()
    }
    if compiled is not None:
        return _emit_script_choice(
            emitter, task, compiled, cases, default, location=location, tail=tail, states=states
        )
    value = _switch_value(emitter, task, None if evaluated else param, location)
    if isinstance(value, Literal) or value is None:
        selected = java_string(value.value if value is not None else None)
        target = cases.get(selected, default)
        return _case_output(emitter, task, Literal(selected), states, target, always=tail)
    if value.asl.startswith("States."):
        emitter.diagnostics.error(
            f"{location}.inputParameters.{param}", "switch on a single expression, not a formatted string"
        )
        return next_name
    rules = []
    for case, start in cases.items():
        target = _case_output(emitter, task, Literal(case), states, start, always=tail)
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
    otherwise = _case_output(
        emitter, task, Path(f"States.Format('{{}}', {value.asl})"), states, default, always=tail
    )
    name = emitter.names.allocate(f"{ref}: case" if evaluated else ref)
    states[name] = {
        "Type": "Choice",
        "Comment": f"Conductor {task.type} on {'its JavaScript expression' if evaluated else param}",
        "Choices": rules,
        "Default": otherwise,
    }
    if not rules:
        states[name] = {"Type": "Pass", "Next": otherwise}
    if evaluated:
        assert script is not None
        return _emit_evaluated_expression(emitter, task, location, script, states=states, choice=name)
    return name


def _switched_on(
    emitter: WorkflowEmitter, task: WorkflowTask, location: str
) -> tuple[tuple[str, str] | None, str | None] | None:
    """What the task switches on: its JavaScript expression and that expression's location (None for
    value-param), and the name of the input given as the value; None (reported) for an evaluator
    that is not translated."""
    if task.type == "SWITCH":
        if task.evaluatorType in SCRIPT_EVALUATORS:
            return (task.expression or "", f"{location}.expression"), task.expression
        if (task.evaluatorType or "value-param") != "value-param":
            emitter.diagnostics.error(
                f"{location}.evaluatorType",
                f"SWITCH '{task.taskReferenceName}' uses evaluatorType {task.evaluatorType}: only "
                "value-param and javascript can be translated",
            )
            return None
        return None, task.expression
    script = (task.caseExpression, f"{location}.caseExpression") if task.caseExpression else None
    return script, task.caseValueParam


def _switch_value(
    emitter: WorkflowEmitter, task: WorkflowTask, param: str | None, location: str
) -> Resolved | None:
    """What the cases are compared with: the input named by `param` (value-param), or (None) the
    value the evaluator worker gives the JavaScript expression."""
    if param is None:
        return Path(f"$.tasks.{task.taskReferenceName}.evaluated.output.result")
    return emitter.analysis.value(task.inputParameters[param], f"{location}.inputParameters.{param}")


def _emit_evaluated_expression(
    emitter: WorkflowEmitter,
    task: WorkflowTask,
    location: str,
    script: tuple[str, str],
    *,
    states: dict[str, Any],
    choice: str,
) -> str:
    """The expression run by the javascript_evaluator worker with `$` bound to the task's input
    (Conductor's SwitchTaskMapper and DecisionTaskMapper); the Choice after it compares its value
    with the case names as for value-param."""
    ref = task.taskReferenceName
    expression, where = script
    state, _ = evaluation_state(
        emitter,
        ref=ref,
        field=where.rsplit(".", 1)[-1],
        script={"script": expression},
        bound=emitter.analysis.parameters(task.inputParameters, f"{location}.inputParameters"),
        result_path=f"$.tasks.{ref}.evaluated",
        location=where,
        comment=f"Conductor {task.type}: the value of its JavaScript expression, $ bound to its input",
    )
    name = emitter.names.allocate(ref)
    states[name] = link(state, choice)
    return name


def _script_cases(
    emitter: WorkflowEmitter, task: WorkflowTask, expression: str, where: str
) -> ScriptCases | None:
    """The JavaScript expression as (Choice rule, outcome) pairs over the task's input, the outcome
    when none holds, and the input paths it reads; no pairs and EVALUATE when only the evaluator
    worker can run it; None (reported) when there is no expression."""
    ref = task.taskReferenceName
    read: list[tuple[str, ...]] = []

    def resolve(segments: list[str]) -> str | None:
        if not segments or segments[0] not in task.inputParameters:
            return None
        path = ("tasks", ref, "input", *segments)
        read.append(path)
        return path_of(path)

    try:
        pairs, otherwise = case_rules(expression, resolve)
    except ConditionError as error:
        if expression.strip():
            return [], EVALUATE, []
        emitter.diagnostics.error(
            where,
            f"{task.type} '{ref}': {error}; JavaScript over its inputParameters ($.name) is translated "
            "when it is a condition (comparisons, &&, ||, !, parentheses, .length) or a ?: chain of "
            "conditions with literal outcomes",
        )
        return None
    return pairs, otherwise, read


def _emit_script_choice(
    emitter: WorkflowEmitter,
    task: WorkflowTask,
    compiled: ScriptCases,
    cases: dict[str, str],
    default: str,
    *,
    location: str,
    tail: bool,
    states: dict[str, Any],
) -> str:
    """The task's inputs (Conductor binds them to `$`), the read paths made present, and a Choice
    that picks the case named by the first outcome whose condition holds (Java's string form)."""
    ref = task.taskReferenceName
    pairs, otherwise, read = compiled

    def target(outcome: Any) -> str:
        selected = java_string(outcome)
        return _case_output(
            emitter, task, Literal(selected), states, cases.get(selected, default), always=tail
        )

    choice = emitter.names.allocate(ref)
    states[choice] = {
        "Type": "Choice",
        "Comment": f"Conductor {task.type} on a JavaScript expression",
        "Choices": [{**rule, "Next": target(outcome)} for rule, outcome in pairs],
        "Default": target(otherwise),
    }
    creatable = [tuple(s for s in path if not s.startswith("[")) for path in read]
    after = ensure(emitter, creatable, f"{ref}: inputs", states, choice, guaranteed=3) or choice
    inputs = emitter.names.allocate(f"{ref}: input")
    states[inputs] = {
        "Type": "Pass",
        "Comment": f"Conductor {task.type}: the input the expression reads as $",
        "Parameters": emitter.analysis.parameters(task.inputParameters, f"{location}.inputParameters"),
        "ResultPath": f"$.tasks.{ref}.input",
        "Next": after,
    }
    return inputs


def _case_output(
    emitter: WorkflowEmitter,
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
    if not always and not any(p[:3] == ("tasks", ref, "output") for p in emitter.referenced):
        return next_name
    key = "evaluationResult" if task.type == "SWITCH" else "caseOutput"
    output = _output_entry(key, selected, as_list=True)
    if task.type == "SWITCH":
        output |= _output_entry("selectedCase", selected, as_list=False)
    name = emitter.names.allocate(f"{ref}: output")
    states[name] = {
        "Type": "Pass",
        "Comment": f"Conductor {task.type} output",
        "Parameters": output,
        "ResultPath": f"$.tasks.{ref}.output",
        "Next": next_name,
    }
    return name


# --- TERMINATE, SET_VARIABLE --------------------------------------------------------------------
def emit_terminate(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    """A Fail state (FAILED, TERMINATED) or the workflow output (COMPLETED)."""
    task, location, states, next_name = site.task, site.location, site.states, site.next_name
    ref = task.taskReferenceName
    params = task.inputParameters
    status = params.get("terminationStatus")
    if status is None:
        emitter.diagnostics.error(
            f"{location}.inputParameters.terminationStatus",
            f"TERMINATE '{ref}' has no terminationStatus: Conductor refuses the definition "
            "(it must be COMPLETED or FAILED)",
        )
        return next_name
    name = emitter.names.allocate(ref)
    if status == "COMPLETED" and emitter.branch_depth:
        output_states: dict[str, Any] = {}
        _emit_completed_output(emitter, task, location, output_states, name)
        states.update(carry_out_of_branch(emitter, ref, output_states))
        return name
    if status == "COMPLETED":
        _emit_completed_output(emitter, task, location, states, name)
        return name
    if status not in ("FAILED", "TERMINATED"):
        emitter.diagnostics.error(
            f"{location}.inputParameters.terminationStatus", f"unknown status '{status}'"
        )
        return next_name
    state: dict[str, Any] = {"Type": "Fail", "Error": f"Conductor.{status}"}
    reason = params.get("terminationReason", f"terminated by task '{ref}'")
    resolved = emitter.analysis.value(reason, f"{location}.inputParameters.terminationReason")
    if isinstance(resolved, Path):
        state["CausePath"] = resolved.asl
    elif resolved is not None:
        state["Cause"] = str(resolved.value)
    states[name] = state
    return name


def _emit_completed_output(
    emitter: WorkflowEmitter, task: WorkflowTask, location: str, states: dict[str, Any], name: str
) -> None:
    """The workflow output of a TERMINATE (COMPLETED), as Conductor's Terminate task computes it.

    A map is the output as it is; null or absent gives ``{}`` (outputParameters are not applied);
    any other value is wrapped as ``{"output": value}``.
    """
    where = f"{location}.inputParameters.workflowOutput"
    output = task.inputParameters.get("workflowOutput")
    if isinstance(output, dict):
        resolved: Resolved | None = None
        body: dict[str, Any] = {"Parameters": emitter.analysis.parameters(output, where)}
    else:
        resolved = emitter.analysis.value(output, where)
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
    empty, wrapped, whole = (emitter.names.allocate(f"{ref}: {kind}") for kind in ("empty", "wrap", "map"))
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


def emit_set_variable(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    """The task input merged into the workflow's variables."""
    task, location, states, next_name = site.task, site.location, site.states, site.next_name
    ref = task.taskReferenceName
    after = next_name
    variables = [p for p in emitter.referenced if p[:2] == ("workflow", "variables") and len(p) > 3]
    after = ensure(emitter, variables, ref, states, after, guaranteed=2)
    params = emitter.analysis.parameters(task.inputParameters, f"{location}.inputParameters")
    merge = emitter.names.allocate(f"{ref}: merge")
    workflow: dict[str, Any] = {
        "input.$": "$.workflow.input",
        "missing": None,
        "variables.$": f"States.JsonMerge($.workflow.variables, $.tasks.{ref}.input, false)",
    }
    if emitter.branch_depth:
        # inside a fork branch: also the branch's own changes, which the join applies (fork.py)
        workflow["changed.$"] = f"States.JsonMerge($.workflow.changed, $.tasks.{ref}.input, false)"
    states[merge] = link({"Type": "Pass", "Parameters": {"workflow": workflow, "tasks.$": "$.tasks"}}, after)
    name = emitter.names.allocate(ref)
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
