"""DO_WHILE and WHILE: a counter, the body, and a Choice that loops back while the condition holds
(WHILE checks it before the first pass too)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import choice_or_fail, link
from statemachines.translator.conditions import ConditionError, choice_rule
from statemachines.translator.expressions import path_of
from statemachines.translator.fork import sets_variables
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.model import LOOP_TYPES, WorkflowTask
from statemachines.translator.references import context_refs
from statemachines.translator.script_evaluation import evaluation_state

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite

# a DO_WHILE's items that are neither a list nor null
ITEMS_NOT_A_LIST = "Conductor.DoWhileItemsNotAList"


def emit_do_while(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    """A counter, the body, and a Choice that loops back while the condition holds."""
    task, location, states, next_name = site.task, site.location, site.states, site.next_name
    ref = task.taskReferenceName
    if not task.loopOver:
        emitter.diagnostics.error(f"{location}.loopOver", f"{task.type} '{ref}' has no tasks to loop over")
        return next_name
    checks_first = task.type == "WHILE"
    translatable, items = _loop_source(emitter, task, location)
    if not translatable:
        return next_name
    resolve = loop_variable(
        ref, set(context_refs(task.loopOver)), task.inputParameters, emitter.referenced, emitter.locate
    )
    rule: dict[str, Any] | None = None  # None: the evaluator worker runs the condition
    try:
        # over a list without a condition, Conductor loops while items remain (DoWhile's hasMoreItems)
        rule = more_items(ref) if items is not None else choice_rule(task.loopCondition or "", resolve)
    except ConditionError as error:
        if not (task.loopCondition or "").strip():
            emitter.diagnostics.error(
                f"{location}.loopCondition",
                f"{task.type} '{ref}': {error}; conditions on $.{ref}['iteration'], the body's outputs "
                "and the loop's inputParameters (comparisons, &&, ||, !, parentheses, .length) are "
                "translated, and any other JavaScript by the javascript_evaluator worker",
            )
            return next_name
    empty_next = next_name
    if emitter.at_workflow_end(next_name):
        ends = _workflow_end_targets(
            emitter, task, location, states, may_skip=items is not None or checks_first
        )
        if ends is None:
            return next_name
        next_name, empty_next = ends
    after = _loop_exit(emitter, ref, states, next_name)
    again = emitter.names.allocate(f"{ref}: again?")
    condition = again
    evaluated = rule is None
    if rule is None:
        condition = _emit_evaluated_condition(emitter, task, location, states, again)
        rule = conductor_true(f"$.tasks.{ref}.evaluated.output.result")
    count = emitter.names.allocate(f"{ref}: count")
    params = emitter.analysis.parameters(task.inputParameters, f"{location}.inputParameters")
    body_end = condition
    if any(key.endswith(".$") for key in _flatten_keys(params)):
        # Conductor resolves the loop's inputParameters again before every condition check
        body_end = emitter.names.allocate(f"{ref}: inputs")
        states[body_end] = {
            "Type": "Pass",
            "Comment": "Conductor DO_WHILE: the loop's inputs, resolved again before the condition",
            "Parameters": params,
            "ResultPath": f"$.tasks.{ref}.input",
            "Next": condition,
        }
    body = emitter.emit_sequence(task.loopOver, f"{location}.loopOver", states, body_end) or body_end
    counter: dict[str, Any] = {"iteration.$": f"States.MathAdd($.tasks.{ref}.output.iteration, 1)"}
    if items is not None:
        # DoWhile.injectLoopVariables: loopIndex = iteration - 1, loopItem = items[loopIndex]
        counter |= loop_variables(ref, f"$.tasks.{ref}.output.iteration")
    states[count] = {
        "Type": "Pass",
        "Comment": "Conductor's iteration counter: the next pass's number, set before the body runs",
        "Parameters": counter,
        "ResultPath": f"$.tasks.{ref}.output",
        "Next": body,
    }
    states[again] = {
        "Type": "Choice",
        "Comment": f"Conductor {task.type} condition: {task.loopCondition}",
        "Choices": [{**rule, "Next": count}],
        "Default": after,
    }
    start = emitter.names.allocate(ref)
    # at the workflow's end nothing reads the loop's paths but its output, which must stay
    # Conductor's {"iteration": 0} when no pass ran: no read path is created there
    exit_empty = empty_next if empty_next not in (None, next_name) else after
    if checks_first:
        check = (condition, again, evaluated)
        states[start] = _while_start(
            emitter, task, location, states, params=params, check=check, exit_empty=exit_empty
        )
        return start
    if items is not None:
        first = _emit_first_item(emitter, ref, items, states, body=body, empty=exit_empty)
        states[start] = {
            "Type": "Pass",
            "Comment": "Conductor DO_WHILE over a list: the loop's inputs and its items, read once",
            "Parameters": {
                "input": params,
                "items.$": items,
                "itemsText.$": f"States.JsonToString({items})",
            },
            "ResultPath": f"$.tasks.{ref}",
            "Next": first,
        }
        return start
    states[start] = {
        "Type": "Pass",
        "Comment": "Conductor DO_WHILE: the loop's inputs, and iteration 1 for the first pass",
        "Parameters": {"input": params, "output": {"iteration": 1}},
        "ResultPath": f"$.tasks.{ref}",
        "Next": body,
    }
    return start


def _while_start(
    emitter: WorkflowEmitter,
    task: WorkflowTask,
    location: str,
    states: dict[str, Any],
    *,
    params: dict[str, Any],
    check: tuple[str, str, bool],
    exit_empty: str,
) -> dict[str, Any]:
    """While.execute checks the condition before the first pass, with iteration 0. `check`: the
    loop's condition entry, its Choice and whether the evaluator worker runs it; when no pass
    leaves another output than a finished loop (`exit_empty`), the first check has its own Choice."""
    condition, again, evaluated = check
    first = condition
    if exit_empty != states[again]["Default"]:
        first_check = emitter.names.allocate(f"{task.taskReferenceName}: first pass?")
        first = first_check
        if evaluated:
            first = _emit_evaluated_condition(emitter, task, location, states, first_check)
        states[first_check] = {**json.loads(json.dumps(states[again])), "Default": exit_empty}
    return {
        "Type": "Pass",
        "Comment": "Conductor WHILE: the loop's inputs, and iteration 0 for the first check",
        "Parameters": {"input": params, "output": {"iteration": 0}},
        "ResultPath": f"$.tasks.{task.taskReferenceName}",
        "Next": first,
    }


def _workflow_end_targets(
    emitter: WorkflowEmitter, task: WorkflowTask, location: str, states: dict[str, Any], *, may_skip: bool
) -> tuple[str, str | None] | None:
    """Where a loop that ends the workflow (no outputParameters) goes after its last pass, and
    after no pass at all (`may_skip`: an empty list, a WHILE false at once; the loop is then the
    last task that ran); None after an error."""
    last = task.loopOver[-1]
    picked = _last_ran_pick(emitter, task, states) if last.type in ("SWITCH", "DECISION") else None
    if picked is None and last.type in ("SWITCH", "DECISION", *LOOP_TYPES):
        emitter.diagnostics.error(
            f"{location}.loopOver",
            f"{task.type} '{task.taskReferenceName}' ends the workflow, which has no outputParameters, "
            f"and its body ends with {last.type} '{last.taskReferenceName}': the workflow output (the "
            "last task that ran) cannot be told statically; add outputParameters",
        )
        return None
    return picked or emitter.output_of_task(last), emitter.output_of_task(task) if may_skip else None


def _last_ran_pick(emitter: WorkflowEmitter, task: WorkflowTask, states: dict[str, Any]) -> str | None:
    """When the loop ends the workflow (no outputParameters) and its body ends with a SWITCH or
    DECISION, the workflow output is the output of the last task that ran in the last pass: the
    last task of the route taken, or the switch itself when that route is empty. Each of them
    records its reference in `$.tasks.<loop>.lastRan` when it runs (the switch before its route,
    `mark_last_ran`), and a Choice after the loop picks the output. None when a route ends with
    a construct whose own output is not static (a switch, loop, JOIN or TERMINATE)."""
    ref, last = task.taskReferenceName, task.loopOver[-1]
    ends = [route[-1] for route in (*last.decisionCases.values(), last.defaultCase) if route]
    if any(end.type in ("SWITCH", "DECISION", "JOIN", "TERMINATE", *LOOP_TYPES) for end in ends):
        return None
    for marked in (last, *ends):
        emitter.last_ran_marks[marked.taskReferenceName] = ref
    # the switch's own output may be the workflow's: it must be written (control_flow._case_output)
    emitter.referenced.add(("tasks", last.taskReferenceName, "output"))
    pick = emitter.names.allocate(f"{ref}: last task that ran")
    states[pick] = {
        "Type": "Choice",
        "Comment": "No outputParameters: the output of the last task that ran, as in Conductor",
        "Choices": [
            {
                "Variable": f"$.tasks.{ref}.lastRan",
                "StringEquals": end.taskReferenceName,
                "Next": emitter.output_of_task(end),
            }
            for end in ends
        ],
        "Default": emitter.output_of_task(last),
    }
    return pick


def _loop_source(emitter: WorkflowEmitter, task: WorkflowTask, location: str) -> tuple[bool, str | None]:
    """Whether the loop can be translated, and the JSONPath of the list it iterates (None: a
    loop on its condition only; WHILE does not read `items`)."""
    if task.type == "WHILE":
        return _while_translatable(emitter, task, location), None
    if task.items is None:
        return True, None
    items = _loop_items(emitter, task, location)
    return items is not None, items


def _while_translatable(emitter: WorkflowEmitter, task: WorkflowTask, location: str) -> bool:
    """WHILE checks its condition before the first pass, when no body task has run: Conductor
    leaves their outputs out of the condition's `$` then (While.evaluateCondition), which a
    condition reading them would see as undefined; such a condition is refused."""
    ref = task.taskReferenceName
    condition = task.loopCondition or ""
    for body_ref in context_refs(task.loopOver):
        if re.search(rf"\$\s*(\.\s*{re.escape(body_ref)}\b|\[\s*['\"]{re.escape(body_ref)}['\"])", condition):
            emitter.diagnostics.error(
                f"{location}.loopCondition",
                f"WHILE '{ref}': the condition reads body task '{body_ref}', which has not run at the "
                "first check (Conductor leaves it out of $ there); not translated",
            )
            return False
    if "CPEWF_TASK_ID" in json.dumps(task.inputParameters):
        emitter.diagnostics.error(
            f"{location}.inputParameters",
            f"WHILE '{ref}': ${{CPEWF_TASK_ID}} in a loop's inputParameters, which are resolved again "
            "before every condition check; each States.UUID() is a new id",
        )
        return False
    if task.items is not None:
        emitter.diagnostics.warning(
            f"{location}.items", f"WHILE '{ref}': Conductor's WHILE does not read items (ignored)"
        )
    return True


def _loop_exit(emitter: WorkflowEmitter, ref: str, states: dict[str, Any], next_name: str | None) -> str:
    """What follows the loop: its read paths made to exist, then `next_name` (or the branch's end)."""
    after = ensure_outputs(emitter, ref, states, next_name)
    if after is None:
        after = emitter.names.allocate(f"{ref}: done")
        states[after] = {"Type": "Pass", "End": True}
    return after


def _loop_items(emitter: WorkflowEmitter, task: WorkflowTask, location: str) -> str | None:
    """The JSONPath of the list a DO_WHILE iterates (`items`), or None after an error.

    Conductor evaluates `items` again before every iteration (DoWhile.evaluateItemsList); it is
    read once here, so an expression the loop's own body can change is refused."""
    ref = task.taskReferenceName
    where = f"{location}.items"
    resolved = emitter.analysis.parameters({"items": task.items}, location)
    path = resolved.get("items.$")
    if not isinstance(path, str) or not path.startswith("$."):
        emitter.diagnostics.error(
            where,
            f"DO_WHILE '{ref}': items must be one ${{...}} expression giving the list to iterate",
        )
        return None
    changing = [f"$.tasks.{r}." for r in (ref, *context_refs(task.loopOver))]
    if sets_variables(task.loopOver):
        changing.append("$.workflow.variables.")
    if any(f"{path}.".startswith(prefix) for prefix in changing):
        emitter.diagnostics.error(
            where,
            f"DO_WHILE '{ref}': items reads what the loop's own body changes; Conductor evaluates it "
            "again before every iteration, which is not translated",
        )
        return None
    if (task.loopCondition or "").strip():
        emitter.diagnostics.error(
            f"{location}.loopCondition",
            f"DO_WHILE '{ref}' over items with a loopCondition: how Conductor binds the condition "
            "beside $.loopItem and $.loopIndex could not be checked; not translated",
        )
        return None
    return path


def _emit_first_item(
    emitter: WorkflowEmitter, ref: str, items: str, states: dict[str, Any], *, body: str, empty: str
) -> str:
    """A Choice on the list's JSON text: an array starts the first iteration with loopIndex 0 and
    loopItem items[0]; `[]` or null completes the loop with iteration 0 and no body task run;
    anything else fails with a typed error naming the loop."""
    first = emitter.names.allocate(f"{ref}: first item")
    states[first] = {
        "Type": "Pass",
        "Comment": "Conductor DO_WHILE over a list: iteration 1, loopIndex 0, loopItem items[0]",
        "Parameters": {
            "input.$": f"$.tasks.{ref}.input",
            "items.$": f"$.tasks.{ref}.items",
            "count.$": f"States.ArrayLength($.tasks.{ref}.items)",
            "output": {"iteration": 1, **loop_variables(ref, "0")},
        },
        "ResultPath": f"$.tasks.{ref}",
        "Next": body,
    }
    none = emitter.names.allocate(f"{ref}: no items")
    states[none] = {
        "Type": "Pass",
        "Comment": "Conductor DO_WHILE over an empty list: completed at once, iteration 0",
        "Result": {"iteration": 0},
        "ResultPath": f"$.tasks.{ref}.output",
        "Next": empty,
    }
    text = f"$.tasks.{ref}.itemsText"
    return choice_or_fail(
        states,
        emitter.names,
        f"{ref}: items?",
        [
            {"Or": [{"Variable": text, "StringEquals": v} for v in ("[]", "null")], "Next": none},
            {"Variable": text, "StringMatches": "[*", "Next": first},
        ],
        failure=(f"{ref}: items not a list", ITEMS_NOT_A_LIST, f"DO_WHILE '{ref}': items is not a list"),
    )


def _emit_evaluated_condition(
    emitter: WorkflowEmitter, task: WorkflowTask, location: str, states: dict[str, Any], again: str
) -> str:
    """The condition run by the javascript_evaluator worker. Conductor binds `$` to the loop's
    inputParameters, resolved again, with the loop's own output and each body task's output under
    its reference (DoWhile.getEvaluatedCaseValue)."""
    ref = task.taskReferenceName
    bound = {f"{key}.$": path_of(("tasks", ref, "input", key)) for key in task.inputParameters}
    for name in (ref, *context_refs(task.loopOver)):
        bound[f"{name}.$"] = path_of(("tasks", name, "output"))
    state, _ = evaluation_state(
        emitter,
        ref=ref,
        field="loopCondition",
        script={"script": task.loopCondition},
        bound=bound,
        result_path=f"$.tasks.{ref}.evaluated",
        location=location,
        comment="Conductor DO_WHILE: the loop condition's value, $ bound as Conductor binds it",
    )
    name = emitter.names.allocate(f"{ref}: condition")
    states[name] = link(state, again)
    return name


def mark_last_ran(
    emitter: WorkflowEmitter, ref: str, loop_ref: str, states: dict[str, Any], next_name: str
) -> str:
    """A Pass recording that task `ref` ran last so far in loop `loop_ref`'s pass (`_last_ran_pick`)."""
    name = emitter.names.allocate(f"{ref}: ran last")
    states[name] = {
        "Type": "Pass",
        "Result": ref,
        "ResultPath": f"$.tasks.{loop_ref}.lastRan",
        "Next": next_name,
    }
    return name


def more_items(ref: str) -> dict[str, Any]:
    """Conductor's list iteration goes on while an item remains: iteration < the list's length."""
    return {"Variable": f"$.tasks.{ref}.output.iteration", "NumericLessThanPath": f"$.tasks.{ref}.count"}


def loop_variables(ref: str, index: str) -> dict[str, Any]:
    """loopIndex and loopItem for the 0-based `index` (a number's text or a JSONPath)."""
    index_field = {"loopIndex": int(index)} if index.isdigit() else {"loopIndex.$": index}
    return index_field | {"loopItem.$": f"States.ArrayGetItem($.tasks.{ref}.items, {index})"}


def conductor_true(variable: str) -> dict[str, Any]:
    """Conductor's `ScriptEvaluator.toBoolean`: a boolean as it is, a number when above 0, else false."""
    return {
        "Or": [
            {
                "And": [
                    {"Variable": variable, "IsBoolean": True},
                    {"Variable": variable, "BooleanEquals": True},
                ]
            },
            {
                "And": [
                    {"Variable": variable, "IsNumeric": True},
                    {"Variable": variable, "NumericGreaterThan": 0},
                ]
            },
        ]
    }


def loop_variable(
    loop_ref: str,
    body_refs: set[str],
    inputs: dict[str, Any],
    referenced: set[tuple[str, ...]],
    locate: Callable[[tuple[str, ...]], str] = path_of,
) -> Any:
    """Resolves `$.name...` in a loop condition: the loop itself, a task of its body, or an input;
    `locate` gives the JSONPath a context path is read at (read_views.py)."""

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
        return locate(path)

    return resolve


def _flatten_keys(value: Any) -> list[str]:
    """Every key of a nested Parameters object."""
    if not isinstance(value, dict):
        return []
    return [key for key, item in value.items() for key in (key, *_flatten_keys(item))]
