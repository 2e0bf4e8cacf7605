"""WAIT: a Wait state for a `duration` or an `until` time, a callback task without either.

Conductor (`mapper/WaitTaskMapper.setCallbackAfter`, `utils/DateTimeUtils`) parses `duration` with
one regular expression (days, hours, minutes, seconds, in that order, each at most once) and `until`
with the patterns `yyyy-MM-dd HH:mm`, `yyyy-MM-dd HH:mm z` and `yyyy-MM-dd`; both given fails the
task, neither given waits until the task is completed from outside (callback.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import link
from statemachines.translator.callback import emit_callback
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.model import WorkflowTask

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite, Output

# DateTimeUtils.parseDuration's pattern, matched as a whole and case-insensitively as Java does.
DURATION = re.compile(
    r"\s*(?:(\d+)\s*(?:days?|d))?\s*(?:(\d+)\s*(?:hours?|hrs?|h))?"
    r"\s*(?:(\d+)\s*(?:minutes?|mins?|m))?\s*(?:(\d+)\s*(?:seconds?|secs?|s))?\s*",
    re.IGNORECASE | re.ASCII,
)
UNTIL = re.compile(
    r"(?P<date>\d{4}-\d{1,2}-\d{1,2})(?: (?P<time>\d{1,2}:\d{2})(?: (?P<zone>\S+))?)?", re.ASCII
)
ZONE_OFFSET = re.compile(r"(?:GMT)?(?P<sign>[+-])(?P<hours>\d{1,2}):?(?P<minutes>\d{2})", re.ASCII)
# The longest a Standard execution runs: https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
MAX_WAIT_SECONDS = 365 * 86400


def _given(task: WorkflowTask, key: str) -> bool:
    """Conductor's StringUtils.isNotBlank on the input's string form."""
    value = task.inputParameters.get(key)
    return value is not None and str(value).strip() != ""


def wait_output(task: WorkflowTask) -> Output:
    """A timed WAIT completes with an empty output; one completed from outside has that output."""
    return "empty" if _given(task, "duration") or _given(task, "until") else "task"


def emit_wait(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task, location, states, next_name = site.task, site.location, site.states, site.next_name
    ref = task.taskReferenceName
    where = f"{location}.inputParameters"
    duration, until = _given(task, "duration"), _given(task, "until")
    if duration and until:
        emitter.diagnostics.error(
            where, f"WAIT '{ref}' gives both duration and until: Conductor fails such a task"
        )
        return next_name
    if not duration and not until:
        return emit_callback(emitter, site)
    key = "duration" if duration else "until"
    text = task.inputParameters[key]
    if not isinstance(text, str) or "${" in text:
        emitter.diagnostics.error(
            f"{where}.{key}",
            f"WAIT '{ref}': {key} {text!r} must be a literal string: Conductor parses its own formats, "
            "which a Wait state's SecondsPath/TimestampPath cannot read",
        )
        return next_name
    state: dict[str, Any] = {"Type": "Wait", "Comment": f"Conductor WAIT {key} {text}"}
    if duration:
        seconds = duration_seconds(text)
        if seconds is None or seconds > MAX_WAIT_SECONDS:
            emitter.diagnostics.error(
                f"{where}.duration",
                f"WAIT '{ref}': cannot read duration {text!r} as Conductor does ('30s', '1m 30s', "
                "'2 hours', '1d 2h 3m 4s': days, hours, minutes, seconds in that order), "
                "or it is longer than a year",
            )
            return next_name
        state["Seconds"] = seconds
    else:
        parsed = until_timestamp(text)
        if parsed is None:
            emitter.diagnostics.error(
                f"{where}.until",
                f"WAIT '{ref}': cannot read until {text!r} as Conductor does ('yyyy-MM-dd HH:mm z' "
                "with z UTC, GMT or an offset such as GMT+02:00; 'yyyy-MM-dd HH:mm'; 'yyyy-MM-dd')",
            )
            return next_name
        timestamp, zoned = parsed
        if not zoned:
            emitter.diagnostics.warning(
                f"{where}.until",
                f"WAIT '{ref}': {text!r} has no time zone: Conductor reads it in its server's zone, "
                "here it is UTC",
            )
        state["Timestamp"] = timestamp
    after = next_name
    if any(p[:3] == ("tasks", ref, "output") for p in emitter.referenced):
        after = ensure_outputs(emitter, ref, states, next_name)
        output = emitter.names.allocate(f"{ref}: output")
        states[output] = link({"Type": "Pass", "Result": {}, "ResultPath": f"$.tasks.{ref}.output"}, after)
        after = output
    name = emitter.names.allocate(ref)
    states[name] = link(state, after)
    return name


def duration_seconds(text: str) -> int | None:
    """Conductor's durations: '30s', '1m 30s', '5 minutes', '1d 2h', '2 days 3 hours'."""
    match = DURATION.fullmatch(text)
    if match is None:
        return None
    days, hours, minutes, seconds = (int(group) if group else 0 for group in match.groups())
    return days * 86400 + (hours * 60 + minutes) * 60 + seconds


def until_timestamp(text: str) -> tuple[str, bool] | None:
    """The ISO-8601 UTC time of a Conductor `until`, and whether the text named its zone."""
    match = UNTIL.fullmatch(text.strip())
    if match is None:
        return None
    zone = match.group("zone")
    offset = _zone_offset(zone) if zone else timedelta(0)
    if offset is None:
        return None
    try:
        moment = datetime.strptime(
            f"{match.group('date')} {match.group('time') or '00:00'}", "%Y-%m-%d %H:%M"
        )
    except ValueError:
        return None
    moment = moment.replace(tzinfo=timezone(offset)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), zone is not None


def _zone_offset(zone: str) -> timedelta | None:
    if zone.upper() in ("UTC", "GMT"):
        return timedelta(0)
    match = ZONE_OFFSET.fullmatch(zone.upper())
    if match is None or int(match.group("hours")) > 23 or int(match.group("minutes")) > 59:
        return None
    sign = -1 if match.group("sign") == "-" else 1
    return sign * timedelta(hours=int(match.group("hours")), minutes=int(match.group("minutes")))
