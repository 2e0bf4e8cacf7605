"""Cold-start hygiene: importing a handler reads no environment-dependent state and the planner
does not pay for Pillow or boto3 clients. Runs in a fresh interpreter so other tests cannot mask it."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "POWERTOOLS_TRACE_DISABLED": "true"},
    )
    loaded, client_unbuilt = result.stdout.rstrip("\n").split("\n")
    assert ("PIL" in loaded.split(",")) is pillow_expected
    assert client_unbuilt == "True"  # no boto3 client is built at import


TRACER_PROBE = """
import sys
from lambdas.observability import tracer, tracing_enabled
xray_loaded = "aws_xray_sdk.core" in sys.modules
print(tracing_enabled(), tracer.disabled, xray_loaded, type(tracer.provider).__module__)
"""


def _tracer_probe(env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", TRACER_PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", **env},
    )
    return result.stdout.split()


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
