"""Typed models of Conductor's TaskDef, WorkflowTask and WorkflowDef JSON.

Real exports carry many fields the translator does not need; they are kept (extra="allow") so a
definition round-trips, and only the fields that change the translation are typed here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# the loop task types: DO_WHILE checks its condition after each pass, WHILE before each one too
LOOP_TYPES = ("DO_WHILE", "WHILE")


class _Conductor(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class TaskDef(_Conductor):
    """A Conductor task definition: the retry/timeout policy of a worker task. The defaults are
    Conductor's own (conductor-oss common/.../metadata/tasks/TaskDef.java): what a task with no
    registered definition gets."""

    name: str = Field(min_length=1)
    retryCount: int = Field(3, ge=0)
    retryLogic: str = "FIXED"
    retryDelaySeconds: int = Field(60, ge=0)
    maxRetryDelaySeconds: int | None = Field(None, ge=0)
    backoffScaleFactor: int = Field(1, ge=1)
    timeoutSeconds: int = Field(0, ge=0)
    timeoutPolicy: str = "TIME_OUT_WF"
    responseTimeoutSeconds: int = Field(3600, ge=0)  # TaskDef.ONE_HOUR; 0 = none
    pollTimeoutSeconds: int | None = Field(None, ge=0)
    concurrentExecLimit: int | None = Field(None, ge=0)
    rateLimitPerFrequency: int | None = Field(None, ge=0)
    rateLimitFrequencyInSeconds: int | None = Field(None, ge=0)
    inputKeys: list[str] = Field(default_factory=list)
    outputKeys: list[str] = Field(default_factory=list)
    inputTemplate: dict[str, Any] = Field(default_factory=dict)


class WorkflowTask(_Conductor):
    """One entry of a workflow's `tasks` (or of a fork branch, switch case, loop body)."""

    name: str = Field(min_length=1)
    taskReferenceName: str = Field(min_length=1)
    type: str = "SIMPLE"
    inputParameters: dict[str, Any] = Field(default_factory=dict)
    optional: bool = False
    # task policy on the workflow task: overrides the registered task definition (DeciderService.retry,
    # MetadataMapperService: an inline definition replaces the registered one)
    retryCount: int | None = Field(None, ge=0)
    taskDefinition: TaskDef | None = None
    # FORK_JOIN
    forkTasks: list[list[WorkflowTask]] = Field(default_factory=list)
    # JOIN
    joinOn: list[str] = Field(default_factory=list)
    # FORK_JOIN_DYNAMIC (legacy and newer forms)
    dynamicForkTasksParam: str | None = None
    dynamicForkTasksInputParamName: str | None = None
    forkTaskName: str | None = None
    forkTaskInputs: Any = None
    # SWITCH / DECISION
    evaluatorType: str | None = None
    expression: str | None = None
    caseValueParam: str | None = None
    caseExpression: str | None = None
    decisionCases: dict[str, list[WorkflowTask]] = Field(default_factory=dict)
    defaultCase: list[WorkflowTask] = Field(default_factory=list)
    # SUB_WORKFLOW
    subWorkflowParam: dict[str, Any] | None = None
    # DO_WHILE
    loopCondition: str | None = None
    loopOver: list[WorkflowTask] = Field(default_factory=list)
    # DO_WHILE over a list: an expression giving the list (loopItem/loopIndex in the loop's output)
    items: str | None = None
    # EVENT: where the event goes (EventTaskMapper puts it into the task input as `sink`)
    sink: str | None = None

    def located_children(self) -> list[tuple[str, list[WorkflowTask]]]:
        """The task sequences nested in this task (fork branches, cases, the default case, the loop
        body), each with its JSON path relative to the task, in definition order."""
        return [
            *((f"forkTasks[{b}]", branch) for b, branch in enumerate(self.forkTasks)),
            *((f"decisionCases.{case}", tasks) for case, tasks in self.decisionCases.items()),
            ("defaultCase", self.defaultCase),
            ("loopOver", self.loopOver),
        ]

    def children(self) -> list[list[WorkflowTask]]:
        """The task sequences nested in this task, in definition order."""
        return [tasks for _, tasks in self.located_children()]

    @field_validator("type", mode="before")
    @classmethod
    def _missing_type_is_simple(cls, value: Any) -> Any:
        return "SIMPLE" if value in (None, "") else value

    @model_validator(mode="before")
    @classmethod
    def _system_task_without_name(cls, value: Any) -> Any:
        """A system task may omit `name`: Conductor's engine runs it (no mapper reads the name of a
        FORK_JOIN_DYNAMIC or a JOIN; its own test resources have such tasks), though its REST
        validation asks for one (WorkflowTask.name is @NotEmpty). It is named after its type; a
        SIMPLE task's name is its worker's task type and stays required."""
        if (
            isinstance(value, dict)
            and not value.get("name")
            and value.get("type") not in (None, "", "SIMPLE")
        ):
            value = {**value, "name": value["type"]}
        return value

    @model_validator(mode="before")
    @classmethod
    def _inline_definition_named_after_the_task(cls, value: Any) -> Any:
        """An inline `taskDefinition` often omits its name: it is the task's own."""
        if isinstance(value, dict) and isinstance(value.get("taskDefinition"), dict):
            inline = value["taskDefinition"]
            if not inline.get("name") and value.get("name"):
                value = {**value, "taskDefinition": {**inline, "name": value["name"]}}
        return value


class WorkflowDef(_Conductor):
    """A Conductor workflow definition."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]{1,80}$")
    description: str = ""
    version: int = 1
    tasks: list[WorkflowTask] = Field(min_length=1)
    inputParameters: list[str] = Field(default_factory=list)
    outputParameters: dict[str, Any] = Field(default_factory=dict)
    timeoutSeconds: int = Field(0, ge=0)
    timeoutPolicy: str = "ALERT_ONLY"
    variables: dict[str, Any] = Field(default_factory=dict)
    inputTemplate: dict[str, Any] = Field(default_factory=dict)
