"""Concurrent invocations of one function in the local engine share no Powertools state.

On Lambda each execution environment runs one invocation at a time, so the module-level Powertools
``Metrics``/``Logger`` of ``lambdas/observability.py`` see one invocation at a time. The local engine
runs a function's concurrent invocations in worker processes of their own, as Lambda runs them in
separate environments: each invocation publishes exactly its own EMF document and its own request
id, and the Map's items run in more than one process at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from imgpipe.config import RESIZE_TASK
from imgpipe.local.engine import LocalAws

pytestmark = pytest.mark.slow

GUARD_SECONDS = 120  # hang guards, not performance thresholds
FORMATS = ["png", "jpg", "webp", "gif"]
SIZES = [{"width": 40, "height": 40}, {"width": 20, "height": 20}]
RENDITIONS = len(FORMATS) * len(SIZES)


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws(time_scale=0.0, max_environments=2) as engine:
        yield engine


def _emf_documents(text: str) -> list[dict[str, Any]]:
    documents = []
    for line in text.splitlines():
        if line.startswith('{"_aws"'):
            documents.append(json.loads(line))
    return documents


def test_each_concurrent_invocation_publishes_exactly_its_own_metrics(
    aws: LocalAws, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "s.png"
    Image.new("RGB", (80, 60), (10, 120, 200)).save(source)
    location = aws.upload_file(source, key="local-runs/concurrency/s.png")
    capsys.readouterr()
    arn = aws.start_execution(
        "image_multiple_convert_resize",
        {"fileLocation": location, "outputFormats": FORMATS, "outputSizes": SIZES},
    )
    described = aws.wait(arn, timeout_seconds=GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    resize_invocations = [i for i in aws.router.invocations if i.function_name.endswith(RESIZE_TASK)]
    assert len(resize_invocations) == RENDITIONS
    assert aws.router.pool(aws.config.function_name(RESIZE_TASK)).started == 2  # in parallel, then warm

    documents = _emf_documents(capsys.readouterr().out)
    written = [doc for doc in documents if "RenditionsWritten" in doc]
    # one EMF document per invocation, each with its own single data point, under its own service
    assert [doc["RenditionsWritten"] for doc in written] == [[1.0]] * RENDITIONS
    assert all(doc["service"] == RESIZE_TASK for doc in written)
    logged = [
        json.loads(line) for i in resize_invocations for line in i.logs.splitlines() if '"level"' in line
    ]
    request_ids = [line["function_request_id"] for line in logged if line["message"] == "rendition written"]
    assert len(set(request_ids)) == RENDITIONS  # each invocation logs under its own request id
