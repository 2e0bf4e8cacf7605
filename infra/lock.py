"""One hashed lock file (`requirements.lock`) for the dev environment and the Lambda layer.

`make lock` runs `uv pip compile --universal --generate-hashes` over pyproject.toml (with the `dev`
extra) and lambdas/requirements.txt: one resolution, valid for every platform and Python >= 3.11,
with the sha256 of every published file. `make install` installs the dev environment from it with
pip's hash checking; the layer build (infra/bundling.py) installs lambdas/requirements.txt
constrained by it with `--require-hashes`, so a package the lock does not pin cannot enter the layer
and both environments get the same version of every shared package (Pillow, pydantic, boto3).

The lock records a fingerprint of what it was compiled from (the dependency tables of
pyproject.toml and the requirement lines of lambdas/requirements.txt), so a test can tell, offline
and in milliseconds, that it is stale.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PROJECT_ROOT = Path(__file__).resolve().parent.parent

LOCK_FILE = PROJECT_ROOT / "requirements.lock"
PYPROJECT = PROJECT_ROOT / "pyproject.toml"
LAYER_REQUIREMENTS = PROJECT_ROOT / "lambdas" / "requirements.txt"
LOCKED_EXTRAS = ("dev",)
LOWEST_PYTHON = "3.11"
REGENERATE_COMMAND = "make lock"
FINGERPRINT_PREFIX = "# lock-inputs-sha256: "

# The two environments the lock must serve (PEP 508 marker environments).
DEV_ENVIRONMENT = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "platform_machine": "x86_64",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}
LAYER_ENVIRONMENT = DEV_ENVIRONMENT | {
    "python_version": "3.13",
    "python_full_version": "3.13.5",
    "platform_machine": "aarch64",
}


class LockError(RuntimeError):
    """The lock cannot be written or read; names the file and what to run."""


@dataclass(frozen=True)
class Pin:
    """One `name==version ; marker` entry of the lock and its hashes."""

    name: str
    version: Version
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies(self, environment: dict[str, str]) -> bool:
        return self.marker is None or self.marker.evaluate(environment)


@dataclass(frozen=True)
class LockInputs:
    """What the lock is compiled from, reduced to what changes the resolution."""

    requires_python: str
    dependencies: tuple[str, ...]
    optional_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    layer_requirements: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        material = {
            "requires-python": self.requires_python,
            "dependencies": sorted(self.dependencies),
            "optional-dependencies": {k: sorted(v) for k, v in sorted(self.optional_dependencies.items())},
            "layer": sorted(self.layer_requirements),
            "extras": list(LOCKED_EXTRAS),
            "lowest-python": LOWEST_PYTHON,
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def direct_requirements(self, project_name: str = "imgpipe") -> list[tuple[str, Requirement]]:
        """(origin, requirement) for everything the locked environments ask for directly, with the
        project's self-references (`imgpipe[cdk]`) expanded."""
        found: list[tuple[str, Requirement]] = []
        pending = [("dependencies", d) for d in self.dependencies]
        seen_extras: set[str] = set()
        extras = list(LOCKED_EXTRAS)
        while extras:
            extra = extras.pop()
            if extra in seen_extras:
                continue
            seen_extras.add(extra)
            pending += [
                (f"optional-dependencies.{extra}", d) for d in self.optional_dependencies.get(extra, ())
            ]
            for text in self.optional_dependencies.get(extra, ()):
                requirement = Requirement(text)
                if canonicalize_name(requirement.name) == project_name:
                    extras.extend(requirement.extras)
        for origin, text in pending:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) != project_name:
                found.append((f"pyproject.toml {origin}", requirement))
        found += [("lambdas/requirements.txt", Requirement(text)) for text in self.layer_requirements]
        return found


