"""Conductor's `ErrorResponse` (`status`, `message`, `validationErrors: [{path, message, invalidValue}]`),
raised wherever a request is refused and rendered by whichever HTTP layer answers it."""

from __future__ import annotations

from typing import Any, NoReturn


class ConductorError(Exception):
    """An answer with Conductor's ErrorResponse body."""

    def __init__(
        self,
        status: int,
        message: str,
        validation_errors: list[dict[str, Any]] | None = None,
        *,
        retryable: bool = False,
        service_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.service_code = service_code  # the Step Functions error code behind it, if any
        self.status = status
        self.message = message
        self.validation_errors = validation_errors
        self.retryable = retryable

    def body(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "status": self.status,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.validation_errors is not None:
            document["validationErrors"] = self.validation_errors
        return document


def refused(errors: list[dict[str, Any]]) -> NoReturn:
    raise ConductorError(400, "Validation failed, check below errors for detail.", errors)


def not_found(message: str) -> NoReturn:
    raise ConductorError(404, message)
