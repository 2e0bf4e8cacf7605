"""Runs inside the bundle's own interpreter (aarch64 CPython 3.13 under qemu-user): one function.

`python bundle_probe.py <job.json> <report.json>`. Started by infra/verify_bundle.py with only the
function's environment (from the template) and `PYTHONPATH=<code asset>:<layer>/python`, it imports
the handler, invokes it with the job's events and writes a JSON report. Before anything from the
bundle is imported it wraps the two places importlib turns a file into code: reading a pyc
(`_compile_bytecode`) and compiling a source (`SourceLoader.source_to_code`), so the report lists
which bundle modules came from the shipped bytecode and which were compiled from source at import.

Only the standard library is imported at module level: this file is not part of the bundle.
"""

from __future__ import annotations

import importlib
import importlib._bootstrap_external as bootstrap_external
import json
import os
import platform
import sys
import time
import traceback
from typing import Any

PYC_FLAGS_UNCHECKED_HASH = 0b01  # PEP 552: hash-based, source not checked


class ImportLedger:
    """Which bundle files importlib loaded from a pyc and which it compiled from source."""

    def __init__(self, roots: tuple[str, ...]) -> None:
        self.roots = roots
        self.from_bytecode: dict[str, str] = {}
        self.from_source: list[str] = []

    def _in_bundle(self, path: object) -> bool:
        return isinstance(path, str) and path.startswith(self.roots)

    def install(self) -> None:
        original_compile = bootstrap_external._compile_bytecode  # type: ignore[attr-defined]
        original_source_to_code = bootstrap_external.SourceLoader.source_to_code
        ledger = self

        def compile_bytecode(data: Any, name: Any = None, bytecode_path: Any = None, source_path: Any = None):
            if ledger._in_bundle(source_path) or ledger._in_bundle(bytecode_path):
                ledger.from_bytecode[str(source_path or bytecode_path)] = str(bytecode_path)
            return original_compile(data, name, bytecode_path, source_path)

        def source_to_code(self: Any, data: Any, path: Any, *, _optimize: int = -1) -> Any:
            if ledger._in_bundle(os.fspath(path) if isinstance(path, os.PathLike) else path):
                ledger.from_source.append(str(path))
            return original_source_to_code(self, data, path, _optimize=_optimize)

        bootstrap_external._compile_bytecode = compile_bytecode  # type: ignore[attr-defined]
        bootstrap_external.SourceLoader.source_to_code = source_to_code  # type: ignore[method-assign]

    def report(self) -> dict[str, Any]:
        flags: dict[str, int] = {}
        for pyc in self.from_bytecode.values():
            with open(pyc, "rb") as handle:
                value = int.from_bytes(handle.read(8)[4:8], "little")
            flags[str(value)] = flags.get(str(value), 0) + 1
        return {
            "from_bytecode": len(self.from_bytecode),
            "from_source": sorted(self.from_source),
            "pyc_flags": flags,
        }


class LambdaContext:
    """The attributes of the Lambda context object the handlers and Powertools read."""

    def __init__(self, function_name: str, memory_mb: int, timeout_seconds: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = "00000000-0000-4000-8000-00000000b0d1"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "verify-bundle"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def invoke(handler: Any, event: Any, context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        output = handler(event, context)
    except Exception as error:  # the report carries it; the host decides what is a failure
        return {
            "ok": False,
            "error": type(error).__name__,
            "message": str(error),
            "traceback": traceback.format_exc()[-3000:],
            "seconds": time.perf_counter() - started,
        }
    return {"ok": True, "output": output, "seconds": time.perf_counter() - started}


def wait_for_events(job: dict[str, Any]) -> list[Any]:
    """The job's events, or those the host writes to `events_file` once they are known (the
    publisher's input is the renderer's output: its cold import overlaps the rendering)."""
    if "events" in job:
        return list(job["events"])
    deadline = time.monotonic() + job["events_timeout_seconds"]
    while not os.path.exists(job["events_file"]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no events in {job['events_file']} after {job['events_timeout_seconds']} s")
        time.sleep(0.2)
    with open(job["events_file"]) as handle:
        return list(json.load(handle))


def main(job_path: str, report_path: str) -> None:
    with open(job_path) as handle:
        job = json.load(handle)
    ledger = ImportLedger(tuple(job["roots"]))
    ledger.install()
    started = time.perf_counter()
    module = importlib.import_module(job["handler_module"])
    handler = getattr(module, job["handler_function"])
    import_seconds = time.perf_counter() - started
    import_cpu_seconds = time.process_time()  # the wall time depends on how busy the host is
    context = LambdaContext(job["function_name"], job["memory_mb"], job["timeout_seconds"])
    results = [invoke(handler, event, context) for event in wait_for_events(job)]
    features: dict[str, bool] = {}
    if "PIL" in sys.modules:
        from PIL import features as pil_features

        features = {name: bool(pil_features.check(name)) for name in ("jpg", "zlib", "webp", "avif")}
    report = {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "machine": platform.machine(),
        "import_seconds": import_seconds,
        "import_cpu_seconds": import_cpu_seconds,
        "cpu_seconds": time.process_time(),
        "module_cached": getattr(module, "__cached__", None),
        "pillow_features": features,
        "imports": ledger.report(),
        "results": results,
    }
    with open(report_path, "w") as handle:
        json.dump(report, handle, default=str)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
