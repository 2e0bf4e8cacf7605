"""The imgpipe stack: a thin composition of one construct per concern."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from imgpipe.config import RENDER_ALL_TASK, DeploymentConfig, state_machine_output_key
from infra.backfill import Backfill
from infra.bundling import DependenciesLayer
from infra.nag import acknowledge_findings
from infra.storage import Storage
from infra.trigger import UploadTrigger
from infra.workers import Workers, WorkerSettings
from infra.workflows import Workflows
from statemachines.backfill import BACKFILL_WORKFLOW


def worker_settings(
    project: Any, translated: Mapping[str, Any], *, reserve_concurrency: bool
) -> WorkerSettings:
    """Timeouts from the task definitions; reserved concurrency (the smallest hint any workflow
    gives for a task) only when the deployer opted in."""
    timeouts = {name: task.timeoutSeconds or None for name, task in project.task_defs.items()}
    reserved: dict[str, int] = {}
    if reserve_concurrency:
        for tw in translated.values():
            for task_name, limit in tw.concurrency_hints.items():
                reserved[task_name] = min(limit, reserved.get(task_name, limit))
    return WorkerSettings(timeouts=timeouts, reserved_concurrency=reserved)


def start_execution_command(state_machine_arn: str, input_bucket: str, config: DeploymentConfig) -> str:
    """The CLI call that runs the trigger workflow by hand on an uploaded image."""
    recipe = config.defaultRecipe.model_dump(mode="json")
    execution_input = {"fileLocation": f"s3://{input_bucket}/{config.inputPrefix}example.jpg", **recipe}
    return (
        f"aws stepfunctions start-execution --state-machine-arn {state_machine_arn} "
        f"--input '{json.dumps(execution_input, separators=(',', ':'))}'"
    )


class ImgpipeStack(Stack):
    """Buckets, worker functions, translated state machines and the upload trigger."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        project: Any,
        translated: Mapping[str, Any],
        reserve_concurrency: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if config.triggerWorkflow not in translated:
            raise ValueError(
                f"imgpipe:triggerWorkflow {config.triggerWorkflow!r} is not one of the project's "
                f"workflows: {sorted(translated)}"
            )
        self.config = config
        self.storage = Storage(self, "Storage", config=config)
        self.dependency_layer = DependenciesLayer(self, "Dependencies")
        self.workers = Workers(
            self,
            "Workers",
            config=config,
            storage=self.storage,
            layer=self.dependency_layer.layer,
            settings=worker_settings(project, translated, reserve_concurrency=reserve_concurrency),
        )
        self.workflows = Workflows(
            self, "Workflows", config=config, translated=translated, functions=self.workers.functions
        )
        trigger_machine = self.workflows.state_machines[config.triggerWorkflow]
        self.trigger = UploadTrigger(
            self,
            "Trigger",
            config=config,
            input_bucket=self.storage.input_bucket,
            state_machine=trigger_machine,
        )
        # `imgpipe backfill` runs on the render-all worker: deployed with it.
        render_worker = self.workers.functions.get(RENDER_ALL_TASK)
        self.backfill = (
            Backfill(self, "Backfill", config=config, storage=self.storage, render_worker=render_worker)
            if render_worker is not None
            else None
        )
        self._outputs(trigger_machine.state_machine_arn)
        acknowledge_findings(
            self,
            config=config,
            storage=self.storage,
            workers=self.workers,
            workflows=self.workflows,
            trigger=self.trigger,
        )

    def _outputs(self, trigger_arn: str) -> None:
        CfnOutput(self, "InputBucketName", value=self.storage.input_bucket.bucket_name)
        CfnOutput(self, "OutputBucketName", value=self.storage.output_bucket.bucket_name)
        CfnOutput(self, "TriggerDeadLetterQueueUrl", value=self.trigger.dead_letter_queue.queue_url)
        for name, machine in self.workflows.state_machines.items():
            CfnOutput(
                self,
                state_machine_output_key(name),
                value=machine.state_machine_arn,
                description=f"ARN of the {name} workflow",
            )
        if self.backfill is not None:
            CfnOutput(
                self,
                state_machine_output_key(BACKFILL_WORKFLOW),
                value=self.backfill.state_machine.state_machine_arn,
                description="ARN of the backfill state machine (imgpipe backfill --stack-name)",
            )
        CfnOutput(
            self,
            "StartExecutionCommand",
            value=start_execution_command(trigger_arn, self.storage.input_bucket.bucket_name, self.config),
            description=f"Runs {self.config.triggerWorkflow} on an image already in the input bucket",
        )
