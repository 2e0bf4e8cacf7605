"""Bytecode for the Lambda runtime, compiled at synth time.

/var/task and /opt are read-only on Lambda, so a package shipped without `__pycache__` is compiled
from source on every cold start (about 4x the cold init, measured in docs/deploy.md). The pycs must
come from an interpreter of the runtime's major.minor (the magic number and the `cpython-3XY` file
names depend on it) and use PEP 552 `unchecked-hash` invalidation: the asset zip CDK builds stamps
every file with a fixed 1980 mtime, so timestamp pycs would never match, and the package is
immutable once deployed.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

INTERPRETER_ENV_VAR = "IMGPIPE_BYTECODE_PYTHON"
_VERSION_PROBE = "import sys; print(sys.version_info[:3])"
_VERSION_OUTPUT = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")
_PROBE_TIMEOUT_SECONDS = 30
_COMPILE_TIMEOUT_SECONDS = 600


class BytecodeInterpreterError(ValueError):
    """IMGPIPE_BYTECODE_PYTHON names something that is not a Python of the runtime's version."""


class BytecodeCompileError(RuntimeError):
    """compileall failed; carries the interpreter's output so synth stops with the reason."""


@dataclass(frozen=True)
class BytecodeInterpreter:
    """A verified interpreter whose major.minor equals the Lambda runtime's. `micro` is its patch
    release when known: pycs of one source differ between 3.13 patch releases (all load in any
    3.13), so it is part of what a cache key records."""

    path: Path
    version: tuple[int, int]
    micro: int | None = None

    @property
    def version_text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def cache_tag(self) -> str:
        """The tag in the pyc names (`module.cpython-313.pyc`): only CPython is ever compiled for."""
        return f"cpython-{self.version[0]}{self.version[1]}"


def bytecode_tag(interpreter: BytecodeInterpreter | None) -> str:
    """What a cache key records about bytecode, so a build without it is never reused as one with it."""
    if interpreter is None:
        return "bytecode=none"
    release = "" if interpreter.micro is None else f"@{interpreter.version_text}.{interpreter.micro}"
    return f"bytecode={interpreter.cache_tag}{release}:unchecked-hash"


def probe_release(executable: str | os.PathLike[str]) -> tuple[int, int, int | None] | None:
    """Run `executable` and return its (major, minor, micro), or None if it does not run as a Python."""
    try:
        done = subprocess.run(
            [os.fspath(executable), "-c", _VERSION_PROBE],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION_OUTPUT.fullmatch(done.stdout.strip())
    if done.returncode != 0 or match is None:
        return None
    micro = match.group(3)
    return int(match.group(1)), int(match.group(2)), None if micro is None else int(micro)


def _wanted(python_version: str) -> tuple[int, int]:
    major, minor = python_version.split(".")[:2]
    return int(major), int(minor)


def _pyenv_candidates(python_version: str, pyenv_root: Path) -> list[Path]:
    """`<pyenv_root>/versions/<ver>*/bin/python<ver>`, newest release first."""

    def release(path: Path) -> tuple[int, ...]:
        name = path.parents[1].name
        return tuple(int(part) for part in re.findall(r"\d+", name))

    release_dirs = pyenv_root / "versions" / f"{glob.escape(python_version)}*"
    pattern = str(release_dirs / "bin" / f"python{python_version}")
    return sorted((Path(p) for p in glob.glob(pattern)), key=release, reverse=True)


def find_interpreter(
    python_version: str, *, environ: Mapping[str, str] | None = None
) -> BytecodeInterpreter | None:
    """The interpreter that compiles the bundle for `python_version` ("3.13"), or None if there is none.

    Order: $IMGPIPE_BYTECODE_PYTHON (an explicit choice: wrong or broken is an error, not a fallback),
    `python<ver>` on PATH, then pyenv's `versions/<ver>*/bin/python<ver>` (newest). Every candidate
    is run to check its version: PATH may hold shims or stand-ins.
    """
    env = os.environ if environ is None else environ
    wanted = _wanted(python_version)
    explicit = env.get(INTERPRETER_ENV_VAR, "").strip()
    if explicit:
        release = probe_release(explicit)
        found = None if release is None else release[:2]
        if found != wanted:
            problem = "does not run" if found is None else f"is Python {found[0]}.{found[1]}"
            raise BytecodeInterpreterError(
                f"{INTERPRETER_ENV_VAR}={explicit!r} {problem}; the Lambda runtime needs Python "
                f"{python_version}. Point it at a python{python_version} or unset it."
            )
        return BytecodeInterpreter(Path(explicit), wanted, release[2] if release else None)
    candidates: list[Path] = []
    on_path = shutil.which(f"python{python_version}", path=env.get("PATH", os.defpath))
    if on_path:
        candidates.append(Path(on_path))
    pyenv_root = Path(env.get("PYENV_ROOT") or Path(env.get("HOME") or Path.home()) / ".pyenv")
    candidates += _pyenv_candidates(python_version, pyenv_root)
    for candidate in candidates:
        release = probe_release(candidate)
        if release is not None and release[:2] == wanted:
            return BytecodeInterpreter(candidate, wanted, release[2])
    return None


_DISCOVERY_INPUTS = (INTERPRETER_ENV_VAR, "PATH", "PYENV_ROOT", "HOME")


def discover_interpreter(python_version: str) -> BytecodeInterpreter | None:
    """`find_interpreter` for this process's environment, run once per distinct environment
    (the layer and the code asset of one synth both ask)."""
    inputs = tuple(os.environ.get(name) for name in _DISCOVERY_INPUTS)
    return _discover_cached(python_version, inputs)


@functools.lru_cache(maxsize=16)
def _discover_cached(python_version: str, inputs: tuple[str | None, ...]) -> BytecodeInterpreter | None:
    pairs = zip(_DISCOVERY_INPUTS, inputs, strict=True)
    environ = {name: value for name, value in pairs if value is not None}
    return find_interpreter(python_version, environ=environ)


def compile_tree(interpreter: BytecodeInterpreter, directory: Path, *, runtime_path: str) -> None:
    """Write `unchecked-hash` pycs for every .py under `directory`, deterministically.

    `runtime_path` is where `directory` lives on Lambda (`/opt/python`, `/var/task`): the pycs
    record it as their source path instead of the random staging directory, so tracebacks name the
    real file and the bytes do not depend on where the build ran. A clean environment keeps the
    build machine's PYTHONPYCACHEPREFIX/PYTHONPATH out, and a fixed hash seed makes frozenset
    constants marshal in the same order every time: the same sources give the same asset hash.
    """
    env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8"}
    command = [
        os.fspath(interpreter.path),
        "-s",
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-d",
        runtime_path,
        os.fspath(directory),
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=_COMPILE_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BytecodeCompileError(f"{' '.join(command)} did not finish: {error}") from error
    if done.returncode != 0:
        output = "\n".join(part.strip() for part in (done.stdout, done.stderr) if part.strip())
        raise BytecodeCompileError(
            f"compileall with Python {interpreter.version_text} failed ({' '.join(command)}):\n"
            f"{output[-4000:]}"
        )
