"""Typed worker errors.

In Lambda an uncaught exception's class name becomes the Step Functions error name, so these names
are part of the contract (docs/architecture.md): the translated Retry policies match them. Each
error names the input field at fault and the problem, and says whether retrying can help.
"""

from __future__ import annotations

from typing import ClassVar


class WorkerError(Exception):
    """Base of every typed worker error; never raised itself."""

    retryable: ClassVar[bool] = False

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class InvalidRecipeError(WorkerError):
    """The task input is malformed: unknown format, bad size, contradictory options."""


class UnsupportedImageError(WorkerError):
    """The source is not an image in an allowed format (EPS, PDF, SVG, ... are refused)."""


class CorruptImageError(WorkerError):
    """The source claims an allowed format but cannot be decoded."""


class ImageTooLargeError(WorkerError):
    """The source exceeds the byte, pixel or frame limits."""


class SourceNotFoundError(WorkerError):
    """The source does not exist (or access to it is denied, which S3 reports the same way)."""


class SourceRefusedError(WorkerError):
    """The source location is not allowed: SSRF guard, host allow-list, local paths on Lambda."""


class TransientSourceError(WorkerError):
    """A timeout, connection failure or 5xx while reading or writing: retrying may succeed."""

    retryable = True


class StorageThrottledError(WorkerError):
    """S3 asked us to slow down (SlowDown, 503, throttling): retry with backoff."""

    retryable = True


NON_RETRYABLE_ERRORS: tuple[type[WorkerError], ...] = (
    InvalidRecipeError,
    UnsupportedImageError,
    CorruptImageError,
    ImageTooLargeError,
    SourceNotFoundError,
    SourceRefusedError,
)
RETRYABLE_ERRORS: tuple[type[WorkerError], ...] = (TransientSourceError, StorageThrottledError)

NON_RETRYABLE_ERROR_NAMES: tuple[str, ...] = tuple(error.__name__ for error in NON_RETRYABLE_ERRORS)
RETRYABLE_ERROR_NAMES: tuple[str, ...] = tuple(error.__name__ for error in RETRYABLE_ERRORS)
