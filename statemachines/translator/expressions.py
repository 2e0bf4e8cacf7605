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
from statemachines.translator.model import WorkflowTask
from statemachines.translator.references import ForkedRefs, registration_checks

EXPRESSION = re.compile(r"\$\$\{|\$\{([^{}]*)\}")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# what CDK's definition substitutions replace in the ASL: `${NAME}`
SUBSTITUTION_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# one step of a path as Jayway JsonPath reads it: `key` (after a dot or first), `[0]`, `['key']`, `["key"]`
PATH_STEP = re.compile(
    r"""(?P<key>[^.\[\]]+)|\[(?P<index>\d+)\]|\[(?P<quote>['"])(?P<quoted>[^'"]+)(?P=quote)\]"""
)
# `${CPEWF_TASK_ID}` is the id of the task whose input holds it (EnvUtils.getSystemParametersValue)
TASK_ID_PARAMETER = "CPEWF_TASK_ID"
# the other EnvUtils.SystemParameters: read from the Conductor server's environment
SERVER_ENVIRONMENT_PARAMETERS = frozenset({"NETFLIX_ENV", "NETFLIX_STACK"})
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
class Read:
    """A context path an expression reads: where it is read from is known once the analysis has
    planned the views (read_views.py)."""

    segments: tuple[str, ...]


Piece = str | Read


@dataclass(frozen=True)
class Path:
    """A JSONPath into the context; `ensure` are the segments that must exist before it is read.

    `asl` reads every context path where it is; `pieces` (empty when nothing is read from the
    context) are the same text with each context read kept apart, so that `located` can read it
    from a view instead."""

    asl: str
    ensure: tuple[str, ...] = ()
    pieces: tuple[Piece, ...] = field(default=(), compare=False)

    def located(self, locate: Callable[[tuple[str, ...]], str]) -> Path:
        """This path with each context read at `locate(segments)`."""
        if not self.pieces:
            return self
        text = "".join(piece if isinstance(piece, str) else locate(piece.segments) for piece in self.pieces)
        return Path(text, self.ensure)

    def text_pieces(self) -> tuple[Piece, ...]:
        return self.pieces or (self.asl,)


