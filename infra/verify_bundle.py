"""`make verify-bundle`: the synthesized bundle, run on aarch64 CPython 3.13 under qemu-user.

What would be uploaded is what runs: `cdk synth` output (app.py, cdk.json's context) is read back
(infra/synthesized.py) for every function, its code and layer asset directories and its environment.
Each function runs in its own emulated interpreter (infra/bundle_probe.py) with only that
environment, fake credentials and `AWS_ENDPOINT_URL_S3` pointing at a moto server on loopback run
by this (host) Python. Checked:

- every function's handler imports on Debian trixie's arm64 CPython 3.13 (the Lambda runtime's
  Python, https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html), and every bundle module
  came from the shipped `unchecked-hash` pycs, none compiled from source at import;
- the JavaScript evaluator, which the project's own workflows do not deploy (they run no
  JavaScript), is run as the stack deploys it for a workflow that does: the same code asset and
  shared layer as the jq worker's, plus its own V8 layer built by the same function (an
  `on_demand_functions` entry), and evaluates a script with `$` bound;
- the renderer writes every output format (JPEG from a 24 MP JPEG and from a HEIC, PNG, WebP, GIF,
  AVIF, animated GIF and WebP from animated sources), the planner plans, the publisher publishes,
  the jq worker transforms, and the objects in S3 decode as what was asked;
- the Conductor API function (`imgpipe:conductorApi`, opted in for this check: OPT_IN_FEATURES)
  answers registration 405, an endpoint without a Step Functions counterpart 501, and a status and a
  start 404 from the moto server's Step Functions (`AWS_ENDPOINT_URL_SFN`: its pruned model works);
- the layer holds exactly the versions requirements.lock pins for the Lambda platform;
- no shared library of the bundle needs a glibc symbol newer than AL2023's glibc 2.34
  (https://docs.aws.amazon.com/linux/al2023/ug/core-glibc.html).

The bundle's bytecode is compiled by Debian trixie's amd64 python3.13 (fetched the same way as the
arm64 one), unless IMGPIPE_BYTECODE_PYTHON names another Python 3.13.
"""

from __future__ import annotations

import io
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from imgpipe.config import CDK_JSON, JAVASCRIPT_TASK, JQ_TASK, PROJECT_ROOT, DeploymentConfig
from infra.bundling import ensure_dependencies, lock_text, requirements_text
from infra.bytecode import INTERPRETER_ENV_VAR, find_interpreter
from infra.debian_sysroot import LOADERS, MULTIARCH, PYTHON_PACKAGES, SysrootSpec, ensure_sysroot, python_path
from infra.debian_sysroot import system_mirror as debian_mirror
from infra.javascript_evaluator import JAVASCRIPT_REQUIREMENTS
from infra.lock import LAYER_ENVIRONMENT, LOCK_FILE, parse_pins
from infra.synthesized import SynthesizedFunction, read_functions
from infra.workers import handler_path

WORK_ROOT = PROJECT_ROOT / ".cache" / "verify-bundle"
PROBE = Path(__file__).with_name("bundle_probe.py")
# Lambda's runtime has libstdc++ (Pillow's AVIF codec links it; manylinux wheels never bundle it).
LAMBDA_GUEST_PACKAGES = (*PYTHON_PACKAGES, "libstdc++6")
LAMBDA_RUNTIME = "python3.13"
LAMBDA_ARCHITECTURE = "arm64"
AL2023_GLIBC = (2, 34)
REGION = "us-east-1"
SOURCE_BUCKET = "verify-bundle-sources"
FAKE_CREDENTIAL = "verify-bundle"  # moto accepts any credentials; nothing reaches AWS
# A Lambda trace header with Sampled=0: the X-Ray SDK records nothing and sends nothing.
UNSAMPLED_TRACE = "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0"
GUEST_TIMEOUT_SECONDS = 900
# Opt-in parts of the stack whose functions are verified too (the bundle is the same asset and layer).
OPT_IN_FEATURES = {"imgpipe:conductorApi": True}


class BundleVerificationError(RuntimeError):
    """The bundle does not run as deployed; the message says which function and check."""


# --- interpreters ------------------------------------------------------------------------------


