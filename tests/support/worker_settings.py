"""A function's settings read the way the handler reads them: from `os.environ`, by pydantic-settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import pytest

from lambdas.settings import FunctionSettings

Settings = TypeVar("Settings", bound=FunctionSettings)


def settings_from(
    model: type[Settings], environment: Mapping[str, str], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """`model.from_env()` with exactly `environment` set for the model's variables (the others unset)."""
    for name in model.model_fields:
        monkeypatch.delenv(model.variable(name), raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    return model.from_env()
