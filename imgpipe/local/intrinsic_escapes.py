"""Escaped characters in intrinsic-function string literals, as Step Functions reads them (moto fix).

Step Functions reserves `'`, `{`, `}` and `\\` in the string literals of intrinsic functions: escaped
with a backslash they stand for themselves, so `States.Format('it\\'s \\{{}\\}', $.a)` is `it's {a}`
(https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html, "Reserved
characters"; AWS CDK escapes braces that way, aws/aws-cdk#29267). moto 5.2 reads none of them:
its lexer ends a literal at an escaped quote (`'it\\'s'` is `it\\`), its preprocessor keeps the
backslashes of the rest, and its `States.Format` hands the template to Python's `str.format`, which
fails on an escaped brace (KeyError) and any other brace. The translator writes those escapes for
every Conductor string holding a quote or a brace beside an expression, so without this fix such a
workflow fails or outputs other text locally, and on AWS it does not.

The fix, while installed: before moto lexes an intrinsic, each escape pair inside a literal becomes a
private-use character the lexer passes through; a literal's value is the text with them read back,
and `States.Format` fills only the template's unescaped `{}`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from imgpipe.local.lambda_seam import MotoInternalsChanged, moto_attribute

INTRINSIC_PARSER = "moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser"
PREPROCESSOR = "moto.stepfunctions.parser.asl.parse.intrinsic.preprocessor"
STRING_FORMAT = (
    "moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.generic.string_format"
)
# an escaped character -> the private-use character it travels as through moto's lexer
ESCAPED = {"'": "\ue000", "{": "\ue001", "}": "\ue002", "\\": "\ue003"}
UNESCAPED = {marker: char for char, marker in ESCAPED.items()}
PLACEHOLDER = "{}"
# how json.dumps writes a character outside ASCII (moto's lexer takes the character itself)
NON_ASCII_ESCAPE = re.compile(r"\\u(?!00[0-7])[0-9a-fA-F]{4}")


class LiteralText(str):
    """A string literal's value; `template` keeps its escaped characters apart (for States.Format)."""

    template: str

    def __new__(cls, template: str) -> LiteralText:
        text = super().__new__(cls, read_back(template))
        text.template = template
        return text


def read_back(text: str) -> str:
    """`text` with each escaped character as itself."""
    return "".join(UNESCAPED.get(char, char) for char in text)


def protect_escapes(source: str) -> str:
    """`source`, an intrinsic call as it stands in the definition's JSON text (still JSON-escaped:
    the intrinsic's `\\'` is `\\\\'` there), with each escape pair inside a string literal as its
    marker, and each `\\uXXXX` outside ASCII as its character. Other JSON escapes (`\\n`, `\\"`)
    are left to moto, which reads them."""
    out: list[str] = []
    in_literal = False
    index = 0
    while index < len(source):
        char = source[index]
        if char == "\\":
            escaped = source[index + 2 : index + 3] if source[index + 1 : index + 2] == "\\" else ""
            if in_literal and escaped in ESCAPED and escaped != "\\":
                out.append(ESCAPED[escaped])  # \\' \\{ \\}: the intrinsic's escape of a quote or brace
                index += 3
            elif in_literal and source[index : index + 4] == "\\" * 4:
                out.append(ESCAPED["\\"])  # the intrinsic's escaped backslash
                index += 4
            elif NON_ASCII_ESCAPE.match(source, index):
                out.append(chr(int(source[index + 2 : index + 6], 16)))  # moto would read `\\u00e9` as u00e9
                index += 6
            else:
                out.append(source[index : index + 2])  # a JSON escape, as it is
                index += 2
            continue
        if char == "'":
            in_literal = not in_literal
        out.append(char)
        index += 1
    return "".join(out)


def format_template(template: str, values: list[str]) -> str:
    """`template` with each unescaped `{}` replaced by the next value, escaped characters as themselves."""
    pieces = template.split(PLACEHOLDER)
    if len(pieces) - 1 != len(values):
        count, text = len(pieces) - 1, read_back(template)
        raise ValueError(f"States.Format: {count} placeholders, {len(values)} values: '{text}'")
    filled = [read_back(pieces[0])]
    for value, piece in zip(values, pieces[1:], strict=True):
        filled += [value, read_back(piece)]
    return "".join(filled)


def _parse(original: Any) -> Any:
    def parse(src: str) -> Any:
        return original(protect_escapes(src))

    return staticmethod(parse)


def _text_of_str(original: Any) -> Any:
    def text_of_str(parse_tree: Any) -> str:
        return LiteralText(original(parse_tree))

    return staticmethod(text_of_str)


def _format_body(string_format: Any) -> Any:
    original = string_format._eval_body

    def eval_body(self: Any, env: Any) -> None:
        template = self.argument_list.arguments[0]
        literal = getattr(template, "definition_value", None)
        if not isinstance(literal, LiteralText):
            original(self, env)  # a template read from a path: moto's reading
            return
        self.argument_list.eval(env=env)
        args = env.stack.pop()
        env.stack.append(format_template(literal.template, [self._to_str_repr(v) for v in args[1:]]))

    return eval_body


def verify_targets() -> None:
    parser = moto_attribute(INTRINSIC_PARSER, "IntrinsicParser")
    preprocessor = moto_attribute(PREPROCESSOR, "Preprocessor")
    string_format = moto_attribute(STRING_FORMAT, "StringFormat")
    for owner, name in ((parser, "parse"), (preprocessor, "_text_of_str"), (string_format, "_eval_body")):
        if not callable(getattr(owner, name, None)):
            raise MotoInternalsChanged(f"moto's {owner.__name__}.{name} moved")
    if not callable(getattr(string_format, "_to_str_repr", None)):
        raise MotoInternalsChanged("moto's StringFormat._to_str_repr moved")


@contextmanager
def install() -> Iterator[None]:
    verify_targets()
    parser = importlib.import_module(INTRINSIC_PARSER).IntrinsicParser
    preprocessor = importlib.import_module(PREPROCESSOR).Preprocessor
    string_format = importlib.import_module(STRING_FORMAT).StringFormat
    with ExitStack() as stack:
        if not getattr(parser.parse, "protects_escapes", False):  # nested installs patch once
            patched = _parse(parser.parse)
            patched.__func__.protects_escapes = True
            stack.enter_context(mock.patch.object(parser, "parse", patched))
            stack.enter_context(
                mock.patch.object(preprocessor, "_text_of_str", _text_of_str(preprocessor._text_of_str))
            )
            stack.enter_context(mock.patch.object(string_format, "_eval_body", _format_body(string_format)))
        yield
