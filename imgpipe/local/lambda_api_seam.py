"""Lambda's Invoke API runs the worker the local router runs for Step Functions (a moto internal).

The engine lists the worker functions in moto's Lambda backend, so ``aws lambda list-functions`` and
``get-function`` show them as deployed; moto's Invoke would run their code in Docker. This module
answers ``Invoke`` (RequestResponse) for the functions the router knows with the router's own
invocation, so ``aws lambda invoke`` runs the very handler a state machine's task runs, and a
handler error comes back as Lambda returns it: status 200, ``X-Amz-Function-Error: Unhandled`` and
the error payload (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html). Other invocation
types and functions created through the API keep moto's behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from imgpipe.local.lambda_seam import LambdaRouter, MotoInternalsChanged, moto_attribute

LAMBDA_MODELS = "moto.awslambda.models"
FUNCTION_ERROR_HEADER = "x-amz-function-error"


def verify_moto_lambda_internals() -> None:
    """Check the moto method this seam wraps is where it expects it."""
    backend = moto_attribute(LAMBDA_MODELS, "LambdaBackend")
    if not callable(getattr(backend, "invoke", None)):
        raise MotoInternalsChanged(f"moto's {LAMBDA_MODELS}.LambdaBackend.invoke moved")


def _routed(original: Any, router: LambdaRouter) -> Any:
    def invoke(self: Any, function_name: str, qualifier: str | None, *request: Any) -> Any:
        body, headers, response_headers = request  # moto's (body, headers, response_headers)
        invocation_type = headers.get("X-Amz-Invocation-Type", "RequestResponse") if headers else None
        function = self.get_function(function_name, qualifier)  # moto's not-found answer for others
        try:
            router.function(function.function_name)
        except Exception:  # created through the API, not one of the engine's workers
            return original(self, function_name, qualifier, *request)
        if invocation_type not in (None, "RequestResponse"):
            return original(self, function_name, qualifier, *request)
        answer = router.invoke(FunctionName=function.function_name, Payload=body)
        if "FunctionError" in answer:
            response_headers[FUNCTION_ERROR_HEADER] = answer["FunctionError"]
        payload: bytes = answer["Payload"].read()
        return payload

    return invoke


@contextmanager
def install(router: LambdaRouter) -> Iterator[None]:
    """Answer Lambda Invoke for the router's functions with the router while installed."""
    verify_moto_lambda_internals()
    backend = moto_attribute(LAMBDA_MODELS, "LambdaBackend")
    with mock.patch.object(backend, "invoke", _routed(backend.invoke, router)):
        yield
