"""Every construct's ASL passes cfn-lint's Step Functions schema (AWS's rules, rule E3601), not
only moto's parser: one template holding a translation of each construct."""

from __future__ import annotations

import json
import re

from cfnlint.api import lint

from statemachines.project import substitute
from statemachines.translator import TranslatorOptions
from statemachines.translator.model import WorkflowDef
from tests.translator.harness import task_defs, translate
from tests.translator.test_constructs_execution import (
    fork_workflow,
    loop_workflow,
    simple,
    sub_workflow_pair,
    switch_workflow,
    workflow,
)
from tests.translator.test_do_while_items import ECHO_ITEM, item_loop
from tests.translator.test_dynamic_join import fork_definition
from tests.translator.test_exclusive_join import WORKFLOW as EXCLUSIVE_JOIN_WORKFLOW
from tests.translator.test_http_task import workflow as http_workflow
from tests.translator.test_permissive import DEFS as PERMISSIVE_DEFS
from tests.translator.test_permissive import fork as permissive_fork
from tests.translator.test_permissive import permissive
from tests.translator.test_sub_workflow_forms import child as sub_workflow_child
from tests.translator.test_sub_workflow_forms import parent as sub_workflow_parent
from tests.translator.test_while import BODY as WHILE_BODY
from tests.translator.test_while import COUNTED, while_loop


def _arns(asl_json: str) -> dict[str, str]:
    return {
        key: f"arn:aws:lambda:us-east-1:123456789012:function:{key}"
        if key.startswith("LambdaArn_")
        else f"arn:aws:states:us-east-1:123456789012:stateMachine:{key}"
        for key in re.findall(r"\$\{([A-Za-z0-9_]+)\}", asl_json)
    }


def test_every_construct_passes_the_state_machine_schema() -> None:
    defs = task_defs("echo", "planner", "counter", "invalid")
    parent, child = sub_workflow_pair()
    children = {"child": WorkflowDef.model_validate(child)}
    definitions = {
        "fork": translate(fork_workflow(), defs),
        "switch": translate(switch_workflow(), defs),
        "decision": translate(switch_workflow("DECISION"), defs),
        "loop": translate(loop_workflow("$.loop_ref['iteration'] < $.times"), defs),
        "child": translate(parent, defs, children),
        "inline": translate(parent, defs, children, TranslatorOptions(inline_sub_workflows=True)),
        "joinlist": translate(
            fork_definition("dynamic_join_list"), defs, options=TranslatorOptions(dynamic_join_output="list")
        ),
        "joinmap": translate(fork_definition("dynamic_join_map"), defs),
        "http": translate(
            http_workflow({"uri": "https://api.example.com/${workflow.input.id}", "method": "POST"}), {}
        ),
        "exclusive": translate(EXCLUSIVE_JOIN_WORKFLOW, task_defs("echo")),
        "named": translate(sub_workflow_parent({"name": "${workflow.input.which}"}), defs, children),
        "inlinedef": translate(
            sub_workflow_parent({"name": "c", "workflowDefinition": sub_workflow_child("c", "t")}), defs
        ),
        "permissive": translate(
            permissive_fork(
                [[permissive("t1"), permissive("t3")], [permissive("t2")]], ["t3", "t2"], [permissive("t4")]
            ),
            PERMISSIVE_DEFS,
        ),
        "items": translate(workflow("items", [item_loop([ECHO_ITEM])]), defs),
        "while": translate(
            workflow("while", [while_loop(COUNTED, [WHILE_BODY], value="${workflow.input.loop}")]), defs
        ),
        "misc": translate(
            workflow(
                "misc",
                [
                    {**simple("opt", name="invalid", v="a-${workflow.input.x}"), "optional": True},
                    {
                        "name": "w",
                        "taskReferenceName": "w",
                        "type": "WAIT",
                        "inputParameters": {"duration": "5s"},
                    },
                    {
                        "name": "s",
                        "taskReferenceName": "s",
                        "type": "SET_VARIABLE",
                        "inputParameters": {"k": 1},
                    },
                    {
                        "name": "f",
                        "taskReferenceName": "f",
                        "type": "FORK_JOIN_DYNAMIC",
                        "inputParameters": {"forkTaskName": "echo", "forkTaskInputs": "${opt.output.items}"},
                    },
                    {"name": "j", "taskReferenceName": "j", "type": "JOIN"},
                ],
                {"v": "${workflow.variables.k}", "in": "${opt.input.v}"},
                timeoutSeconds=600,
                timeoutPolicy="TIME_OUT_WF",
            ),
            defs,
        ),
    }
    resources = {}
    for name, (asl, diagnostics) in definitions.items():
        assert not [d for d in diagnostics if d.severity == "error"], (name, diagnostics)
        text = json.dumps(asl)
        resources[name] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "RoleArn": "arn:aws:iam::123456789012:role/sfn",
                "Definition": json.loads(substitute(text, _arns(text))),
            },
        }
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
    assert [str(match) for match in lint(json.dumps(template), regions=["us-east-1"])] == []
