"""SIMPLE tasks without an imgpipe worker run as Step Functions activities in the local runtime: the
translator's ASL, the activities the engine creates, imgpipe.worker polling them in a thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imgpipe.local.engine import LocalAws
from imgpipe.worker import ActivityWorker, TaskFailure
from statemachines.project import load_for_path, translate_all
from statemachines.translator import Diagnostics, Translation

GUARD_SECONDS = 60  # a hang guard for the waits, not a performance threshold
TASK = "label_image"


def _workflow(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "tasks": [
            {
                "name": TASK,
                "taskReferenceName": "label_ref",
                "inputParameters": {"fileLocation": "${workflow.input.fileLocation}", "mode": "fast"},
            }
        ],
        "outputParameters": {"label": "${label_ref.output.label}", "seen": "${label_ref.output.seen}"},
    }


def _translated(root: Path, name: str, **task_def: Any) -> Translation:
    (root / "workflows").mkdir(parents=True)
    (root / "tasks").mkdir()
    (root / "workflows" / f"{name}.json").write_text(json.dumps(_workflow(name)))
    policy = {"retryCount": 0, "timeoutSeconds": 30, "responseTimeoutSeconds": 20} | task_def
    (root / "tasks" / f"{TASK}.json").write_text(json.dumps({"name": TASK, **policy}))
    diagnostics = Diagnostics()
    project, names = load_for_path(root / "workflows", diagnostics)
    translated, findings = translate_all(project, names=names)
    assert not diagnostics.errors
    assert not [f for f in findings if f.severity == "error"], findings
    return translated[name]


@pytest.fixture
def engine(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[LocalAws, Translation]]:
    overrides = getattr(request, "param", {})
    translated = _translated(tmp_path, "labelled", **overrides)
    with LocalAws(time_scale=0.0, workflows={translated.name: translated}) as aws:
        yield aws, translated


def _in_thread(worker: ActivityWorker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, kwargs={"max_tasks": 1}, daemon=True)
    thread.start()
    return thread


def _start(aws: LocalAws) -> str:
    return aws.start_execution("labelled", {"fileLocation": "s3://in/cat.png"})


def test_the_translation_is_an_activity_task_with_the_task_definition_policy(
    engine: tuple[LocalAws, Translation],
) -> None:
    aws, translated = engine
    [state] = [s for s in translated.asl["States"].values() if s.get("Resource", "").startswith("${Activity")]
    assert state["Resource"] == "${ActivityArn_label_image}"
    assert (state["HeartbeatSeconds"], state["TimeoutSeconds"]) == (20, 30)
    assert translated.activity_tasks == {TASK}
    assert not translated.lambda_tasks
    assert not translated.express_compatible  # Express runs no activities
    described = aws.sfn.describe_activity(activityArn=aws.deployment.activity_arns[TASK])
    assert described["name"] == aws.config.activity_name(TASK) == f"{aws.config.prefix}-{TASK}"


def test_a_polling_worker_completes_the_task_and_its_output_is_the_task_output(
    engine: tuple[LocalAws, Translation],
) -> None:
    aws, _ = engine
    received: list[Any] = []

    def label(task_input: dict[str, Any]) -> dict[str, Any]:
        received.append(task_input)
        return {"label": "tabby", "seen": task_input["fileLocation"]}

    worker = ActivityWorker(
        aws.client("stepfunctions"), aws.deployment.activity_arns[TASK], label, worker_name="w1"
    )
    thread = _in_thread(worker)
    described = aws.wait(_start(aws), timeout_seconds=GUARD_SECONDS)
    thread.join(GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"label": "tabby", "seen": "s3://in/cat.png"}
    assert received == [{"fileLocation": "s3://in/cat.png", "mode": "fast"}]
    started = [e for e in aws.history(described["executionArn"]) if e["type"] == "ActivityStarted"]
    assert [e["activityStartedEventDetails"].get("workerName") for e in started] == ["w1"]


@pytest.mark.parametrize(
    ("failure", "error", "cause"),
    [
        (TaskFailure("LabelRejected", "the image is too dark"), "LabelRejected", "the image is too dark"),
        (ValueError("no such label"), "ValueError", "no such label"),
    ],
)
def test_a_failing_worker_fails_the_execution_with_a_typed_error(
    engine: tuple[LocalAws, Translation], failure: Exception, error: str, cause: str
) -> None:
    aws, _ = engine

    def fail(task_input: Any) -> dict[str, Any]:
        raise failure

    thread = _in_thread(ActivityWorker(aws.client("stepfunctions"), aws.deployment.activity_arns[TASK], fail))
    described = aws.wait(_start(aws), timeout_seconds=GUARD_SECONDS)
    thread.join(GUARD_SECONDS)
    assert (described["status"], described.get("error"), described.get("cause")) == ("FAILED", error, cause)
    failed = [e for e in aws.history(described["executionArn"]) if e["type"] == "ActivityFailed"]
    assert [e["activityFailedEventDetails"]["error"] for e in failed] == [error]


@pytest.mark.parametrize("engine", [{"responseTimeoutSeconds": 1}], indirect=True)
def test_a_silent_worker_times_out_per_the_heartbeat(engine: tuple[LocalAws, Translation]) -> None:
    """The worker takes the task and dies: HeartbeatSeconds (responseTimeoutSeconds) ends the attempt
    long before TimeoutSeconds would (30 s)."""
    aws, _ = engine
    arn = _start(aws)
    sfn = aws.client("stepfunctions")
    taken = sfn.get_activity_task(activityArn=aws.deployment.activity_arns[TASK], workerName="dies")
    assert json.loads(taken["input"]) == {"fileLocation": "s3://in/cat.png", "mode": "fast"}
    described = aws.wait(arn, timeout_seconds=GUARD_SECONDS)
    assert (described["status"], described.get("error")) == ("FAILED", "States.Timeout")
    types = [e["type"] for e in aws.history(arn)]
    assert "ActivityTimedOut" in types
    assert "ActivitySucceeded" not in types
    with pytest.raises(sfn.exceptions.ClientError):  # the token is spent: a late answer is refused
        sfn.send_task_success(taskToken=taken["taskToken"], output="{}")


@pytest.mark.parametrize("engine", [{"responseTimeoutSeconds": 1}], indirect=True)
def test_a_heartbeating_worker_outlives_the_heartbeat_timeout(
    engine: tuple[LocalAws, Translation],
) -> None:
    aws, _ = engine
    release = threading.Event()

    def slow(task_input: Any) -> dict[str, Any]:
        release.wait(3)  # three heartbeat timeouts' worth of work, heartbeating every 0.2 s
        return {"label": "slow", "seen": None}

    worker = ActivityWorker(
        aws.client("stepfunctions"), aws.deployment.activity_arns[TASK], slow, heartbeat_interval_seconds=0.2
    )
    thread = _in_thread(worker)
    described = aws.wait(_start(aws), timeout_seconds=GUARD_SECONDS)
    thread.join(GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["label"] == "slow"


@pytest.mark.parametrize("engine", [{"responseTimeoutSeconds": 1, "retryCount": 1}], indirect=True)
def test_a_silent_attempt_is_retried_and_the_next_worker_completes_it(
    engine: tuple[LocalAws, Translation],
) -> None:
    """Conductor retries a task whose worker went silent past responseTimeoutSeconds, whatever its
    timeoutPolicy: the heartbeat timeout is retried (States.HeartbeatTimeout), the task timeout is not."""
    aws, _ = engine
    arn = _start(aws)
    sfn = aws.client("stepfunctions")
    sfn.get_activity_task(activityArn=aws.deployment.activity_arns[TASK], workerName="dies")
    worker = ActivityWorker(sfn, aws.deployment.activity_arns[TASK], lambda _: {"label": "second", "seen": 2})
    thread = _in_thread(worker)
    described = aws.wait(arn, timeout_seconds=GUARD_SECONDS)
    thread.join(GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"label": "second", "seen": 2}
    types = [e["type"] for e in aws.history(arn)]
    assert types.count("ActivityScheduled") == 2
    assert types.count("ActivityTimedOut") == 1


def test_a_worker_finds_its_activity_by_task_name_and_refuses_an_unknown_one(
    engine: tuple[LocalAws, Translation],
) -> None:
    aws, _ = engine
    sfn = aws.client("stepfunctions")
    worker = ActivityWorker.for_task(sfn, TASK, lambda _: {}, config=aws.config)
    assert worker.activity_arn == aws.deployment.activity_arns[TASK]
    with pytest.raises(LookupError, match="no_such_task"):
        ActivityWorker.for_task(sfn, "no_such_task", lambda _: {}, config=aws.config)


def test_an_output_that_is_not_a_json_object_fails_the_task_by_name(
    engine: tuple[LocalAws, Translation],
) -> None:
    aws, _ = engine

    def listing(task_input: Any) -> Any:  # what a careless task function might return
        return ["a", "list"]

    worker = ActivityWorker(aws.client("stepfunctions"), aws.deployment.activity_arns[TASK], listing)
    thread = _in_thread(worker)
    described = aws.wait(_start(aws), timeout_seconds=GUARD_SECONDS)
    thread.join(GUARD_SECONDS)
    assert (described["status"], described.get("error")) == ("FAILED", "InvalidTaskOutputError")
    assert "JSON object" in described.get("cause", "")


def test_two_activities_in_a_fork_are_served_by_their_own_workers_at_once(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "defs.json").write_text(
        json.dumps(
            [{"name": n, "retryCount": 0, "timeoutSeconds": 30} for n in ("label_image", "score_image")]
        )
    )
    fork = {
        "name": "both",
        "taskReferenceName": "both",
        "type": "FORK_JOIN",
        "forkTasks": [
            [{"name": "label_image", "taskReferenceName": "label"}],
            [{"name": "score_image", "taskReferenceName": "score"}],
        ],
    }
    workflow = {
        "name": "forked",
        "tasks": [
            fork,
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["label", "score"]},
        ],
        "outputParameters": {"label": "${label.output.v}", "score": "${score.output.v}"},
    }
    (tmp_path / "forked.json").write_text(json.dumps(workflow))
    project, names = load_for_path(tmp_path, Diagnostics())
    translated, _ = translate_all(project, names=names)
    both_started = threading.Barrier(2, timeout=GUARD_SECONDS)  # each waits for the other: truly at once

    def answer(value: str) -> Any:
        def work(task_input: Any) -> dict[str, Any]:
            both_started.wait()
            return {"v": value}

        return work

    with LocalAws(time_scale=0.0, workflows={"forked": translated["forked"]}) as aws:
        threads = [
            _in_thread(
                ActivityWorker(aws.client("stepfunctions"), aws.deployment.activity_arns[task], answer(v))
            )
            for task, v in (("label_image", "tabby"), ("score_image", "0.9"))
        ]
        described = aws.wait(aws.start_execution("forked", {}), timeout_seconds=GUARD_SECONDS)
        for thread in threads:
            thread.join(GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"label": "tabby", "score": "0.9"}
