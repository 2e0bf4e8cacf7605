"""The DO_WHILE loop conditions that have an ASL Choice equivalent.

Conductor evaluates `loopCondition` as JavaScript. Comparisons of the loop counter, task outputs and
the loop's input parameters, joined by && or ||, optionally wrapped in the usual
`if (...) { true; } else { false; }`, become Choice rules; anything else is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<number>-?\d+(?:\.\d+)?)|(?P<string>'[^']*'|\"[^\"]*\")|(?P<bool>true|false)"
    r"|(?P<path>\$(?:\.[A-Za-z_][A-Za-z0-9_]*|\[['\"][^'\"]+['\"]\])+)"
    r"|(?P<op>===|!==|==|!=|<=|>=|<|>|&&|\|\|))"
)
WRAPPED = re.compile(
    r"^\s*if\s*\((?P<cond>.*)\)\s*\{\s*true\s*;?\s*\}\s*else\s*\{\s*false\s*;?\s*\}\s*;?\s*$", re.S
)
NUMERIC = {"<": "NumericLessThan", "<=": "NumericLessThanEquals", ">": "NumericGreaterThan",
           ">=": "NumericGreaterThanEquals", "==": "NumericEquals", "===": "NumericEquals"}  # fmt: skip
FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "===": "===", "!=": "!=", "!==": "!=="}

# resolves `$.name.field` segments of the condition to an ASL path, or None if unknown
PathResolver = Callable[[list[str]], str | None]


class ConditionError(ValueError):
    """The condition uses JavaScript that has no Choice equivalent; the message says what."""


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ConditionError(f"cannot translate '{text[position : position + 20]}'")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _segments(path: str) -> list[str]:
    """`$.loop['iteration']` -> ['loop', 'iteration']."""
    return [a or b for a, b in re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[['\"]([^'\"]+)['\"]\]", path)]


def _comparison(
    left: tuple[str, str], op: str, right: tuple[str, str], resolve: PathResolver
) -> dict[str, Any]:
    if left[0] != "path":
        left, right, op = right, left, FLIPPED[op]
    if left[0] != "path":
        raise ConditionError("a comparison needs a $.path on one side")
    variable = resolve(_segments(left[1]))
    if variable is None:
        raise ConditionError(f"'{left[1]}' is neither the loop, one of its tasks nor one of its inputs")
    negate = op in ("!=", "!==")
    equality = "==" if negate else op
    kind, text = right
    rule: dict[str, Any]
    if kind == "path":
        other = resolve(_segments(text))
        if other is None:
            raise ConditionError(f"'{text}' is neither the loop, one of its tasks nor one of its inputs")
        rule = {"Variable": variable, f"{NUMERIC[equality]}Path": other}
    elif kind == "number":
        rule = {"Variable": variable, NUMERIC[equality]: json.loads(text)}
    elif kind == "string":
        if equality not in ("==", "==="):
            raise ConditionError("strings can only be compared for equality")
        rule = {"Variable": variable, "StringEquals": text[1:-1]}
    elif kind == "bool":
        if equality not in ("==", "==="):
            raise ConditionError("booleans can only be compared for equality")
        rule = {"Variable": variable, "BooleanEquals": text == "true"}
    else:
        raise ConditionError(f"cannot compare with '{text}'")
    return {"Not": rule} if negate else rule


def choice_rule(condition: str, resolve: PathResolver) -> dict[str, Any]:
    """The Choice rule (without Next) equivalent to `condition`; raises ConditionError otherwise."""
    match = WRAPPED.match(condition)
    tokens = _tokens(match.group("cond") if match else condition)
    comparisons: list[dict[str, Any]] = []
    joiners: list[str] = []
    index = 0
    while index < len(tokens):
        if index + 2 >= len(tokens) or tokens[index + 1][0] != "op" or tokens[index + 1][1] in ("&&", "||"):
            raise ConditionError("expected comparisons like $.loop['iteration'] < 3 joined by && or ||")
        comparisons.append(_comparison(tokens[index], tokens[index + 1][1], tokens[index + 2], resolve))
        index += 3
        if index < len(tokens):
            if tokens[index] not in (("op", "&&"), ("op", "||")):
                raise ConditionError("comparisons must be joined by && or ||")
            joiners.append(tokens[index][1])
            index += 1
    if not comparisons:
        raise ConditionError("expected comparisons like $.loop['iteration'] < 3 joined by && or ||")
    if len(set(joiners)) > 1:
        raise ConditionError("mixing && and || needs parentheses, which are not translated")
    if len(comparisons) == 1:
        return comparisons[0]
    return {"And" if joiners[0] == "&&" else "Or": comparisons}
