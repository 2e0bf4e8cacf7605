"""A burst of uploads on an account with little Lambda concurrency: it degrades into waiting, never
into failed executions. Nothing lost: every upload ends with its renditions, the sources untouched.

The local runtime refuses what AWS would refuse: invokes over a Lambda concurrency quota get
`TooManyRequestsException` (the router's quota, `lambda_seam.LambdaRouter.limit_concurrency`), and
child starts of `startExecution.sync` get `ExecutionLimitExceeded` / `ThrottlingException` (the
router's start injector). The translated Retry policies (statemachines/translator/retries.py) wait
them out; the back-off runs at `TIME_SCALE` of its real length so the test takes seconds, not hours.
"""

from __future__ import annotations

import io
import itertools
import json
import threading
from collections import Counter
from typing import Any

import pytest
from PIL import Image

from imgpipe.config import DeploymentConfig
from imgpipe.local.engine import LocalAws
from imgpipe.local.lambda_seam import lambda_service_error, service_error
from statemachines.project import Project, load_project, translate_all, translate_project
from tests.reliability.checks import decode
from tests.reliability.pipeline import default_config, finished, objects, reset_worker_clients

UPLOADS = 24
ACCOUNT_CONCURRENCY = 3  # far below what the burst asks for: most first invokes are refused
# the 60 s back-off cap becomes 0.6 s and the 7,200 s budget 72 s: full jitter's 123 draws average
# about 37 s of waiting, several times the real seconds 24 uploads take through 3 cold-starting
# execution environments on a loaded 2-core machine (at 0.002 the ~7 s average ran out there)
TIME_SCALE = 0.01
# Express's fitted throttle waits are short (62 s at their longest here): scaled less, so that even
# full jitter's shortest draws outlast the few hundred milliseconds the burst needs locally
EXPRESS_TIME_SCALE = 0.1
EXPRESS_BURST = 6
RECIPE: dict[str, Any] = {
    "outputFormats": ["webp", "jpg"],
    "outputSizes": [{"width": 24, "height": 24}],
    "maintainAspectRatio": True,
}
# the Standard dynamic fork with per-rendition children (Lambda throttles and child starts), and
# whatever cdk.json deploys by default (here as Standard)
TRIGGER_WORKFLOWS = sorted(
    {"image_multiple_convert_resize_upload", DeploymentConfig.from_cdk_json().triggerWorkflow}
)


def _photo(index: int) -> bytes:
    """A distinct small JPEG per upload, made here (distinct bytes -> distinct renditions)."""
    image = Image.new("RGB", (40, 30), (index * 9 % 256, 80, 255 - index * 5 % 256))
    image.paste((20, index * 11 % 256, 200), (0, 0, 20, 15))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class _RefuseChildStarts:
    """Refuses every other child start, `refusals` times, as the open-execution quota does.

    Only ExecutionLimitExceeded is injected: it is a modelled StartExecution error, which moto (like
    the SDKs) names `StepFunctions.ExecutionLimitExceededException`. StartExecution's rate throttling
    (ThrottlingException) is not modelled; what name AWS gives it in the integration cannot be checked
    without AWS (the Retry lists the candidates), and moto would call it
    `StepFunctions.ThrottlingExceptionException`, a name AWS does not use.
    """

    def __init__(self, refusals: int) -> None:
        self._calls = itertools.count()
        self._lock = threading.Lock()
        self.remaining = refusals
        self.refused: list[str] = []

    def __call__(self, parameters: dict[str, Any]) -> None:
        with self._lock:
            call = next(self._calls)
            if self.remaining <= 0 or call % 2:
                return
            self.remaining -= 1
            self.refused.append(parameters["name"])
        raise service_error(
            "ExecutionLimitExceeded", "injected by the burst test", 400, operation="StartExecution"
        )


class _ThrottleFirstInvokes:
    """Refuses the first invokes of every distinct event with Lambda's 429, whatever the timing.

    The concurrency quota alone refuses only what happens to overlap, which depends on how this
    machine schedules the executions' threads; this guarantees every task meets throttling.
    """

    def __init__(self, per_event: int) -> None:
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.per_event = per_event
        self.refused: list[str] = []

    def __call__(self, function_name: str, event: Any) -> None:
        key = json.dumps(event, sort_keys=True, default=str)
        with self._lock:
            self._seen[key] += 1
            if self._seen[key] > self.per_event:
                return
            self.refused.append(function_name)
        raise lambda_service_error(
            "TooManyRequestsException", "Rate Exceeded. (injected by the burst test)", 429
        )