def write_launcher(sysroot: Path, arch: str) -> Path:
    """A `python3.13` script running the sysroot's interpreter: under qemu-user for a foreign
    architecture, through the sysroot's own dynamic loader for the host's (its glibc is newer than
    the host's, so the host loader cannot run it)."""
    python = python_path(sysroot)
    host_arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    if arch == host_arch:
        # --argv0: Python's sys.executable becomes this launcher, so the processes it starts
        # (compileall's forkserver) go through the sysroot's loader too.
        command = (
            f'"$root/{LOADERS[arch]}" --library-path "$root/usr/lib/{MULTIARCH[arch]}" '
            f'--argv0 "$self" "$root/{python.relative_to(sysroot)}"'
        )
    else:
        qemu = {"arm64": "qemu-aarch64-static", "amd64": "qemu-x86_64-static"}[arch]
        if shutil.which(qemu) is None:
            raise BundleVerificationError(f"{qemu} is not installed (Debian package qemu-user-static)")
        command = f'{qemu} -L "$root" "$root/{python.relative_to(sysroot)}"'
    launcher = sysroot / f"python3.13-{arch}"
    launcher.write_text(
        f'#!/bin/sh\nself="$(readlink -f "$0")"\nroot="$(dirname "$self")"\nexec {command} "$@"\n'
    )
    launcher.chmod(0o755)
    return launcher


def sysroot_python(arch: str, packages: tuple[str, ...] = PYTHON_PACKAGES) -> Path:
    return write_launcher(ensure_sysroot(SysrootSpec(arch, packages=packages, mirror=debian_mirror())), arch)


# --- the assembly ------------------------------------------------------------------------------


def synthesize(outdir: Path, bytecode_python: str) -> Path:
    """`cdk synth` without the CLI: app.py with cdk.json's context, as the CLI passes it."""
    shutil.rmtree(outdir, ignore_errors=True)
    env = os.environ | {
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps(json.loads(CDK_JSON.read_text())["context"] | OPT_IN_FEATURES),
        INTERPRETER_ENV_VAR: bytecode_python,
    }
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "app.py")],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BundleVerificationError(f"synth failed:\n{(done.stdout + done.stderr)[-4000:]}")
    return outdir


def check_definition(function: SynthesizedFunction) -> None:
    if function.runtime != LAMBDA_RUNTIME or function.architectures != (LAMBDA_ARCHITECTURE,):
        raise BundleVerificationError(
            f"{function.logical_id}: {function.runtime} {function.architectures}, expected "
            f"{LAMBDA_RUNTIME} on {LAMBDA_ARCHITECTURE}"
        )
    missing = [
        path
        for path in (function.code_dir, *function.layer_dirs)
        if not any(path.rglob("__pycache__/*.cpython-313.pyc"))
    ]
    if missing:
        raise BundleVerificationError(
            f"{function.logical_id}: {', '.join(p.name for p in missing)} ship no cpython-313 bytecode"
        )


def layer_pin_mismatches(layer_dir: Path, lock_text: str) -> list[str]:
    """Every distribution in the layer at the version the lock pins for the Lambda platform."""
    from packaging.utils import canonicalize_name

    pins = {p.name: p.version for p in parse_pins(lock_text) if p.applies(LAYER_ENVIRONMENT)}
    problems = []
    dist_infos = sorted((layer_dir / "python").glob("*.dist-info"))
    for dist_info in dist_infos:
        name, _, version = dist_info.name.removesuffix(".dist-info").rpartition("-")
        locked = pins.get(canonicalize_name(name))
        if locked is None or str(locked) != version:
            problems.append(f"{layer_dir.name}: {name} {version} in the layer, the lock pins {locked}")
    if not dist_infos:
        problems.append(f"{layer_dir.name}: no installed distributions")
    return problems


_GLIBC_VERSION = re.compile(r"\bGLIBC_(\d+)\.(\d+)(?:\.(\d+))?\b")


def highest_glibc(directories: list[Path]) -> tuple[tuple[int, ...], Path | None]:
    """The newest `GLIBC_x.y` symbol version any shared object under `directories` needs."""
    highest: tuple[int, ...] = (0,)
    needed_by: Path | None = None
    for directory in directories:
        for library in sorted(directory.rglob("*.so*")):
            if not library.is_file():
                continue
            done = subprocess.run(
                ["objdump", "-T", str(library)], capture_output=True, text=True, check=False
            )
            for match in _GLIBC_VERSION.finditer(done.stdout):
                version = tuple(int(part) for part in match.groups() if part is not None)
                if version > highest:
                    highest, needed_by = version, library
    return highest, needed_by


