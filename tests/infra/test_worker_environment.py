"""The functions' environments in the template are their settings models' serialisation of cdk.json,
and a cdk.json value a model refuses fails synth naming the key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App

from imgpipe.config import CDK_JSON, CONTEXT_NAMESPACE, DeploymentConfig
from infra.application import build
from lambdas.core.limits import PILLOW_HARD_PIXEL_LIMIT
from lambdas.settings import SETTINGS_BY_FUNCTION, variable_field

CDK_CONTEXT: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]


def _deployed_functions(synth: Any) -> dict[str, dict[str, Any]]:
    """The template's environment of each function that has a settings model, by function name."""
    found = {}
    for resource in synth.of_type("AWS::Lambda::Function").values():
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        if variables.get("POWERTOOLS_SERVICE_NAME") in SETTINGS_BY_FUNCTION:
            found[variables["POWERTOOLS_SERVICE_NAME"]] = variables
    return found


@pytest.mark.slow
def test_each_function_environment_is_its_models_serialisation_of_cdk_json(synth: Any) -> None:
    deployed = _deployed_functions(synth)
    assert set(deployed) >= {"image_convert_resize", "upload_toS3", "image_render_renditions"}
    keys = DeploymentConfig.worker_setting_keys()
    for function, variables in deployed.items():
        model = SETTINGS_BY_FUNCTION[function]
        assert set(variables) == {model.variable(name) for name in model.deployed_fields()}, function
        literal = {name: value for name, value in variables.items() if isinstance(value, str)}
        assert set(variables) - set(literal) <= {"OUTPUT_BUCKET"}  # a Ref until deploy
        settings = model.from_values({name.lower(): value for name, value in literal.items()})
        for key, variable in keys.items():
            if variable.lower() in model.model_fields:
                read = getattr(settings, variable.lower())
                given = CDK_CONTEXT[f"{CONTEXT_NAMESPACE}{key}"]
                assert read == (tuple(given) if isinstance(given, list) else given), (function, key)
        assert settings.environment() == {name: literal.get(name, "") for name in variables}


def test_cdk_json_lists_every_worker_setting_at_its_models_default() -> None:
    for key, variable in DeploymentConfig.worker_setting_keys().items():
        given = CDK_CONTEXT[f"{CONTEXT_NAMESPACE}{key}"]
        default = variable_field(variable).get_default(call_default_factory=True)
        assert (tuple(given) if isinstance(given, list) else given) == default, (
            f"cdk.json {CONTEXT_NAMESPACE}{key} is {given!r}; {variable}'s default in lambdas/settings.py is "
            f"{default!r}"
        )


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("maxFanout", 0, "greater than 0"),
        ("maxSourcePixels", PILLOW_HARD_PIXEL_LIMIT + 1, f"less than or equal to {PILLOW_HARD_PIXEL_LIMIT}"),
        ("maxFrames", "-1", "greater than 0"),
        ("outputPrefix", "renditions", "must be empty or end with '/'"),
    ],
)
def test_a_cdk_json_value_a_model_refuses_fails_synth_naming_the_key(
    key: str, value: Any, problem: str
) -> None:
    app = App(context=CDK_CONTEXT | {f"{CONTEXT_NAMESPACE}{key}": value})
    with pytest.raises(ValueError, match=f"{CONTEXT_NAMESPACE}{key} = ") as caught:
        build(app)
    assert problem in str(caught.value)
    assert DeploymentConfig.worker_setting_keys()[key] in str(caught.value)  # and the variable it sets
