"""The deployed layer and code asset: runtime bytecode, and only the AWS service models the workers use."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Annotations, Match

from imgpipe.config import PROJECT_ROOT
from infra.bundling import LAMBDA_PLATFORM, ensure_dependencies, lock_text, requirements_text
from infra.bytecode import discover_interpreter
from infra.service_models import (
    MODEL_TREES,
    WORKER_AWS_SERVICES,
    UnknownServiceModelError,
    prune_service_models,
)

UNCHECKED_HASH_FLAGS = 0b01


def services_called(source: str, filename: str = "<string>") -> set[str]:
    """AWS service names passed to any `.client(...)` / `.resource(...)` call in `source`.

    A call whose service is not a literal cannot be checked, so it is an error, not a pass.
    """
    found = set()
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in {"client", "resource"}:
            continue
        named = [k.value for k in node.keywords if k.arg == "service_name"]
        argument = node.args[0] if node.args else (named[0] if named else None)
        if argument is None:
            continue
        if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
            raise AssertionError(f"{filename}:{node.lineno}: service name is not a literal string")
        found.add(argument.value)
    return found


def test_the_scanner_sees_both_call_forms_and_refuses_computed_names():
    assert services_called('boto3.client("s3")\nsession.client(service_name="sqs", region_name="x")') == {
        "s3",
        "sqs",
    }
    assert services_called('boto3.resource("dynamodb")\nclient()\nclient().get_object(Bucket="b")') == {
        "dynamodb"
    }
    with pytest.raises(AssertionError, match="not a literal"):
        services_called("boto3.client(name)")


def test_every_service_the_workers_call_keeps_its_model():
    used = set()
    for path in sorted((PROJECT_ROOT / "lambdas").rglob("*.py")):
        used |= services_called(path.read_text(), str(path))
    assert "s3" in used  # the scan itself works on the real code
    assert used <= set(WORKER_AWS_SERVICES), (
        f"add {sorted(used - set(WORKER_AWS_SERVICES))} to WORKER_AWS_SERVICES"
    )


def test_pruning_keeps_shared_files_and_listed_services(tmp_path):
    for tree in MODEL_TREES:
        for service in ("s3", "sqs", "ec2"):
            (tmp_path / tree / service / "2020-01-01").mkdir(parents=True)
            (tmp_path / tree / service / "2020-01-01" / "service-2.json").write_text("{}")
    (tmp_path / "botocore/data/endpoints.json").write_text("{}")
    (tmp_path / "botocore/data/_retry.json").write_text("{}")
    removed = prune_service_models(tmp_path, ["s3"])
    assert removed == [f"{tree}/{s}" for tree in MODEL_TREES for s in ("ec2", "sqs")]
    assert sorted(p.name for p in (tmp_path / "botocore/data").iterdir()) == [
        "_retry.json",
        "endpoints.json",
        "s3",
    ]
    assert [p.name for p in (tmp_path / "boto3/data").iterdir()] == ["s3"]


def test_pruning_refuses_a_service_botocore_does_not_ship(tmp_path):
    (tmp_path / "botocore/data/s3").mkdir(parents=True)
    with pytest.raises(UnknownServiceModelError, match="s4"):
        prune_service_models(tmp_path, ["s3", "s4"])
    assert (tmp_path / "botocore/data/s3").is_dir()


@pytest.fixture(scope="module")
def deployed_layer() -> Path:
    """The layer exactly as the stack builds it (same cache entry as the session synth)."""
    return ensure_dependencies(
        requirements_text(),
        lock=lock_text(),
        interpreter=discover_interpreter(LAMBDA_PLATFORM.python_version),
    )


def test_layer_keeps_only_shared_model_files_and_worker_services(deployed_layer):
    data = deployed_layer / "python" / "botocore" / "data"
    directories = sorted(p.name for p in data.iterdir() if p.is_dir())
    files = sorted(p.name for p in data.iterdir() if p.is_file())
    assert directories == sorted(WORKER_AWS_SERVICES)
    assert {"endpoints.json", "partitions.json", "sdk-default-configuration.json", "_retry.json"} <= set(
        files
    )
    # boto3 ships resource models for some services only (s3 has one, stepfunctions none); the dev
    # environment is installed from the same lock, so its boto3 says which.
    import boto3

    with_resources = [s for s in WORKER_AWS_SERVICES if (Path(boto3.__file__).parent / "data" / s).is_dir()]
    assert "s3" in with_resources
    boto3_data = deployed_layer / "python" / "boto3" / "data"
    assert sorted(p.name for p in boto3_data.iterdir()) == sorted(with_resources)


PROBE = """
import json, sys
import boto3, botocore
from botocore.exceptions import UnknownServiceError
s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
try:
    boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    sqs = "created"
