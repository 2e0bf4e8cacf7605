"""Structured findings of the translator: what is wrong, how bad, and where in the Conductor JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One finding; `location` is a JSON path into the Conductor definition, e.g. `tasks[1].name`."""

    severity: Severity
    location: str
    message: str
    workflow: str = ""

    def __str__(self) -> str:
        where = f"{self.workflow}: " if self.workflow else ""
        return f"{self.severity.value}: {where}{self.location}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity.value,
            "workflow": self.workflow,
            "location": self.location,
            "message": self.message,
        }


@dataclass
class Diagnostics:
    """Collects findings while translating one workflow; never raises by itself."""

    workflow: str = ""
    items: list[Diagnostic] = field(default_factory=list)

    def error(self, location: str, message: str) -> None:
        self.items.append(Diagnostic(Severity.ERROR, location, message, self.workflow))

    def warning(self, location: str, message: str) -> None:
        self.items.append(Diagnostic(Severity.WARNING, location, message, self.workflow))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.WARNING]


class TranslationError(Exception):
    """Raised when a definition has error diagnostics; carries all of them."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        lines = "\n".join(f"  {d}" for d in diagnostics)
        super().__init__(f"{len(diagnostics)} translation error(s):\n{lines}")
