"""`make verify-bundle`'s logic: functions, assets and environments discovered from the synthesized
template (not a list in the code), the private apt configuration, and the per-task scenarios.
The emulated run itself is `make verify-bundle`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra import debian_sysroot, synthesized, verify_bundle
from infra.synthesized import AssemblyError, SynthesizedFunction

LAYER_KEY = "aaaa.zip"
CODE_KEY = "cccc.zip"


def _template(**extra_env: object) -> dict:
    def function(handler: str, env: dict) -> dict:
        return {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": handler,
                "Runtime": "python3.13",
                "Architectures": ["arm64"],
                "MemorySize": 512,
                "Timeout": 30,
                "FunctionName": f"demo-{handler.split('.')[1]}",
                "Code": {"S3Bucket": {"Fn::Sub": "cdk-assets"}, "S3Key": CODE_KEY},
                "Layers": [{"Ref": "Deps"}],
                "Environment": {"Variables": env},
            },
        }

    return {
        "Resources": {
            "Deps": {
                "Type": "AWS::Lambda::LayerVersion",
                "Properties": {"Content": {"S3Bucket": "b", "S3Key": LAYER_KEY}},
            },
            "Out": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "Named": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "literal-name"}},
            "Render": function(
                "lambdas.image_render_renditions.handler.handler",
                {"OUTPUT_BUCKET": {"Ref": "Out"}, "MAX_FRAMES": 200, "FLAG": True, **extra_env},
            ),
            "Publish": function("lambdas.upload_toS3.handler.handler", {"OUTPUT_BUCKET": {"Ref": "Named"}}),
            "Inline": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Handler": "index.handler", "Runtime": "python3.13", "Code": {"ZipFile": "x"}},
            },
        }
    }


ASSETS = {LAYER_KEY: Path("/out/asset.aaaa"), CODE_KEY: Path("/out/asset.cccc")}


def test_every_asset_function_is_found_with_its_assets_and_resolved_environment():
    functions = synthesized.functions_in_template(_template(), ASSETS, synthesized.bucket_name_of)
    assert [f.logical_id for f in functions] == ["Publish", "Render"]  # not the inline custom resource
    render = functions[1]
    assert render.task == "image_render_renditions"
    assert render.handler_module == "lambdas.image_render_renditions.handler"
    assert render.handler_function == "handler"
    assert (render.memory_mb, render.timeout_seconds, render.architectures) == (512, 30, ("arm64",))
    assert render.code_dir == ASSETS[CODE_KEY]
    assert render.layer_dirs == (ASSETS[LAYER_KEY],)
    assert render.environment == {"FLAG": "true", "MAX_FRAMES": "200", "OUTPUT_BUCKET": "verify-out"}
    assert functions[0].environment == {"OUTPUT_BUCKET": "literal-name"}


def test_an_environment_value_known_only_after_deploy_is_refused_naming_it():
    template = _template(QUEUE_URL={"Fn::GetAtt": ["Queue", "QueueUrl"]})
    with pytest.raises(AssemblyError, match="Render: environment variable QUEUE_URL"):
        synthesized.functions_in_template(template, ASSETS, synthesized.bucket_name_of)


def test_a_ref_to_something_other_than_a_bucket_is_refused():
    template = _template(TOPIC={"Ref": "Deps"})
    with pytest.raises(AssemblyError, match=r"TOPIC.*AWS::Lambda::LayerVersion"):
        synthesized.functions_in_template(template, ASSETS, synthesized.bucket_name_of)


def test_code_missing_from_the_assets_manifest_is_an_error():
    with pytest.raises(AssemblyError, match="not in the assets manifest"):
        synthesized.functions_in_template(
            _template(), {LAYER_KEY: ASSETS[LAYER_KEY]}, synthesized.bucket_name_of
        )


@pytest.mark.slow
def test_the_synthesized_app_is_read_back_function_by_function(synth):
    functions = synthesized.read_functions(synth.outdir)
    in_template = {
        logical_id: resource["Properties"]
        for logical_id, resource in synth.of_type("AWS::Lambda::Function").items()
        if "S3Key" in resource["Properties"]["Code"]
    }
    assert {f.logical_id for f in functions} == set(in_template)
    for function in functions:
        properties = in_template[function.logical_id]
        assert function.handler == properties["Handler"]
        module_file = function.code_dir / Path(*function.handler_module.split(".")).with_suffix(".py")
        assert module_file.is_file()
        assert all((layer / "python" / "PIL").is_dir() for layer in function.layer_dirs)
        assert function.layer_dirs
        assert set(function.environment) == set(properties["Environment"]["Variables"])
        assert all(isinstance(value, str) for value in function.environment.values())


def _function(task: str) -> SynthesizedFunction:
    return SynthesizedFunction(
        logical_id=task,
        function_name=task,
        handler=f"lambdas.{task}.handler.handler",
        runtime="python3.13",
        architectures=("arm64",),
        memory_mb=256,
        timeout_seconds=15,
        code_dir=Path("/code"),
        layer_dirs=(Path("/layer"),),
        environment={"OUTPUT_BUCKET": "out"},
    )


def test_each_task_gets_its_scenario_and_an_unknown_task_is_imported_only():
    sources = {
        name: verify_bundle.Source(f"uploads/{name}", b"", "image/png")
        for name in ("photo", "logo", "gif", "webp", "heic")
    }
    tasks = ["image_convert_resize", "image_multiple_convert_resize", "image_render_renditions", "new_task"]
    jobs = {job.function.task: job for job in verify_bundle.plan_jobs([_function(t) for t in tasks], sources)}
    formats = {event["outputFormat"] for event in jobs["image_convert_resize"].events}
    assert formats == {"jpg", "png", "webp", "gif", "avif"}
    assert [e["fileLocation"] for e in jobs["image_multiple_convert_resize"].events] == [sources["photo"].uri]
    assert jobs["image_render_renditions"].events
    assert jobs["new_task"].events == []
    assert jobs["new_task"].check([], None) == []


def test_the_jq_worker_is_run_and_judged_on_conductors_output_shape():
    from lambdas.json_jq_transform.transform import transform

    sources = {
        name: verify_bundle.Source(f"uploads/{name}", b"", "image/png")
        for name in ("photo", "logo", "gif", "webp", "heic")
    }
    [job] = verify_bundle.plan_jobs([_function("json_jq_transform")], sources)
    assert job.events == [verify_bundle.JQ_EVENT]
    answered = [{"ok": True, "output": transform(dict(verify_bundle.JQ_EVENT))}]
    assert job.check(answered, None) == []
    wrong = [{"ok": True, "output": {"result": None, "resultList": []}}]
    assert job.check(wrong, None) != []


def test_the_guest_gets_the_template_environment_and_the_bundle_on_its_path():
    env = verify_bundle.guest_environment(_function("upload_toS3"), "http://127.0.0.1:1")
    assert env["OUTPUT_BUCKET"] == "out"
    assert env["PYTHONPATH"] == "/code:/layer/python"
    assert env["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:1"
    assert env["_HANDLER"] == "lambdas.upload_toS3.handler.handler"
    assert "Sampled=0" in env["_X_AMZN_TRACE_ID"]


def test_the_private_apt_configuration_never_points_at_the_systems_apt(tmp_path):
    spec = debian_sysroot.SysrootSpec("arm64", mirror="http://mirror.example/debian")
    config = debian_sysroot.apt_config(spec, tmp_path)
    paths = [line.split('"')[1] for line in config.splitlines() if line.startswith("Dir::")]
    assert paths
    assert all(path.startswith(str(tmp_path)) for path in paths)
    assert 'APT::Architecture "arm64";' in config
    line = debian_sysroot.sources_list(spec)
    assert line == (
        "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
        "http://mirror.example/debian trixie main\n"
    )
    assert spec.key != debian_sysroot.SysrootSpec("amd64", mirror=spec.mirror).key


def test_the_mirror_is_the_one_the_system_uses(tmp_path):
    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://deb.example.org/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://deb.example.org/debian-security\nSuites: bookworm-security\n"
    )
    assert debian_sysroot.system_mirror((deb822,)) == "http://deb.example.org/debian"
    one_line = tmp_path / "sources.list"
    one_line.write_text("deb [signed-by=/k.gpg] http://other.example/debian/ bookworm main\n")
    assert debian_sysroot.system_mirror((tmp_path / "missing", one_line)) == "http://other.example/debian"
    assert debian_sysroot.system_mirror((tmp_path / "missing",)) == debian_sysroot.DEFAULT_MIRROR


def test_the_highest_glibc_symbol_version_is_found(tmp_path):
    import shutil
    import sys

    # This interpreter's own shared objects, copied: real ELF files with versioned glibc symbols.
    libraries = sorted(Path(sys.base_prefix, "lib").rglob("*.cpython-*.so"))[:3]
    assert libraries
    for library in libraries:
        shutil.copyfile(library, tmp_path / library.name)
    highest, needed_by = verify_bundle.highest_glibc([tmp_path])
    assert highest >= (2, 2)
    assert needed_by is not None
    assert needed_by.parent == tmp_path


def _probe(tmp_path: Path, invalidation: str | None) -> dict:
    """The guest probe, run by this interpreter on a tiny bundle compiled (or not) as given."""
    import json
    import py_compile
    import subprocess
    import sys

    package = tmp_path / "bundle" / "demo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text("def handler(event, context):\n    return {'echo': event}\n")
    if invalidation is not None:
        for source in package.glob("*.py"):
            py_compile.compile(
                str(source), doraise=True, invalidation_mode=py_compile.PycInvalidationMode[invalidation]
            )
    job = {
        "handler_module": "demo.handler",
        "handler_function": "handler",
        "function_name": "demo",
        "memory_mb": 128,
        "timeout_seconds": 3,
        "roots": [str(tmp_path / "bundle")],
        "events": [{"n": 1}],
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    subprocess.run(
        [sys.executable, str(verify_bundle.PROBE), str(tmp_path / "job.json"), str(tmp_path / "report.json")],
        env={"PATH": "", "PYTHONPATH": str(tmp_path / "bundle"), "PYTHONDONTWRITEBYTECODE": "1"},
        check=True,
        capture_output=True,
    )
    return json.loads((tmp_path / "report.json").read_text())


def test_the_probe_sees_shipped_unchecked_hash_pycs_used(tmp_path):
    report = _probe(tmp_path, "UNCHECKED_HASH")
    assert report["results"] == [
        {"ok": True, "output": {"echo": {"n": 1}}, "seconds": report["results"][0]["seconds"]}
    ]
    assert report["imports"] == {"from_bytecode": 2, "from_source": [], "pyc_flags": {"1": 2}}


def test_the_probe_sees_a_bundle_without_pycs_compiled_at_import(tmp_path):
    report = _probe(tmp_path, None)
    assert [Path(p).name for p in report["imports"]["from_source"]] == ["__init__.py", "handler.py"]
    assert report["imports"]["from_bytecode"] == 0


def test_the_probe_tells_timestamp_pycs_from_unchecked_hash_ones(tmp_path):
    report = _probe(tmp_path, "TIMESTAMP")
    assert report["imports"]["pyc_flags"] == {"0": 2}


def test_the_layer_must_hold_the_locked_versions(tmp_path):
    lock_text = "pillow==13.0.0 \\\n    --hash=sha256:" + "ab" * 32 + "\n"
    (tmp_path / "python" / "pillow-13.0.0.dist-info").mkdir(parents=True)
    assert verify_bundle.layer_pin_mismatches(tmp_path, lock_text) == []
    (tmp_path / "python" / "typing_extensions-4.16.0.dist-info").mkdir()
    (tmp_path / "python" / "pillow-13.0.0.dist-info").rename(tmp_path / "python" / "pillow-12.2.0.dist-info")
    problems = verify_bundle.layer_pin_mismatches(tmp_path, lock_text)
    assert len(problems) == 2
    assert any("pillow 12.2.0" in p and "pins 13.0.0" in p for p in problems)
    assert any("typing_extensions 4.16.0" in p and "pins None" in p for p in problems)


def _png(size: tuple[int, int]) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def s3_with_outputs():
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out")
        s3.put_object(Bucket="out", Key="r/160.png", Body=_png((160, 120)))
        s3.put_object(Bucket="out", Key="r/100.png", Body=_png((100, 75)))
        manifest = {"placeholder": {"blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"}, "renditions": [{}]}
        s3.put_object(Bucket="out", Key="r/manifest.json", Body=json.dumps(manifest).encode())
        s3.put_object(Bucket="out", Key="r/empty.json", Body=b'{"renditions": []}')
        yield s3


def test_render_all_outputs_are_decoded_and_a_wrong_format_is_named(s3_with_outputs):
    def result(fmt: str, manifest: str = "s3://out/r/manifest.json") -> list[dict]:
        listed = [{"fileLocation": "s3://out/r/160.png", "outputFormat": fmt}]
        output = {"rendered": 1, "skipped": 0, "renditions": listed, "manifestLocation": manifest}
        return [{"ok": True, "output": output, "seconds": 0}]

    assert verify_bundle.check_render_all(result("png"), s3_with_outputs) == []
    problems = verify_bundle.check_render_all(result("webp"), s3_with_outputs)
    assert problems == ["s3://out/r/160.png decodes as PNG, expected WEBP"]
    problems = verify_bundle.check_render_all(result("png", "s3://out/r/empty.json"), s3_with_outputs)
    assert problems == [
        "s3://out/r/empty.json has no BlurHash placeholder",
        "s3://out/r/empty.json lists 0 renditions",
    ]


def test_a_rendition_of_the_wrong_size_or_a_failed_invocation_is_reported(s3_with_outputs, monkeypatch):
    monkeypatch.setattr(
        verify_bundle,
        "RENDITIONS",
        (verify_bundle.Rendition("logo", "png", 160), verify_bundle.Rendition("logo", "png", 160)),
    )
    results = [
        {"ok": True, "output": {"fileLocation": "s3://out/r/100.png"}, "seconds": 0},
        {"ok": False, "error": "ImageTooLargeError", "message": "too big", "seconds": 0},
    ]
    problems = verify_bundle.check_renditions(results, s3_with_outputs)
    assert problems[0] == "event 1: ImageTooLargeError: too big"
    assert "wrote PNG (100, 75)" in problems[1]
    assert len(problems) == 2


def test_a_join_of_state_machine_refs_resolves_to_local_arns():
    template = _template(WORKFLOWS={"Fn::Join": ["", ['{"arn":"', {"Ref": "Machine"}, '"}']]})
    template["Resources"]["Machine"] = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"StateMachineName": "demo-image_convert_resize"},
    }
    functions = synthesized.functions_in_template(template, ASSETS, synthesized.local_value_of)
    render = next(f for f in functions if f.logical_id == "Render")
    assert render.environment["WORKFLOWS"] == (
        '{"arn":"arn:aws:states:us-east-1:123456789012:stateMachine:demo-image_convert_resize"}'
    )
    assert render.environment["OUTPUT_BUCKET"] == "verify-out"  # buckets resolve as before
    with pytest.raises(AssemblyError, match="WORKFLOWS"):  # a state machine is not a bucket name
        synthesized.functions_in_template(template, ASSETS, synthesized.bucket_name_of)


def test_the_conductor_api_function_gets_its_calls_and_is_judged_by_status():
    sources = {
        name: verify_bundle.Source(f"uploads/{name}", b"", "image/png")
        for name in ("photo", "logo", "gif", "webp", "heic")
    }
    (job,) = verify_bundle.plan_jobs([_function("conductor_api")], sources)
    assert [event["rawPath"] for event in job.events] == [
        event["rawPath"] for event, _ in verify_bundle.CONDUCTOR_API_CALLS
    ]
    answers = [
        {"ok": True, "output": {"statusCode": status, "body": f'{{"status": {status}}}'}}
        for _, status in verify_bundle.CONDUCTOR_API_CALLS
    ]
    assert job.check(answers, None) == []
    answers[0] = {"ok": True, "output": {"statusCode": 200, "body": "{}"}}
    (problem,) = job.check(answers, None)
    assert "/api/metadata/workflow" in problem
    assert verify_bundle.OPT_IN_FEATURES == {"imgpipe:conductorApi": True}


def test_the_javascript_evaluator_is_verified_as_deployed_for_a_workflow_that_runs_javascript():
    """The project's app deploys no javascript_evaluator (no workflow runs JavaScript); verify-bundle
    adds it as the stack would: the jq worker's code and shared layer, its own V8 layer."""
    from infra.bytecode import find_interpreter

    interpreter = find_interpreter("3.13")
    assert interpreter is not None  # the layer tests compile with it too
    jq = _function("json_jq_transform")
    (added,) = verify_bundle.on_demand_functions([jq, _function("upload_toS3")], str(interpreter.path))
    assert added.handler == "lambdas.javascript_evaluator.handler.handler"
    assert added.code_dir == jq.code_dir
    assert added.layer_dirs[:-1] == jq.layer_dirs
    assert (added.layer_dirs[-1] / "python" / "py_mini_racer" / "libmini_racer.so").is_file()
    assert added.environment["POWERTOOLS_SERVICE_NAME"] == "javascript_evaluator"
    assert verify_bundle.on_demand_functions([jq, added], str(interpreter.path)) == []
    sources = {
        name: verify_bundle.Source(f"uploads/{name}", b"", "image/png")
        for name in ("photo", "logo", "gif", "webp", "heic")
    }
    (job,) = verify_bundle.plan_jobs([added], sources)
    assert job.events == [verify_bundle.JAVASCRIPT_EVENT]
    assert job.check([{"ok": True, "output": {"result": 502}}], None) == []
    assert job.check([{"ok": True, "output": {"result": 500}}], None)
