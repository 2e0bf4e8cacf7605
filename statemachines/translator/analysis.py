"""The analysis of one workflow, done once before it is emitted: every expression resolved, with its
findings reported, the paths they read, and where each path is read from.

Emission (emitter.py and the construct modules) looks the resolved values up by the location of
their Conductor value (`tasks[2].inputParameters.size`) and never resolves an expression itself,
so each finding is reported once, at the value that has it. Resolution comes first, then the views
are planned from every path read (read_views.py), then each resolved value is located: a path some
enclosing read sees through is read from its view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.expressions import (
    NESTED_EXPRESSION,
    Literal,
    Path,
    Resolved,
    Scope,
    field_value,
    has_expression,
    parameter_entry,
    parameters_of,
)
from statemachines.translator.model import LOOP_TYPES, TaskDef, WorkflowDef, WorkflowTask
from statemachines.translator.options import TranslatorOptions
from statemachines.translator.read_views import plan_views, view_locator
from statemachines.translator.references import context_refs, dynamic_join_refs, forked_refs, located_tasks
from statemachines.translator.script_evaluation import spliced_script_parts
from statemachines.translator.task_definitions import governing_task_def, template_inputs


@dataclass(frozen=True)
class Analysis:
    """What emission needs to know about one workflow's expressions; never changes once built."""

    refs: frozenset[str]
    # every context path an expression reads (Scope.referenced), before emission adds its own
    referenced: frozenset[tuple[str, ...]]
    # task references whose input some expression reads (their input is then stored)
    inputs_read: frozenset[str]
    # the read paths read from a view, each with its view's key (read_views.plan_views)
    views: Mapping[tuple[str, ...], str]
    # the JSONPath a context path is read at (a view of it, or where it is)
    locate: Callable[[tuple[str, ...]], str]
    # the resolved value of each Conductor value that is not an object, by its location; None where
    # it could not be resolved (reported)
    resolved: Mapping[str, Resolved | None]

    def value(self, item: Any, location: str) -> Resolved | None:
        """What `field_value` gives `item` (the Conductor value at `location`): an object is taken as
        it is, a value without expressions is a literal; any other must have been analysed."""
        if isinstance(item, dict):
            return Literal(item)
        if location in self.resolved:
            return self.resolved[location]
        if not has_expression(item) and not (isinstance(item, str) and NESTED_EXPRESSION.search(item)):
            return field_value(item, location, _resolves_nothing, Diagnostics())
        raise KeyError(f"{location}: an expression the analysis did not resolve (analysis.py)")

    def parameters(self, value: dict[str, Any], location: str) -> dict[str, Any]:
        """The Conductor object `value` at `location` as ASL Parameters."""
        return parameters_of(value, location, self.value)

    def entry(self, key: str, item: Any, location: str) -> dict[str, Any]:
        """The Conductor value `item` at `location` as the entry `key` of ASL Parameters."""
        return parameter_entry(key, item, location, self.value)


def _resolves_nothing(expression: str, location: str) -> Resolved | None:
    raise AssertionError(f"{location}: '{expression}' is not an expression")  # has_expression said so


def analyse(
    workflow: WorkflowDef,
    task_defs: Mapping[str, TaskDef],
    options: TranslatorOptions,
    diagnostics: Diagnostics,
    *,
    registered: bool = True,
) -> Analysis:
    """Resolves every expression of `workflow` once, reporting its findings to `diagnostics`.
    `registered`: False for an inline child definition, which Conductor never validates."""
    refs = context_refs(workflow.tasks)
    list_outputs = frozenset(
        ref for ref in dynamic_join_refs(workflow.tasks) if options.join_output(workflow.name, ref) == "list"
    )
    located = dict(located_tasks(workflow.tasks))
    scope = Scope(
        workflow.name,
        workflow.version,
        frozenset(refs),
        diagnostics,
        list_outputs=list_outputs,
        loop_refs=frozenset(t.taskReferenceName for t in located.values() if t.type in LOOP_TYPES),
        environment=options.workflow_env,
        forked=tuple(forked_refs(workflow.tasks)),
        registered=registered,
    )
    _check_refs(refs, diagnostics)
    resolved: dict[str, Resolved | None] = {}

    def leaf(item: Any, location: str) -> Resolved | None:
        resolved[location] = field_value(item, location, scope.resolve, diagnostics)
        return resolved[location]

    for where, task in located.items():
        for value, location in _values(task, where, task_defs):
            parameters_of(value, location, leaf)
    parameters_of(workflow.outputParameters, "outputParameters", leaf)
    scope.check_task_id_reads(located)
    # read paths something else sees through are read from a copy (missing_paths.py)
    views = plan_views(workflow, scope.referenced)
    for where, task in located.items():
        name = _run_time_child_name(task)
        if name is not None:
            # read by the name's Choice only (sub_workflow.py): no view is planned for its path
            leaf(name, f"{where}.subWorkflowParam.name")
    locate = view_locator(views)
    return Analysis(
        refs=frozenset(refs),
        referenced=frozenset(scope.referenced),
        inputs_read=frozenset(scope.inputs_read),
        views=MappingProxyType(views),
        locate=locate,
        resolved=MappingProxyType(
            {
                location: value.located(locate) if isinstance(value, Path) else value
                for location, value in resolved.items()
            }
        ),
    )


def _check_refs(refs: list[str], diagnostics: Diagnostics) -> None:
    seen: set[str] = set()
    for ref in refs:
        if ref in seen:
            diagnostics.error("tasks", f"taskReferenceName '{ref}' is used more than once")
        seen.add(ref)
        if ref in ("workflow",):
            diagnostics.error("tasks", "taskReferenceName 'workflow' clashes with ${workflow...}")


def _values(
    task: WorkflowTask, where: str, task_defs: Mapping[str, TaskDef]
) -> Iterator[tuple[dict[str, Any], str]]:
    """The objects of one task whose values are expressions, each with its location: its
    inputParameters, a DO_WHILE's list, the inputTemplate of a worker task's definition."""
    spliced = spliced_script_parts(task)
    if spliced is None:
        yield task.inputParameters, f"{where}.inputParameters"
    else:  # the worker splices the values into the text: each is resolved, not the text
        yield {k: v for k, v in task.inputParameters.items() if k != "expression"}, f"{where}.inputParameters"
        yield spliced, f"{where}.inputParameters"
    if task.items is not None:
        yield {"items": task.items}, where
    if task.type in ("SIMPLE", "PERMISSIVE"):
        governing = governing_task_def(task.name, task, task_defs, where)
        yield template_inputs(task, governing.task_def), f"{governing.location}.inputTemplate"


def _run_time_child_name(task: WorkflowTask) -> str | None:
    """A SUB_WORKFLOW's `subWorkflowParam.name` when it is an expression (sub_workflow.py)."""
    param = task.subWorkflowParam or {}
    name = param.get("name")
    if task.type != "SUB_WORKFLOW" or param.get("workflowDefinition") is not None:
        return None
    return name if isinstance(name, str) and "${" in name else None
