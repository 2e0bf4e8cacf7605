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
timestamps as epoch milliseconds (as the AWS integration returns them).

A second defect: when a Map iteration or a Parallel branch fails with a ``States.*`` error (a failed
child execution is ``States.TaskFailed``; ``States.Timeout``, ...), moto re-raises it as a
``CustomErrorName``, which refuses the ``States.`` prefix with a ValueError, so the Map state fails
with ``States.Runtime`` instead of the iteration's error (and Retry/Catch on ``States.TaskFailed``
never match). The fix makes those two call sites build a ``StatesErrorName`` for ``States.*`` names.

A third: moto's executing backend (``StepFunctionsParserBackend.start_execution``) names an execution
started without ``name`` literally ``None`` (so a second one is ExecutionAlreadyExists); AWS
generates a UUID. Affects the API (``imgpipe start``, the AWS CLI against ``imgpipe serve``) and
``startExecution`` tasks without ``Name``. The fix supplies the UUID, and refuses what AWS refuses
and moto accepts: a name with spaces, other reserved characters or over 80 characters
(``InvalidName``), and input that is not JSON (``InvalidExecutionInput``; moto raises its parser's
own exception type there, which its server answers with an empty error code). Its response handler
also reads StartExecution's members from a querystring that holds `k=v` pairs of the JSON body's
text, so an input containing `&name=...` renamed the execution; the fix reads the body only.

A fourth: moto's context object has no ``$$.Execution.RedriveCount`` (AWS documents it, 0 until an
execution is redriven), so any ASL reading it fails with ``States.Runtime``; and moto 5.2.5 has no
RedriveExecution. The fix adds ``RedriveCount: 0``; ``emulated_redrive`` lets a test start an
execution that sees another execution's ``Id`` and a higher ``RedriveCount``, which is what the ASL of
a redriven execution sees on AWS (same ARN, count + 1), so child names can be checked for collisions.

A fifth: moto's ASL ``Preprocessor`` keeps its QueryLanguage scope stack in a *class* attribute, so
every parser shares one list: executions that start at once (each parses its definition, and so
does each child a running execution starts) push and pop each other's scopes, and one of them
fails with ``IndexError`` or a QueryLanguage ``ValueError`` in its worker thread and stays RUNNING
for ever. On AWS executions are
independent. The fix gives each parser its own stack.

A sixth: moto's context object holds ``$$.Execution.StartTime`` as a Python ``datetime``, where AWS
documents an ISO 8601 string (``"2019-03-26T20:14:13.192Z"``,
https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html), so any ASL
that copies it into its output makes DescribeExecution raise ``TypeError`` (not JSON serializable)
and ``imgpipe run`` crash. The fix gives it AWS's string (UTC, milliseconds, ``Z``).

