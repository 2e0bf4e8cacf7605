"""DO_WHILE: a counter, the body, and a Choice that loops back while the condition holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from statemachines.translator.asl_states import link
from statemachines.translator.conditions import ConditionError, choice_rule
from statemachines.translator.emitter_state import EmitterState
from statemachines.translator.expressions import parameters, path_of
from statemachines.translator.model import WorkflowTask
from statemachines.translator.references import context_refs
from statemachines.translator.script_evaluation import evaluation_state


class DoWhileMixin(EmitterState):
    """DO_WHILE loops."""

    def _emit_do_while(
        self, task: WorkflowTask, location: str, states: dict[str, Any], next_name: str | None
    ) -> str | None:
        """A counter, the body, and a Choice that loops back while the condition holds."""
        ref = task.taskReferenceName
        if not task.loopOver:
            self.diagnostics.error(f"{location}.loopOver", f"DO_WHILE '{ref}' has no tasks to loop over")
            return next_name
        resolve = loop_variable(
            ref, set(context_refs(task.loopOver)), task.inputParameters, self.scope.referenced, self.locate
        )
        rule: dict[str, Any] | None = None  # None: the evaluator worker runs the condition
        try:
            rule = choice_rule(task.loopCondition or "", resolve)
        except ConditionError as error:
            if not (task.loopCondition or "").strip():
                self.diagnostics.error(
                    f"{location}.loopCondition",
                    f"DO_WHILE '{ref}': {error}; conditions on $.{ref}['iteration'], the body's outputs "
                    "and the loop's inputParameters (comparisons, &&, ||, !, parentheses, .length) are "
                    "translated, and any other JavaScript by the javascript_evaluator worker",
                )
                return next_name
        if self._at_workflow_end(next_name):
            last = task.loopOver[-1]
            if last.type in ("SWITCH", "DECISION", "DO_WHILE"):
                self.diagnostics.error(
                    f"{location}.loopOver",
                    f"DO_WHILE '{ref}' ends the workflow, which has no outputParameters, and its body ends "
                    f"with {last.type} '{last.taskReferenceName}': the workflow output (the last task that "
                    "ran) cannot be told statically; add outputParameters",
                )
                return next_name
            next_name = self._output_of(last)
        after = self._ensure_outputs(ref, states, next_name)
        if after is None:
            after = self.names.allocate(f"{ref}: done")
            states[after] = {"Type": "Pass", "End": True}
        again = self.names.allocate(f"{ref}: again?")
        condition = again
        if rule is None:
            condition = self._emit_evaluated_condition(task, location, states, again)
            rule = conductor_true(f"$.tasks.{ref}.evaluated.output.result")
        count = self.names.allocate(f"{ref}: count")
        params = parameters(
            task.inputParameters, f"{location}.inputParameters", self.emit_scope.resolve, self.quiet
        )
        body_end = condition
        if any(key.endswith(".$") for key in _flatten_keys(params)):
            # Conductor resolves the loop's inputParameters again before every condition check
            body_end = self.names.allocate(f"{ref}: inputs")
            states[body_end] = {
                "Type": "Pass",
                "Comment": "Conductor DO_WHILE: the loop's inputs, resolved again before the condition",
                "Parameters": params,
                "ResultPath": f"$.tasks.{ref}.input",
                "Next": condition,
            }
        body = self._emit_sequence(task.loopOver, f"{location}.loopOver", states, body_end) or body_end
        states[count] = {
            "Type": "Pass",
            "Comment": "Conductor's iteration counter: the next pass's number, set before the body runs",
            "Parameters": {"iteration.$": f"States.MathAdd($.tasks.{ref}.output.iteration, 1)"},
            "ResultPath": f"$.tasks.{ref}.output",
            "Next": body,
        }
        states[again] = {
            "Type": "Choice",
            "Comment": f"Conductor DO_WHILE condition: {task.loopCondition}",
            "Choices": [{**rule, "Next": count}],
            "Default": after,
        }
        start = self.names.allocate(ref)
        states[start] = {
            "Type": "Pass",
            "Comment": "Conductor DO_WHILE: the loop's inputs, and iteration 1 for the first pass",
            "Parameters": {"input": params, "output": {"iteration": 1}},
            "ResultPath": f"$.tasks.{ref}",
            "Next": body,
        }
        return start

    def _emit_evaluated_condition(
        self, task: WorkflowTask, location: str, states: dict[str, Any], again: str
    ) -> str:
        """The condition run by the javascript_evaluator worker. Conductor binds `$` to the loop's
        inputParameters, resolved again, with the loop's own output and each body task's output under
        its reference (DoWhile.getEvaluatedCaseValue)."""
        ref = task.taskReferenceName
        bound = {f"{key}.$": path_of(("tasks", ref, "input", key)) for key in task.inputParameters}
        for name in (ref, *context_refs(task.loopOver)):
            bound[f"{name}.$"] = path_of(("tasks", name, "output"))
        state, _ = evaluation_state(
            self,
            ref=ref,
            field="loopCondition",
            script={"script": task.loopCondition},
            bound=bound,
            result_path=f"$.tasks.{ref}.evaluated",
            location=location,
            comment="Conductor DO_WHILE: the loop condition's value, $ bound as Conductor binds it",
        )
        name = self.names.allocate(f"{ref}: condition")
        states[name] = link(state, again)
        return name


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
