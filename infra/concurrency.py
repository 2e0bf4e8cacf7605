"""Reserved concurrency per worker function: the concurrency plan (docs/deploy.md, "Concurrency").

Each worker reserves what its task definition's `concurrentExecLimit` asks for (Conductor's own
per-task concurrency limit; the smallest hint any workflow gives), so a burst cannot take the whole
account's Lambda concurrency and every stage keeps capacity of its own. Lambda only lets functions
reserve up to the account's quota minus 100, the unreserved floor kept for every other function
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html), so the plan shrinks
the reservations proportionally to fit `imgpipe:lambdaConcurrency`, and reserves nothing on an account
whose quota cannot hold one per function (a new account's reduced quota): then throttles are only
waited out by the workflows' Retry (statemachines/translator/retries.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Lambda keeps this much of the account's concurrency unreserved (same page).
UNRESERVED_MINIMUM = 100


@dataclass(frozen=True)
class ConcurrencyPlan:
    """Reserved concurrency by task name, and why it differs from what was asked, if it does."""

    reserved: dict[str, int]
    note: str | None = None


def reservation_hints(translated: Mapping[str, object]) -> dict[str, int]:
    """Per task, the smallest `concurrentExecLimit` any translated workflow reports for it."""
    hints: dict[str, int] = {}
    for tw in translated.values():
        for task_name, limit in getattr(tw, "concurrency_hints", {}).items():
            hints[task_name] = min(limit, hints.get(task_name, limit))
    return dict(sorted(hints.items()))


def plan_reserved_concurrency(hints: Mapping[str, int], account_concurrency: int) -> ConcurrencyPlan:
    """What each function reserves on an account with this Lambda concurrency quota."""
    available = account_concurrency - UNRESERVED_MINIMUM
    wanted = sum(hints.values())
    if not hints or wanted <= available:
        return ConcurrencyPlan(dict(hints))
    if available < len(hints):
        return ConcurrencyPlan(
            {},
            f"imgpipe:lambdaConcurrency {account_concurrency} leaves {max(available, 0)} of the account's "
            f"Lambda concurrency to reserve (Lambda keeps {UNRESERVED_MINIMUM} unreserved), fewer than one "
            f"per function for {len(hints)} functions: nothing is reserved, throttles are waited out by "
            "the workflows' Retry only. Request a quota increase (Service Quotas L-B99A9384).",
        )
    scaled = {name: max(1, limit * available // wanted) for name, limit in hints.items()}
    return ConcurrencyPlan(
        scaled,
        f"imgpipe:lambdaConcurrency {account_concurrency} cannot hold the {wanted} the task definitions "
        f"ask for beside Lambda's {UNRESERVED_MINIMUM} unreserved: reservations scaled to {scaled}",
    )
