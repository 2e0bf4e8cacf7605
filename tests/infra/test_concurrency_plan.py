"""The concurrency plan: reservations from the task definitions, fitted to the account's quota with
Lambda's 100 unreserved, or none on a small account (then the workflows' Retry waits throttles out)."""

from __future__ import annotations

import pytest

from infra.concurrency import UNRESERVED_MINIMUM, plan_reserved_concurrency, reservation_hints
from infra.trigger import TARGET_MAX_EVENT_AGE, TARGET_RETRY_ATTEMPTS
from statemachines.project import translate_project

HINTS = {"image_convert_resize": 100, "image_multiple_convert_resize": 100, "upload_toS3": 100}


def test_the_hints_are_the_task_definitions_concurrent_exec_limits() -> None:
    assert reservation_hints(translate_project()) == HINTS


def test_a_default_account_reserves_what_the_task_definitions_ask_for() -> None:
    plan = plan_reserved_concurrency(HINTS, 1000)
    assert plan.reserved == HINTS
    assert plan.note is None


@pytest.mark.parametrize("account", [103, 250, 399])
def test_a_smaller_account_gets_proportional_reservations_that_leave_the_unreserved_floor(
    account: int,
) -> None:
    plan = plan_reserved_concurrency(HINTS, account)
    assert set(plan.reserved) == set(HINTS)
    assert all(n >= 1 for n in plan.reserved.values())
    assert sum(plan.reserved.values()) <= account - UNRESERVED_MINIMUM
    assert plan.note is not None
    assert "scaled" in plan.note


@pytest.mark.parametrize("account", [10, 50, 100, 102])
def test_a_new_accounts_reduced_quota_reserves_nothing_and_says_so(account: int) -> None:
    plan = plan_reserved_concurrency(HINTS, account)
    assert plan.reserved == {}
    assert plan.note is not None
    assert "L-B99A9384" in plan.note


def test_synth_on_a_small_account_reserves_nothing_and_warns(tmp_path) -> None:
    from tests.infra.conftest import synthesize

    synth = synthesize(tmp_path, {"imgpipe:lambdaConcurrency": 10})
    for function in synth.stack.workers.functions.values():
        assert "ReservedConcurrentExecutions" not in synth.resources[synth.logical_id(function)]["Properties"]
    warnings = [m for m in synth.app.synth().stacks[0].messages if m.entry.type == "aws:cdk:warning"]
    assert any("lambdaConcurrency 10" in str(m.entry.data) for m in warnings)


def test_eventbridge_retries_a_failed_start_for_the_longest_it_allows(synth) -> None:
    assert TARGET_RETRY_ATTEMPTS == 185
    assert TARGET_MAX_EVENT_AGE.to_seconds() == 86_400
    (rule,) = synth.of_type("AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86_400}
    assert "DeadLetterConfig" in target