def requirement_lines(text: str) -> tuple[str, ...]:
    """The requirement lines of a requirements file (comments and blanks dropped)."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return tuple(line for line in lines if line)


def read_inputs(pyproject: Path = PYPROJECT, layer_requirements: Path = LAYER_REQUIREMENTS) -> LockInputs:
    project = tomllib.loads(pyproject.read_text())["project"]
    return LockInputs(
        requires_python=project.get("requires-python", ""),
        dependencies=tuple(project.get("dependencies", ())),
        optional_dependencies={k: tuple(v) for k, v in project.get("optional-dependencies", {}).items()},
        layer_requirements=requirement_lines(layer_requirements.read_text()),
    )


def recorded_fingerprint(lock_text: str) -> str | None:
    for line in lock_text.splitlines():
        if line.startswith(FINGERPRINT_PREFIX):
            return line.removeprefix(FINGERPRINT_PREFIX).strip()
    return None


_ENTRY = re.compile(r"^(?P<spec>[A-Za-z0-9][^\s\\][^\\]*?)\s*(?:\\)?$")
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


def parse_pins(lock_text: str) -> list[Pin]:
    """Every `name==version` entry of a pip-style lock, with its marker and `--hash` values."""
    pins: list[Pin] = []
    current: Requirement | None = None
    hashes: list[str] = []

    def flush() -> None:
        if current is not None:
            (specifier,) = current.specifier
            pins.append(
                Pin(
                    canonicalize_name(current.name), Version(specifier.version), current.marker, tuple(hashes)
                )
            )

    for line in lock_text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            hashes += _HASH.findall(line)
            continue
        match = _ENTRY.match(line)
        if match is None:
            raise LockError(f"{LOCK_FILE.name}: cannot read the line {line!r}")
        flush()
        current, hashes = Requirement(match.group("spec")), []
        if len(current.specifier) != 1 or next(iter(current.specifier)).operator != "==":
            raise LockError(f"{LOCK_FILE.name}: {line!r} is not pinned with ==")
    flush()
    return pins


def staleness(lock_text: str, inputs: LockInputs) -> list[str]:
    """Why `lock_text` does not match `inputs` (empty when it does): a changed fingerprint, a direct
    requirement with no pin satisfying it in the dev or the layer environment, or a pin without hashes."""
    problems: list[str] = []
    recorded = recorded_fingerprint(lock_text)
    if recorded != inputs.fingerprint():
        problems.append(
            f"{LOCK_FILE.name} was compiled from other inputs than pyproject.toml and "
            f"lambdas/requirements.txt (fingerprint {recorded} != {inputs.fingerprint()})"
        )
    pins = parse_pins(lock_text)
    problems += [f"{pin.name}=={pin.version} has no --hash" for pin in pins if not pin.hashes]
    environments = {"dev (3.11 x86_64)": DEV_ENVIRONMENT, "layer (3.13 aarch64)": LAYER_ENVIRONMENT}
    layer_only = {"lambdas/requirements.txt"}
    for origin, requirement in inputs.direct_requirements():
        for label, environment in environments.items():
            if label.startswith("dev") and origin in layer_only:
                continue
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            name = canonicalize_name(requirement.name)
            candidates = [pin for pin in pins if pin.name == name and pin.applies(environment)]
            if not any(requirement.specifier.contains(pin.version, prereleases=True) for pin in candidates):
                locked = ", ".join(str(pin.version) for pin in candidates) or "nothing"
                problems.append(
                    f"{origin} asks for {requirement}; the lock pins {locked} for the {label} env"
                )
    return problems


def compile_command(uv: str, output: Path) -> list[str]:
    """The uv invocation `make lock` runs (paths relative to the project, so the lock's `# via`
    comments do not depend on the checkout's location)."""
    return [
        uv,
        "pip",
        "compile",
        "--quiet",
        "--universal",
        "--python-version",
        LOWEST_PYTHON,
        "--generate-hashes",
        *(arg for extra in LOCKED_EXTRAS for arg in ("--extra", extra)),
        "--custom-compile-command",
        REGENERATE_COMMAND,
        "--output-file",
        str(output),
        PYPROJECT.relative_to(PROJECT_ROOT).as_posix(),
        LAYER_REQUIREMENTS.relative_to(PROJECT_ROOT).as_posix(),
    ]


def with_fingerprint(lock_text: str, inputs: LockInputs) -> str:
    """The lock with its fingerprint line after uv's header comment."""
    lines = [line for line in lock_text.splitlines() if not line.startswith(FINGERPRINT_PREFIX)]
    header_end = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    lines.insert(header_end, f"{FINGERPRINT_PREFIX}{inputs.fingerprint()}")
    return "\n".join(lines) + "\n"


def write_lock(lock_file: Path = LOCK_FILE) -> None:
    """Recompile the lock (uv keeps the existing pins that still satisfy the inputs) and stamp it."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise LockError("uv is not installed: `make install` installs it (the dev extra)")
    done = subprocess.run(
        compile_command(uv, lock_file), cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise LockError(f"uv pip compile failed:\n{done.stderr.strip()[-3000:]}")
    lock_file.write_text(with_fingerprint(lock_file.read_text(), read_inputs()))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["write"]:
        write_lock()
        return 0
    if args == ["check"]:
        problems = staleness(LOCK_FILE.read_text(), read_inputs())
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"run `{REGENERATE_COMMAND}`", file=sys.stderr)
        return 1 if problems else 0
    print("usage: python -m infra.lock write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
