"""Concurrent invocations of one function in the local engine must not share Powertools state.

On Lambda each execution environment runs one invocation at a time, so the module-level Powertools
``Metrics``/``Logger`` singletons of ``lambdas/observability.py`` see one invocation at a time. The
local engine runs the Map iterations of a dynamic fork as threads of one process (as Lambda runs them
concurrently in separate environments), so those singletons are shared: one invocation's flush
publishes (and clears) another's metrics, and the next flush finds none (Powertools warns, or raises
``SchemaValidationError: Must contain at least one metric``).

The test forces the interleaving that concurrent Lambda invocations allow: every iteration has
added its metrics before any of them flushes (a barrier in front of Powertools' flush; if the
engine serialises invocations the barrier gives up and nothing is forced). Then it checks what each
invocation published: exactly its own EMF document.
"""

from __future__ import annotations

import contextlib
import json
import threading
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


BARRIER_SECONDS = 10  # how long a flush waits for the other iterations (a guard, not a threshold)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
        AmazonCloudWatchEMFProvider as Provider,
    )

    barrier = threading.Barrier(RENDITIONS)
    flush = Provider.flush_metrics

    def flush_together(self: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name.startswith("lambda") and "RenditionsWritten" in self.metric_set:
            # if invocations do not overlap (serialised), the barrier breaks: nothing to force
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=BARRIER_SECONDS)
        return flush(self, *args, **kwargs)

    monkeypatch.setattr(Provider, "flush_metrics", flush_together)
    with LocalAws(time_scale=0.0) as engine:
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

    documents = _emf_documents(capsys.readouterr().out)
    written = [doc for doc in documents if "RenditionsWritten" in doc]
    # one EMF document per invocation, each with its own single data point, under its own service
    assert [doc["RenditionsWritten"] for doc in written] == [[1.0]] * RENDITIONS
    assert all(doc["service"] == RESIZE_TASK for doc in written)
