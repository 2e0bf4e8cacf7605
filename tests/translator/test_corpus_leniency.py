"""Forms Conductor OSS's own workflow definitions use (its test-harness resources) that Conductor runs,
executed in moto with Conductor's result, or refused by name where no ASL gives that result:
`${CPEWF_TASK_ID}` (EnvUtils), bracket notation and a DO_WHILE's `iteration` (ParametersUtils reads
expressions with Jayway JsonPath over each task's attributes), system tasks without a `name`, and an
EVENT's `sink` field (EventTaskMapper)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from statemachines.translator import Diagnostics
from statemachines.translator.sources import parse_workflow
from tests.translator.harness import engine, task_defs, translate
from tests.translator.stubs import TransientSourceError
from tests.translator.test_constructs_execution import echo, run_one, simple, workflow
from tests.translator.test_dynamic_join import expected_entries, fork_definition, planner
from tests.translator.test_system_tasks_execution import accepted, received


def errors(definition: dict[str, Any]) -> list[tuple[str, str]]:
    _, diagnostics = translate(definition, task_defs("echo"))
    return [(d.location, d.message) for d in diagnostics if d.severity == "error"]


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and str(uuid.UUID(value)) == value


# --- ${CPEWF_TASK_ID} ----------------------------------------------------------------------------
@pytest.mark.slow
def test_cpewf_task_id_is_a_new_uuid_per_task_and_per_retry_attempt() -> None:
    attempts: list[dict[str, Any]] = []

    def flaky(event: Any, _context: Any) -> Any:
        attempts.append(event)
        if len(attempts) == 1:
            raise TransientSourceError("first attempt fails")
        return {"received": event}

    definition = workflow(
        "task_ids",
        [
            {**simple("t1", name="flaky", id="${CPEWF_TASK_ID}")},
            simple("t2", text="task ${CPEWF_TASK_ID} done"),
        ],
        {"t1": "${t1.output.received.id}", "t2": "${t2.output.received.text}"},
    )
    defs = task_defs("flaky", "echo", retryDelaySeconds=0)
    result, _ = run_one(definition, {}, {"flaky": flaky, "echo": echo}, defs=defs)
    assert result.status == "SUCCEEDED", result.cause
    first, second = (attempt["id"] for attempt in attempts)
    assert is_uuid(first)
    assert is_uuid(second)
    assert first != second
    assert result.output["t1"] == second
    prefix, _, rest = result.output["t2"].partition(" ")
    assert prefix == "task"
    assert rest.endswith(" done")
    assert is_uuid(rest.removesuffix(" done"))
    assert rest.removesuffix(" done") not in (first, second)


@pytest.mark.parametrize(
    ("tasks", "output", "location", "fragment"),
    [
        ([simple("t", a="${CPEWF_TASK_ID}", b="${CPEWF_TASK_ID}")], {}, "tasks[0].inputParameters.b",
         "more than once"),
        ([simple("t", a="${CPEWF_TASK_ID}"), simple("u", copy="${t.input.a}")], {},
         "tasks[0].inputParameters.a", "reads 't.input'"),
        ([{"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
           "inputParameters": {"id": "${CPEWF_TASK_ID}"}, "loopCondition": "$.loop['iteration'] < 2",
           "loopOver": [simple("body")]}], {}, "tasks[0].inputParameters.id", "DO_WHILE"),
        ([simple("t")], {"id": "${CPEWF_TASK_ID}"}, "outputParameters.id", "outside a task's input"),
        ([simple("t", env="${NETFLIX_ENV}")], {}, "tasks[0].inputParameters.env", "server's environment"),
    ],
)  # fmt: skip
def test_task_id_reads_a_uuid_cannot_match_are_refused_by_name(
    tasks: list[dict[str, Any]], output: dict[str, Any], location: str, fragment: str
) -> None:
    problems = errors(workflow("ids", tasks, output))
    assert [where for where, _ in problems] == [location]
    assert fragment in problems[0][1]


# --- bracket notation, a DO_WHILE's iteration ------------------------------------------------------
@pytest.mark.slow
def test_bracket_notation_reads_what_the_dotted_form_reads() -> None:
    definition = workflow(
        "brackets",
        [
            simple(
                "t",
                quoted="${workflow.input['a']['b c']}",
                double='${workflow.input["a"].d[1]}',
                dotted="${workflow.input.a.d[1]}",
            ),
            simple("u", again="${t.output['received'].quoted}"),
        ],
        {"t": "${t.output.received}", "u": "${u.output.received.again}"},
    )
    result, _ = run_one(definition, {"a": {"b c": 5, "d": ["x", "y"]}}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"t": {"quoted": 5, "double": "y", "dotted": "y"}, "u": 5}


@pytest.mark.slow
def test_a_do_while_iteration_in_bracket_or_dotted_form_is_the_pass_number() -> None:
    definition = workflow(
        "iterations",
        [
            {
                "name": "loopTask",
                "taskReferenceName": "loopTask",
                "type": "DO_WHILE",
                "inputParameters": {"value": "${workflow.input.loop}"},
                "loopCondition": "if ($.loopTask['iteration'] < $.value) { true; } else { false;} ",
                "loopOver": [
                    simple("form", index="${loopTask['iteration']}", dotted="${loopTask.iteration}")
                ],
            }
        ],
        {"last": "${form.output.received}", "loops": "${loopTask.iteration}"},
    )
    result, _ = run_one(definition, {"loop": 3}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"last": {"index": 3, "dotted": 3}, "loops": 3}


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [("${t.status}", "only 't.output...'"), ("${t['output'}", "cannot parse"),
     ("${t.['output']}", "cannot parse"), ("${[0].x}", "cannot parse")],
)  # fmt: skip
def test_other_task_attributes_and_malformed_brackets_are_refused_naming_the_expression(
    expression: str, fragment: str
) -> None:
    problems = errors(workflow("attrs", [simple("t"), simple("u", v=expression)]))
    assert [where for where, _ in problems] == ["tasks[1].inputParameters.v"]
    assert fragment in problems[0][1]


# --- system tasks without a name -----------------------------------------------------------------
@pytest.mark.slow
def test_a_dynamic_fork_and_join_without_names_run_as_conductor_runs_them() -> None:
    definition = fork_definition("nameless_fork")
    for task in definition["tasks"][1:]:
        del task["name"]
    asl, diagnostics = translate(definition, task_defs("planner", "echo"))
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    with engine() as runtime:
        runtime.function("planner", planner)
        runtime.function("echo", echo)
        runtime.deploy("nameless_fork", json.dumps(asl))
        result = runtime.run("nameless_fork", {"count": 3})
    assert result.status == "SUCCEEDED", result.cause
    assert list(result.output["joined"].items()) == expected_entries(3)


def test_a_simple_task_without_a_name_is_refused_naming_the_field() -> None:
    diagnostics = Diagnostics("w.json")
    document = {"name": "w", "tasks": [{"taskReferenceName": "t", "type": "SIMPLE"}]}
    assert parse_workflow(document, "w.json", diagnostics) is None
    assert [d.location for d in diagnostics.items if d.severity == "error"] == ["w.json: tasks[0].name"]


# --- EVENT's sink field ----------------------------------------------------------------------------
@pytest.mark.slow
def test_the_task_level_sink_is_the_events_sink_and_replaces_an_input_of_that_name() -> None:
    definition = {
        "name": "publish",
        "tasks": [
            {
                "name": "eventX",
                "taskReferenceName": "announce",
                "type": "EVENT",
                "sink": "sqs:renditions",
                "inputParameters": {"sink": "conductor", "size": "${workflow.input.size}"},
            },
            simple("after", produced="${announce.output.event_produced}"),
        ],
        "outputParameters": {"announce": "${announce.output}", "after": "${after.output.received}"},
    }
    with engine() as runtime:
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="renditions")["QueueUrl"]
        runtime.function("echo", echo)
        asl_json = json.dumps(accepted(definition))
        runtime.deploy("publish", asl_json.replace("${QueueUrl_renditions}", queue_url))
        result = runtime.run("publish", {"size": 64})
        delivered = received(sqs, queue_url)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["after"] == {"produced": "sqs:renditions"}
    assert delivered == [{k: v for k, v in result.output["announce"].items() if k != "event_produced"}]
    assert delivered[0]["sink"] == "sqs:renditions"
    assert delivered[0]["size"] == 64


def test_an_input_only_sink_is_translated_with_a_warning_that_conductor_reads_the_field() -> None:
    definition = {
        "name": "w",
        "tasks": [
            {"name": "e", "taskReferenceName": "e", "type": "EVENT", "inputParameters": {"sink": "conductor"}}
        ],
    }
    _, diagnostics = translate(definition, task_defs("echo"))
    assert not [d for d in diagnostics if d.severity == "error"]
    warnings = [d for d in diagnostics if d.severity == "warning" and "`sink` field" in d.message]
    assert [d.location for d in warnings] == ["tasks[0].inputParameters.sink"]
