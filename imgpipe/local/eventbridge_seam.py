"""PutEvents reaches the engine's rule delivery, as S3's events do (a moto internal, checked by a test).

moto's EventBridge can deliver an event to log groups, archives, queues and buses, not to a Step
Functions target: an ``aws events put-events`` whose entry matched the upload trigger's rule made
moto raise ``NotImplementedError`` and its server answer an HTML 500 page. This module leaves a
rule's Step Functions targets out of moto's delivery and hands every event PutEvents accepted on the
default bus to a listener (the engine's ``deliver_event``, which matches the rules as EventBridge
does and starts their state machine targets, as it does for S3's events). Entries keep moto's
answers: the ``EventId`` of each accepted entry, an ``ErrorCode`` for a refused one.

Whether EventBridge accepts a PutEvents entry whose ``source`` is ``aws.s3`` (the trigger's
pattern) was not checked without AWS; the PutEvents reference lists NotAuthorizedForSourceException
(https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html).
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from imgpipe.local.lambda_seam import MotoInternalsChanged, moto_attribute

EVENTS_MODELS = "moto.events.models"
DEFAULT_BUS = "default"

Listener = Callable[[dict[str, Any]], Any]
logger = logging.getLogger(__name__)


def verify_moto_events_internals() -> None:
    """Check the moto methods this seam wraps are where it expects them."""
    rule = moto_attribute(EVENTS_MODELS, "Rule")
    backend = moto_attribute(EVENTS_MODELS, "EventsBackend")
    for owner, method in ((rule, "send_to_targets"), (backend, "put_events")):
        if not callable(getattr(owner, method, None)):
            raise MotoInternalsChanged(f"moto's {EVENTS_MODELS}.{owner.__name__}.{method} moved")
    if not callable(getattr(backend, "_normalize_event_bus_arn", None)):
        raise MotoInternalsChanged(f"moto's {EVENTS_MODELS}.EventsBackend._normalize_event_bus_arn moved")


def _is_state_machine(target: dict[str, Any]) -> bool:
    return ":states:" in str(target.get("Arn", ""))


def _without_state_machine_targets(original: Any) -> Any:
    def send_to_targets(self: Any, event: Any, *args: Any, **kwargs: Any) -> None:
        others = [target for target in self.targets if not _is_state_machine(target)]
        if len(others) == len(self.targets):
            original(self, event, *args, **kwargs)
        elif others:
            rule = copy.copy(self)
            rule.targets = others
            original(rule, event, *args, **kwargs)

    return send_to_targets


def _event_time(value: Any) -> str:
    if isinstance(value, int | float):
        moment = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
    elif isinstance(value, datetime.datetime):
        moment = value.astimezone(datetime.UTC)
    else:
        moment = datetime.datetime.now(tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _delivering(original: Any, listener: Listener) -> Any:
    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = original(self, events)
        for entry, event in zip(entries, events, strict=False):
            if (
                "EventId" not in entry
                or self._normalize_event_bus_arn(event.get("EventBusName")) != DEFAULT_BUS
            ):
                continue
            delivered = {
                "version": "0",
                "id": entry["EventId"],
                "detail-type": event["DetailType"],
                "source": event["Source"],
                "account": self.account_id,
                "time": _event_time(event.get("Time")),
                "region": self.region_name,
                "resources": list(event.get("Resources") or []),
                "detail": json.loads(event["Detail"]),
            }
            try:
                listener(delivered)
            except Exception:  # asynchronous on AWS: a target's failure never fails PutEvents
                logger.exception("delivery of PutEvents event %s failed", entry["EventId"])
        return entries

    return put_events


@contextmanager
def install(listener: Listener) -> Iterator[None]:
    """Hand each event PutEvents accepts on the default bus to ``listener`` while installed."""
    verify_moto_events_internals()
    rule = moto_attribute(EVENTS_MODELS, "Rule")
    backend = moto_attribute(EVENTS_MODELS, "EventsBackend")
    with ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(rule, "send_to_targets", _without_state_machine_targets(rule.send_to_targets))
        )
        stack.enter_context(
            mock.patch.object(backend, "put_events", _delivering(backend.put_events, listener))
        )
        yield
