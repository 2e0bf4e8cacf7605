"""The dynamic JOIN's two output modes (`dynamic_join_output`), executed by moto's engine with stub
workers: `map` is Conductor's exact output, `list` the Map's own result; what each costs in state
transitions, counted from the execution history (Standard bills each state entered)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from statemachines.project import CONDUCTOR_DIR, OPTIONS_FILE, load_options, load_project, translate_project
from statemachines.translator import Diagnostics, TranslatorOptions
from statemachines.translator.emitter import JOIN_MERGE_CHUNKS
from statemachines.translator.options import DynamicJoinOutput
from tests.translator.harness import Execution, engine, task_defs, translate
from tests.translator.stubs import project_workers

# A reference with quotes, braces, a backslash and a dash: the map's keys must still be exact.
AWKWARD_REF = "odd-ref {'q'} \\ \"x\""
SIZES = [0, 1, 7, 8, 9, 17]


def echo(event: Any, _context: Any) -> Any:
    return {"received": event}


def planner(event: Any, _context: Any) -> Any:
    """`count` items; the second one has an awkward reference name."""
    refs = [AWKWARD_REF if i == 1 else f"item_{i}" for i in range(event["count"])]
    return {
        "dynamicForkItems": [
            {"taskReferenceName": ref, "name": "echo", "type": "SIMPLE", "input": {"n": i, "ref": ref}}
            for i, ref in enumerate(refs)
        ]
    }


def fork_definition(name: str, output: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "tasks": [
            {
                "name": "planner",
                "taskReferenceName": "plan",
                "type": "SIMPLE",
                "inputParameters": {"count": "${workflow.input.count}"},
            },
            {
                "name": "fork",
                "taskReferenceName": "fork_ref",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"dynamicTasks": "${plan.output.dynamicTasks}"},
                "dynamicForkTasksParam": "dynamicTasks",
            },
            {"name": "join", "taskReferenceName": "join_ref", "type": "JOIN"},
        ],
        "outputParameters": output if output is not None else {"joined": "${join_ref.output}"},
    }


def expected_entries(count: int) -> list[tuple[str, Any]]:
    refs = [AWKWARD_REF if i == 1 else f"item_{i}" for i in range(count)]
    return [(ref, {"received": {"n": i, "ref": ref}}) for i, ref in enumerate(refs)]


def transitions(execution: Execution) -> int:
    """State transitions as Standard bills them: every state entered, Map iterations' states included."""
    return sum(1 for e in execution.events if e["type"].endswith("StateEntered"))


def map_assembly_transitions(count: int) -> int:
    """Choice + Pass per chunk of 8/4/2/1 items, then the last Choice, the place and the tidy Pass."""
    chunks, left = 0, count
    for size in JOIN_MERGE_CHUNKS:
        chunks += left // size
        left %= size
    return 2 * chunks + 3


@pytest.fixture(scope="module")
def deployed():
    defs = task_defs("planner", "echo")
    with engine() as runtime:
        runtime.function("planner", planner)
        runtime.function("echo", echo)
        for mode in ("map", "list"):
            asl, diagnostics = translate(
                fork_definition(f"join_{mode}"), defs, options=TranslatorOptions(dynamic_join_output=mode)
            )
            assert not [d for d in diagnostics if d.severity == "error"], diagnostics
            runtime.deploy(f"join_{mode}", json.dumps(asl))
        yield runtime


@pytest.mark.slow
@pytest.mark.parametrize("count", SIZES)
def test_map_mode_is_conductors_map_exactly_in_fork_order(deployed, count: int) -> None:
    result = deployed.run("join_map", {"count": count})
    assert result.status == "SUCCEEDED", result.cause
    joined = result.output["joined"]
    assert list(joined.items()) == expected_entries(count)
    assert "dynamicJoin" not in json.dumps(result.output)


@pytest.mark.slow
@pytest.mark.parametrize("count", SIZES)
def test_list_mode_is_the_maps_entries_in_fork_order(deployed, count: int) -> None:
    result = deployed.run("join_list", {"count": count})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["joined"] == [
        {"taskReferenceName": ref, "output": output} for ref, output in expected_entries(count)
    ]


