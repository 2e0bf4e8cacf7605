"""Conductor's JavaScript conditions (DO_WHILE `loopCondition`, SWITCH `javascript` expressions,
DECISION `caseExpression`) that have an ASL Choice equivalent, parsed with a real grammar (lark).

The subset: `$.` paths (dots, `['key']`, `[0]`), numbers, strings, `true`/`false`/`null`,
comparisons (`== === != !== < <= > >=`), `&&`, `||`, `!`, parentheses, `.length` of an array
compared with a number, a path alone (JavaScript truthiness), the `if (...) { true; } else { false; }`
wrapper, and for switches `?:` chains whose outcomes are literals. Anything else is refused with
ConditionError naming what is not translated.

What is approximated: values are compared with their own type (two numbers, two strings, two
booleans; each rule checks the type first); JavaScript's coercions (`'5' == 5`, `null < 1`) are not
reproduced: a comparison of values of different types is false. `.length` is an array's (a string's
length is not translated).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, VisitError

GRAMMAR = r"""
?start: wrapped | expr
wrapped: "if" "(" expr ")" "{" "true" ";"? "}" "else" "{" "false" ";"? "}" ";"?
?expr: ternary ";"?
?ternary: disjunction
        | disjunction "?" ternary ":" ternary -> choose
?disjunction: conjunction
            | disjunction "||" conjunction -> either
?conjunction: unary
            | conjunction "&&" unary -> both
?unary: "!" unary -> negate
      | comparison
?comparison: atom
           | atom COMPARATOR atom -> compare
?atom: path
     | SIGNED_NUMBER -> number
     | STRING -> string
     | "true" -> true
     | "false" -> false
     | "null" -> null
     | "(" ternary ")"
path: "$" segment+
?segment: "." NAME -> field
        | "[" STRING "]" -> key
        | "[" INT "]" -> index
