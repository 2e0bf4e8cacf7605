"""Work-arounds for moto defects that would make valid ASL fail locally (moto internals: marked).

moto 5.2's ``startExecution.sync``/``.sync:2`` integration passes the ASL's ``Parameters``
(``StateMachineArn``, ``Input``, ``Name``: the casing AWS documents and CDK emits) to boto3 without
converting them to the API's ``stateMachineArn``/``input``/``name``, so every sub-workflow fails with
``States.Runtime: 'StateMachineArn'``. The fix wraps the Step Functions client that integration
builds. ``verify_moto_fix_targets()`` fails loudly (a test runs it) if moto moves the patched name;
``tests/local`` also runs a parent/child pair through moto to notice when the fix is no longer needed.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from imgpipe.local.lambda_seam import MotoInternalsChanged

SFN_SERVICE_TASK = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn"
)


def verify_moto_fix_targets() -> None:
    try:
        module = importlib.import_module(SFN_SERVICE_TASK)
    except ImportError as error:
        raise MotoInternalsChanged(f"moto module {SFN_SERVICE_TASK} is gone: {error}") from error
    if not hasattr(module, "boto_client_for"):
        raise MotoInternalsChanged(f"moto's {SFN_SERVICE_TASK} has no boto_client_for any more")


class _CamelCaseStepFunctions:
    """A Step Functions client that accepts the ASL's PascalCase parameter names."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def start_execution(self, **parameters: Any) -> Any:
        renamed = {k[:1].lower() + k[1:]: v for k, v in parameters.items() if v is not None}
        return self._client.start_execution(**renamed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@contextmanager
def install() -> Iterator[None]:
    verify_moto_fix_targets()
    module = importlib.import_module(SFN_SERVICE_TASK)
    original = module.boto_client_for

    def client_for(*args: Any, **kwargs: Any) -> Any:
        client = original(*args, **kwargs)
        return _CamelCaseStepFunctions(client) if kwargs.get("service") == "stepfunctions" else client

    with mock.patch.object(module, "boto_client_for", client_for):
        yield