# --- the scenario ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    key: str
    body: bytes
    content_type: str

    @property
    def uri(self) -> str:
        return f"s3://{SOURCE_BUCKET}/{self.key}"


def make_sources() -> dict[str, Source]:
    """The inputs, generated here: a 24 MP JPEG, an RGBA PNG, an animated GIF, an animated WebP and
    an iPhone-style HEIC (encoded by pillow-heif, a dev-only dependency with an encoder; the layer
    decodes it with pi-heif)."""
    import pillow_heif
    from PIL import Image, ImageDraw

    pillow_heif.register_heif_opener()

    def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        return buffer.getvalue()

    photo = Image.merge(
        "RGB",
        [
            Image.linear_gradient("L").resize((6000, 4000)),
            Image.radial_gradient("L").resize((6000, 4000)),
            Image.linear_gradient("L").rotate(90).resize((6000, 4000)),
        ],
    )
    logo = Image.new("RGBA", (320, 240), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((20, 20, 300, 220), fill=(220, 40, 60, 200))
    frames = []
    for index in range(4):
        frame = Image.new("RGB", (96, 64), (40 * index, 90, 200 - 40 * index))
        ImageDraw.Draw(frame).rectangle((10 * index, 10, 10 * index + 30, 40), fill=(255, 255, 0))
        frames.append(frame)
    animation = {"save_all": True, "append_images": frames[1:], "duration": 100, "loop": 0}
    return {
        "photo": Source("uploads/photo-24mp.jpg", encode(photo, "JPEG", quality=85), "image/jpeg"),
        "logo": Source("uploads/logo.png", encode(logo, "PNG"), "image/png"),
        "gif": Source("uploads/spinner.gif", encode(frames[0], "GIF", **animation), "image/gif"),
        "webp": Source("uploads/spinner.webp", encode(frames[0], "WEBP", **animation), "image/webp"),
        "heic": Source("uploads/iphone.heic", encode(photo.resize((640, 480)), "HEIF"), "image/heic"),
    }


PIL_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "avif": "AVIF"}


@dataclass(frozen=True)
class Rendition:
    """One image_convert_resize invocation and what its output must decode as."""

    source: str
    output_format: str
    box: int
    frames: int = 1

    @property
    def pil_format(self) -> str:
        return PIL_FORMATS[self.output_format]

    def event(self, sources: dict[str, Source]) -> dict[str, Any]:
        return {
            "fileLocation": sources[self.source].uri,
            "outputFormat": self.output_format,
            "outputWidth": self.box,
            "outputHeight": self.box,
            "maintainAspectRatio": True,
        }


RENDITIONS = (
    Rendition("photo", "jpg", 1200),
    Rendition("logo", "png", 160),
    Rendition("logo", "webp", 160),
    Rendition("logo", "gif", 160),
    Rendition("logo", "avif", 160),
    Rendition("gif", "gif", 64, frames=4),
    Rendition("gif", "webp", 64, frames=4),
    Rendition("webp", "webp", 64, frames=4),
    Rendition("webp", "gif", 64, frames=4),
    Rendition("heic", "jpg", 320),
)
PLAN_FORMATS = ["jpg", "webp", "avif"]
PLAN_SIZES = [{"width": 1200, "height": 1200}, {"width": 300, "height": 300}]


Check = Callable[[list[dict[str, Any]], Any], list[str]]


@dataclass
class Job:
    """What one function is given and how its results are judged. `events_from`, when set, is
    called once the guest has imported its handler (it may wait for another job's results)."""

    function: SynthesizedFunction
    events: list[Any]
    check: Check
    events_from: Callable[[], list[Any]] | None = None
    report: dict[str, Any] = field(default_factory=dict)


def _failures(results: list[dict[str, Any]]) -> list[str]:
    return [f"event {i}: {r['error']}: {r['message']}" for i, r in enumerate(results) if not r["ok"]]


