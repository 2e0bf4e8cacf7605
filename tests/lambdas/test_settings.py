"""The functions' settings models (lambdas/settings.py) are the one source of every worker setting."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from imgpipe.config import DeploymentConfig, function_environment
from lambdas.conductor_api.environment import WORKFLOWS_VARIABLE
from lambdas.settings import (
    SETTINGS_BY_FUNCTION,
    FunctionSettings,
    PlannerSettings,
    RenderAllSettings,
    UploadSettings,
    settings_of,
)
from tests.support.worker_settings import settings_from

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
# Read by lambdas/observability.py with Powertools' own rule for an active Tracer; the Lambda runtime
# (LAMBDA_TASK_ROOT), SAM and Chalice set them, never the deployment.
RUNTIME_VARIABLES = {"LAMBDA_TASK_ROOT", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE", "POWERTOOLS_TRACE_DISABLED"}


def _constants(tree: ast.Module) -> dict[str, str]:
    """The module's `NAME = "literal"` assignments."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _is_environ(node: ast.expr) -> bool:
    """`os.environ`, or a local named `environ`/`env` (the mapping a module reads its variables from)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ"
    return isinstance(node, ast.Name) and node.id in ("environ", "env")


def _parameter_arguments(tree: ast.Module, name: ast.Name) -> set[str]:
    """The literal arguments a module passes to the parameter `name` of the function reading it."""
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef) or name not in list(ast.walk(function)):
            continue
        parameters = [argument.arg for argument in function.args.args]
        if name.id not in parameters:
            continue
        position = parameters.index(name.id)
        found = set()
        for call in ast.walk(tree):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id == function.name
            ):
                argument = call.args[position]
                assert isinstance(argument, ast.Constant), f"{function.name} is called with a computed name"
                found.add(str(argument.value))
        return found
    raise AssertionError(f"line {name.lineno}: the variable {name.id} is neither a constant nor a parameter")


def environment_reads(path: Path) -> set[str]:
    """The variables a module reads by name: `os.environ.get(X)`, `os.environ[X]`, `os.getenv(X)`,
    where X is a literal, a module constant or a parameter of the reading function."""
    tree = ast.parse(path.read_text())
    constants = _constants(tree)
    names: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            if (node.func.attr == "get" and _is_environ(node.func.value)) or node.func.attr == "getenv":
                names.append(node.args[0])
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            names.append(node.slice)
    read = set()
    for name in names:
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            read.add(name.value)
        elif isinstance(name, ast.Name) and name.id in constants:
            read.add(constants[name.id])
        elif isinstance(name, ast.Name):
            read |= _parameter_arguments(tree, name)
        else:
            raise AssertionError(f"{path}:{name.lineno}: an environment variable read by a computed name")
    return read


def every_model_variable() -> set[str]:
    return {model.variable(name) for model in SETTINGS_BY_FUNCTION.values() for name in model.model_fields}


def test_every_environment_variable_the_workers_read_is_a_settings_field() -> None:
    read = {variable for path in LAMBDAS.rglob("*.py") for variable in environment_reads(path)}
    # the scan sees direct reads (so it can fail): Powertools' namespace and the Conductor API's catalog
    assert {"POWERTOOLS_METRICS_NAMESPACE", WORKFLOWS_VARIABLE} <= read
    assert read - RUNTIME_VARIABLES <= every_model_variable(), (
        read - RUNTIME_VARIABLES - every_model_variable()
    )


def test_the_scan_resolves_constants_and_parameters(tmp_path: Path) -> None:
    module = tmp_path / "reader.py"
    module.write_text(
        'import os\nNAME = "SOME_SETTING"\nvalue = os.environ.get(NAME)\nother = os.environ["B"]\n'
    )
    assert environment_reads(module) == {"SOME_SETTING", "B"}


def test_every_function_has_one_registered_model_its_handler_reads() -> None:
    handlers = {path.parent.name: path for path in LAMBDAS.glob("*/handler.py")}
    assert set(handlers) == set(SETTINGS_BY_FUNCTION)
    for function, path in handlers.items():
        read = {
            node.func.value.id
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "from_env"
            and isinstance(node.func.value, ast.Name)
        }
        model = SETTINGS_BY_FUNCTION[function]
        if function == "conductor_api":
            # its catalog is parsed by lambdas/conductor_api/environment.py; the model declares the variable
            assert model.variable("conductor_workflows") == WORKFLOWS_VARIABLE
            continue
        if read:
            assert read == {model.__name__}, f"{path} reads {read}, its function's model is {model.__name__}"
        else:
            assert set(model.model_fields) == set(FunctionSettings.model_fields), f"{path} reads no settings"


@pytest.mark.parametrize("function", sorted(SETTINGS_BY_FUNCTION))
def test_the_deployed_environment_reads_back_as_the_same_settings(
    function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = DeploymentConfig.model_validate(
        {"maxFanout": 9, "maxSourceBytes": 4321, "allowedUrlHosts": ["A.example.com", "b.example.net"]}
    )
    environment = function_environment(function, config, output_bucket="out", local_files_root="/srv")
    model = SETTINGS_BY_FUNCTION[function]
    assert set(environment) == {model.variable(name) for name in model.deployed_fields()}
    read = settings_from(model, environment, monkeypatch)
    assert read == config.worker_settings(function, output_bucket="out", local_files_root="/srv")
    assert read.environment() == environment
    assert read.powertools_service_name == function


def test_an_empty_prefix_reaches_the_worker_as_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty variable is the empty value, not "unset": publishing at the bucket's root stays so."""
    config = DeploymentConfig.model_validate({"outputPrefix": ""})
    environment = function_environment("upload_toS3", config, output_bucket="out")
    assert environment["OUTPUT_PREFIX"] == ""
    assert settings_from(UploadSettings, environment, monkeypatch).output_prefix == ""


def test_deployment_values_never_come_from_the_synthesizing_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_FANOUT", "3")
    monkeypatch.setenv("OUTPUT_PREFIX", "elsewhere/")
    environment = function_environment(
        "image_render_renditions", DeploymentConfig.model_validate({}), output_bucket="out"
    )
    assert environment["MAX_FANOUT"] == str(RenderAllSettings.model_fields["max_fanout"].default)
    assert environment["OUTPUT_PREFIX"] == "renditions/"
    assert PlannerSettings.from_env().max_fanout == 3  # while the function itself reads its environment


def test_a_function_variable_lambda_sets_is_not_deployed() -> None:
    environment = function_environment(
        "image_convert_resize", DeploymentConfig.model_validate({}), output_bucket="out"
    )
    assert "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" not in environment
    assert "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" in every_model_variable()


def test_a_function_is_registered_once() -> None:
    with pytest.raises(ValueError, match="image_convert_resize already has settings: ResizeSettings"):
        settings_of("image_convert_resize")(PlannerSettings)


def test_a_function_without_a_model_is_named() -> None:
    with pytest.raises(KeyError, match="no_such_function has no settings model"):
        function_environment("no_such_function", DeploymentConfig.model_validate({}), output_bucket="out")