A seventh: moto reads no escaped character (a backslash before ``'``, a brace or itself) of an intrinsic
function's string literal as Step Functions does; ``intrinsic_escapes.py`` has that fix.

``verify_moto_fix_targets()``
fails loudly if moto moves what is patched; ``tests/local/test_moto_fixes.py`` runs a two-state
parent/child pair with and without the fix, so it also fails when moto fixes the defect itself.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from imgpipe.local import intrinsic_escapes
from imgpipe.local.lambda_seam import MotoInternalsChanged, moto_attribute

SFN_SERVICE_TASK = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn"
)
SFN_TASK_CLASS = "StateTaskServiceSfn"
# Modules that wrap an iteration's/branch's error name in CustomErrorName (a module-level import).
ERROR_PROPAGATION_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker",
    "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl",
)
STATES_ERROR_NAME = "moto.stepfunctions.parser.asl.component.common.error_name.states_error_name"
PARSER_BACKEND = "moto.stepfunctions.parser.models"
PARSER_BACKEND_CLASS = "StepFunctionsParserBackend"
CUSTOM_ERROR_NAME = "moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name"
SFN_RESPONSES = "moto.stepfunctions.responses"
SFN_RESPONSES_CLASS = "StepFunctionResponse"
EXECUTION_WORKER = "moto.stepfunctions.parser.backend.execution_worker"
EXECUTION_WORKER_CLASS = "ExecutionWorker"
ASL_PREPROCESSOR = "moto.stepfunctions.parser.asl.parse.preprocessor"
ASL_PREPROCESSOR_CLASS = "Preprocessor"
SCOPE_STACK = "_query_language_per_scope"
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
    task_class = moto_attribute(SFN_SERVICE_TASK, SFN_TASK_CLASS)
    for method in REQUIRED_METHODS:
        if not callable(getattr(task_class, method, None)):
            raise MotoInternalsChanged(f"moto's {SFN_TASK_CLASS} has no method {method!r} any more")
    backend = getattr(importlib.import_module(PARSER_BACKEND), PARSER_BACKEND_CLASS, None)
    parameters = tuple(inspect.signature(backend.start_execution).parameters) if backend else ()
    if parameters[:3] != ("self", "state_machine_arn", "name"):
        raise MotoInternalsChanged(
            f"moto's {PARSER_BACKEND}.{PARSER_BACKEND_CLASS}.start_execution moved (parameters {parameters})"
        )
    responses = getattr(importlib.import_module(SFN_RESPONSES), SFN_RESPONSES_CLASS, None)
    if not callable(getattr(responses, "start_execution", None)):
        raise MotoInternalsChanged(f"moto's {SFN_RESPONSES}.{SFN_RESPONSES_CLASS}.start_execution moved")
    worker = getattr(importlib.import_module(EXECUTION_WORKER), EXECUTION_WORKER_CLASS, None)
    if not callable(getattr(worker, "_get_evaluation_environment", None)):
        raise MotoInternalsChanged(
            f"moto's {EXECUTION_WORKER}.{EXECUTION_WORKER_CLASS}._get_evaluation_environment moved"
        )
    preprocessor = moto_attribute(ASL_PREPROCESSOR, ASL_PREPROCESSOR_CLASS)
    scope_stack = vars(preprocessor).get(SCOPE_STACK)
    # a property of _own_scope_stack: an enclosing install() already fixed it (nested engines)
    already_fixed = isinstance(scope_stack, property) and scope_stack.fget is _own_scope_stack
    if not isinstance(scope_stack, list) and not already_fixed:
        raise MotoInternalsChanged(
            f"moto's {ASL_PREPROCESSOR_CLASS}.{SCOPE_STACK} is no class-level list any more"
        )
    for module_name in (*ERROR_PROPAGATION_MODULES, STATES_ERROR_NAME, CUSTOM_ERROR_NAME):
        moto_attribute(
            module_name, "StatesErrorName" if module_name == STATES_ERROR_NAME else "CustomErrorName"
        )


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


def _propagated_error_name(custom_error_name: Any, states_error_name: Any) -> Any:
    """A CustomErrorName look-alike that keeps ``States.*`` names as the States error they are."""

    def error_name(error_name: str | None = None) -> Any:
        if isinstance(error_name, str) and error_name.startswith("States."):
            try:
                return states_error_name.from_name(error_name)
            except ValueError:  # a States.* name moto does not know: keep it, without the check
                plain = object.__new__(custom_error_name)
                plain.error_name = error_name
                return plain
        return custom_error_name(error_name=error_name)

    return error_name


# StartExecution's `name`: 1-80 characters, none of whitespace, < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /
# or control characters (U+0000-001F, U+007F-009F); else InvalidName
# (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
EXECUTION_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")


def _body_parameters(original: Any) -> Any:
    """StartExecution's parameters from its JSON body only. moto's `_get_param` looks in its
    querystring first, which also holds `k=v` pairs it found in the body's text: an input holding
    `...&name=900x900` (seed 000's image URL) became the execution's name."""

    def start_execution(self: Any) -> Any:
        try:
            body = json.loads(self.body) if self.body else None
        except ValueError:
            body = None
        if isinstance(body, dict):
            self.querystring = {k: v for k, v in self.querystring.items() if k not in STARTEXECUTION_MEMBERS}
        return original(self)

    return start_execution


STARTEXECUTION_MEMBERS = frozenset({"stateMachineArn", "name", "input", "traceHeader"})


def _named_start_execution(original: Any) -> Any:
    def start_execution(
        self: Any, state_machine_arn: str, name: str | None = None, *args: Any, **kw: Any
    ) -> Any:
        from moto.stepfunctions.exceptions import InvalidExecutionInput, InvalidName

        if name is not None and not EXECUTION_NAME.match(name):
            raise InvalidName(f"Invalid Name: '{name}'")
        execution_input = kw.get("execution_input", args[0] if args else None)
        if execution_input is not None:
            try:
                json.loads(execution_input)
            except ValueError as error:
                # moto raises the parser's own exception type here, which its server answers with
                # an empty error code; AWS answers InvalidExecutionInput
                raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{error}'") from None
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kw)

    return start_execution


