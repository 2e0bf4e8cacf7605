"""Work-arounds for moto defects that would make valid ASL fail locally (moto internals: marked).

moto 5.2's Step Functions engine is a port of LocalStack's, without LocalStack's request/response
normalisation of AWS-SDK-style service integrations: ``StateTaskService._normalise_parameters`` and
``_normalise_response`` are no-ops. For the ``states:startExecution.sync[:2]`` integration (the one
SUB_WORKFLOW tasks use) that breaks three things AWS does:

- the ASL's ``Parameters`` (``StateMachineArn``, ``Input``, ``Name``: the casing AWS documents and
  CDK emits) reach boto3 unconverted (``States.Runtime: 'StateMachineArn'``);
- the StartExecution response stays camelCase, so moto's own ``.sync`` resolver, which reads
  ``ExecutionArn``, fails (``States.Runtime: 'ExecutionArn'``);
- the task result (DescribeExecution) stays camelCase, where AWS returns ``Output``, ``Status``, ...
  (so a ``ResultSelector`` on ``$.Output`` finds nothing).

The fix gives ``StateTaskServiceSfn`` the normalisation LocalStack has, from the botocore service
model: request members renamed to the API's names, response members to the integration's PascalCase,
timestamps as epoch milliseconds (as the AWS integration returns them). ``verify_moto_fix_targets()``
fails loudly if moto moves what is patched; ``tests/local/test_moto_fixes.py`` runs a two-state
parent/child pair with and without the fix, so it also fails when moto fixes the defect itself.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from unittest import mock

from imgpipe.local.lambda_seam import MotoInternalsChanged

SFN_SERVICE_TASK = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn"
)
SFN_TASK_CLASS = "StateTaskServiceSfn"
# Methods of moto's StateTaskService this fix relies on (they exist, but the two _normalise_* are no-ops).
REQUIRED_METHODS = (
    "_normalise_parameters",
    "_normalise_response",
    "_to_boto_request",
    "_from_boto_response",
    "_get_boto_service_name",
    "_get_boto_service_action",
    "_build_sync_resolver",
    "_build_sync2_resolver",
)


def verify_moto_fix_targets() -> None:
    """Check the moto class and methods the fix patches are where it expects them."""
    try:
        module = importlib.import_module(SFN_SERVICE_TASK)
    except ImportError as error:
        raise MotoInternalsChanged(f"moto module {SFN_SERVICE_TASK} is gone: {error}") from error
    task_class = getattr(module, SFN_TASK_CLASS, None)
    if task_class is None:
        raise MotoInternalsChanged(f"moto's {SFN_SERVICE_TASK} has no {SFN_TASK_CLASS} any more")
    for method in REQUIRED_METHODS:
        if not callable(getattr(task_class, method, None)):
            raise MotoInternalsChanged(f"moto's {SFN_TASK_CLASS} has no method {method!r} any more")


@functools.cache
def _operation_model(service_name: str, snake_case_action: str) -> Any:
    """botocore's model of an API action, found from the snake_case name moto's engine uses."""
    import botocore.session
    from botocore import xform_name

    service_model = botocore.session.get_session().get_service_model(service_name)
    for operation_name in service_model.operation_names:
        if xform_name(operation_name) == snake_case_action:
            return service_model.operation_model(operation_name)
    raise MotoInternalsChanged(f"botocore has no {service_name} action {snake_case_action!r}")


def _epoch_millis(response: dict[str, Any]) -> None:
    """AWS's service integrations return timestamps as epoch milliseconds, boto3 as datetimes."""
    for key, value in response.items():
        if isinstance(value, datetime):
            response[key] = int(value.timestamp() * 1000)


def _normalise_parameters(original: Any) -> Any:
    def normalise(
        self: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original(self, parameters, boto_service_name, service_action_name)  # moto's Input-to-JSON step
        model = _operation_model(
            self._get_boto_service_name(boto_service_name),
            self._get_boto_service_action(service_action_name),
        )
        if model.input_shape is not None:
            self._to_boto_request(parameters, model.input_shape)

    return normalise


def _normalise_response(
    self: Any,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    if not isinstance(response, dict):
        return
    model = _operation_model(
        self._get_boto_service_name(boto_service_name),
        self._get_boto_service_action(service_action_name),
    )
    if model.output_shape is not None:
        self._from_boto_response(response, model.output_shape)
    _epoch_millis(response)


@contextmanager
def install() -> Iterator[None]:
    """Give moto's Step Functions integration the AWS request/response casing while installed."""
    verify_moto_fix_targets()
    task_class = getattr(importlib.import_module(SFN_SERVICE_TASK), SFN_TASK_CLASS)
    with (
        mock.patch.object(
            task_class, "_normalise_parameters", _normalise_parameters(task_class._normalise_parameters)
        ),
        mock.patch.object(task_class, "_normalise_response", _normalise_response),
    ):
        yield
