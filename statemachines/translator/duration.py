"""The longest an execution of a translated state machine can take, read from its ASL.

Express workflows stop at 5 minutes, so a workflow is only Express-compatible when every path,
with every retry and its back-off and every task timing out, fits. Unknown bounds (a Task without
TimeoutSeconds, a Map over a runtime list, a nested execution) make the answer None: unbounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from statemachines.translator.options import REFUSED_BEFORE_RUNNING

# Step Functions' own ceiling for a Lambda invocation without TimeoutSeconds is the Lambda limit.
LAMBDA_MAX_SECONDS = 900


def backoff_delays(interval: float, rate: float, cap: float | None, attempts: int) -> Iterator[float]:
    """The longest delay before each retry (FULL jitter draws from [0, delay]), as Step Functions
    computes it: interval * rate**n, capped at MaxDelaySeconds."""
    for attempt in range(attempts):
        delay = interval * rate**attempt
        yield min(delay, cap) if cap else delay


def _retry_seconds(state: dict[str, Any], attempt_seconds: float) -> float:
    """Worst case over the retriers: each may be exhausted in turn by a different error. An attempt
    that a retrier of refusals retries (throttled: Lambda or Step Functions said no before anything
    ran) took no time of its own; every other retried attempt may have run to the timeout."""
    total = 0.0
    for retrier in state.get("Retry", []):
        errors = set(retrier.get("ErrorEquals", []))
        refused = bool(errors) and errors <= REFUSED_BEFORE_RUNNING
        attempts = int(retrier.get("MaxAttempts", 3))
        cap = retrier.get("MaxDelaySeconds")
        interval, rate = float(retrier.get("IntervalSeconds", 1)), float(retrier.get("BackoffRate", 2.0))
        total += sum(backoff_delays(interval, rate, cap, attempts))
        total += 0.0 if refused else attempts * attempt_seconds
    return total


def _state_seconds(state: dict[str, Any]) -> float | None:
    kind = state["Type"]
    if kind == "Task":
        if ".sync" in state.get("Resource", ""):
            return None
        if ".waitForTaskToken" in state["Resource"] and "TimeoutSeconds" not in state:
            return None  # a callback waits until it is completed from outside
        attempt = float(state.get("TimeoutSeconds", LAMBDA_MAX_SECONDS))
        return attempt + _retry_seconds(state, attempt)
    if kind == "Wait":
        return float(state["Seconds"]) if "Seconds" in state else None
    if kind == "Parallel":
        branches = [longest_seconds(branch) for branch in state["Branches"]]
        return None if any(b is None for b in branches) else max((b or 0.0) for b in branches)
    if kind == "Map":
        return None  # the number of items is only known at run time
    return 0.0


def longest_seconds(container: dict[str, Any]) -> float | None:
    """Longest path from StartAt to an end, in seconds; None when unbounded."""
    states: dict[str, Any] = container["States"]

    visiting: set[str] = set()

    @cache
    def from_state(name: str) -> float | None:
        if name in visiting:
            return None  # a loop (DO_WHILE): no static bound
        visiting.add(name)
        try:
            return _from(name)
        finally:
            visiting.discard(name)

    def _from(name: str) -> float | None:
        state = states[name]
        own = _state_seconds(state)
        if own is None:
            return None
        successors = [rule["Next"] for rule in state.get("Choices", [])]
        successors += [state[key] for key in ("Next", "Default") if key in state]
        successors += [catcher["Next"] for catcher in state.get("Catch", [])]
        rest = [from_state(successor) for successor in successors]
        if any(r is None for r in rest):
            return None
        return own + max([r or 0.0 for r in rest], default=0.0)

    return from_state(container["StartAt"])
