"""Conductor endpoints with no Step Functions counterpart, and the reason each is answered 501.

Rules are written in Flask's syntax (`<workflowId>`, `<path:rest>`, `<int:version>`, relative to
`/api`): the local REST API registers them as routes, the Lambda matches a request against them.
"""

from __future__ import annotations

import re

NO_INDEX = "there is no search index; use `aws stepfunctions list-executions`"
NOT_POLLED = "Lambda workers are invoked by Step Functions, not polled"
NO_CORRELATION = "Step Functions has no correlation id to search by"
UNSUPPORTED: tuple[tuple[str, str, str], ...] = (
    ("PUT", "/workflow/<workflowId>/pause", "Step Functions cannot pause an execution"),
    ("PUT", "/workflow/<workflowId>/resume", "Step Functions cannot pause an execution, so none is resumed"),
    (
        "DELETE",
        "/workflow/<workflowId>/remove",
        "Step Functions keeps every execution's history; none is deleted",
    ),
    (
        "POST",
        "/workflow/<workflowId>/rerun",
        "Step Functions cannot rerun from a chosen task; start a new execution",
    ),
    (
        "POST",
        "/workflow/<workflowId>/restart",
        "use POST /api/workflow/{name} with the same input (a new execution)",
    ),
    (
        "PUT",
        "/workflow/<workflowId>/skiptask/<taskReferenceName>",
        "Step Functions cannot skip a state of a running execution",
    ),
    (
        "POST",
        "/workflow/<workflowId>/resetcallbacks",
        "Lambda tasks are invoked, not polled: there are no callbacks",
    ),
    ("PUT", "/workflow/decide/<workflowId>", "Step Functions decides by itself; there is no decider to run"),
    ("GET", "/workflow/running/<name>", "use `aws stepfunctions list-executions --status-filter RUNNING`"),
    ("GET", "/workflow/<name>/correlated/<correlationId>", NO_CORRELATION),
    ("POST", "/workflow/<name>/correlated", NO_CORRELATION),
    ("GET", "/workflow/search", NO_INDEX),
    ("GET", "/workflow/search-v2", NO_INDEX),
    ("GET", "/workflow/search-by-tasks", NO_INDEX),
    ("GET", "/workflow/search-by-tasks-v2", NO_INDEX),
    ("POST", "/workflow/test", "there is no mock execution mode"),
    ("GET", "/tasks/poll/<path:rest>", NOT_POLLED),
    ("GET", "/tasks/poll/batch/<path:rest>", NOT_POLLED),
)
_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")
_SEGMENT = {None: r"[^/]+", "int": r"\d+", "path": r".+"}


def shown(rule: str) -> str:
    """A rule as Conductor's documentation writes it: `/api/workflow/{workflowId}/pause`."""
    return "/api" + _PARAMETER.sub(r"{\2}", rule)


def unsupported_message(method: str, rule: str, why: str) -> str:
    return f"{method} {shown(rule)} has no Step Functions equivalent: {why}"


def _pattern(rule: str) -> re.Pattern[str]:
    parts = _PARAMETER.split(rule)
    # re.split with two groups yields: literal, converter, name, literal, ...
    regex = "".join(
        re.escape(part) if index % 3 == 0 else (_SEGMENT[part] if index % 3 == 1 else "")
        for index, part in enumerate(parts)
    )
    return re.compile(f"^/api{regex}$")


_PATTERNS = tuple((method, _pattern(rule), rule, why) for method, rule, why in UNSUPPORTED)


def unsupported(method: str, path: str) -> str | None:
    """The 501 message of a request to an endpoint with no Step Functions counterpart, else None."""
    for rule_method, pattern, rule, why in _PATTERNS:
        if rule_method == method.upper() and pattern.fullmatch(path):
            return unsupported_message(rule_method, rule, why)
    return None
