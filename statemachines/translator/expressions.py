"""Conductor `${...}` expressions to ASL JSONPath values (Parameters, intrinsic functions).

The translated state machine carries one JSON document, the *context*:
`{"workflow": {"input": ..., "variables": ...}, "tasks": {"<ref>": {"output": ..., "input": ...}}}`.
`${workflow.input.a}` becomes `$.workflow.input.a`, `${ref.output.x}` becomes `$.tasks.ref.output.x`.
A whole-value expression keeps its JSON type (`"k.$": "$.path"`); an expression inside a longer string
becomes `States.Format`; `$${` is a literal `${`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from statemachines.translator.diagnostics import Diagnostics

EXPRESSION = re.compile(r"\$\$\{|\$\{([^{}]*)\}")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SEGMENT = re.compile(r"^([^.\[\]]+)((?:\[\d+\])*)$")
# what a plain `a.b[0]` path never holds: `length()`, `[?(@...)]`, `*`, `$`
JSONPATH_OPERATOR = re.compile(r"[()*?@$]")
# `${a.${b}}`: Conductor resolves the inner expression first and reads the path it gives
NESTED_EXPRESSION = re.compile(r"(?<!\$)\$\{[^{}]*\$\{")
# Workflow attributes Conductor exposes (ParametersUtils.getTaskInputV2) and what they become.
WORKFLOW_CONTEXT_PATHS = {"workflowId": "$$.Execution.Name"}
# Attributes Conductor has that no Step Functions value stands for: refused by name.
UNTRANSLATABLE_WORKFLOW_ATTRIBUTES = frozenset(
    {"output", "parentWorkflowId", "parentWorkflowTaskId", "reasonForIncompletion"}
)


@dataclass(frozen=True)
class Path:
    """A JSONPath into the context; `ensure` are the segments that must exist before it is read."""

    asl: str
    ensure: tuple[str, ...] = ()


@dataclass(frozen=True)
class Literal:
    value: Any


Resolved = Path | Literal


def path_of(segments: Iterable[str], root: str = "$") -> str:
    """Dotted JSONPath for identifier segments, bracket notation for anything else."""
    text = root
    for segment in segments:
        if segment.startswith("["):
            text += segment
        elif IDENTIFIER.match(segment):
            text += f".{segment}"
        else:
            text += "['" + segment.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return text


@dataclass
class Scope:
    """What a reference may point at: the workflow's task references and its attributes."""

    workflow_name: str
    workflow_version: int
    task_refs: frozenset[str]
    diagnostics: Diagnostics
    # every context path an expression reads, so the emitter can make it exist (Conductor's null)
    referenced: set[tuple[str, ...]] = field(default_factory=set)
    # task references whose *input* some expression reads (their input is then stored)
    inputs_read: set[str] = field(default_factory=set)
    # dynamic JOINs whose output is a list (dynamic_join_output "list"): no key can be read from them
    list_outputs: frozenset[str] = frozenset()
    # where a context path is read (a view of it, read_views.py); None: where it is
    locate: Callable[[tuple[str, ...]], str] | None = None
    # `${workflow.env.NAME}` values (translator.json workflow_env: statemachines.translator.environment)
    environment: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, expression: str, location: str) -> Resolved | None:
        """Resolve the inside of one `${...}`; report and return None if it cannot be."""
        if JSONPATH_OPERATOR.search(expression):
            self.diagnostics.error(
                location,
                f"'${{{expression}}}' uses a JSONPath function, filter or wildcard, which Conductor "
                "evaluates with Jayway JsonPath and a JSONPath ASL Parameters path cannot: "
                "move it into a worker",
            )
            return None
        head, _, rest = expression.strip().partition(".")
        segments = _split(rest) if rest else []
        if segments is None:
            self.diagnostics.error(location, f"cannot parse the path in '${{{expression}}}'")
            return None
        if head == "workflow":
            return self._workflow(expression, segments, location)
        if head in self.task_refs:
            if not segments or segments[0] not in ("output", "input"):
                self.diagnostics.error(
                    location,
                    f"'${{{expression}}}': only '{head}.output...' and '{head}.input...' can be translated",
                )
                return None
            if segments[0] == "input":
                self.inputs_read.add(head)
            keyed = len(segments) > 1 and not segments[1].startswith("[")
            if head in self.list_outputs and segments[0] == "output" and keyed:
                self.diagnostics.error(
                    location,
                    f"'${{{expression}}}' reads key '{segments[1]}' of JOIN '{head}', whose output is "
                    "a list of {taskReferenceName, output} (dynamic_join_output 'list'): a reference "
                    "name cannot be looked up in a list; read the whole output, or set "
                    f"dynamic_join_output_by_join['{self.workflow_name}.{head}'] to 'map'",
                )
                return None
            return self._context_path(("tasks", head, *segments))
        self.diagnostics.error(
            location,
            f"'${{{expression}}}' references '{head}', which is not a task reference in this workflow",
        )
        return None

    def _workflow(self, expression: str, segments: list[str], location: str) -> Resolved | None:
        if not segments:
            self.diagnostics.error(location, f"'${{{expression}}}' names no workflow attribute")
            return None
        attribute = segments[0]
        if attribute in ("env", "secrets"):
            from statemachines.translator.environment import environment_value

            return environment_value(expression, segments, location, self.environment, self.diagnostics)
        if attribute in ("input", "variables"):
            return self._context_path(("workflow", *segments))
        if len(segments) == 1 and attribute in WORKFLOW_CONTEXT_PATHS:
            return Path(WORKFLOW_CONTEXT_PATHS[attribute])
        if len(segments) == 1 and attribute == "workflowType":
            return Literal(self.workflow_name)
        if len(segments) == 1 and attribute == "version":
            return Literal(self.workflow_version)
        if len(segments) == 1 and attribute == "schemaVersion":
            return Literal(2)
        if len(segments) == 1 and attribute == "status":
            return Literal("RUNNING")  # what every expression evaluated during a run reads
        if len(segments) == 1 and attribute == "correlationId":
            self.diagnostics.warning(
                location, "workflow.correlationId has no Step Functions equivalent: null"
            )
            return Literal(None)
        if attribute in UNTRANSLATABLE_WORKFLOW_ATTRIBUTES or attribute in WORKFLOW_CONTEXT_PATHS:
            self.diagnostics.error(
                location, f"'${{{expression}}}': workflow.{attribute} cannot be translated"
            )
            return None
        # Conductor reads any other path of `workflow` (name, startTime, ...) as null
        self.diagnostics.warning(
            location,
            f"'${{{expression}}}': {attribute!r} is not a workflow attribute in Conductor, "
            "which reads it as null",
        )
        return Literal(None)

    def _context_path(self, segments: tuple[str, ...]) -> Path:
        ensure: list[str] = []
        for segment in segments:
            if segment.startswith("["):
                break  # array items cannot be created; only the part before the index is ensured
            ensure.append(segment)
        ensured = tuple(ensure)
        self.referenced.add(ensured)
        return Path(self.locate(segments) if self.locate else path_of(segments), ensured)


