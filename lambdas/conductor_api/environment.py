"""The Conductor API function's environment (docs/architecture.md, "Function environment") as one
validated model: the deployed workflows it answers for, which infra/conductor_api.py sets.

`CONDUCTOR_WORKFLOWS` is one JSON object, by Conductor workflow name: the state machine ARN, the
version, whether it is Express, and the tasks of the definition as `[taskReferenceName, name, type]`
(what the status document maps each state back to). Read per invocation, never at import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from lambdas.conductor.errors import ConductorError, not_found
from lambdas.conductor.executions import WorkflowTarget

WORKFLOWS_VARIABLE = "CONDUCTOR_WORKFLOWS"
STATE_MACHINE_ARN = r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$"


class DeployedWorkflow(BaseModel):
    """One workflow of the stack, as the function sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stateMachineArn: str = Field(pattern=STATE_MACHINE_ARN)
    version: PositiveInt = 1
    express: bool = False
    tasks: tuple[tuple[str, str, str], ...] = ()

    def target(self, name: str) -> WorkflowTarget:
        tasks = [{"taskReferenceName": ref, "name": task, "type": kind} for ref, task, kind in self.tasks]
        definition = {"tasks": tasks}
        return WorkflowTarget(name, self.version, self.stateMachineArn, definition, self.express)


class ConductorApiSettings(BaseModel):
    """The catalog the shared Executions read (lambdas.conductor.executions.Catalog)."""

    model_config = ConfigDict(frozen=True)

    workflows: dict[str, DeployedWorkflow]

    def target(self, name: str, version: int | None) -> WorkflowTarget:
        found = self.workflows.get(name)
        if found is None or (version is not None and version != found.version):
            suffix = f", version: {version}" if version is not None else ""
            deployed = f" (deployed: {', '.join(sorted(self.workflows))})"
            not_found(f"No such workflow found by name: {name}{suffix}{deployed}")
        return found.target(name)

    def targets(self) -> list[WorkflowTarget]:
        return [workflow.target(name) for name, workflow in self.workflows.items()]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConductorApiSettings:
        """A deployment mistake (variable missing or malformed) is a 500 naming the variable."""
        env = os.environ if environ is None else environ
        raw = env.get(WORKFLOWS_VARIABLE, "")
        try:
            return cls.model_validate({"workflows": json.loads(raw)})
        except (ValueError, ValidationError) as error:
            detail = error.errors()[0]["msg"] if isinstance(error, ValidationError) else str(error)
            raise ConductorError(
                500, f"environment.{WORKFLOWS_VARIABLE} is not the deployed workflows' JSON: {detail}"
            ) from error


def workflows_variable(workflows: Mapping[str, DeployedWorkflow]) -> str:
    """The value of CONDUCTOR_WORKFLOWS (compact JSON: Lambda's environment holds 4 KB in all)."""
    return json.dumps(
        {name: workflow.model_dump(mode="json") for name, workflow in workflows.items()},
        separators=(",", ":"),
    )