@pytest.mark.parametrize("workflow", TRIGGER_WORKFLOWS)
def test_a_burst_on_a_small_account_waits_and_loses_nothing(workflow: str) -> None:
    # Standard: its throttle retries wait for up to two hours (an Express run's are fitted into its
    # 5 minutes: test_express_bursts_beyond_the_budget_are_recorded_and_rerun below)
    config = default_config(triggerWorkflow=workflow, defaultRecipe=RECIPE, workflowTypes={})
    uses_children = bool(translate_project()[workflow].child_workflows)
    reset_worker_clients()
    with LocalAws(config, time_scale=TIME_SCALE) as aws:
        aws.router.limit_concurrency(account=ACCOUNT_CONCURRENCY)
        injected = _ThrottleFirstInvokes(per_event=2)
        aws.router.fault_injector = injected
        refuse = _RefuseChildStarts(refusals=10)
        aws.router.start_execution_injector = refuse
        sources = {f"{config.inputPrefix}burst/{i:03d}.jpg": _photo(i) for i in range(UPLOADS)}
        for key, body in sources.items():
            aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=key, Body=body)
        deliveries = list(aws.trigger_deliveries)
        results = [finished(aws, delivery.execution_arn or "") for delivery in deliveries]
        renditions = objects(aws, aws.deployment.output_bucket)
        inputs_after = objects(aws, aws.deployment.input_bucket)
        throttled = aws.router.throttled + injected.refused
    reset_worker_clients()

    assert len(deliveries) == UPLOADS
    assert all(d.matched and d.execution_arn for d in deliveries)
    failed = [(r.arn, r.error, r.cause) for r in results if r.status != "SUCCEEDED"]
    assert failed == []
    assert inputs_after == sources  # every source byte-for-byte where it was, nothing added
    per_upload = len(RECIPE["outputFormats"]) * len(RECIPE["outputSizes"])
    assert len(renditions) == UPLOADS * per_upload
    for body in renditions.values():
        assert decode(body).size[0] <= 24
    # the burst really was refused (at least twice per task), and waited out
    assert len(injected.refused) >= 2 * UPLOADS
    assert len(throttled) > UPLOADS
    if uses_children:
        assert refuse.remaining == 0  # all refusals happened, and their children ran after all
        assert set(refuse.refused) <= set(_child_names(results))


def _child_names(results: list[Any]) -> set[str]:
    """Names of the children the parents' StartExecution calls finally created (from the history)."""
    names = set()
    for result in results:
        for event in result.history:
            details = event.get("taskSucceededEventDetails")
            if details and details.get("resourceType") == "states":
                names.add(json.loads(details["output"])["Name"])
    return names


def test_an_express_workflow_fitted_into_five_minutes_still_waits_out_a_short_burst() -> None:
    """workflowType EXPRESS: the single-image workflow, with task definitions small enough to fit
    (10 s timeouts, one retry), is translated with the 300 s budget, its worst case proved to fit, and
    deployed as Express; a burst of simultaneous executions on 2 concurrent invokes still succeeds."""
    project = load_project()
    quick = {
        name: task.model_copy(update={"timeoutSeconds": 10, "retryCount": 1, "retryDelaySeconds": 2})
        for name, task in project.task_defs.items()
    }
    translated, _ = translate_all(Project(quick, project.workflows, project.options), express=True)
    workflow = translated["image_convert_resize"]
    assert workflow.express_compatible
    assert workflow.worst_case_seconds is not None
    assert workflow.worst_case_seconds <= 300
    throttles = [
        r["MaxAttempts"]
        for state in workflow.asl["States"].values()
        for r in state.get("Retry", [])
        if r["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
    ]
    assert throttles == [5, 5]  # 2 x (2 + 4 + 8 + 16 + 32 s) fit beside the rest; 6 would not

    reset_worker_clients()
    config = default_config(workflowType="EXPRESS")
    with LocalAws(config, time_scale=EXPRESS_TIME_SCALE, workflows=translated) as aws:
        aws.router.limit_concurrency(account=2)
        sources = {f"express/{i:03d}.jpg": _photo(i) for i in range(EXPRESS_BURST)}
        for key, body in sources.items():
            aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=key, Body=body)

        def start_all(keys: list[str]) -> list[str]:
            recipe = {"outputFormat": "webp", "outputSize": {"width": 16, "height": 16}}
            inputs = [
                {"fileLocation": f"s3://{aws.deployment.input_bucket}/{key}", "recipeParameters": recipe}
                for key in keys
            ]
            return [aws.start_execution("image_convert_resize", workflow_input) for workflow_input in inputs]

        # Two executions first, within the quota: both functions' environments are then warm, so the
        # burst is about throttling, not about how long this machine takes to start a worker process.
        warm_up = [aws.wait(arn, timeout_seconds=120) for arn in start_all(list(sources)[:2])]
        assert [r["status"] for r in warm_up] == ["SUCCEEDED"] * 2
        aws.s3.delete_objects(
            Bucket=aws.deployment.output_bucket,
            Delete={"Objects": [{"Key": key} for key in objects(aws, aws.deployment.output_bucket)]},
        )
        results = [aws.wait(arn, timeout_seconds=120) for arn in start_all(list(sources))]
        machine = aws.sfn.describe_state_machine(
            stateMachineArn=aws.state_machine_arn("image_convert_resize")
        )
        renditions = objects(aws, aws.deployment.output_bucket)
        throttled = aws.router.throttled
    reset_worker_clients()

    assert machine["type"] == "EXPRESS"
    assert [r["status"] for r in results] == ["SUCCEEDED"] * EXPRESS_BURST
    assert len(renditions) == EXPRESS_BURST
    assert throttled  # the burst was refused at first, and waited out within the fitted retries


