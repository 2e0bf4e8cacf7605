"""A script whose text holds `${...}` expressions, spliced as Conductor splices it before evaluating.

Conductor's `ParametersUtils.replaceVariables` replaces each `${...}` inside a longer string with
`Objects.toString(value)` of the value it reads, then turns every `$${` of the result into `${`. The
values are the Java objects Jackson reads JSON into: `String` as is, `Integer`/`Long` in decimal,
`Double` by `Double.toString`, `Boolean` as true/false, null as "null", a map (`LinkedHashMap`) as
`{key=value, ...}` and a list as `[a, b]`, their items in the same forms. The translator sends the
literal pieces and the values between them (statemachines/translator/javascript.py).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

# Double.toString writes plain decimals in [10^-3, 10^7), computerized scientific notation outside
PLAIN_DOUBLE_RANGE = (1e-3, 1e7)


def java_string(value: Any) -> str:
    """`Objects.toString` of the Java object Jackson reads the JSON value into."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, list):
        return "[" + ", ".join(java_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={java_string(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def java_double(value: float) -> str:
    """`Double.toString`: the shortest digits that read back as the value (JDK 19+), `1.5`, `0.001`,
    `1.0E7`, `1.0E-4`. JSON has no NaN or infinity."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    shortest = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(str(d) for d in shortest.digits)
    exponent = int(shortest.exponent) + len(digits) - 1  # of the first digit
    low, high = PLAIN_DOUBLE_RANGE
    if low <= abs(value) < high:
        if exponent >= 0:
            whole, fraction = digits[: exponent + 1].ljust(exponent + 1, "0"), digits[exponent + 1 :]
        else:
            whole, fraction = "0", "0" * (-exponent - 1) + digits
        return f"{sign}{whole}.{fraction or '0'}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def spliced(pieces: list[str], values: list[Any]) -> str:
    """`pieces[0] + value[0] + pieces[1] + ...`, then `$${` -> `${` over the whole text, as Conductor."""
    if len(pieces) != len(values) + 1:
        raise ValueError(f"{len(pieces)} pieces cannot surround {len(values)} values")
    text = pieces[0]
    for value, piece in zip(values, pieces[1:], strict=True):
        text += java_string(value) + piece
    return text.replace("$${", "${")