COMPARATOR: "===" | "!==" | "==" | "!=" | "<=" | ">=" | "<" | ">"
STRING: /'[^'\\\n]*'/ | /"[^"\\\n]*"/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
%import common.SIGNED_NUMBER
%import common.INT
%import common.WS
%ignore WS
"""

PARSER = Lark(GRAMMAR, parser="lalr")

# resolves the segments of a `$.name...` path to an ASL path, or None when `name` is unknown
PathResolver = Callable[[list[str]], str | None]

NUMERIC = {"<": "NumericLessThan", "<=": "NumericLessThanEquals", ">": "NumericGreaterThan",
           ">=": "NumericGreaterThanEquals", "==": "NumericEquals"}  # fmt: skip
TEXT = {"<": "StringLessThan", "<=": "StringLessThanEquals", ">": "StringGreaterThan",
        ">=": "StringGreaterThanEquals", "==": "StringEquals"}  # fmt: skip
FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class ConditionError(ValueError):
    """The condition uses JavaScript that has no Choice equivalent; the message says what."""


@dataclass(frozen=True)
class PathOf:
    segments: tuple[str, ...]


@dataclass(frozen=True)
class Value:
    value: Any


@dataclass(frozen=True)
class Node:
    kind: str  # "compare", "both", "either", "negate", "choose"
    parts: tuple[Any, ...]


@v_args(inline=True)
class _Tree(Transformer[Token, Any]):
    def path(self, *segments: str) -> PathOf:
        return PathOf(tuple(segments))

    def field(self, name: Token) -> str:
        return str(name)

    def key(self, text: Token) -> str:
        return str(text)[1:-1]

    def index(self, number: Token) -> str:
        return f"[{int(number)}]"

    def number(self, text: Token) -> Value:
        return Value(json.loads(str(text)))

    def string(self, text: Token) -> Value:
        return Value(str(text)[1:-1])

    def true(self) -> Value:
        return Value(True)

    def false(self) -> Value:
        return Value(False)

    def null(self) -> Value:
        return Value(None)

    def compare(self, left: Any, operator: Token, right: Any) -> Node:
        return Node("compare", (left, str(operator).replace("===", "==").replace("!==", "!="), right))

    def both(self, left: Any, right: Any) -> Node:
        return Node("both", (left, right))

    def either(self, left: Any, right: Any) -> Node:
        return Node("either", (left, right))

    def negate(self, operand: Any) -> Node:
        return Node("negate", (operand,))

    def choose(self, test: Any, then: Any, otherwise: Any) -> Node:
        return Node("choose", (test, then, otherwise))

    def wrapped(self, condition: Any) -> Any:
        return condition


def parse(text: str) -> Any:
    try:
        return _Tree().transform(PARSER.parse(text))
    except VisitError as error:
        raise ConditionError(str(error.orig_exc)) from None
    except LarkError as error:
        first = str(error).strip().splitlines()[0]
        raise ConditionError(f"not in the translated JavaScript subset ({first})") from None


def choice_rule(condition: str, resolve: PathResolver) -> dict[str, Any]:
    """The Choice rule (without Next) equivalent to a boolean `condition`; raises ConditionError."""
    return _Compiler(resolve).rule(parse(condition))


def case_rules(expression: str, resolve: PathResolver) -> tuple[list[tuple[dict[str, Any], Any]], Any]:
    """A switch expression as ordered (rule, case value) pairs and the value when none holds:
    a `?:` chain with literal outcomes, or a boolean condition (cases true and false)."""
    compiler = _Compiler(resolve)
    tree = parse(expression)
    if not (isinstance(tree, Node) and tree.kind == "choose"):
        return [(compiler.rule(tree), True)], False
    pairs: list[tuple[dict[str, Any], Any]] = []
    while isinstance(tree, Node) and tree.kind == "choose":
        test, then, tree = tree.parts
        pairs.append((compiler.rule(test), _outcome(then)))
    return pairs, _outcome(tree)


def _typed(type_check: str, variable: str, comparison: dict[str, Any]) -> dict[str, Any]:
    """The value is of the compared type, and compares so: another type never matches."""
    return {"And": [{"Variable": variable, type_check: True}, {"Variable": variable, **comparison}]}


def _both_of(type_check: str, variable: str, other: str, comparison: dict[str, Any]) -> dict[str, Any]:
    """Both values of that type, and compared: JavaScript compares two numbers or two strings so."""
    return {
        "And": [
            {"Variable": variable, type_check: True},
            {"Variable": other, type_check: True},
            {"Variable": variable, **comparison},
        ]
    }


def _outcome(node: Any) -> Any:
    if not isinstance(node, Value):
        raise ConditionError("each outcome of ?: must be a literal (a nested ?: only after ':')")
    return node.value


class _Compiler:
    def __init__(self, resolve: PathResolver) -> None:
        self.resolve = resolve

    def path(self, path: PathOf) -> str:
        variable = self.resolve(list(path.segments))
        if variable is None:
            name = ".".join(path.segments)
            raise ConditionError(f"'$.{name}' names nothing the condition can read")
        return variable

    def rule(self, node: Any) -> dict[str, Any]:
        if isinstance(node, PathOf):
            return self.truthy(node)
        if isinstance(node, Value):
            raise ConditionError(f"a constant condition ({json.dumps(node.value)}) is not translated")
        kind, parts = node.kind, node.parts
        if kind == "compare":
            return self.compare(*parts)
        if kind in ("both", "either"):
            combinator = "And" if kind == "both" else "Or"
            rules: list[dict[str, Any]] = []
            for part in parts:  # a chain of the same operator is one And/Or (the parser nests it)
                same = isinstance(part, Node) and part.kind == kind
                rules.extend(self.rule(part)[combinator] if same else [self.rule(part)])
            return {combinator: rules}
        if kind == "negate":
            return {"Not": self.rule(parts[0])}
        raise ConditionError("?: is only translated as a switch's whole expression")

    def truthy(self, path: PathOf) -> dict[str, Any]:
        """JavaScript truthiness: present, not null, false, 0 or ''."""
        variable = self.path(path)
        return {
            "And": [
                {"Variable": variable, "IsPresent": True},
                {"Not": {"Variable": variable, "IsNull": True}},
                {"Not": _typed("IsBoolean", variable, {"BooleanEquals": False})},
                {"Not": _typed("IsNumeric", variable, {"NumericEquals": 0})},
                {"Not": _typed("IsString", variable, {"StringEquals": ""})},
            ]
        }

    def compare(self, left: Any, operator: str, right: Any) -> dict[str, Any]:
        if not isinstance(left, PathOf):
            left, right, operator = right, left, FLIPPED[operator]
        if not isinstance(left, PathOf):
            raise ConditionError("a comparison needs a $.path on one side")
        if operator == "!=":
            return {"Not": self.compare(left, "==", right)}
        if left.segments[-1] == "length":
            return self.length(PathOf(left.segments[:-1]), operator, right)
        variable = self.path(left)
        if isinstance(right, PathOf):
            if right.segments[-1] == "length":
                raise ConditionError(".length can only be compared with a whole number")
            other = self.path(right)
            typed = [
                _both_of("IsNumeric", variable, other, {f"{NUMERIC[operator]}Path": other}),
                _both_of("IsString", variable, other, {f"{TEXT[operator]}Path": other}),
            ]
            if operator == "==":
                typed.append(_both_of("IsBoolean", variable, other, {"BooleanEqualsPath": other}))
            return {"Or": typed}
        if not isinstance(right, Value):
            raise ConditionError("only paths and literals can be compared")
        value = right.value
        if value is None or isinstance(value, bool):
            if operator != "==":
                raise ConditionError(f"{json.dumps(value)} can only be compared for equality")
            if value is None:
                return {"Variable": variable, "IsNull": True}
            return _typed("IsBoolean", variable, {"BooleanEquals": value})
        if isinstance(value, str):
            return _typed("IsString", variable, {TEXT[operator]: value})
        return _typed("IsNumeric", variable, {NUMERIC[operator]: value})

    def length(self, array: PathOf, operator: str, right: Any) -> dict[str, Any]:
        """`a.length <op> n` as the presence of items: length > n holds when a[n] exists."""
        if not isinstance(right, Value) or not isinstance(right.value, int) or isinstance(right.value, bool):
            raise ConditionError(".length can only be compared with a whole number")
        variable, n = self.path(array), right.value
        if n < 0:
            raise ConditionError(".length is compared with a negative number")

        def has(count: int) -> dict[str, Any]:  # at least `count` items
            if count <= 0:
                return {"Variable": variable, "IsPresent": True}
            return {"Variable": f"{variable}[{count - 1}]", "IsPresent": True}

        rules = {
            ">": has(n + 1),
            ">=": has(n),
            "<": {"Not": has(n)},
            "<=": {"Not": has(n + 1)},
            "==": {"And": [has(n), {"Not": has(n + 1)}]},
        }
        return rules[operator]
