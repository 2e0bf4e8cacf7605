"""Bytecode for the Lambda runtime: interpreter discovery, compileall output, cache keys, the warning."""

from __future__ import annotations

import importlib.util
import marshal
import stat
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Annotations, Match

from infra import bundling
from infra.bytecode import (
    INTERPRETER_ENV_VAR,
    BytecodeCompileError,
    BytecodeInterpreter,
    BytecodeInterpreterError,
    compile_tree,
    discover_interpreter,
    find_interpreter,
)
from infra.code import stage_package

UNCHECKED_HASH_FLAGS = 0b01  # PEP 552: hash-based, check_source off
THIS_PYTHON = BytecodeInterpreter(Path(sys.executable), (sys.version_info[0], sys.version_info[1]))


def fake_python(directory: Path, name: str, prints: str) -> Path:
    """An executable that answers the version probe like a Python would, and does nothing else."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / name
    script.write_text(f"#!/bin/sh\necho '{prints}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def empty_environment(tmp_path: Path) -> dict[str, str]:
    """PATH and pyenv pointing at empty directories: nothing to discover."""
    (tmp_path / "empty-bin").mkdir(exist_ok=True)
    return {
        "PATH": str(tmp_path / "empty-bin"),
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "HOME": str(tmp_path),
    }


def pyc_header(pyc: Path) -> tuple[bytes, int, bytes]:
    data = pyc.read_bytes()
    return data[:4], int.from_bytes(data[4:8], "little"), data[8:16]


# --- discovery --------------------------------------------------------------------------------


def test_env_var_wins_and_is_verified_by_running_it(tmp_path):
    chosen = fake_python(tmp_path / "chosen", "anything", "(3, 13)")
    fake_python(tmp_path / "bin", "python3.13", "(3, 13)")
    env = empty_environment(tmp_path) | {INTERPRETER_ENV_VAR: str(chosen), "PATH": str(tmp_path / "bin")}
    found = find_interpreter("3.13", environ=env)
    assert found == BytecodeInterpreter(chosen, (3, 13))
    assert found.cache_tag == "cpython-313"


@pytest.mark.parametrize(
    ("prints", "problem"), [("(3, 12)", "is Python 3.12"), ("not a python", "does not run")]
)
def test_env_var_naming_the_wrong_python_is_a_typed_error(tmp_path, prints, problem):
    wrong = fake_python(tmp_path, "python-wrong", prints)
    env = empty_environment(tmp_path) | {INTERPRETER_ENV_VAR: str(wrong)}
    with pytest.raises(BytecodeInterpreterError, match=f"{INTERPRETER_ENV_VAR}=.*{problem}.*3.13"):
        find_interpreter("3.13", environ=env)


def test_env_var_naming_a_missing_file_is_a_typed_error(tmp_path):
    env = empty_environment(tmp_path) | {INTERPRETER_ENV_VAR: str(tmp_path / "nope" / "python3.13")}
    with pytest.raises(BytecodeInterpreterError, match="does not run"):
        find_interpreter("3.13", environ=env)


def test_python_on_path_is_used_only_if_its_version_matches(tmp_path):
    on_path = fake_python(tmp_path / "bin", "python3.13", "(3, 13)")
    env = empty_environment(tmp_path) | {"PATH": str(tmp_path / "bin")}
    assert find_interpreter("3.13", environ=env) == BytecodeInterpreter(on_path, (3, 13))
    # A shim or stand-in answering with another version is not trusted.
    fake_python(tmp_path / "bin", "python3.13", "(3, 11)")
    assert find_interpreter("3.13", environ=env) is None


def test_pyenv_newest_matching_release_after_path(tmp_path):
    pyenv = tmp_path / "pyenv"
    for release in ("3.13.2", "3.13.10", "3.12.9"):
        major_minor = ".".join(release.split(".")[:2])
        fake_python(
            pyenv / "versions" / release / "bin",
            f"python{major_minor}",
            f"({major_minor.replace('.', ', ')})",
        )
    broken_shim = fake_python(tmp_path / "bin", "python3.13", "pyenv: python3.13: command not found")
    env = empty_environment(tmp_path) | {"PATH": str(broken_shim.parent), "PYENV_ROOT": str(pyenv)}
    found = find_interpreter("3.13", environ=env)
    assert found == BytecodeInterpreter(pyenv / "versions" / "3.13.10" / "bin" / "python3.13", (3, 13))
    older = find_interpreter("3.12", environ=env)
    assert older is not None
    assert older.path.parts[-3] == "3.12.9"


def test_nothing_found_is_none(tmp_path):
    assert find_interpreter("3.13", environ=empty_environment(tmp_path)) is None


def test_discovery_reads_the_process_environment(tmp_path, monkeypatch):
    found = fake_python(tmp_path / "bin", "python3.13", "(3, 13)")
    for name, value in empty_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(INTERPRETER_ENV_VAR, raising=False)
    assert discover_interpreter("3.13") is None
    monkeypatch.setenv("PATH", str(found.parent))
    assert discover_interpreter("3.13") == BytecodeInterpreter(found, (3, 13))


def test_the_real_interpreter_answers_the_probe():
    env = {"PATH": "/nonexistent", "PYENV_ROOT": "/nonexistent", INTERPRETER_ENV_VAR: sys.executable}
    found = find_interpreter(THIS_PYTHON.version_text, environ=env)
    assert found == BytecodeInterpreter(THIS_PYTHON.path, THIS_PYTHON.version, sys.version_info[2])


# --- compiling --------------------------------------------------------------------------------


def _tree(root: Path) -> Path:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("NAMES = frozenset({'alpha', 'beta', 'gamma', 'delta'})\n")
    (root / "pkg" / "sub" / "mod.py").write_text("def f(x):\n    return x in {'a', 'b', 'c', 'd', 'e'}\n")
    return root


def test_compile_tree_writes_unchecked_hash_pycs_for_this_runtime(tmp_path):
    root = _tree(tmp_path / "a")
    compile_tree(THIS_PYTHON, root, runtime_path="/opt/python")
    sources = sorted(root.rglob("*.py"))
    pycs = sorted(root.rglob("*.pyc"))
    assert [p.parent.name for p in pycs] == ["__pycache__"] * len(sources)
    assert sorted(p.name for p in pycs) == sorted(
        f"{s.stem}.{sys.implementation.cache_tag}.pyc" for s in sources
    )
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"
        magic, flags, source_hash = pyc_header(pyc)
        assert magic == importlib.util.MAGIC_NUMBER
        assert flags == UNCHECKED_HASH_FLAGS
        assert source_hash == importlib.util.source_hash(source.read_bytes())
        code = marshal.loads(pyc.read_bytes()[16:])
        # The source path is the one on Lambda, not the build directory.
        assert code.co_filename == "/opt/python/" + source.relative_to(root).as_posix()


def test_compile_tree_is_deterministic_across_directories(tmp_path):
    first, second = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    compile_tree(THIS_PYTHON, first, runtime_path="/var/task")
    compile_tree(THIS_PYTHON, second, runtime_path="/var/task")
    pycs = sorted(p.relative_to(first) for p in first.rglob("*.pyc"))
    assert pycs
    assert pycs == sorted(p.relative_to(second) for p in second.rglob("*.pyc"))
    for relative in pycs:
        assert (first / relative).read_bytes() == (second / relative).read_bytes()


def test_compile_failure_carries_the_interpreters_output(tmp_path):
    root = _tree(tmp_path)
    (root / "pkg" / "broken.py").write_text("def oops(:\n")
    with pytest.raises(BytecodeCompileError, match=r"broken\.py"):
        compile_tree(THIS_PYTHON, root, runtime_path="/var/task")


def test_staged_code_with_bytecode_is_a_separate_complete_directory(tmp_path):
    plain = stage_package(staging_root=tmp_path)
    compiled = stage_package(staging_root=tmp_path, interpreter=THIS_PYTHON)
    assert plain != compiled
    assert not list(plain.rglob("*.pyc"))
    sources = sorted(compiled.rglob("*.py"))
    assert sources
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{THIS_PYTHON.cache_tag}.pyc"
        assert pyc_header(pyc)[1] == UNCHECKED_HASH_FLAGS, pyc
        assert marshal.loads(pyc.read_bytes()[16:]).co_filename.startswith("/var/task/lambdas/")
    assert stage_package(staging_root=tmp_path, interpreter=THIS_PYTHON) == compiled


def test_code_compile_failure_is_a_bundling_error_and_leaves_nothing_staged(tmp_path):
    package = tmp_path / "lambdas"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bad.py").write_text("x = = 1\n")
    staging_root = tmp_path / "staging"
    with pytest.raises(bundling.DependencyBundlingError, match=r"bad\.py"):
        stage_package(package, staging_root, interpreter=THIS_PYTHON)
    assert list(staging_root.iterdir()) == []


def test_layer_compile_failure_is_a_bundling_error_and_leaves_no_cache_entry(tmp_path, monkeypatch):
    """pip is replaced by a tree the compiler rejects; compileall itself runs for real."""

    def fake_pip(command, **kwargs):
        target = Path(command[command.index("--target") + 1])
        (target / "badpkg").mkdir(parents=True)
        (target / "badpkg" / "__init__.py").write_text("def (\n")
        return type("Done", (), {"returncode": 0, "stderr": "", "stdout": ""})()

    import subprocess

    real_run = subprocess.run
    monkeypatch.setattr(
        subprocess,
        "run",
        lambda command, **kw: fake_pip(command, **kw) if "pip" in command else real_run(command, **kw),
    )
    target = bundling.TargetPlatform(python_version=THIS_PYTHON.version_text)
    with pytest.raises(bundling.DependencyBundlingError, match="badpkg"):
        bundling.ensure_dependencies(
            "x\n", lock="", target=target, cache_root=tmp_path, interpreter=THIS_PYTHON, services=None
        )
    assert list(tmp_path.iterdir()) == []


def test_layer_refuses_bytecode_from_another_python(tmp_path):
    with pytest.raises(bundling.DependencyBundlingError, match="cannot come from"):
        bundling.ensure_dependencies(
            "x\n",
            lock="",
            target=bundling.TargetPlatform(python_version="3.13"),
            cache_root=tmp_path,
            interpreter=BytecodeInterpreter(Path(sys.executable), (3, 99)),
        )


def test_cache_key_records_bytecode_and_its_python():
    target = bundling.LAMBDA_PLATFORM
    none = bundling.cache_key("pillow\n", target)
    py313 = bundling.cache_key(
        "pillow\n", target, interpreter=BytecodeInterpreter(Path("/a/python3.13"), (3, 13))
    )
    py312 = bundling.cache_key(
        "pillow\n", target, interpreter=BytecodeInterpreter(Path("/a/python3.12"), (3, 12))
    )
    elsewhere = bundling.cache_key(
        "pillow\n", target, interpreter=BytecodeInterpreter(Path("/b/py"), (3, 13))
    )
    assert len({none, py313, py312}) == 3
    assert py313 == elsewhere  # where the interpreter lives does not change the bytes it writes
    assert none != bundling.cache_key("pillow\n", target, services=None)
    # but its patch release does (pycs of one source differ between 3.13.0 and 3.13.5)
    py3130, py3135 = (
        bundling.cache_key("pillow\n", target, interpreter=BytecodeInterpreter(Path("/a/py"), (3, 13), micro))
        for micro in (0, 5)
    )
    assert len({py313, py3130, py3135}) == 3


def test_the_patch_release_of_the_interpreter_is_recorded(tmp_path):
    env = empty_environment(tmp_path)
    on_path = fake_python(tmp_path / "empty-bin", "python3.13", "(3, 13, 5)")
    assert find_interpreter("3.13", environ=env) == BytecodeInterpreter(on_path, (3, 13), 5)
    chosen = fake_python(tmp_path / "chosen", "py", "(3, 13, 0)")
    explicit = find_interpreter("3.13", environ=env | {INTERPRETER_ENV_VAR: str(chosen)})
    assert explicit == BytecodeInterpreter(chosen, (3, 13), 0)


# --- the warning ------------------------------------------------------------------------------


def _layer_stack(tmp_path: Path, interpreter: BytecodeInterpreter | None) -> Stack:
    """A stack with only the layer, on a pre-filled cache entry (no pip)."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pillow\n")
    entry = (
        tmp_path
        / "cache"
        / bundling.cache_key(
            "pillow\n", bundling.LAMBDA_PLATFORM, lock=bundling.lock_text(), interpreter=interpreter
        )
    )
    (entry / "python").mkdir(parents=True)
    (entry / "python" / "marker.py").write_text("")
    (entry / bundling.COMPLETE_MARKER).write_text("pillow\n")
    stack = Stack(App(outdir=str(tmp_path / "out")), "LayerOnly")
    layer = bundling.DependenciesLayer(
        stack, "Deps", cache_root=tmp_path / "cache", requirements_file=requirements
    )
    assert layer.directory == entry
    assert layer.interpreter == interpreter
    return stack


def test_no_interpreter_builds_without_bytecode_and_warns_how_to_fix(tmp_path, monkeypatch):
    for name, value in empty_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(INTERPRETER_ENV_VAR, raising=False)
    annotations = Annotations.from_stack(_layer_stack(tmp_path, None))
    annotations.has_warning("/LayerOnly/Deps", Match.string_like_regexp("without bytecode"))
    annotations.has_warning("*", Match.string_like_regexp(f"python3.13.*{INTERPRETER_ENV_VAR}"))


def test_found_interpreter_gives_no_warning(tmp_path, monkeypatch):
    python = fake_python(tmp_path / "bin", "python3.13", "(3, 13)")
    for name, value in empty_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(INTERPRETER_ENV_VAR, str(python))
    stack = _layer_stack(tmp_path, BytecodeInterpreter(python, (3, 13)))
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("bytecode"))
