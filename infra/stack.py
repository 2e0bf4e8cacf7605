"""The imgpipe stack: a thin composition of one construct per concern."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import Annotations, Aspects, CfnOutput, Stack
from constructs import Construct

from imgpipe import envelope
from imgpipe.config import (
    LAMBDA_DEFAULT_CONCURRENCY,
    RENDER_ALL_TASK,
    SYSTEM_TASK_TIMEOUT_SECONDS,
    DeploymentConfig,
    state_machine_output_key,
)
from infra.activities import Activities
from infra.backfill import Backfill
from infra.bundling import DependenciesLayer
from infra.claims import TriggerClaims
from infra.concurrency import plan_reserved_concurrency, reservation_hints
from infra.conductor_api import ConductorApi
from infra.http_connections import HttpConnections
from infra.javascript_evaluator import on_demand_layers
from infra.monitoring import Monitoring
from infra.nag import acknowledge_conductor_api, acknowledge_findings
from infra.retention import RetainedNamesAreUnique
from infra.storage import Storage
from infra.trigger import UploadTrigger
from infra.workers import Workers, WorkerSettings
from infra.workflows import Workflows
from statemachines.backfill import BACKFILL_WORKFLOW


def worker_settings(
    project: Any,
    translated: Mapping[str, Any],
    *,
    reserve_concurrency: bool,
    account_concurrency: int = LAMBDA_DEFAULT_CONCURRENCY,
) -> WorkerSettings:
    """Timeouts from the task definitions; reserved concurrency from the concurrency plan
    (infra/concurrency.py: the task definitions' hints, fitted to the account's quota) unless the
    deployer opted out."""
    timeouts = {name: task.timeoutSeconds or None for name, task in project.task_defs.items()}
    timeouts = dict(SYSTEM_TASK_TIMEOUT_SECONDS) | timeouts
    reserved: dict[str, int] = {}
    if reserve_concurrency:
        reserved = plan_reserved_concurrency(reservation_hints(translated), account_concurrency).reserved
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
        reserve_concurrency: bool = True,
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
            settings=worker_settings(
                project,
                translated,
                reserve_concurrency=reserve_concurrency,
                account_concurrency=config.lambdaConcurrency,
            ),
            on_demand_layers=on_demand_layers(self, translated),
        )
        plan = plan_reserved_concurrency(reservation_hints(translated), config.lambdaConcurrency)
        if reserve_concurrency and plan.note:
            Annotations.of(self).add_warning(plan.note)
        self.claims = TriggerClaims(self, "TriggerClaims", config=config)
        deployed = envelope.for_deployment(translated, config)
        # SIMPLE tasks no Lambda worker serves: their activities (none for the project's own workflows)
        self.activities = Activities(self, "Activities", config=config, translated=deployed)
        substitutions = self.activities.substitutions()
        # HTTP tasks: one EventBridge connection per authentication (none for the project's workflows)
        self.http_connections = HttpConnections(self, "HttpConnections", config=config, translated=deployed)
        for workflow, values in self.http_connections.substitutions().items():
            substitutions[workflow] = {**substitutions.get(workflow, {}), **values}
        substitutions[config.triggerWorkflow] = {
            **substitutions.get(config.triggerWorkflow, {}),
            **self.claims.substitutions(),
        }
        self.workflows = Workflows(
            self,
            "Workflows",
            config=config,
            translated=deployed,
            functions=self.workers.functions,
            extra_substitutions=substitutions,
        )
        self.claims.grant_envelope(self.workflows.roles[config.triggerWorkflow])
        for workflow in self.http_connections.translated:
            self.http_connections.grant(self.workflows.roles[workflow], workflow)
        trigger_machine = self.workflows.state_machines[config.triggerWorkflow]
        self.trigger = UploadTrigger(
            self,
            "Trigger",
            config=config,
            input_bucket=self.storage.input_bucket,
            state_machine=trigger_machine,
        )
        # `imgpipe backfill` runs on the render-all worker (always deployed, WORKER_TASKS).
        self.backfill = Backfill(
            self,
            "Backfill",
            config=config,
            storage=self.storage,
            render_worker=self.workers.functions[RENDER_ALL_TASK],
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            functions=self.workers.functions,
            state_machines={**self.workflows.state_machines, "backfill": self.backfill.state_machine},
            trigger_rule=self.trigger.rule,
            queues={
                "trigger-dlq": self.trigger.dead_letter_queue,
                "failed-sources": self.claims.failed_sources_queue,
            },
        )
        # Conductor's REST API over the workflows, when cdk.json asks for it (imgpipe:conductorApi).
        self.conductor_api: ConductorApi | None = None
        if config.conductorApi:
            self.conductor_api = ConductorApi(
                self,
                "ConductorApi",
                config=config,
                project=project,
                translated=translated,
                state_machines=self.workflows.state_machines,
                layer=self.dependency_layer.layer,
            )
            acknowledge_conductor_api(self, self.conductor_api)
            for rule in self.conductor_api.alarm_rules():
                self.monitoring.add_alarm(rule)
        self._outputs(trigger_machine.state_machine_arn)
        Aspects.of(self).add(RetainedNamesAreUnique())
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
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
        CfnOutput(
            self,
            "FailedSourcesQueueUrl",
            value=self.claims.failed_sources_queue.queue_url,
            description="One message per failed trigger run: input, error and cause (docs/reliability.md)",
        )
        CfnOutput(self, "TriggerClaimTableName", value=self.claims.table.table_name)
        for name, machine in self.workflows.state_machines.items():
            CfnOutput(
                self,
                state_machine_output_key(name),
                value=machine.state_machine_arn,
                description=f"ARN of the {name} workflow",
            )
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
