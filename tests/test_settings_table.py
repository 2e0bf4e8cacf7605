"""docs/architecture.md's table of the functions' environment is the settings models (lambdas/settings.py):
hand-readable markdown that this test compares with what the models say, row by row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imgpipe.config import CONTEXT_NAMESPACE, DeploymentConfig
from lambdas.settings import SET_BY_LAMBDA, SETTINGS_BY_FUNCTION

ARCHITECTURE = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
HEADER = "| variable | functions | default | bounds | cdk.json | meaning |"
# annotated_types' constraints, as the table writes them
BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def _value(value: Any) -> str:
    if value in ("", ()):
        return "empty"
    return f"{value:,}" if isinstance(value, int) else f"`{value}`"


def _bounds(metadata: list[Any]) -> str:
    return ", ".join(
        f"{symbol} {_value(getattr(item, name))}"
        for name, symbol in BOUNDS
        for item in metadata
        if getattr(item, name, None) is not None
    )


def settings_table() -> list[str]:
    """The table's rows: each variable once, in the order the models define them."""
    keys = {variable: key for key, variable in DeploymentConfig.worker_setting_keys().items()}
    every = set(SETTINGS_BY_FUNCTION)
    rows: dict[str, str] = {}
    for model in SETTINGS_BY_FUNCTION.values():
        for name, field in model.model_fields.items():
            variable = model.variable(name)
            if variable in rows:
                continue
            readers = {
                function for function, other in SETTINGS_BY_FUNCTION.items() if name in other.model_fields
            }
            functions = (
                "all" if readers == every else ", ".join(f for f in SETTINGS_BY_FUNCTION if f in readers)
            )
            source = "set by Lambda" if field.json_schema_extra == SET_BY_LAMBDA else "-"
            source = f"`{CONTEXT_NAMESPACE}{keys[variable]}`" if variable in keys else source
            default = _value(field.get_default(call_default_factory=True))
            cells = [
                f"`{variable}`",
                functions,
                default,
                _bounds(field.metadata),
                source,
                field.description or "",
            ]
            rows[variable] = "| " + " | ".join(cells) + " |"
    return [HEADER, "|---|---|---|---|---|---|", *rows.values()]


def documented_table() -> list[str]:
    lines = ARCHITECTURE.read_text().splitlines()
    start = lines.index(HEADER)
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def test_the_documented_environment_is_the_settings_models() -> None:
    expected = settings_table()
    assert documented_table() == expected, "docs/architecture.md's table should read:\n" + "\n".join(expected)


def test_the_table_names_every_variable_and_its_bounds() -> None:
    table = "\n".join(settings_table())
    assert "| `MAX_SOURCE_PIXELS` | image_convert_resize, upload_toS3, image_render_renditions |" in table
    assert "| > 0, <= 178,956,970 |" in table  # Pillow's hard limit, from the model's bound
    assert "`imgpipe:maxFanout`" in table
