"""Builds the CDK app: settings from the context, the stack, and cdk-nag's AwsSolutions checks."""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from imgpipe import envelope
from infra.context import deployment_config, reserved_concurrency_enabled
from infra.stack import ImgpipeStack


def build(app: App) -> ImgpipeStack:
    """Add the imgpipe stack to `app`. Environment-agnostic: synth needs no credentials."""
    from statemachines.project import load_project

    config = deployment_config(app.node)
    project = load_project()
    stack = ImgpipeStack(
        app,
        config.prefix,
        config=config,
        project=project,
        translated=envelope.translate_for_deployment(config, project),
        reserve_concurrency=reserved_concurrency_enabled(app.node),
        description="imgpipe: Conductor image workflows on Step Functions with Pillow Lambda workers",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return stack