def test_express_bursts_beyond_the_budget_are_recorded_and_rerun() -> None:
    """The shipped deployment (image_renditions, Express, in the trigger envelope): a run throttled
    past the retries that fit its 5 minutes fails, but its source is never lost: the envelope records
    it (claim FAILED, a failed-sources message), and a redelivery of the same event renders it."""
    config = default_config(defaultRecipe=RECIPE)
    assert config.deployed_workflow_type(config.triggerWorkflow, express_compatible=True) == "EXPRESS"
    reset_worker_clients()
    with LocalAws(config, time_scale=EXPRESS_TIME_SCALE) as aws:
        fitted = _throttle_attempts(aws)
        aws.router.fault_injector = _ThrottleFirstInvokes(per_event=fitted + 1)  # more than fit
        sources = {f"{config.inputPrefix}burst/{i:03d}.jpg": _photo(i) for i in range(EXPRESS_BURST)}
        for key, body in sources.items():
            aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=key, Body=body)
        deliveries = list(aws.trigger_deliveries)
        first = [finished(aws, delivery.execution_arn or "") for delivery in deliveries]
        sqs = aws.client("sqs")
        records = sqs.receive_message(
            QueueUrl=aws.failed_sources_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        aws.router.fault_injector = None
        again = [finished(aws, d.execution_arn or "") for d in _redeliver(aws, deliveries)]
        renditions = objects(aws, aws.deployment.output_bucket)
    reset_worker_clients()

    assert [r.status for r in first] == ["FAILED"] * EXPRESS_BURST
    assert {r.error for r in first} == {"Lambda.TooManyRequestsException"}
    recorded = {json.loads(m["Body"])["input"]["fileLocation"].split("?", 1)[0] for m in records}
    assert recorded == {f"s3://{config_bucket(config)}/{key}" for key in sources}
    assert [r.status for r in again] == ["SUCCEEDED"] * EXPRESS_BURST  # the FAILED claims retaken
    assert len(renditions) == EXPRESS_BURST * len(RECIPE["outputFormats"]) * len(RECIPE["outputSizes"])


def _throttle_attempts(aws: LocalAws) -> int:
    """The Lambda throttle retrier's MaxAttempts in the deployed trigger state machine."""
    arn = aws.state_machine_arn(aws.config.triggerWorkflow)
    definition = aws.sfn.describe_state_machine(stateMachineArn=arn)["definition"]
    attempts = [
        retry["MaxAttempts"]
        for retry in _retriers(json.loads(definition))
        if retry["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
    ]
    assert attempts, "the deployed workflow has no throttle retrier"
    return max(attempts)


def _retriers(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = list(node.get("Retry", [])) if node.get("Type") == "Task" else []
        return own + [r for value in node.values() for r in _retriers(value)]
    if isinstance(node, list):
        return [r for item in node for r in _retriers(item)]
    return []


def _redeliver(aws: LocalAws, deliveries: list[Any]) -> list[Any]:
    return [delivery for d in deliveries for delivery in aws.deliver_event(d.event) if delivery.matched]


def config_bucket(config: DeploymentConfig) -> str:
    from imgpipe.local.engine import local_bucket_names

    return local_bucket_names(config)[0]