@dataclass(frozen=True)
class _EmulatedRedrive:
    execution_id: str
    redrive_count: int


# execution name -> what its context object says; filled by `emulated_redrive` only
_emulated_redrives: dict[str, _EmulatedRedrive] = {}
_emulated_redrives_lock = threading.Lock()


@contextmanager
def emulated_redrive(execution_name: str, *, of_execution_arn: str, redrive_count: int) -> Iterator[None]:
    """While active, the execution started under `execution_name` sees `$$.Execution.Id` =
    `of_execution_arn` and `$$.Execution.RedriveCount` = `redrive_count`, as a redriven execution
    does on AWS. Local runtime only: moto cannot redrive."""
    if redrive_count < 1:
        raise ValueError(f"redrive_count: a redriven execution counts from 1, got {redrive_count}")
    with _emulated_redrives_lock:
        _emulated_redrives[execution_name] = _EmulatedRedrive(of_execution_arn, redrive_count)
    try:
        yield
    finally:
        with _emulated_redrives_lock:
            _emulated_redrives.pop(execution_name, None)


def aws_timestamp(moment: datetime) -> str:
    """A context-object timestamp as AWS writes it: ISO 8601 in UTC with milliseconds and `Z`."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _aws_context_object(original: Any) -> Any:
    def evaluation_environment(self: Any) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        if isinstance(execution.get("StartTime"), datetime):
            execution["StartTime"] = aws_timestamp(execution["StartTime"])
        with _emulated_redrives_lock:
            emulated = _emulated_redrives.get(execution.get("Name"))
        execution["RedriveCount"] = 0 if emulated is None else emulated.redrive_count
        if emulated is not None:
            execution["Id"] = emulated.execution_id
        return env

    return evaluation_environment


def _own_scope_stack(self: Any) -> list[Any]:
    """The parser's QueryLanguage scope stack, one per parser instead of one per class."""
    stack: list[Any] = self.__dict__.setdefault(SCOPE_STACK, [])
    return stack


@contextmanager
def install() -> Iterator[None]:
    """Give moto's Step Functions integration the AWS request/response casing while installed."""
    verify_moto_fix_targets()
    task_class = getattr(importlib.import_module(SFN_SERVICE_TASK), SFN_TASK_CLASS)
    states_error_name = importlib.import_module(STATES_ERROR_NAME).StatesErrorName
    custom_error_name = importlib.import_module(CUSTOM_ERROR_NAME).CustomErrorName
    replacement = _propagated_error_name(custom_error_name, states_error_name)
    with ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(
                task_class, "_normalise_parameters", _normalise_parameters(task_class._normalise_parameters)
            )
        )
        stack.enter_context(mock.patch.object(task_class, "_normalise_response", _normalise_response))
        backend = getattr(importlib.import_module(PARSER_BACKEND), PARSER_BACKEND_CLASS)
        stack.enter_context(
            mock.patch.object(backend, "start_execution", _named_start_execution(backend.start_execution))
        )
        responses = getattr(importlib.import_module(SFN_RESPONSES), SFN_RESPONSES_CLASS)
        stack.enter_context(
            mock.patch.object(responses, "start_execution", _body_parameters(responses.start_execution))
        )
        for module_name in ERROR_PROPAGATION_MODULES:
            module = importlib.import_module(module_name)
            stack.enter_context(mock.patch.object(module, "CustomErrorName", replacement))
        worker = getattr(importlib.import_module(EXECUTION_WORKER), EXECUTION_WORKER_CLASS)
        stack.enter_context(
            mock.patch.object(
                worker,
                "_get_evaluation_environment",
                _aws_context_object(worker._get_evaluation_environment),
            )
        )
        preprocessor = getattr(importlib.import_module(ASL_PREPROCESSOR), ASL_PREPROCESSOR_CLASS)
        stack.enter_context(mock.patch.object(preprocessor, SCOPE_STACK, property(_own_scope_stack)))
        stack.enter_context(intrinsic_escapes.install())
        yield
