"""Conductor's JavaScript (INLINE, LAMBDA, script conditions) evaluated in a fresh V8 isolate.

Conductor evaluates a script with `$` bound to the task's resolved input (`ScriptEvaluator.eval`:
`bindings.put("$", input)`), and the value of its last statement is the result. Here each
evaluation gets a new isolate (mini-racer): nothing leaks between tasks sharing a warm function,
and a script that exhausts the heap poisons nothing after it. The isolate has no module loader,
network or file access; WebAssembly is removed. A time limit and a heap limit bound every
evaluation, and the result must be JSON (it goes into the workflow's state).

Conductor binds Java maps and lists (Nashorn), so scripts written for it call `$.list.get(0)`,
`.size()`, `.isEmpty()`, `.contains(x)` and `$.map.containsKey(k)`, `.get(k)`: those methods exist
here too (non-enumerable, so JSON and `for...in` do not see them).
"""

from __future__ import annotations

import json
import re
from typing import Any

from py_mini_racer import JSEvalException, JSOOMException, JSTimeoutException, MiniRacer

from lambdas.core.errors import WorkerError
from lambdas.settings import JavaScriptSettings

PRELUDE = r"""
delete globalThis.WebAssembly;
(function () {
  function method(target, name, body) {
    // a descriptor without a prototype: Object.prototype.get (below) must not read as an accessor
    var descriptor = Object.create(null);
    descriptor.value = body;
    descriptor.writable = true;
    descriptor.configurable = true;
    Object.defineProperty(target, name, descriptor);
  }
  method(Array.prototype, "get", function (index) { return this[index]; });
  method(Array.prototype, "size", function () { return this.length; });
  method(Array.prototype, "isEmpty", function () { return this.length === 0; });
  method(Array.prototype, "contains", function (item) { return this.indexOf(item) >= 0; });
  method(Object.prototype, "get", function (key) { return this[key]; });
  method(Object.prototype, "containsKey", function (key) {
    return Object.prototype.hasOwnProperty.call(this, key);
  });
  method(Object.prototype, "size", function () { return Object.keys(this).length; });
  method(Object.prototype, "isEmpty", function () { return Object.keys(this).length === 0; });
})();
"""
# V8's message starts with where the error was thrown: "<anonymous>:3: TypeError: ...".
_LOCATION = re.compile(r"^(?:<anonymous>|undefined):(\d+): ")


class ScriptError(WorkerError):
    """The script does not parse, throws, or returns what JSON cannot hold (Conductor fails the task)."""


class ScriptTimeoutError(WorkerError):
    """The script ran past the evaluator's time limit."""


class ScriptMemoryError(WorkerError):
    """The script reached the evaluator's heap limit."""


class ScriptTooLargeError(WorkerError):
    """The script or its result is larger than the evaluator's limit."""


def evaluate(script: Any, bound: Any, settings: JavaScriptSettings, *, field: str) -> Any:
    """The JSON value of `script` with `$` bound to `bound`; `field` names the script in errors."""
    if not isinstance(script, str) or not script.strip():
        raise ScriptError(field, "must be a non-empty JavaScript string")
    if len(script) > settings.javascript_max_script_chars:
        raise ScriptTooLargeError(
            field, f"has {len(script):,} characters; the limit is {settings.javascript_max_script_chars:,}"
        )
    binding = json.dumps(json.dumps(bound, allow_nan=False))
    program = f"var $ = JSON.parse({binding}); JSON.stringify(eval({json.dumps(script)}))"
    with MiniRacer() as context:
        context.eval(PRELUDE)
        try:
            text = context.eval(
                program,
                timeout=settings.javascript_timeout_ms,
                max_memory=settings.javascript_max_heap_mb * 1024 * 1024,
            )
        except JSTimeoutException:
            # V8 answers the cancelled evaluation later: one more evaluation lets that answer arrive
            # before the isolate closes (else mini-racer reports it to a closed event loop)
            context.eval("0")
            raise ScriptTimeoutError(
                field, f"ran longer than {settings.javascript_timeout_ms:,} ms"
            ) from None
        except JSOOMException:
            raise ScriptMemoryError(
                field, f"used more than {settings.javascript_max_heap_mb} MB of heap"
            ) from None
        except JSEvalException as error:
            raise ScriptError(field, _message(str(error))) from None
    if not isinstance(text, str):  # JSON.stringify gives undefined for undefined and functions
        return None
    size, limit = len(text.encode()), settings.javascript_max_result_bytes
    if size > limit:
        raise ScriptTooLargeError(field, f"returned {size:,} bytes of JSON; the limit is {limit:,}")
    return json.loads(text)


def _message(text: str) -> str:
    """V8's first line, with the line number in words: "line 3: TypeError: ..."."""
    first = text.strip().splitlines()[0] if text.strip() else "the script failed"
    match = _LOCATION.match(first)
    return f"line {match.group(1)}: {first[match.end() :]}" if match else first