def _split(path: str) -> list[str] | None:
    """`a.b[0].c` -> ['a', 'b', '[0]', 'c']; None when malformed."""
    segments: list[str] = []
    for part in path.split("."):
        match = SEGMENT.match(part)
        if not match:
            return None
        segments.append(match.group(1))
        segments.extend(re.findall(r"\[\d+\]", match.group(2)))
    return segments


# --- ASL values ---------------------------------------------------------------------------------
def intrinsic_text(text: str) -> str:
    """`text` escaped for the inside of an intrinsic-function string literal (no surrounding quotes)."""
    return _quote(text)[1:-1]


def _quote(text: str) -> str:
    """An intrinsic-function string literal."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("{", "\\{").replace("}", "\\}")
    return f"'{escaped}'"


def _intrinsic_arg(value: Resolved) -> str:
    if isinstance(value, Path):
        return value.asl
    literal = value.value
    if isinstance(literal, str):
        return _quote(literal)
    if literal is None or isinstance(literal, bool | int | float):
        return json.dumps(literal)
    raise ValueError("objects cannot be intrinsic-function arguments")


Resolve = Callable[[str, str], Resolved | None]


def string_value(text: str, location: str, resolve: Resolve) -> Resolved | None:
    """A Conductor string: literal, whole expression (keeps JSON type), or formatted string."""
    parts: list[str | Resolved] = []
    position = 0
    for match in EXPRESSION.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        position = match.end()
        if match.group(0) == "$${":
            parts.append("${")
            continue
        resolved = resolve(match.group(1), location)
        if resolved is None:
            return None
        parts.append(resolved)
    if position < len(text):
        parts.append(text[position:])
    if not any(isinstance(part, Path) for part in parts):
        if len(parts) == 1 and isinstance(parts[0], Literal):
            return parts[0]
        return Literal("".join(p if isinstance(p, str) else _literal_text(p) for p in parts))  # type: ignore[arg-type]
    if len(parts) == 1:
        return parts[0]  # type: ignore[return-value]
    template = ""
    arguments: list[str] = []
    for part in parts:
        if isinstance(part, Path):
            template += "{}"
            arguments.append(part.asl)
        else:
            template += _quote(part if isinstance(part, str) else _literal_text(part))[1:-1]
    return Path(f"States.Format('{template}', {', '.join(arguments)})")


def _literal_text(literal: Literal) -> str:
    value = literal.value
    return value if isinstance(value, str) else json.dumps(value)


def parameters(value: dict[str, Any], location: str, resolve: Resolve, diagnostics: Diagnostics) -> dict:
    """A Conductor inputParameters object as an ASL Parameters/ItemSelector object."""
    result: dict[str, Any] = {}
    for key, item in value.items():
        item_location = f"{location}.{key}" if location else key
        if isinstance(item, dict):
            result[key] = parameters(item, item_location, resolve, diagnostics)
            continue
        resolved = field_value(item, item_location, resolve, diagnostics)
        if resolved is None:
            continue
        if isinstance(resolved, Path):
            result[f"{key}.$"] = resolved.asl
        else:
            result[key] = resolved.value
    return result


def field_value(item: Any, location: str, resolve: Resolve, diagnostics: Diagnostics) -> Resolved | None:
    """One value that is not an object: string, array, number, boolean or null."""
    if isinstance(item, str):
        if NESTED_EXPRESSION.search(item):
            diagnostics.error(
                location,
                f"'{item}' nests an expression in another (${{a.${{b}}}}): Conductor reads the path the "
                "inner one gives, which a JSONPath ASL Parameters path cannot; compute it in a worker",
            )
            return None
        return string_value(item, location, resolve)
    if isinstance(item, list):
        return _array(item, location, resolve, diagnostics)
    return Literal(item)


def _array(items: list[Any], location: str, resolve: Resolve, diagnostics: Diagnostics) -> Resolved | None:
    if not _has_expression(items):
        return Literal(_unescape(items))
    elements: list[Resolved] = []
    for index, item in enumerate(items):
        if isinstance(item, dict | list):
            diagnostics.error(
                f"{location}[{index}]",
                "an array that mixes expressions with nested objects or arrays has no JSONPath ASL form",
            )
            return None
        resolved = field_value(item, f"{location}[{index}]", resolve, diagnostics)
        if resolved is None:
            return None
        elements.append(resolved)
    return Path(f"States.Array({', '.join(_intrinsic_arg(e) for e in elements)})")


def _has_expression(value: Any) -> bool:
    if isinstance(value, str):
        return any(m.group(0) != "$${" for m in EXPRESSION.finditer(value))
    if isinstance(value, dict):
        return any(_has_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_expression(v) for v in value)
    return False


def _unescape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$${", "${")
    if isinstance(value, dict):
        return {k: _unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    return value


def has_expression(value: Any) -> bool:
    return _has_expression(value)
