"""Load: hundreds of uploads (some of them hostile) through the S3 trigger of the local runtime.

Nothing lost: every good upload has its rendition. Nothing runs away: hostile uploads fail once,
no invocation is retried, and peak memory stays bounded. Throughput is printed, never asserted.
"""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from imgpipe.config import WORKER_TASKS
from lambdas.core.errors import NON_RETRYABLE_ERROR_NAMES
from tests.reliability.checks import MEMORY_BOUND_BYTES, decode, peak_memory, process_peak_bytes
from tests.reliability.corpus import CORPUS, Refused
from tests.reliability.pipeline import default_config, finished, local_pipeline, objects

UPLOADS = 200
# Uploads at once: the local runtime runs each function on at most one worker process per core, so
# a burst waits for them, and that wait counts against each Task state's TimeoutSeconds (10 s for
# the planner); on AWS the reserved concurrency (100) runs them at once. Waves of this size fit.
WAVE = 25
# One small rendition per upload keeps the run short; the trigger path is the one deployed.
# triggerWorkflow is the resize-only dynamic fork: the default (per-rendition sub-workflows,
# startExecution.sync:2) does not run locally yet, see docs/reliability.md.
LOAD_CONFIG = {
    "triggerWorkflow": "image_multiple_convert_resize",
    "defaultRecipe": {"outputFormats": ["webp"], "outputSizes": [{"width": 32, "height": 32}]},
}


def _photo(index: int) -> bytes:
    """A distinct small JPEG per upload (distinct bytes -> distinct source identities)."""
    image = Image.new("RGB", (48, 32), (index % 256, (index * 7) % 256, (index * 13) % 256))
    image.paste((255 - index % 256, 40, 90), (0, 0, 24, 16))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


HOSTILE = [item for item in CORPUS if isinstance(item.expect, Refused)]


@pytest.mark.slow
def test_hundreds_of_uploads_through_the_trigger() -> None:
    with local_pipeline(default_config(**LOAD_CONFIG)) as aws:
        config = aws.config
        bucket = aws.deployment.input_bucket
        with peak_memory() as memory:
            started = time.perf_counter()
            uploads = [
                (f"{config.inputPrefix}load/{index:04d}.jpg", _photo(index)) for index in range(UPLOADS)
            ]
            uploads += [(f"{config.inputPrefix}load/hostile-{item.name}", item.data) for item in HOSTILE]
            results = []
            for wave in range(0, len(uploads), WAVE):
                delivered = len(aws.trigger_deliveries)
                for key, body in uploads[wave : wave + WAVE]:
                    aws.s3.put_object(Bucket=bucket, Key=key, Body=body)
                results += [finished(aws, d.execution_arn or "") for d in aws.trigger_deliveries[delivered:]]
            deliveries = list(aws.trigger_deliveries)
            elapsed = time.perf_counter() - started
        # Each execution environment (a worker process) against its function's memory, as Lambda
        # bounds it; the runtime's own process against MEMORY_BOUND_BYTES below.
        workers = {
            (name, pid): process_peak_bytes(pid)
            for name in (aws.config.function_name(task) for task in WORKER_TASKS)
            for pid in aws.router.pool(name).pids()
        }

        good = UPLOADS
        print(
            f"\n{good + len(HOSTILE)} uploads, {good} renditions in {elapsed:.1f} s: "
            f"{good / elapsed:.1f} renditions/s; peak RSS +{memory.growth / 2**20:.0f} MiB, "
            f"{len(workers)} worker processes, largest peak "
            f"{max((b or 0 for b in workers.values()), default=0) / 2**20:.0f} MiB"
        )
        assert len(deliveries) == good + len(HOSTILE)
        assert all(delivery.matched and delivery.execution_arn for delivery in deliveries)
        statuses = {result.arn: result.status for result in results}
        hostile_arns = {
            d.execution_arn or "" for d in deliveries if "/hostile-" in d.event["detail"]["object"]["key"]
        }
        assert all(statuses[arn] == "FAILED" for arn in hostile_arns)
        assert all(status == "SUCCEEDED" for arn, status in statuses.items() if arn not in hostile_arns)
        assert all(
            result.error in NON_RETRYABLE_ERROR_NAMES for result in results if result.arn in hostile_arns
        )

        renditions = objects(aws, aws.deployment.output_bucket)
        assert len(renditions) == good, "every good upload has exactly one rendition"
        for key, data in renditions.items():
            image = decode(data)
            assert image.format == "WEBP", key
            assert image.size == (32, 21), key

        # Nothing ran away: one planner and at most one resize invocation per upload, no retries.
        invocations = aws.router.invocations
        assert len(invocations) <= 2 * len(deliveries)
        assert {i.error_type for i in invocations} <= {None, *NON_RETRYABLE_ERROR_NAMES}
        assert memory.growth < MEMORY_BOUND_BYTES
        assert workers, "the invocations ran in worker processes"
        for (name, _), peak in workers.items():
            assert peak is None or peak < aws.router.function(name).memory_mb * 2**20, name
