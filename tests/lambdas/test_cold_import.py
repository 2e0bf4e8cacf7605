"""Cold-start hygiene: importing a handler reads no environment-dependent state and the planner
does not pay for Pillow or boto3 clients. Runs in a fresh interpreter so other tests cannot mask it."""

from __future__ import annotations

import pytest

from tests.support.fresh_interpreter import run_fresh

PROBE = """
import sys
import {module}
print(",".join(name for name in ("PIL", "PIL.Image", "urllib3.connectionpool") if name in sys.modules))
from lambdas.adapters import s3
print(s3._client is None)
"""


@pytest.mark.parametrize(
    ("module", "pillow_expected"),
    [
        ("lambdas.image_multiple_convert_resize.handler", False),
        ("lambdas.upload_toS3.handler", False),
        ("lambdas.image_convert_resize.handler", True),
    ],
)
def test_handler_import_is_lazy(module: str, pillow_expected: bool) -> None:
    output = run_fresh(PROBE.format(module=module), {"POWERTOOLS_TRACE_DISABLED": "true"})
    loaded, client_unbuilt = output.rstrip("\n").split("\n")
    assert ("PIL" in loaded.split(",")) is pillow_expected
    assert client_unbuilt == "True"  # no boto3 client is built at import


TRACER_PROBE = """
import sys
from lambdas.observability import tracer, tracing_enabled
xray_loaded = "aws_xray_sdk.core" in sys.modules
print(tracing_enabled(), tracer.disabled, xray_loaded, type(tracer.provider).__module__)
"""


def _tracer_probe(env: dict[str, str]) -> list[str]:
    output = run_fresh(TRACER_PROBE, env)
    return output.split()


@pytest.mark.parametrize(
    "env",
    [
        {},  # outside Lambda
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"},
        {"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"},
    ],
)
def test_tracing_off_never_imports_the_xray_sdk(env: dict[str, str]) -> None:
    enabled, disabled, xray_loaded, provider_module = _tracer_probe(env)
    assert (enabled, disabled, xray_loaded) == ("False", "True", "False")
    assert provider_module == "lambdas.observability"


def test_tracing_on_lambda_uses_the_xray_recorder() -> None:
    """On Lambda (task root set, tracing not disabled) the Tracer is Powertools' default X-Ray one."""
    enabled, disabled, xray_loaded, provider_module = _tracer_probe(
        {"LAMBDA_TASK_ROOT": "/var/task", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}
    )
    assert (enabled, disabled, xray_loaded) == ("True", "False", "True")
    assert provider_module.startswith("aws_xray_sdk.core")


