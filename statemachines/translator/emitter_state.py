"""The state one workflow's emission shares across constructs, over its analysis (analysis.py).

Each construct is a module of emit functions taking the emitter (registry.py); what they share is
here and only here: the definitions, the analysis, the state names allocated so far, the read paths
emission adds, the diagnostics and the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from statemachines.translator.analysis import analyse
from statemachines.translator.asl_states import StateNames
from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.exclusive_join import exclusive_join_candidates
from statemachines.translator.model import TaskDef, WorkflowDef
from statemachines.translator.options import TranslatorOptions


@dataclass
class EmitResult:
    """What emission records as it goes: the ASL and the facts the ASL does not show (the task
    definitions' concurrency, the HTTP endpoints' IAM patterns). `translation.summarise` turns it,
    with what `summary.integrations` reads from the ASL, into the translator's one result."""

    asl: dict[str, Any]
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
        self.analysis = analyse(workflow, task_defs, options, diagnostics, registered=registered)
        self.refs = self.analysis.refs
        self.views = self.analysis.views
        self.locate = self.analysis.locate
        # the analysed read paths, and those emission adds: the paths a loop condition, a legacy
        # dynamic fork's item list or a loop's last-ran pick reads are known once that construct is
        # compiled (do_while, dynamic_fork); they are made to exist in place, never viewed
        self.referenced: set[tuple[str, ...]] = set(self.analysis.referenced)
        self.policy_warned: set[str] = set()
        # what an optional task's Catch may catch under the last Lambda state's policy (task_states)
        self.last_catch_errors: list[str] = ["States.ALL"]
        self.output_state = ""
        # end states that make a task nested at the workflow's end its output (emitter.output_of_task)
        self.tail_outputs: dict[str, str] = {}
        self.tail_states: dict[str, Any] = {}
        self.branch_depth = 0  # > 0 while emitting the inside of a Parallel branch
        # tasks an EXCLUSIVE_JOIN may output: a Pass after each records that it ran
        self.ran_marked = exclusive_join_candidates(workflow.tasks)
        # tasks that record in their loop's entry that they ran last (do_while._last_ran_pick)
        self.last_ran_marks: dict[str, str] = {}

    def policy_findings(self, definition: str | None) -> Diagnostics:
        """Where the findings of a task definition's policy go: the diagnostics the first time the
        definition at location `definition` governs a task of this workflow (they are reported once,
        at the definition), nowhere after; nowhere for imgpipe's own definitions (None), whose
        findings are about no field of the Conductor definition."""
        first = definition is not None and definition not in self.policy_warned
        if definition is not None:
            self.policy_warned.add(definition)
        return self.diagnostics if first else Diagnostics(self.workflow.name)
