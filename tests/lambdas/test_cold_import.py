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
    loaded, client_unbuilt = result.stdout.strip().splitlines()
    assert ("PIL" in loaded.split(",")) is pillow_expected
    assert client_unbuilt == "True"  # no boto3 client is built at import
