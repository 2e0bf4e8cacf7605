"""The state one workflow's emission shares across constructs, built by the first pass.

Each construct lives in its own mixin module; they meet here: the names allocated so far, the
expression scopes, the diagnostics and the result. Methods one construct borrows from another are
declared here for the type checker only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import StateNames
from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.exclusive_join import exclusive_join_candidates
from statemachines.translator.expressions import Scope, parameters
from statemachines.translator.model import LOOP_TYPES, TaskDef, WorkflowDef, WorkflowTask
from statemachines.translator.options import TranslatorOptions
from statemachines.translator.read_views import plan_views, view_locator
from statemachines.translator.references import context_refs, dynamic_join_refs, forked_refs, located_tasks
from statemachines.translator.task_definitions import GoverningTaskDef, governing_task_def, template_inputs


@dataclass
class EmitResult:
    """What emission records as it goes: the ASL and the facts only emission knows (which workers,
    children and connections each construct uses). `statemachines.translator.translation.summarise`
    turns it into the translator's one result, `Translation`."""

    asl: dict[str, Any]
    lambda_tasks: set[str] = field(default_factory=set)
    activity_tasks: set[str] = field(default_factory=set)
    child_workflows: set[str] = field(default_factory=set)
    # started and not waited for (START_WORKFLOW): must exist first, but Express can start them
    started_workflows: set[str] = field(default_factory=set)
    # EventBridge connections of its HTTP tasks (statemachines.translator.http)
    http_connections: set[str] = field(default_factory=set)
    # `states:HTTPEndpoint` patterns its HTTP tasks call (IAM StringLike)
    http_endpoints: set[str] = field(default_factory=set)
    concurrency_hints: dict[str, int] = field(default_factory=dict)


class EmitterState:
    """One workflow's emission in progress; findings go to `diagnostics`, never raised."""

    def __init__(
        self,
        workflow: WorkflowDef,
        task_defs: Mapping[str, TaskDef],
        workflows: Mapping[str, WorkflowDef],
        options: TranslatorOptions,
        diagnostics: Diagnostics,
        *,
        registered: bool = True,
    ) -> None:
        """`registered`: False for an inline child definition, which Conductor never validates."""
        self.workflow = workflow
        self.task_defs = task_defs
        self.workflows = workflows
        self.options = options
        self.diagnostics = diagnostics
        self.names = StateNames()
        self.result = EmitResult(asl={})
        refs = context_refs(workflow.tasks)
        self.refs = frozenset(refs)
        list_outputs = frozenset(
            ref
            for ref in dynamic_join_refs(workflow.tasks)
            if options.join_output(workflow.name, ref) == "list"
        )
        forked = tuple(forked_refs(workflow.tasks))
        located = dict(located_tasks(workflow.tasks))
        loop_refs = frozenset(t.taskReferenceName for t in located.values() if t.type in LOOP_TYPES)
        self.scope = Scope(
            workflow.name,
            workflow.version,
            self.refs,
            diagnostics,
            list_outputs=list_outputs,
            loop_refs=loop_refs,
            environment=options.workflow_env,
            forked=forked,
            registered=registered,
        )
        self._check_refs(refs)
        # first pass: resolve every expression once, so every read path is known before emitting
        self._collect(workflow.tasks, "tasks")
        parameters(workflow.outputParameters, "outputParameters", self.scope.resolve, diagnostics)
        self.scope.check_task_id_reads(located)
        # second pass (emission) resolves again; its findings would be duplicates
        self.quiet = Diagnostics(workflow.name)
        self.emit_scope = Scope(
            workflow.name,
            workflow.version,
            self.refs,
            self.quiet,
            list_outputs=list_outputs,
            loop_refs=loop_refs,
            environment=options.workflow_env,
            forked=forked,
            registered=registered,
        )
        self.emit_scope.referenced = self.scope.referenced
        self.emit_scope.inputs_read = self.scope.inputs_read
        # read paths something else sees through are read from a copy (missing_paths.py)
        self.views = plan_views(workflow, self.scope.referenced)
        self.locate = view_locator(self.views)
        self.emit_scope.locate = self.locate
        self.policy_warned: set[str] = set()
        # what an optional task's Catch may catch under the last Lambda state's policy (task_states)
        self.last_catch_errors: list[str] = ["States.ALL"]
        self.output_state = ""
        # end states that make a task nested at the workflow's end its output (emitter._output_of)
        self.tail_outputs: dict[str, str] = {}
        self.tail_states: dict[str, Any] = {}
        self.branch_depth = 0  # > 0 while emitting the inside of a Parallel branch
        # tasks an EXCLUSIVE_JOIN may output: a Pass after each records that it ran
        self.ran_marked = exclusive_join_candidates(workflow.tasks)
        # tasks that record in their loop's entry that they ran last (do_while._last_ran_pick)
        self.last_ran_marks: dict[str, str] = {}

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
            if task.items is not None:  # a DO_WHILE's list
                parameters({"items": task.items}, where, self.scope.resolve, self.diagnostics)
            if task.type in ("SIMPLE", "PERMISSIVE"):
                governing = governing_task_def(task.name, task, self.task_defs, where)
                template = template_inputs(task, governing.task_def)
                parameters(
                    template, f"{governing.location}.inputTemplate", self.scope.resolve, self.diagnostics
                )
            for path, children in task.located_children():
                self._collect(children, f"{where}.{path}")

    if TYPE_CHECKING:  # provided by the emitter and the construct mixins it combines

        def emit(self) -> EmitResult: ...

        def _emit_sequence(
            self, tasks: list[WorkflowTask], location: str, states: dict[str, Any], next_name: str | None
        ) -> str | None: ...

        def _ensure(
            self,
            paths: Iterable[tuple[str, ...]],
            label: str,
            states: dict[str, Any],
            next_name: str | None,
            *,
            guaranteed: int,
        ) -> str | None: ...

        def _ensure_outputs(self, ref: str, states: dict[str, Any], next_name: str | None) -> str | None: ...

        def _ensure_workflow_input(self, states: dict[str, Any], next_name: str | None) -> str | None: ...

        def _lambda_state(
            self, task_name: str, location: str, payload: dict[str, Any] | str
        ) -> dict[str, Any]: ...

        def _start_execution_state(self, child: str) -> dict[str, Any]: ...

        def _worker_definition(
            self, task_name: str, location: str, task: WorkflowTask | None, task_location: str
        ) -> tuple[GoverningTaskDef, Diagnostics]: ...

        def _at_workflow_end(self, next_name: str | None) -> bool: ...

        def _output_of(self, task: WorkflowTask) -> str: ...
