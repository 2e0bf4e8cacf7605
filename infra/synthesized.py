"""The Lambda functions a synthesized cloud assembly deploys, read back from `cdk synth` output.

`make verify-bundle` runs what would be uploaded, so it takes every fact from the assembly instead
of the CDK constructs: which functions exist (every `AWS::Lambda::Function` whose code is a file
asset), their handler, runtime, architecture and memory, the directories of their code and layer
assets (`<stack>.assets.json` maps the `S3Key` in the template to `asset.<hash>/`) and their
environment, with the references CloudFormation resolves at deploy time replaced by local values
(bucket names, state machine ARNs, and the `Fn::Join`s of them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class AssemblyError(ValueError):
    """The assembly is not what `cdk synth` writes, or a function's definition cannot be run locally."""


@dataclass(frozen=True)
class SynthesizedFunction:
    """One deployed function, as the template and its assets define it."""

    logical_id: str
    function_name: str
    handler: str
    runtime: str
    architectures: tuple[str, ...]
    memory_mb: int
    timeout_seconds: int
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]

    @property
    def task(self) -> str:
        """The worker package (`lambdas.<task>.handler.handler`), which names the task it implements."""
        parts = self.handler.split(".")
        return parts[1] if len(parts) >= 3 and parts[0] == "lambdas" else self.handler

    @property
    def handler_module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def handler_function(self) -> str:
        return self.handler.rsplit(".", 1)[1]


def stack_files(outdir: Path) -> list[tuple[Path, Path]]:
    """(template, assets manifest) of every stack in `outdir`'s manifest.json."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    found = []
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = outdir / artifact["properties"]["templateFile"]
        assets = template.with_name(template.name.replace(".template.json", ".assets.json"))
        found.append((template, assets))
    if not found:
        raise AssemblyError(f"{outdir} holds no CloudFormation stack: is it `cdk synth` output?")
    return found


def asset_directories(assets_manifest: Mapping[str, Any], outdir: Path) -> dict[str, Path]:
    """`<hash>.zip` S3 key -> the asset directory that zip is built from."""
    keys: dict[str, Path] = {}
    for asset in assets_manifest.get("files", {}).values():
        source = asset["source"]
        if source.get("packaging") != "zip":
            continue
        for destination in asset.get("destinations", {}).values():
            keys[destination["objectKey"]] = outdir / source["path"]
    return keys


def _asset_key(code: Mapping[str, Any], owner: str) -> str | None:
    key = code.get("S3Key")
    if key is None:
        return None  # inline code (a CDK custom resource), not a file asset
    if not isinstance(key, str):
        raise AssemblyError(f"{owner}: S3Key {key!r} is not a literal asset key")
    return key


def resolve_value(value: Any, resources: Mapping[str, Any], resolve_ref: Callable[[str, dict], str]) -> str:
    """A template value as the function would see it: literals as strings, `Ref`s through
    `resolve_ref(logical_id, resource)`; any other intrinsic cannot be known before deploy."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in resources:
        return resolve_ref(value["Ref"], resources[value["Ref"]])
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return str(separator).join(resolve_value(part, resources, resolve_ref) for part in parts)
    raise AssemblyError(f"cannot resolve {json.dumps(value)} without deploying")


def functions_in_template(
    template: Mapping[str, Any],
    assets: Mapping[str, Path],
    resolve_ref: Callable[[str, dict], str],
) -> list[SynthesizedFunction]:
    """Every function of the template whose code is a file asset, in logical-id order."""
    resources = template.get("Resources", {})
    functions = []
    for logical_id, resource in sorted(resources.items()):
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        properties = resource.get("Properties", {})
        key = _asset_key(properties.get("Code", {}), logical_id)
        if key is None:
            continue
        if key not in assets:
            raise AssemblyError(f"{logical_id}: its code {key} is not in the assets manifest")
        layer_dirs = []
        for layer in properties.get("Layers", []):
            layer_id = layer.get("Ref") if isinstance(layer, dict) else None
            layer_resource = resources.get(layer_id or "", {})
            if layer_resource.get("Type") != "AWS::Lambda::LayerVersion":
                raise AssemblyError(f"{logical_id}: layer {layer!r} is not a LayerVersion of this stack")
            layer_key = _asset_key(layer_resource["Properties"]["Content"], str(layer_id))
            if layer_key is None or layer_key not in assets:
                raise AssemblyError(f"{logical_id}: layer {layer_id} has no file asset")
            layer_dirs.append(assets[layer_key])
        variables = properties.get("Environment", {}).get("Variables", {})
        environment = {}
        for variable, value in sorted(variables.items()):
            try:
                environment[variable] = resolve_value(value, resources, resolve_ref)
            except AssemblyError as error:
                raise AssemblyError(f"{logical_id}: environment variable {variable}: {error}") from error
        name = properties.get("FunctionName", logical_id)
        functions.append(
            SynthesizedFunction(
                logical_id=logical_id,
                function_name=name if isinstance(name, str) else logical_id,
                handler=properties["Handler"],
                runtime=properties["Runtime"],
                architectures=tuple(properties.get("Architectures", ["x86_64"])),
                memory_mb=int(properties.get("MemorySize", 128)),
                timeout_seconds=int(properties.get("Timeout", 3)),
                code_dir=assets[key],
                layer_dirs=tuple(layer_dirs),
                environment=environment,
            )
        )
    return functions


def bucket_name_of(logical_id: str, resource: Mapping[str, Any]) -> str:
    """The name a bucket would get: its literal `BucketName`, else one derived from the logical id
    (CloudFormation generates a lowercase name from the stack and the logical id)."""
    if resource.get("Type") != "AWS::S3::Bucket":
        raise AssemblyError(
            f"cannot resolve a Ref to {logical_id} ({resource.get('Type')}) without deploying"
        )
    name = resource.get("Properties", {}).get("BucketName")
    if isinstance(name, str):
        return name
    return f"verify-{logical_id.lower()}"[:63]


# The account and Region a Ref to a state machine is resolved in (the bundle probe's Lambda context
# has the same account).
LOCAL_ACCOUNT, LOCAL_REGION = "123456789012", "us-east-1"


def local_value_of(logical_id: str, resource: Mapping[str, Any]) -> str:
    """What a `Ref` resolves to, for the resources a function's environment may name: a bucket's
    name (bucket_name_of) or a state machine's ARN (its literal `StateMachineName`, else the
    logical id)."""
    if resource.get("Type") == "AWS::StepFunctions::StateMachine":
        name = resource.get("Properties", {}).get("StateMachineName")
        machine = name if isinstance(name, str) else logical_id
        return f"arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:{machine}"
    return bucket_name_of(logical_id, resource)


def read_functions(
    outdir: Path, resolve_ref: Callable[[str, dict], str] = local_value_of
) -> list[SynthesizedFunction]:
    """Every asset-backed function of every stack in the assembly at `outdir`."""
    functions: list[SynthesizedFunction] = []
    for template_path, assets_path in stack_files(outdir):
        template = json.loads(template_path.read_text())
        assets = asset_directories(json.loads(assets_path.read_text()), outdir)
        functions += functions_in_template(template, assets, resolve_ref)
    return functions
