"""One Step Functions activity per SIMPLE task that no imgpipe Lambda worker serves.

The translator emits such a task as an activity Task state whose Resource is `${ActivityArn_<task>}`
(statemachines/translator/activities.py); this construct creates the activities and fills those
placeholders. Naming: the activity of task `<task>` is `<prefix>-<task>`
(`DeploymentConfig.activity_name`), so its ARN is
`arn:<partition>:states:<region>:<account>:activity:<prefix>-<task>`, which a worker can build or look
up by name (`imgpipe.worker.ActivityWorker.for_task`). The local runtime creates the same names.

Permissions. The state machine's role needs none for an activity: scheduling the task is part of
running the state machine (AWS CDK's own StepFunctionsInvokeActivity adds no policy statement:
aws/aws-cdk, packages/aws-cdk-lib/aws-stepfunctions-tasks/lib/stepfunctions/invoke-activity.ts).
A worker needs `states:GetActivityTask` on its activity and the task-response actions
(SendTaskSuccess/Failure/Heartbeat) on the state machines that schedule it: `grant_worker`.
Activities are encrypted at rest by Step Functions with an AWS-owned key unless a customer key is
configured (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from imgpipe.config import DeploymentConfig
from statemachines.translator.activities import activity_placeholder


class Activities(Construct):
    """The activities of every translated workflow's activity tasks, keyed by Conductor task name."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, translated: Mapping[str, Any]
    ) -> None:
        super().__init__(scope, construct_id)
        self.users: dict[str, list[str]] = {}
        for name in sorted(translated):
            for task in sorted(translated[name].activity_tasks):
                self.users.setdefault(task, []).append(name)
        self.activities: dict[str, sfn.Activity] = {
            task: sfn.Activity(self, task, activity_name=config.activity_name(task))
            for task in sorted(self.users)
        }

    def substitutions(self) -> dict[str, dict[str, str]]:
        """Per workflow, the `${ActivityArn_<task>}` values of its definition."""
        values: dict[str, dict[str, str]] = {}
        for task, workflows in self.users.items():
            for workflow in workflows:
                values.setdefault(workflow, {})[activity_placeholder(task)] = self.activities[
                    task
                ].activity_arn
        return values

    def grant_worker(
        self, grantee: iam.IGrantable, task: str, state_machines: Mapping[str, sfn.IStateMachine]
    ) -> None:
        """What a worker of `task` needs, and no more: poll its activity, answer the tasks of the
        state machines that schedule it."""
        if task not in self.activities:
            raise KeyError(
                f"task {task!r} has no activity (activities: {', '.join(self.activities) or 'none'})"
            )
        self.activities[task].grant(grantee, "states:GetActivityTask")
        for workflow in self.users[task]:
            state_machines[workflow].grant_task_response(grantee)
