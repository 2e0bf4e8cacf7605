"""The local engine's functions each run in worker processes of their own, with their own environment.

Lambda gives each function its own execution environments and environment variables; the engine's
worker processes must too (imgpipe/local/lambda_environments.py): the resize function sees its
OUTPUT_BUCKET, the planner none, this process neither, and every worker reaches S3 at the engine's
loopback moto endpoint; the host's own AWS_* settings never reach a worker.
"""

from __future__ import annotations

import json
import os
from typing import Any

from imgpipe.config import PLANNER_TASK, RESIZE_TASK
from imgpipe.local.engine import LocalAws

NAMES = ["OUTPUT_BUCKET", "MAX_FANOUT", "AWS_ENDPOINT_URL", "AWS_LAMBDA_FUNCTION_NAME", "AWS_CONFIG_FILE"]


def test_each_function_runs_in_its_own_processes_with_its_own_environment() -> None:
    with LocalAws(time_scale=0.0, handler_for=lambda task: "tests.support.seam_workers.environment") as aws:

        def seen(task: str) -> dict[str, Any]:
            response = aws.router.invoke(
                FunctionName=aws.config.function_name(task), Payload=json.dumps({"names": NAMES})
            )
            result: dict[str, Any] = json.loads(response["Payload"].read())
            return result

        resize, planner = seen(RESIZE_TASK), seen(PLANNER_TASK)
        endpoint = aws.worker_endpoint

    assert resize["pid"] != planner["pid"] != os.getpid()
    assert resize["environment"] == {
        "OUTPUT_BUCKET": aws.deployment.output_bucket,
        "MAX_FANOUT": None,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": aws.config.function_name(RESIZE_TASK),
        "AWS_CONFIG_FILE": None,  # set in this process (tests/conftest.py): the host's AWS_* stay here
    }
    assert planner["environment"]["OUTPUT_BUCKET"] is None
    assert planner["environment"]["MAX_FANOUT"] == str(aws.config.maxFanout)
    assert planner["environment"]["AWS_ENDPOINT_URL"] == endpoint
    assert str(endpoint).startswith("http://127.0.0.1:")
    assert "OUTPUT_BUCKET" not in os.environ
    assert "AWS_CONFIG_FILE" in os.environ


def test_an_environment_killed_from_two_threads_at_once_closes_its_pipe_once() -> None:
    """A timed-out invocation and the runtime's shutdown both kill the environment; the second kill
    waits for the first and does nothing, so no descriptor is closed twice (EBADF, seen under load)."""
    import threading

    from imgpipe.local.lambda_environments import FunctionSpec, _Environment

    spec = FunctionSpec("probe", "tests.support.seam_workers.environment", {}, 128, "arn:probe")
    environment = _Environment(spec)
    closes: list[int] = []
    real_close = environment._connection.close
    first_inside = threading.Event()
    release = threading.Event()
    real_join = environment._join

    def slow_join(timeout_seconds: float) -> None:
        first_inside.set()
        release.wait(5)
        real_join(timeout_seconds)

    def counting_close() -> None:
        closes.append(1)
        real_close()

    environment._join = slow_join  # type: ignore[method-assign]
    environment._connection.close = counting_close  # type: ignore[method-assign]
    first = threading.Thread(target=environment.kill)
    first.start()
    assert first_inside.wait(5)
    second = threading.Thread(target=environment.kill)
    second.start()
    second.join(0.2)
    assert second.is_alive()  # waits for the first kill instead of closing the pipe beside it
    release.set()
    first.join(5)
    second.join(5)
    assert closes == [1]
    assert not environment.alive