except UnknownServiceError as error:
    sqs = type(error).__name__
print(json.dumps({
    "botocore": botocore.__file__, "boto3": boto3.__file__, "sqs": sqs,
    "s3_service": s3.meta.service_model.service_name, "s3_endpoint": s3.meta.endpoint_url,
    "s3_operation": s3.meta.service_model.operation_model("GetObject").name,
    "available": boto3.session.Session().get_available_services(),
}))
"""


def test_pruned_layer_creates_s3_clients_and_nothing_else(deployed_layer, tmp_path):
    """boto3/botocore are pure Python, so the aarch64 layer's copy imports here too."""
    python_dir = deployed_layer / "python"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(python_dir),
        "PYTHONDONTWRITEBYTECODE": "1",  # the cache entry is shared: never add this machine's pycs
        "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache"),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-S", "-c", PROBE],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert Path(result["botocore"]).is_relative_to(python_dir)
    assert Path(result["boto3"]).is_relative_to(python_dir)
    assert result["s3_service"] == "s3"
    assert result["s3_endpoint"] == "https://s3.amazonaws.com"
    assert result["s3_operation"] == "GetObject"
    assert result["sqs"] == "UnknownServiceError"
    assert result["available"] == list(WORKER_AWS_SERVICES)
    assert not list(python_dir.rglob(f"*.{sys.implementation.cache_tag}.pyc"))


@pytest.mark.slow
def test_deployed_layer_and_code_carry_runtime_bytecode_or_the_stack_warns(synth):
    """On a machine with python3.13 every module has an unchecked-hash cpython-313 pyc; without one
    the stack says so (cdk synth prints the warning)."""
    from infra.code import stage_package

    interpreter = discover_interpreter(LAMBDA_PLATFORM.python_version)
    annotations = Annotations.from_stack(synth.stack)
    if interpreter is None:
        annotations.has_warning("*", Match.string_like_regexp("without bytecode"))
        return
    annotations.has_no_warning("*", Match.string_like_regexp("without bytecode"))
    assert interpreter.cache_tag == "cpython-313"
    code_root = stage_package(interpreter=interpreter)
    for root in (synth.stack.dependency_layer.directory / "python", code_root / "lambdas"):
        sources = sorted(root.rglob("*.py"))
        assert sources
        for source in sources:
            pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
            header = pyc.read_bytes()[:16]
            assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH_FLAGS, pyc
        assert {p.name.split(".")[-2] for p in root.rglob("*.pyc")} == {"cpython-313"}
    # What CDK stages and uploads is that compiled content.
    assets = json.loads(next(synth.outdir.glob("*.assets.json")).read_text())["files"]

    def staged(s3_key: object) -> Path:
        assert isinstance(s3_key, str)
        return synth.outdir / assets[s3_key.removesuffix(".zip")]["source"]["path"]

    for function in synth.stack.workers.functions.values():
        code = staged(synth.resources[synth.logical_id(function)]["Properties"]["Code"]["S3Key"])
        assert (code / "lambdas" / "__pycache__" / "__init__.cpython-313.pyc").is_file()
    (layer,) = synth.of_type("AWS::Lambda::LayerVersion").values()
    content = staged(layer["Properties"]["Content"]["S3Key"])
    assert (content / "python" / "PIL" / "__pycache__" / "Image.cpython-313.pyc").is_file()
    assert sorted(
        p.name for p in (content / "python" / "botocore" / "data").iterdir() if p.is_dir()
    ) == sorted(WORKER_AWS_SERVICES)


def _dist_version(layer: Path, distribution: str) -> str:
    (info,) = (layer / "python").glob(f"{distribution}-*.dist-info")
    return info.name.removeprefix(f"{distribution}-").removesuffix(".dist-info")


def test_layer_ships_the_pillow_release_the_tests_run(deployed_layer):
    """The deployed imaging code is the tested imaging code: with manylinux2014 as the only platform
    tag, pip silently resolved Pillow 12 for the layer (Pillow 13 publishes only manylinux_2_28
    aarch64 wheels) while the suite ran Pillow 13."""
    import PIL

    platforms = LAMBDA_PLATFORM.pip_platforms
    assert platforms[0] == "manylinux_2_28_aarch64"
    assert platforms[-1] == "manylinux2014_aarch64"
    assert "manylinux_2_27_aarch64" in platforms  # mini-racer publishes only this aarch64 tag
    assert _dist_version(deployed_layer, "pillow").split(".")[0] == PIL.__version__.split(".")[0]