def _s3_object(s3: Any, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def check_renditions(results: list[dict[str, Any]], s3: Any) -> list[str]:
    from PIL import Image

    problems = _failures(results)
    for rendition, result in zip(RENDITIONS, results, strict=True):
        if not result["ok"]:
            continue
        with Image.open(io.BytesIO(_s3_object(s3, result["output"]["fileLocation"]))) as image:
            frames = getattr(image, "n_frames", 1)
            if (
                image.format != rendition.pil_format
                or max(image.size) != rendition.box
                or frames != rendition.frames
            ):
                problems.append(f"{rendition}: wrote {image.format} {image.size} with {frames} frame(s)")
    return problems


def check_plan(results: list[dict[str, Any]], s3: Any) -> list[str]:
    problems = _failures(results)
    if not problems:
        items = results[0]["output"]["dynamicForkItems"]
        if len(items) != len(PLAN_FORMATS) * len(PLAN_SIZES):
            problems.append(
                f"planned {len(items)} renditions, expected {len(PLAN_FORMATS) * len(PLAN_SIZES)}"
            )
    return problems


def check_render_all(results: list[dict[str, Any]], s3: Any) -> list[str]:
    """image_render_renditions: something rendered, and every rendition it lists decodes as its format."""
    from PIL import Image

    problems = _failures(results)
    if problems:
        return problems
    output = results[0]["output"]
    renditions = output.get("renditions", [])
    if not output.get("rendered") or len(renditions) != int(output["rendered"]) + int(
        output.get("skipped", 0)
    ):
        problems.append(
            f"rendered {output.get('rendered')}, skipped {output.get('skipped')}, listed {len(renditions)}"
        )
    for rendition in renditions:
        with Image.open(io.BytesIO(_s3_object(s3, rendition["fileLocation"]))) as image:
            expected = PIL_FORMATS.get(str(rendition.get("outputFormat")).lower())
            if image.format != expected:
                problems.append(f"{rendition['fileLocation']} decodes as {image.format}, expected {expected}")
    # the manifest: its BlurHash computed by the layer's blurhash on aarch64, every rendition listed
    manifest = json.loads(_s3_object(s3, str(output.get("manifestLocation"))))
    if not manifest.get("placeholder", {}).get("blurhash"):
        problems.append(f"{output.get('manifestLocation')} has no BlurHash placeholder")
    if len(manifest.get("renditions", [])) != len(renditions):
        problems.append(
            f"{output.get('manifestLocation')} lists {len(manifest.get('renditions', []))} renditions"
        )
    return problems


JQ_EVENT = {"queryExpression": "{total: (.sizes | add)}, .sizes[]", "sizes": [300, 200]}


def check_jq(results: list[dict[str, Any]], s3: Any) -> list[str]:
    """json_jq_transform: libjq's native module loads on arm64 and gives Conductor's output shape."""
    problems = _failures(results)
    expected = {"result": {"total": 500}, "resultList": [{"total": 500}, 300, 200]}
    if not problems and results[0]["output"] != expected:
        problems.append(f"jq gave {results[0]['output']}, expected {expected}")
    return problems


JAVASCRIPT_EVENT = {
    "task": "verify",
    "field": "inputParameters.expression",
    "script": "$.sizes.reduce(function (sum, size) { return sum + size; }, 0) + $.sizes.size()",
    "input": {"sizes": [300, 200]},
}


def check_javascript(results: list[dict[str, Any]], s3: Any) -> list[str]:
    """javascript_evaluator: V8 (mini-racer's native library) loads on arm64 and evaluates."""
    problems = _failures(results)
    if not problems and results[0]["output"] != {"result": 502}:
        problems.append(f"the evaluator gave {results[0]['output']}, expected {{'result': 502}}")
    return problems


def on_demand_functions(
    functions: list[SynthesizedFunction], bytecode_python: str
) -> list[SynthesizedFunction]:
    """The JavaScript evaluator as the stack deploys it when a workflow runs JavaScript, when the
    synthesized app does not: the jq worker's code asset, shared layer and environment (the same
    base environment), its own handler and memory, and its V8 layer from `ensure_dependencies` with
    the inputs the stack's layer has (same cache entry as a synth of such a workflow)."""
    if any(f.task == JAVASCRIPT_TASK for f in functions):
        return []
    (jq,) = [f for f in functions if f.task == JQ_TASK]
    layer = ensure_dependencies(
        requirements_text(JAVASCRIPT_REQUIREMENTS),
        lock=lock_text(),
        interpreter=find_interpreter("3.13", environ={INTERPRETER_ENV_VAR: bytecode_python}),
        services=None,
    )
    config = DeploymentConfig.from_cdk_json()
    return [
        replace(
            jq,
            logical_id=f"OnDemand{JAVASCRIPT_TASK}",
            function_name=config.function_name(JAVASCRIPT_TASK),
            handler=handler_path(JAVASCRIPT_TASK),
            memory_mb=config.memorySize[JAVASCRIPT_TASK],
            layer_dirs=(*jq.layer_dirs, layer),
            environment=jq.environment | {"POWERTOOLS_SERVICE_NAME": JAVASCRIPT_TASK},
        )
    ]


def check_imported(results: list[dict[str, Any]], s3: Any) -> list[str]:
    return []


CALLER = "arn:aws:iam::123456789012:user/verify-bundle"
WORKFLOW_ID = "0b5f0a36-4d4e-4c43-9d4c-3c0e1b1f2a3b"


def http_api_event(method: str, path: str, query: str = "", body: str = "") -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) request as the IAM-authorized route passes it on."""
    return {
        "version": "2.0",
        "routeKey": "ANY /api/{proxy+}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": "verify.execute-api.us-east-1.amazonaws.com"},
        "queryStringParameters": dict(p.split("=", 1) for p in query.split("&")) if query else None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "verify",
            "authorizer": {
                "iam": {"accountId": "123456789012", "userArn": "arn:aws:iam::123456789012:user/v"}
            },
            "domainName": "verify.execute-api.us-east-1.amazonaws.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
            "requestId": "verify",
            "routeKey": "ANY /api/{proxy+}",
            "stage": "$default",
            "time": "01/Dec/2026:00:00:00 +0000",
            "timeEpoch": 1795996800000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


# (request, the status Conductor's API answers): registration, an endpoint without a Step Functions
# counterpart, a status and a start on the moto server (no such execution, no such state machine).
CONDUCTOR_API_CALLS = (
    (http_api_event("POST", "/api/metadata/workflow", body="{}"), 405),
    (http_api_event("PUT", f"/api/workflow/{WORKFLOW_ID}/pause"), 501),
    (http_api_event("GET", f"/api/workflow/{WORKFLOW_ID}", "includeTasks=true"), 404),
    (
        http_api_event("POST", "/api/workflow/image_convert_resize", "priority=0", '{"fileLocation": "x"}'),
        404,
    ),
)


def check_conductor_api(results: list[dict[str, Any]], s3: Any) -> list[str]:
    """Each call answered with its status and Conductor's ErrorResponse body."""
    problems = _failures(results)
    for (event, expected), result in zip(CONDUCTOR_API_CALLS, results, strict=True):
        if not result["ok"]:
            continue
        answer = result["output"]
        body = json.loads(answer.get("body") or "{}")
        if answer.get("statusCode") != expected or body.get("status") != expected:
            problems.append(f"{event['rawPath']}: answered {answer.get('statusCode')} {body}")
    return problems


