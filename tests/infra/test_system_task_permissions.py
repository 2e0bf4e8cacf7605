"""The roles of workflows that use Conductor system tasks (EVENT, HUMAN, START_WORKFLOW, ...) get
exactly the integrations they call."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from imgpipe.config import JQ_TASK, DeploymentConfig
from infra.workflows import Workflows
from statemachines.project import Project, translate_project
from statemachines.translator.model import TaskDef, WorkflowDef

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:111111111111:function"


def system(kind: str, ref: str, **inputs: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": kind, "inputParameters": inputs}


def project(*workflows: dict[str, Any]) -> Project:
    task_defs = {"echo": TaskDef.model_validate({"name": "echo", "retryCount": 0, "timeoutSeconds": 5})}
    return Project(task_defs, {w["name"]: WorkflowDef.model_validate(w) for w in workflows})


def synthesized(loaded: Project) -> tuple[Template, dict[str, Any]]:
    app = App()
    stack = Stack(app, "Permissions")
    translated = translate_project(loaded)
    tasks = {task for tw in translated.values() for task in tw.lambda_tasks}
    functions = {
        task: lambda_.Function.from_function_arn(stack, f"fn-{task}", f"{ACCOUNT_ARN}:{task}")
        for task in tasks
    }
    Workflows(stack, "Workflows", config=DeploymentConfig(), translated=translated, functions=functions)
    return Template.from_stack(stack), translated


INTEGRATIONS = ("events:", "states:", "lambda:", "sqs:")


def granted(template: Template) -> dict[str, list[str]]:
    """Integration action -> the resources it is granted on, over every policy of the stack (as JSON
    text); the logging and tracing grants every state machine has are left out."""
    actions: dict[str, list[str]] = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in (a for a in listed if a.startswith(INTEGRATIONS)):
                actions.setdefault(action, []).append(json.dumps(statement["Resource"]))
    return actions


def test_event_and_human_tasks_may_put_events_on_the_default_bus_only() -> None:
    template, _ = synthesized(
        project(
            {
                "name": "announcing",
                "tasks": [system("EVENT", "e", sink="conductor"), system("HUMAN", "h")],
            }
        )
    )
    actions = granted(template)
    assert list(actions) == ["events:PutEvents"]
    (bus,) = actions["events:PutEvents"]
    assert ":event-bus/default" in bus


def test_start_workflow_may_start_its_target_and_jq_invokes_the_jq_worker() -> None:
    target = {"name": "target", "tasks": [system("NOOP", "n")]}
    starter = {
        "name": "starter",
        "tasks": [
            system("START_WORKFLOW", "s", startWorkflow={"name": "target"}),
            system("JSON_JQ_TRANSFORM", "j", queryExpression="."),
        ],
    }
    template, translated = synthesized(project(target, starter))
    actions = granted(template)
    assert translated["starter"].lambda_tasks == {JQ_TASK}
    assert translated["starter"].started_workflows == {"target"}
    assert not translated["starter"].child_workflows
    assert translated["starter"].express_compatible  # Express may start executions (not .sync)
    [started] = actions["states:StartExecution"]
    assert started.startswith('{"Ref": "Workflowstarget')  # the target's state machine, nothing else
    # started, not waited for: nothing to describe or stop, no managed rule to be told of its end
    assert not {"states:DescribeExecution", "states:StopExecution", "events:PutRule"} & set(actions)
    assert actions["lambda:InvokeFunction"] == [json.dumps(f"{ACCOUNT_ARN}:{JQ_TASK}")]
    assert "events:PutEvents" not in actions


def test_an_sqs_sink_may_send_only_to_the_queue_the_stack_creates_for_it() -> None:
    sending = {"name": "sending", "tasks": [system("EVENT", "e", sink="sqs:orders")]}
    template, _ = synthesized(project(sending))
    actions = granted(template)
    assert list(actions) == ["sqs:SendMessage"]  # tests/infra/test_event_queues.py: the queue itself
    (queue,) = actions["sqs:SendMessage"]
    assert json.loads(queue)["Fn::GetAtt"][0].startswith("WorkflowsEventQueueorders")