def test_tracing_on_patches_only_what_the_workers_call() -> None:
    """botocore (the workers' S3 calls) is traced; no database or HTTP library is imported just to be
    patched (Powertools' default patches sqlite3 and requests here)."""
    probe = (
        "import sys\n"
        "from lambdas import observability\n"
        "from aws_xray_sdk.core import patcher\n"
        "print(','.join(sorted(patcher._PATCHED_MODULES)))\n"
        "print(','.join(m for m in ('sqlite3', 'requests', 'httpx', 'pynamodb') if m in sys.modules))\n"
    )
    output = run_fresh(probe, {"LAMBDA_TASK_ROOT": "/var/task", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"})
    patched, extra = output.split("\n")[:2]
    assert patched.split(",") == ["botocore"]
    assert extra == ""


PLUGIN_PROBE = """
import io, sys
from PIL import Image
from lambdas.core.imaging import render_bytes
from lambdas.core.recipe import Recipe

buffer = io.BytesIO()
Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "JPEG")
out = render_bytes(buffer.getvalue(), Recipe(format={fmt!r}, width=32, height=32, fit="contain", quality=80))
decoded = Image.open(io.BytesIO(out.data))
loaded = sorted(name.split(".")[-1] for name in sys.modules if name.endswith("ImagePlugin"))
print(decoded.format, "%dx%d" % decoded.size, Image._initialized, ",".join(loaded))
"""


@pytest.mark.parametrize(("fmt", "pil_format"), [("jpeg", "JPEG"), ("webp", "WEBP"), ("png", "PNG")])
def test_only_the_needed_pillow_plugins_are_loaded(fmt: str, pil_format: str) -> None:
    """A JPEG source never loads Pillow's every-plugin init() nor the AVIF/TIFF codecs."""
    output = run_fresh(PLUGIN_PROBE.format(fmt=fmt), {})
    decoded_format, size, initialized, loaded = output.split(" ")
    assert decoded_format == pil_format
    assert size == "32x24"
    assert initialized == "1"  # preinit only; 2 would mean Image.init() imported every plugin
    plugins = set(loaded.strip().split(","))
    assert {"AvifImagePlugin", "TiffImagePlugin", "EpsImagePlugin", "PdfImagePlugin"}.isdisjoint(plugins)
    assert ("WebPImagePlugin" in plugins) is (fmt == "webp")


TRACED_INVOCATION = """
import json, sys
from pathlib import Path
from lambdas.observability import tracer
from lambdas.image_multiple_convert_resize.handler import handler
from tests.support.lambda_context import FakeLambdaContext

sent = []

class RecordingEmitter:
    def send_entity(self, entity):
        sent.append(json.loads(entity.serialize()))

    def set_daemon_address(self, address):
        pass

tracer.provider.configure(emitter=RecordingEmitter())
event = json.loads(Path("tests/events/image_multiple_convert_resize.json").read_text())
result = handler(event, FakeLambdaContext())
from aws_xray_sdk.core import patcher
print(json.dumps({
    "items": len(result["dynamicForkItems"]),
    "botocore_patched": "botocore" in patcher._PATCHED_MODULES,
    "subsegments": [(s["name"], s.get("annotations", {})) for s in sent],
}))
"""


def test_a_traced_lambda_invocation_emits_the_handler_subsegment() -> None:
    """Tracing on (Lambda task root, a sampled trace header): the X-Ray recorder records the
    handler's subsegment with Powertools' annotations, and botocore is patched."""
    import json

    env = {
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_LAMBDA_FUNCTION_NAME": "imgpipe-image_multiple_convert_resize",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "POWERTOOLS_SERVICE_NAME": "image_multiple_convert_resize",
        "POWERTOOLS_METRICS_NAMESPACE": "imgpipe",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    output = run_fresh(TRACED_INVOCATION, env)
    report = json.loads(output.strip().splitlines()[-1])
    assert report["items"] == 9
    assert report["botocore_patched"] is True
    names = [name for name, _ in report["subsegments"]]
    assert names == ["## handler"]
    annotations = report["subsegments"][0][1]
    assert annotations["ColdStart"] is True
    assert annotations["Service"] == "image_multiple_convert_resize"


LAZY_PROBE = """
import json, sys
import {module}
from lambdas.core import inputs
print(json.dumps({{
    "loaded": [name for name in ("lambdas.adapters.fetch", "PIL.ImageCms") if name in sys.modules],
    "built": sorted(
        name for name in ("RecipeOptions", "ResizeInput", "OutputSize", "PlanInput", "UploadInput")
        if getattr(inputs, name).__pydantic_complete__
    ),
}}))
"""


@pytest.mark.parametrize(
    ("module", "built"),
    [
        ("lambdas.image_convert_resize.handler", ["ResizeInput"]),
        ("lambdas.image_multiple_convert_resize.handler", ["PlanInput"]),
        ("lambdas.upload_toS3.handler", ["UploadInput"]),
    ],
)
def test_init_skips_paths_this_function_may_not_take(module: str, built: list[str]) -> None:
    """No https adapter (only https sources need it), no LittleCMS (only colour-managed sources),
    and only this function's own input validator is built, at init rather than at first use."""
    import json

    output = run_fresh(LAZY_PROBE.format(module=module), {"POWERTOOLS_TRACE_DISABLED": "true"})
    report = json.loads(output.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert report["built"] == built