def plan_jobs(functions: list[SynthesizedFunction], sources: dict[str, Source]) -> list[Job]:
    """One job per function: its task's scenario, or an import-only job for a task without one.
    The publisher runs after the renderer, on one of its outputs (published in place) and on a source
    (copied in)."""
    plan_event = {
        "fileLocation": sources["photo"].uri,
        "outputFormats": PLAN_FORMATS,
        "outputSizes": PLAN_SIZES,
    }
    scenarios: dict[str, tuple[list[Any], Check]] = {
        "image_convert_resize": ([r.event(sources) for r in RENDITIONS], check_renditions),
        "image_multiple_convert_resize": ([plan_event], check_plan),
        "image_render_renditions": ([plan_event | {"fileLocation": sources["logo"].uri}], check_render_all),
        "conductor_api": ([event for event, _ in CONDUCTOR_API_CALLS], check_conductor_api),
        "json_jq_transform": ([JQ_EVENT], check_jq),
        JAVASCRIPT_TASK: ([JAVASCRIPT_EVENT], check_javascript),
    }
    jobs = []
    for function in functions:
        events, check = scenarios.get(function.task, ([], check_imported))
        jobs.append(Job(function, events, check))
    return jobs


def publish_job(
    function: SynthesizedFunction, rendered: Callable[[], dict[str, Any] | None], sources: dict[str, Source]
) -> Job:
    """upload_toS3 on a rendition the renderer wrote (verified in place, `rendered()` waits for it)
    and on a source outside the output bucket (copied in); both must then hold the source's bytes."""
    job = Job(function, [], lambda results, s3: [])

    def events() -> list[Any]:
        first = rendered()
        job.events = ([first] if first is not None else []) + [{"fileLocation": sources["logo"].uri}]
        return job.events

    def check(results: list[dict[str, Any]], s3: Any) -> list[str]:
        problems = _failures(results)
        for event, result in zip(job.events, results, strict=True):
            if result["ok"] and _s3_object(s3, result["output"]["fileLocation"]) != _s3_object(
                s3, event["fileLocation"]
            ):
                problems.append(f"published {result['output']['fileLocation']} differs from its source")
        return problems

    job.events_from, job.check = events, check
    return job


