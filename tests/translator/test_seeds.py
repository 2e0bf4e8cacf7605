"""The seed posts' JSON, verbatim: the translator reports their defects instead of copying them."""

from __future__ import annotations

import json
from pathlib import Path

from statemachines.project import load_project, load_sources, translate_all
from statemachines.translator import Diagnostics, translate_workflow
from statemachines.translator.sources import parse_task_defs, parse_workflow

SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"


def findings(path: Path):
    diagnostics = Diagnostics()
    project = load_sources(path, diagnostics)
    _, translated = translate_all(project)
    return diagnostics.items + translated


def test_curl_payload_uses_a_task_name_with_no_task_definition() -> None:
    """Seeds 000/001 register the task definition `upload_toS3_ref`, but the workflow they POST runs
    `image_toS3`: Conductor gives it its default definition and schedules a task no worker polls. The
    translator says so at the task; the local runtime then refuses it for having no worker
    (tests/e2e/test_conductor_seeds.py)."""
    for seed in ("000", "001"):
        found = findings(SEEDS / seed / "curl" / "image_convert_resize.json")
        assert not [d for d in found if d.severity == "error"], seed
        [warning] = [d for d in found if d.location == "tasks[1].name" and "image_toS3" in d.message]
        assert "Conductor's default definition" in warning.message


def test_post_workflow_uses_a_reference_name_as_task_name() -> None:
    for seed in ("000", "001"):
        found = findings(SEEDS / seed / "workflows" / "image_convert_resize.json")
        assert not [d for d in found if d.severity == "error"]
        [warning] = [d for d in found if d.location == "tasks[1].name"]
        assert "upload_toS3_ref" in warning.message


def test_seed_workflows_against_the_project_workers_name_the_missing_worker() -> None:
    project = load_project()
    for path, missing in (
        (SEEDS / "000" / "workflows" / "image_convert_resize.json", "upload_toS3_ref"),
        (SEEDS / "000" / "curl" / "image_convert_resize.json", "image_toS3"),
    ):
        diagnostics = Diagnostics()
        workflow = parse_workflow(json.loads(path.read_text()), path.name, diagnostics)
        assert workflow is not None
        translation = translate_workflow(workflow, project.task_defs)
        assert not [d for d in translation.diagnostics if d.severity == "error"]
        [warning] = [d for d in translation.diagnostics if "no task definition" in d.message]
        assert warning.location == "tasks[1].name"
        assert f"'{missing}' has no task definition" in warning.message
        assert missing in translation.lambda_tasks  # a worker CDK and the local runtime ask for


def test_dynamic_fork_seed_outputs_a_task_that_is_not_in_the_workflow() -> None:
    found = findings(SEEDS / "003" / "workflows" / "image_multiple_convert_resize.json")
    [error] = [d for d in found if d.severity == "error"]
    assert error.location == "outputParameters.fileLocations"
    assert "image_convert_resize_ref" in error.message
    assert any("dynamicForkItems" in d.message for d in found if d.severity == "warning")


def test_taskdefs_payload_lists_parse_like_single_definitions() -> None:
    for seed in ("000", "001"):
        diagnostics = Diagnostics()
        payload = json.loads((SEEDS / seed / "taskdefs_payload.json").read_text())
        [task_def] = parse_task_defs(payload, "taskdefs_payload.json", diagnostics)
        single = json.loads((SEEDS / seed / "tasks" / "image_convert_resize.json").read_text())
        assert task_def.model_dump() == parse_task_defs(single, "x", diagnostics)[0].model_dump()
        assert not diagnostics.items


def test_project_copies_fix_the_seed_defects() -> None:
    project = load_project()
    single = project.workflows["image_convert_resize"]
    assert [t.name for t in single.tasks] == ["image_convert_resize", "upload_toS3"]
    assert set(single.outputParameters) == {"fileLocation", "s3Url"}
    assert "maintainAspectRatio" in single.tasks[0].inputParameters
    dynamic = project.workflows["image_multiple_convert_resize"]
    assert dynamic.outputParameters == {"fileLocations": "${image_multiple_convert_resize_join_ref.output}"}
    _, found = translate_all(project)
    assert not [d for d in found if d.severity == "error"]