def joined(pieces: Iterable[Piece]) -> Path:
    """The Path of these pieces (text and context reads)."""
    kept = tuple(pieces)
    text = "".join(piece if isinstance(piece, str) else path_of(piece.segments) for piece in kept)
    return Path(text, (), kept if any(isinstance(piece, Read) for piece in kept) else ())


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
    # DO_WHILE references: `${loop.iteration}` is the loop's iteration (ParametersUtils puts each
    # task's `iteration` beside its input and output)
    loop_refs: frozenset[str] = frozenset()
    # where `${CPEWF_TASK_ID}` is read, by the location of the task whose inputParameters hold it
    task_id_reads: dict[str, list[str]] = field(default_factory=dict)
    # `${workflow.env.NAME}` values (translator.json workflow_env: statemachines.translator.environment)
    environment: Mapping[str, Any] = field(default_factory=dict)
    # the references the workflow's dynamic forks give their tasks (not in the definition)
    forked: tuple[ForkedRefs, ...] = ()
    # False for an inline child definition: Conductor's registration never validates it
    # (SubWorkflowParams.workflowDefinition is not @Valid; StartWorkflowOperation checks the input only)
    registered: bool = True

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
        steps = _split(expression.strip())
        if not steps or steps[0].startswith("["):
            self.diagnostics.error(location, f"cannot parse the path in '${{{expression}}}'")
            return None
        head, segments = steps[0], steps[1:]
        if head == TASK_ID_PARAMETER and not segments:
            return self._task_id(location)
        if head in SERVER_ENVIRONMENT_PARAMETERS and not segments:
            self.diagnostics.error(
                location,
                f"'${{{expression}}}' reads the Conductor server's environment (EnvUtils), which no "
                "Step Functions value stands for: pass it as workflow input",
            )
            return None
        if head == "workflow":
            return self._workflow(expression, segments, location)
        if head in self.task_refs:
            if segments == ["iteration"] and head in self.loop_refs:
                return self._context_path(("tasks", head, "output", "iteration"))
            if not segments or segments[0] not in ("output", "input"):
                loop = f" and '{head}.iteration'" if head in self.loop_refs else ""
                self.diagnostics.error(
                    location,
                    f"'${{{expression}}}': only '{head}.output...' and '{head}.input...'{loop} can be "
                    "translated",
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
        return self._unknown_task(expression, head, location)

    def _unknown_task(self, expression: str, head: str, location: str) -> Resolved | None:
        """Conductor refuses to register the reference in a top-level task's inputParameters and
        reads null anywhere else (ParametersUtils reads with SUPPRESS_EXCEPTIONS), unless a dynamic
        fork may have run a task of that name."""
        unknown = f"'${{{expression}}}' references '{head}', which is not a task reference in this workflow"
        if self.registered and registration_checks(location):
            self.diagnostics.error(
                location, f"{unknown}: Conductor refuses to register a definition with it here"
            )
            return None
        forks = [fork.fork for fork in self.forked if fork.may_name(head)]
        if forks:
            self.diagnostics.error(
                location,
                f"{unknown}, but a task FORK_JOIN_DYNAMIC '{forks[0]}' forks may be named so, and "
                "Conductor would read that task's output: read it from the fork's JOIN output",
            )
            return None
        self.diagnostics.warning(location, f"{unknown}: Conductor reads it as null (likely a mistake)")
        return Literal(None)

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

    def _task_id(self, location: str) -> Resolved | None:
        """Conductor gives a task's inputParameters its task id (a UUID, a new one per scheduled task,
        retries included) and leaves `${CPEWF_TASK_ID}` as it is anywhere else (taskId null); a
        Task state's Parameters are evaluated again for each retry attempt (moto does; not checked
        on AWS), so each attempt reads a new one, as each Conductor retry has a new task id."""
        task, inside, _ = location.partition(".inputParameters")
        if not inside:  # an inputTemplate is merged into the input before Conductor resolves it
            task, inside, _ = location.partition(".inputTemplate")
        if not inside:
            self.diagnostics.error(
                location,
                "${CPEWF_TASK_ID} outside a task's inputParameters: Conductor leaves it as the text "
                "'${CPEWF_TASK_ID}', which a definition cannot carry (it is a definition-substitution "
                "placeholder's form)",
            )
            return None
        self.task_id_reads.setdefault(task, []).append(location)
        return Path("States.UUID()")

    def check_task_id_reads(self, task_at: Mapping[str, WorkflowTask]) -> None:
        """Refuses the reads of `${CPEWF_TASK_ID}` a fresh `States.UUID()` would not give Conductor's
        one id per task: a second read, a copy of the input kept for another expression, a DO_WHILE's
        inputs (resolved again before every condition check)."""
        for task_location, reads in self.task_id_reads.items():
            task = task_at.get(task_location)
            ref = task.taskReferenceName if task else ""
            why = ""
            if len(reads) > 1:
                why = "it is read more than once in the task's inputParameters"
            elif ref in self.inputs_read:
                why = f"another expression reads '{ref}.input', a copy that would hold another UUID"
            elif task is not None and task.type == "DO_WHILE":
                why = "a DO_WHILE's inputParameters are resolved again before every condition check"
            if why:
                self.diagnostics.error(
                    reads[-1],
                    f"${{CPEWF_TASK_ID}} of '{ref}': {why}; Conductor gives every read the task's one id, "
                    "each States.UUID() is a new one",
                )

    def _context_path(self, segments: tuple[str, ...]) -> Path:
        ensure: list[str] = []
        for segment in segments:
            if segment.startswith("["):
                break  # array items cannot be created; only the part before the index is ensured
            ensure.append(segment)
        ensured = tuple(ensure)
        self.referenced.add(ensured)
        return Path(path_of(segments), ensured, (Read(segments),))


def _split(path: str) -> list[str] | None:
    """`a.b[0]['c d']` -> ['a', 'b', '[0]', 'c d']; None when malformed. Bracket notation names a key
    as the dotted form does (Jayway JsonPath, which ParametersUtils reads expressions with)."""
    segments: list[str] = []
    position, after_dot = 0, True
    while position < len(path):
        if path[position] == ".":
            if after_dot:
                return None
            position, after_dot = position + 1, True
            continue
        step = PATH_STEP.match(path, position)
        if step is None or (step.group("key") is not None) != after_dot:
            return None
        if step.group("index") is not None:
            segments.append(f"[{step.group('index')}]")
        elif step.group("quoted") is not None:
            if step.group("quoted").startswith("["):
                return None  # would read as an array index
            segments.append(step.group("quoted"))
        else:
            segments.append(step.group("key"))
        position, after_dot = step.end(), False
    return None if after_dot else segments


# --- ASL values ---------------------------------------------------------------------------------
def intrinsic_text(text: str) -> str:
    """`text` escaped for the inside of an intrinsic-function string literal (no surrounding quotes)."""
    return _quote(text)[1:-1]


def _quote(text: str) -> str:
    """An intrinsic-function string literal."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("{", "\\{").replace("}", "\\}")
    return f"'{escaped}'"


def _intrinsic_arg(value: Resolved) -> tuple[Piece, ...]:
    if isinstance(value, Path):
        return value.text_pieces()
    literal = value.value
    if isinstance(literal, str):
        return (_quote(literal),)
    if literal is None or isinstance(literal, bool | int | float):
        return (json.dumps(literal),)
    raise ValueError("objects cannot be intrinsic-function arguments")


def _call(function: str, arguments: Iterable[tuple[Piece, ...]]) -> Path:
    """`function(argument, ...)`: an intrinsic function of text and context reads."""
    pieces: list[Piece] = [f"{function}("]
    for index, argument in enumerate(arguments):
        if index:
            pieces.append(", ")
        pieces.extend(argument)
    pieces.append(")")
    return joined(pieces)


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
    arguments: list[tuple[Piece, ...]] = []
    for part in parts:
        if isinstance(part, Path):
            template += "{}"
            arguments.append(part.text_pieces())
        else:
            template += _quote(part if isinstance(part, str) else _literal_text(part))[1:-1]
    return _call("States.Format", [(f"'{template}'",), *arguments])


def _literal_text(literal: Literal) -> str:
    value = literal.value
    return value if isinstance(value, str) else json.dumps(value)


def parameters(value: dict[str, Any], location: str, resolve: Resolve, diagnostics: Diagnostics) -> dict:
    """A Conductor inputParameters object as an ASL Parameters/ItemSelector object."""
    return parameters_of(value, location, lambda item, where: field_value(item, where, resolve, diagnostics))


# the value of one item that is not an object, given the item and its location
Leaf = Callable[[Any, str], "Resolved | None"]


def parameters_of(value: dict[str, Any], location: str, leaf: Leaf) -> dict[str, Any]:
    """An object as ASL Parameters, each item that is not an object given by `leaf`."""
    result: dict[str, Any] = {}
    for key, item in value.items():
        item_location = f"{location}.{key}" if location else key
        result |= parameter_entry(str(key), item, item_location, leaf)
    return result


def parameter_entry(key: str, item: Any, location: str, leaf: Leaf) -> dict[str, Any]:
    """`item` as the entry `key` of ASL Parameters: an object, `key.$` for a path, nothing when it
    cannot be resolved."""
    if isinstance(item, dict):
        return {key: parameters_of(item, location, leaf)}
    if isinstance(item, list) and _expressions_only_in_objects(item):
        return {
            key: [
                parameters_of(v, f"{location}[{n}]", leaf) if isinstance(v, dict) else _unescape(v)
                for n, v in enumerate(item)
            ]
        }
    resolved = leaf(item, location)
    if resolved is None:
        return {}
    if isinstance(resolved, Path):
        return {f"{key}.$": resolved.asl}
    return {key: resolved.value}


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
    elements: list[tuple[Piece, ...]] = []
    for index, item in enumerate(items):
        where = f"{location}[{index}]"
        if isinstance(item, dict | list):
            element = _json_element(item, where, resolve, diagnostics)
        else:
            resolved = field_value(item, where, resolve, diagnostics)
            element = None if resolved is None else _intrinsic_arg(resolved)
        if element is None:
            return None
        elements.append(element)
    return _call("States.Array", elements)


def _json_element(
    value: dict[str, Any] | list[Any], location: str, resolve: Resolve, diagnostics: Diagnostics
) -> tuple[Piece, ...] | None:
    """An object or array inside an intrinsic's arguments: its JSON text, each expression's value
    written in by `States.JsonToString`, parsed back by `States.StringToJson` (an intrinsic argument
    is a path or a literal, never an object)."""
    text = _json_text(value, location, resolve, diagnostics)
    if text is None:
        return None
    if not any(isinstance(part, Path) for part in text):
        literal = "".join(part for part in text if isinstance(part, str))
        return _call("States.StringToJson", [(_quote(literal),)]).text_pieces()
    template = "".join(intrinsic_text(part) if isinstance(part, str) else PLACEHOLDER for part in text)
    values = [
        _call("States.JsonToString", [part.text_pieces()]).text_pieces()
        for part in text
        if isinstance(part, Path)
    ]
    formatted = _call("States.Format", [(f"'{template}'",), *values])
    return _call("States.StringToJson", [formatted.text_pieces()]).text_pieces()


def _json_text(
    value: Any, location: str, resolve: Resolve, diagnostics: Diagnostics
) -> list[str | Path] | None:
    """`value` as JSON text: literal pieces, and the paths whose JSON goes between them."""
    if not _has_expression(value):
        return [json.dumps(_unescape(value))]
    entries: list[tuple[str, Any, str]]
    if isinstance(value, dict):
        entries = [(f"{json.dumps(str(k))}: ", v, f"{location}.{k}") for k, v in value.items()]
        opening, closing = "{", "}"
    elif isinstance(value, list):
        entries = [("", v, f"{location}[{n}]") for n, v in enumerate(value)]
        opening, closing = "[", "]"
    else:
        resolved = field_value(value, location, resolve, diagnostics)
        if resolved is None:
            return None
        if isinstance(resolved, Literal):
            return [json.dumps(resolved.value)]
        if resolved.asl.startswith("States."):
            diagnostics.error(
                location,
                f"'{value}' is text built around an expression inside an object of an array that also "
                "holds a bare expression: its JSON cannot be written in by an intrinsic function; "
                "give the text its own input parameter",
            )
            return None
        return [resolved]
    parts: list[str | Path] = [opening]
    for index, (prefix, item, where) in enumerate(entries):
        inner = _json_text(item, where, resolve, diagnostics)
        if inner is None:
            return None
        parts += [(", " if index else "") + prefix, *inner]
    return [*parts, closing]


def _expressions_only_in_objects(items: list[Any]) -> bool:
    """An array whose every expression is inside one of its objects: in Parameters it is written as
    it is, each object a Parameters object, as Step Functions evaluates the `.$` keys of objects
    inside arrays ("If the array contains object literals whose values come from a JSON path
    expression, you do not need to use this function [States.Array]":
    https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_stepfunctions.JsonPath.html)."""
    with_expressions = [item for item in items if _has_expression(item)]
    return bool(with_expressions) and all(isinstance(item, dict) for item in with_expressions)


PLACEHOLDER = "{}"  # where States.Format writes its next argument


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