# --- running -----------------------------------------------------------------------------------


def guest_environment(function: SynthesizedFunction, endpoint: str) -> dict[str, str]:
    """The function's template environment plus what the Lambda runtime sets
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime);
    the code asset then the layer on the path, as Lambda orders /var/task before /opt/python
    (https://docs.aws.amazon.com/lambda/latest/dg/python-package.html)."""
    return function.environment | {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIAL,
        "AWS_SESSION_TOKEN": FAKE_CREDENTIAL,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ENDPOINT_URL_SFN": endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "LAMBDA_TASK_ROOT": "/var/task",
        "_HANDLER": function.handler,
        "_X_AMZN_TRACE_ID": UNSAMPLED_TRACE,
        "PYTHONPATH": os.pathsep.join(
            [str(function.code_dir), *(str(layer / "python") for layer in function.layer_dirs)]
        ),
        # /var/task and /opt are read-only on Lambda: nothing may be written next to the bundle.
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }


def run_guest(job: Job, python: Path, endpoint: str, workdir: Path) -> dict[str, Any]:
    function = job.function
    jobdir = Path(tempfile.mkdtemp(prefix=f"{function.task}.", dir=workdir))
    probe = jobdir / PROBE.name  # a copy: the probe's own directory must not shadow anything
    shutil.copyfile(PROBE, probe)
    spec: dict[str, Any] = {
        "handler_module": function.handler_module,
        "handler_function": function.handler_function,
        "function_name": function.function_name,
        "memory_mb": function.memory_mb,
        "timeout_seconds": function.timeout_seconds,
        "roots": [str(function.code_dir), *(str(layer) for layer in function.layer_dirs)],
    }
    if job.events_from is None:
        spec["events"] = job.events
    else:
        spec |= {"events_file": str(jobdir / "events.json"), "events_timeout_seconds": GUEST_TIMEOUT_SECONDS}
    (jobdir / "job.json").write_text(json.dumps(spec))
    started = time.monotonic()
    log = (jobdir / "guest.log").open("w")
    guest = subprocess.Popen(
        [str(python), str(probe), str(jobdir / "job.json"), str(jobdir / "report.json")],
        env=guest_environment(function, endpoint),
        cwd=jobdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        if job.events_from is not None:
            staged = jobdir / "events.json.partial"
            staged.write_text(json.dumps(job.events_from()))
            staged.rename(jobdir / "events.json")
        returncode = guest.wait(timeout=GUEST_TIMEOUT_SECONDS)
    finally:
        if guest.poll() is None:
            guest.kill()
            guest.wait()
        log.close()
    if returncode != 0 or not (jobdir / "report.json").is_file():
        raise BundleVerificationError(
            f"{function.logical_id} ({function.handler}) did not run on the emulated runtime "
            f"(exit {returncode}):\n{(jobdir / 'guest.log').read_text()[-4000:]}"
        )
    report: dict[str, Any] = json.loads((jobdir / "report.json").read_text())
    report["wall_seconds"] = time.monotonic() - started
    return report


def judge(job: Job, s3: Any) -> list[str]:
    report = job.report
    problems = []
    if report["machine"] != "aarch64" or not report["python"].startswith("3.13."):
        problems.append(f"ran on {report['machine']} Python {report['python']}, not aarch64 3.13")
    imports = report["imports"]
    if imports["from_source"]:
        problems.append(f"compiled from source at import: {', '.join(imports['from_source'][:5])}")
    if imports["from_bytecode"] == 0 or set(imports["pyc_flags"]) != {"1"}:
        problems.append(f"bundle pycs used: {imports['from_bytecode']}, header flags {imports['pyc_flags']}")
    if report["pillow_features"] and not all(report["pillow_features"].values()):
        problems.append(f"Pillow codecs missing: {report['pillow_features']}")
    problems += job.check(report["results"], s3)
    return [f"{job.function.logical_id}: {problem}" for problem in problems]


def verify(outdir: Path, guest_python: Path, workdir: Path, bytecode_python: str) -> list[Job]:
    import boto3
    from moto.server import ThreadedMotoServer

    functions = read_functions(outdir)
    functions += on_demand_functions(functions, bytecode_python)
    if not functions:
        raise BundleVerificationError(f"{outdir} deploys no function with a code asset")
    for function in functions:
        check_definition(function)
    lock = LOCK_FILE.read_text()
    mismatches = [
        m for d in sorted({d for f in functions for d in f.layer_dirs}) for m in layer_pin_mismatches(d, lock)
    ]
    if mismatches:
        raise BundleVerificationError(
            "the layer is not what requirements.lock pins:\n" + "\n".join(mismatches)
        )
    glibc, needed_by = highest_glibc(sorted({d for f in functions for d in (f.code_dir, *f.layer_dirs)}))
    if glibc > AL2023_GLIBC:
        raise BundleVerificationError(f"{needed_by} needs GLIBC_{'.'.join(map(str, glibc))}, AL2023 has 2.34")
    print(f"verify-bundle: {len(functions)} functions; highest glibc symbol needed: {glibc} ({needed_by})")

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIAL,
            aws_secret_access_key=FAKE_CREDENTIAL,
        )
        buckets = {SOURCE_BUCKET} | {
            f.environment["OUTPUT_BUCKET"] for f in functions if f.environment.get("OUTPUT_BUCKET")
        }
        for bucket in sorted(buckets):
            s3.create_bucket(Bucket=bucket)
        sources = make_sources()
        for source in sources.values():
            s3.put_object(
                Bucket=SOURCE_BUCKET, Key=source.key, Body=source.body, ContentType=source.content_type
            )

        jobs = [job for job in plan_jobs(functions, sources) if job.function.task != "upload_toS3"]
        # Every guest at once: the machine's cores are the limit, and the publisher's cold import
        # overlaps the renderer's work instead of following it.
        with ThreadPoolExecutor(len(functions)) as pool:
            futures = [pool.submit(run_guest, job, guest_python, endpoint, workdir) for job in jobs]
            renderer = next(
                (f for j, f in zip(jobs, futures, strict=True) if j.function.task == "image_convert_resize"),
                None,
            )

            def first_rendition() -> dict[str, Any] | None:
                results = renderer.result()["results"] if renderer is not None else []
                return results[0]["output"] if results and results[0]["ok"] else None

            for function in (f for f in functions if f.task == "upload_toS3"):
                jobs.append(publish_job(function, first_rendition, sources))
                futures.append(pool.submit(run_guest, jobs[-1], guest_python, endpoint, workdir))
            for job, future in zip(jobs, futures, strict=True):
                job.report = future.result()
        problems = [problem for job in jobs for problem in judge(job, s3)]
    finally:
        server.stop()
    for job in jobs:
        r = job.report
        print(
            f"  {job.function.task:32} {r['machine']} Python {r['python']}: "
            f"import {r['import_seconds']:.1f} s ({r['import_cpu_seconds']:.1f} s CPU), "
            f"{len(r['results'])} invocation(s) in {sum(x['seconds'] for x in r['results']):.1f} s "
            f"({r['cpu_seconds'] - r['import_cpu_seconds']:.1f} s CPU), "
            f"{r['imports']['from_bytecode']} modules from shipped pycs, "
            f"{len(r['imports']['from_source'])} compiled at import"
        )
    if problems:
        raise BundleVerificationError("\n".join(problems))
    return jobs


def main() -> int:
    started = time.monotonic()
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    guest_python = sysroot_python("arm64", LAMBDA_GUEST_PACKAGES)
    bytecode_python = os.environ.get(INTERPRETER_ENV_VAR) or str(sysroot_python("amd64"))
    print(f"verify-bundle: guest {guest_python}, bytecode from {bytecode_python}")
    outdir = synthesize(WORK_ROOT / "cdk.out", bytecode_python)
    workdir = Path(tempfile.mkdtemp(prefix="run.", dir=WORK_ROOT))
    try:
        verify(outdir, guest_python, workdir, bytecode_python)
    except BundleVerificationError as error:
        print(f"verify-bundle FAILED (guest logs in {workdir}):\n{error}", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"verify-bundle: OK in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