@pytest.mark.slow
def test_transitions_per_item_in_each_mode(deployed) -> None:
    counted = {
        (mode, count): transitions(deployed.run(f"join_{mode}", {"count": count}))
        for mode in ("map", "list")
        for count in SIZES
    }
    # list: route item, route task, the task, the entry Pass: 4 per item and nothing after the Map
    for count in SIZES:
        assert counted[("list", count)] - counted[("list", 0)] == 4 * count
    # map: the same 4 per item, plus the assembly (2 states per chunk of up to 8 items)
    for count in SIZES:
        extra = counted[("map", count)] - counted[("list", count)]
        assert extra == map_assembly_transitions(count)
        assert counted[("list", count)] < counted[("map", count)]
    assert counted[("map", 9)] - counted[("list", 9)] == 7  # was 2 * 9 + 3 = 21 before chunking


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["map", "list"])
def test_fan_out_cap_in_each_mode_stays_far_below_the_history_limit(mode: DynamicJoinOutput) -> None:
    project = load_project()
    options = project.options.replace(dynamic_join_output=mode)
    translated = translate_project(replace(project, options=options))
    sizes = [{"width": 100 + i, "height": 100 + i} for i in range(10)]
    payload = {"fileLocation": "s3://u/u/cat.png", "outputFormats": ["png", "jpg", "webp", "gif", "avif"]}
    with engine() as runtime:
        project_workers(runtime)
        # a name per mode: moto's backend outlives one engine while another (the fixture's) is open
        runtime.deploy(f"fanout_{mode}", translated["image_multiple_convert_resize"].asl_json)
        result = runtime.run(f"fanout_{mode}", {**payload, "outputSizes": sizes})
    assert result.status == "SUCCEEDED", result.cause
    joined = result.output["fileLocations"]
    assert len(joined) == 50
    if mode == "list":
        assert [entry["taskReferenceName"] for entry in joined][:2] == [
            "image_convert_resize_png_100x100_0",
            "image_convert_resize_png_101x101_1",
        ]
    else:
        assert next(iter(joined)) == "image_convert_resize_png_100x100_0"
    assert len(result.events) < 25_000 // 10
    assert result.max_event_bytes() < 256 * 1024 // 4


# --- static: options, expressions, diagnostics --------------------------------------------------
def errors(diagnostics: list[Any]) -> list[Any]:
    return [d for d in diagnostics if d.severity == "error"]


def test_list_mode_refuses_reading_a_key_of_the_join_by_reference_name() -> None:
    definition = fork_definition("keyed", {"first": "${join_ref.output.item_0.received}"})
    _, diagnostics = translate(
        definition, task_defs("planner", "echo"), options=TranslatorOptions(dynamic_join_output="list")
    )
    [error] = errors(diagnostics)
    assert error.location == "outputParameters.first"
    assert "key 'item_0' of JOIN 'join_ref'" in error.message
    assert "dynamic_join_output_by_join['keyed.join_ref'] to 'map'" in error.message


def test_map_mode_reads_a_key_and_list_mode_reads_the_whole_output_or_an_index() -> None:
    defs = task_defs("planner", "echo")
    _, keyed = translate(fork_definition("keyed", {"first": "${join_ref.output.item_0.received}"}), defs)
    assert not errors(keyed)
    as_list = TranslatorOptions(dynamic_join_output="list")
    for output in ({"all": "${join_ref.output}"}, {"first": "${join_ref.output[0].output}"}):
        _, diagnostics = translate(fork_definition("whole", output), defs, options=as_list)
        assert not errors(diagnostics), output


def test_default_is_map_and_per_join_overrides_apply_to_that_join_only() -> None:
    defs = task_defs("planner", "echo")
    default, _ = translate(fork_definition("wf"), defs)
    explicit, _ = translate(fork_definition("wf"), defs, options=TranslatorOptions(dynamic_join_output="map"))
    assert json.dumps(default) == json.dumps(explicit)
    overridden = TranslatorOptions(dynamic_join_output_by_join={"wf.join_ref": "list"})
    as_list, _ = translate(fork_definition("wf"), defs, options=overridden)
    other, _ = translate(fork_definition("other"), defs, options=overridden)
    assert as_list["States"]["fork_ref"]["ResultPath"] == "$.tasks.join_ref"
    assert "dynamicJoin" not in json.dumps(as_list)
    assert json.dumps(other) == json.dumps(translate(fork_definition("other"), defs)[0])


def test_an_unknown_mode_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"dynamic_join_output\n  Input should be 'map' or 'list'"):
        TranslatorOptions(dynamic_join_output="dict")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"dynamic_join_output_by_join\.`wf\.j`\n  Input should be 'map'"):
        TranslatorOptions(dynamic_join_output_by_join={"wf.j": "lists"})  # type: ignore[dict-item]


def test_translator_json_sets_the_mode_globally_and_per_join(tmp_path: Path) -> None:
    path = tmp_path / "translator.json"
    path.write_text(
        json.dumps({"dynamic_join_output": "list", "dynamic_join_output_by_join": {"wf.join_ref": "map"}})
    )
    diagnostics = Diagnostics()
    options = load_options(path, diagnostics)
    assert not diagnostics.errors
    assert options.join_output("wf", "join_ref") == "map"
    assert options.join_output("other", "join_ref") == "list"
    path.write_text(json.dumps({"dynamic_join_output_by_join": {"wf.join_ref": "hash"}}))
    diagnostics = Diagnostics()
    assert load_options(path, diagnostics).join_output("wf", "join_ref") == "map"
    [error] = diagnostics.errors
    assert error.location == "translator.json.dynamic_join_output_by_join.wf.join_ref"
    assert "'hash' is not a JOIN output mode" in error.message


def test_the_project_deploys_conductors_map() -> None:
    diagnostics = Diagnostics()
    options = load_options(CONDUCTOR_DIR / OPTIONS_FILE, diagnostics)
    assert options.dynamic_join_output == "map"
    assert not options.dynamic_join_output_by_join
