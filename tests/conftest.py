"""Suite-wide safety: tests can never reach a real AWS account.

Fake credentials and region are set before any test module imports boto3, so a test that forgot its
moto context fails against moto's fake endpoints or with an auth error, instead of touching a real
account. X-Ray tracing is off: there is no daemon here.
"""

from __future__ import annotations

import os
from typing import Any

_SAFE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "imgpipe-tests",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}
os.environ.pop("AWS_PROFILE", None)
os.environ.update(_SAFE_ENVIRONMENT)


# --- the `slow` marker, applied by one rule --------------------------------------------------------
# A test is slow when it runs whole workflows (the local runtime: worker processes, moto's engine) or
# synthesizes the CDK app. `make test-fast` leaves these out; a module may also mark itself slow for
# another reason (the CLI in a subprocess, a browser).
SLOW_ENTRY_POINTS = frozenset(
    {
        "imgpipe.local.engine.LocalAws",
        "imgpipe.local.server.LocalServer",
        "tests.reliability.pipeline.local_pipeline",
        "tests.support.served.serve_in_thread",
        "tests.translator.harness.engine",
        "tests.infra.conftest.synthesize",
    }
)
SLOW_FIXTURES = frozenset({"synth", "synth_destroy"})


def _qualified_name(value: object) -> str:
    return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"


def pytest_collection_modifyitems(items: list[Any]) -> None:
    import pytest

    for item in items:
        module = getattr(item, "module", None)
        entry_points = {_qualified_name(value) for value in vars(module).values()} if module else set()
        if entry_points & SLOW_ENTRY_POINTS or set(getattr(item, "fixturenames", ())) & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
