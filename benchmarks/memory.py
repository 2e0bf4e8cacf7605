"""Peak RSS of one job in a fresh process, so earlier jobs and other engines cannot inflate it.

`python -m benchmarks.memory ENGINE JOB SOURCE_FILE` is the child; it prints one JSON line.
`python -m benchmarks.memory --caps [--json FILE]` measures every accepted input format at its cap
(the memory model's, lambdas/core/memory_model.py) in a fresh resize-function-like process and
prints the docs/performance.md section; `make bench` runs it too.
In-process engines report the process' VmHWM; ImageMagick reports the largest `convert` child
(getrusage(RUSAGE_CHILDREN).ru_maxrss), since the Python parent is not part of its cost.

Two imgpipe rows, because they answer different questions:
- `imgpipe` (scope "imaging core"): a process holding `lambdas.core.imaging` and plain Recipes only,
  no pydantic, Powertools or boto3: comparable with the libvips process. The RSS target uses it.
- `imgpipe-handler` (scope "whole handler"): what an image_convert_resize Lambda really holds: the
  handler module imported with the function's environment, the boto3 S3 client built, each
  rendition's event validated into a Recipe as the handler does, then the same job through the core.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import resource
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.settings import REPO_ROOT

MIB = 1024 * 1024
HANDLER_ENGINE = "imgpipe-handler"
HANDLER_TASK = "image_convert_resize"
SCOPES = {
    "imgpipe": "imaging core",
    "imgpipe-batch": "imaging core",
    HANDLER_ENGINE: f"whole {HANDLER_TASK} handler (module, S3 client, input validation)",
}


def _vm_hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/status has no VmHWM")


def _handler_outputs(job_name: str, source_file: str) -> tuple[int, list[bytes]]:
    """Lambda's view: handler imported and S3 client built before the source arrives."""
    from benchmarks.imgpipe_engine import resize_event
    from benchmarks.jobs import JOBS

    importlib.import_module(f"lambdas.{HANDLER_TASK}.handler")
    from lambdas.adapters import s3
    from lambdas.core.imaging import render_bytes
    from lambdas.core.inputs import parse_resize_input
    from lambdas.settings import ResizeSettings

    s3.client()  # the handler's own cached client, as the first S3 read would build it
    source = Path(source_file).read_bytes()
    baseline_kb = _vm_hwm_kb()
    settings = ResizeSettings.from_env()
    outputs = []
    for rendition in JOBS[job_name].renditions:
        event = resize_event(source, rendition, f"s3://bench-uploads/{Path(source_file).name}")
        _, recipe = parse_resize_input(event, max_dimension=settings.max_output_dimension)
        outputs.append(render_bytes(source, recipe, settings.decode_limits()).data)
    return baseline_kb, outputs


def child(engine_name: str, job_name: str, source_file: str) -> dict[str, object]:
    if engine_name == HANDLER_ENGINE:
        baseline_kb, outputs = _handler_outputs(job_name, source_file)
    else:
        from benchmarks import registry
        from benchmarks.jobs import JOBS

        engine = registry.build(engine_name)
        source = Path(source_file).read_bytes()
        baseline_kb = _vm_hwm_kb()
        outputs = engine.render(source, JOBS[job_name].renditions)
    peak_kb = _vm_hwm_kb()
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    measured = children_kb if engine_name == "imagemagick" else peak_kb
    frameworks = sorted(
        {m.split(".")[0] for m in sys.modules} & {"pydantic", "aws_lambda_powertools", "boto3", "botocore"}
    )
    return {
        "engine": engine_name,
        "job": job_name,
        "scope": SCOPES.get(engine_name, "engine"),
        "peak_rss_mb": round(measured / 1024, 1),
        "baseline_rss_mb": None if engine_name == "imagemagick" else round(baseline_kb / 1024, 1),
        "output_bytes": sum(len(o) for o in outputs),
        "frameworks_loaded": frameworks,
        "what": "largest convert child" if engine_name == "imagemagick" else "whole Python process (VmHWM)",
    }


def _handler_environment() -> dict[str, str]:
    """The function's real environment (built here, in the parent, so that the child does not import
    imgpipe.config and its pydantic models), with fake credentials that are never used."""
    from imgpipe.config import DeploymentConfig, function_environment

    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env |= function_environment(
        HANDLER_TASK, DeploymentConfig.from_cdk_json(), output_bucket="bench-renditions"
    )
    return env | {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def measure(engine_name: str, job_name: str, source_file: Path) -> dict[str, object]:
    """Run the child in a fresh interpreter and return its report (or the error it printed)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", engine_name, job_name, str(source_file)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=_handler_environment() if engine_name == HANDLER_ENGINE else None,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        return {"engine": engine_name, "job": job_name, "error": done.stderr.strip().splitlines()[-1:]}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- Memory at the configured caps (`python -m benchmarks.memory --caps`) -------------------------
# Each accepted input format is generated at the largest size the worker accepts (its cap: the
# memory model's, at most imgpipe:maxSourcePixels) and, where that is lower, at maxSourcePixels too,
# then rendered by a fresh process that looks like the resize function: handler imported, S3 client
# built, the function's environment (limits, AWS_LAMBDA_FUNCTION_MEMORY_SIZE). The source is
# smooth gradients, so that it stays under maxSourceBytes; decode memory depends on pixels, not on
# content (the encoder's does a little).

CAP_CHILD = "--cap-child"


@dataclass(frozen=True)
class CapCase:
    """One input kind: how to generate it and which memory-model reference it is quoted under."""

    name: str
    reference: str  # a key of memory_model.REFERENCE_SOURCES, or "animated GIF"/"animated WEBP"
    pil_format: str
    mode: str
    save: dict[str, Any] = field(default_factory=dict)
    bytes_per_pixel: float = 0.0  # uncompressed formats: the byte cap bounds the pixels too


CAP_CASES = (
    CapCase(
        "JPEG baseline 4:2:0", "JPEG (baseline, 4:2:0)", "JPEG", "RGB", {"quality": 85, "subsampling": 2}
    ),
    CapCase(
        "JPEG progressive 4:4:4",
        "JPEG (progressive, 4:4:4)",
        "JPEG",
        "RGB",
        {"quality": 85, "subsampling": 0, "progressive": True},
    ),
    CapCase("PNG RGB", "PNG RGB", "PNG", "RGB", {"compress_level": 1}),
    CapCase("PNG RGBA", "PNG RGBA", "PNG", "RGBA", {"compress_level": 1}),
    CapCase("PNG 16-bit grey", "PNG 16-bit grey", "PNG", "I;16", {"compress_level": 1}),
    CapCase("PNG palette", "PNG palette", "PNG", "P", {"compress_level": 1}),
    CapCase("WebP", "WebP", "WEBP", "RGB", {"quality": 80, "method": 0}),
    CapCase("GIF", "GIF", "GIF", "P"),
    CapCase("TIFF RGB (LZW)", "TIFF RGB", "TIFF", "RGB", {"compression": "tiff_lzw"}),
    CapCase("AVIF", "AVIF", "AVIF", "RGB", {"quality": 50, "speed": 10}),
    CapCase("BMP palette", "BMP palette", "BMP", "P", bytes_per_pixel=1.0),
    # HEIC written by pillow-heif's x265 (a dev dependency), decoded in the child by pi-heif
    CapCase("HEIF 8-bit 4:2:0", "HEIF (8-bit 4:2:0, iPhone)", "HEIF", "RGB", {"quality": 50, "chroma": 420}),
    CapCase(
        "HEIF 10-bit 4:4:4",
        "HEIF (10-bit 4:4:4)",
        "HEIF",
        "RGBA",
        {"quality": 50, "chroma": 444, "bit_depth": 10},
    ),
    CapCase("animated GIF", "animated GIF", "GIF", "P"),
    CapCase("animated WebP", "animated WEBP", "WEBP", "RGB", {"quality": 80, "method": 0}),
)


def _gradient_image(mode: str, width: int, height: int, variant: int = 0) -> Any:
    from PIL import Image

    horizontal = Image.linear_gradient("L").resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    if variant % 2:
        horizontal = horizontal.transpose(Image.Transpose.ROTATE_180)
    if mode in ("RGB", "RGBA", "P"):
        bands = [horizontal, radial, horizontal.transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
        if mode == "RGBA":
            bands.append(radial.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
        image = Image.merge("RGBA" if mode == "RGBA" else "RGB", bands)
        return image.quantize(256) if mode == "P" else image
    if mode == "I;16":
        return horizontal.convert("I").point(lambda value: value * 257).convert("I;16")
    return horizontal.convert(mode)


def _write_heif(image: Any, path: Path, options: dict[str, Any]) -> None:
    """pillow-heif's encoder (pi-heif only decodes); `bit_depth` 10 writes 16-bit samples it
    encodes at 10 bits."""
    import pillow_heif

    if options.pop("bit_depth", 8) > 8:
        import numpy

        wide = (numpy.asarray(image).astype(numpy.uint16) * 257).tobytes()
        mode = "RGBA;16" if image.mode == "RGBA" else "RGB;16"
        pillow_heif.from_bytes(mode=mode, size=image.size, data=wide).save(path, **options)
    else:
        pillow_heif.from_pillow(image).save(path, **options)


def _write_source(case: CapCase, side: int, frames: int, path: Path) -> None:
    from lambdas.core.plugins import ensure_plugin

    ensure_plugin(case.pil_format)
    image = _gradient_image(case.mode, side, side)
    options = dict(case.save)
    if case.pil_format == "HEIF":
        _write_heif(image, path, options)
        return
    if frames > 1:
        rest = [_gradient_image(case.mode, side, side, variant) for variant in range(1, frames)]
        options |= {"save_all": True, "append_images": rest, "duration": 40, "loop": 0}
    image.save(path, case.pil_format, **options)


def _cap_child(source_file: str) -> dict[str, Any]:
    """The resize function's view of one upload: baseline, then render_bytes under its limits."""
    importlib.import_module(f"lambdas.{HANDLER_TASK}.handler")
    from lambdas.adapters import s3
    from lambdas.core.decode import header_orientation, open_untrusted, source_header
    from lambdas.core.errors import ImageTooLargeError
    from lambdas.core.imaging import render_bytes
    from lambdas.core.memory_model import estimate
    from lambdas.core.recipe import normalised_recipe
    from lambdas.settings import ResizeSettings

    s3.client()
    baseline_kb = _vm_hwm_kb()
    settings = ResizeSettings.from_env()
    fmt, width, height = os.environ["CAP_RECIPE"].split(":")
    recipe = normalised_recipe(fmt, int(width), int(height), fit="contain")
    source = Path(source_file).read_bytes()
    model_mb = None
    try:
        # What the worker's check estimates for this very header (ICC, orientation, mode as read).
        image = open_untrusted(source, settings.decode_limits())
        model_mb = estimate(source_header(image, len(source), header_orientation(image)), [recipe]).peak_mb
        del image
        rendered = render_bytes(source, recipe, settings.decode_limits())
        outcome = f"rendered {rendered.width}x{rendered.height} {rendered.format}"
    except ImageTooLargeError as error:
        outcome = f"ImageTooLargeError: {error.problem}"
    return {
        "baseline_rss_mb": round(baseline_kb / 1024, 1),
        "peak_rss_mb": round(_vm_hwm_kb() / 1024, 1),
        "model_mb": None if model_mb is None else round(model_mb + baseline_kb / 1024, 1),
        "outcome": outcome,
    }


def _reference(case: CapCase, frames: int) -> Any:
    from lambdas.core import memory_model

    if case.reference.startswith("animated "):
        return memory_model.reference_animation(case.reference.split()[1], frames)
    return memory_model.REFERENCE_SOURCES[case.reference]


def measure_caps(workdir: Path | None = None, only: str | None = None) -> dict[str, Any]:
    """Every CAP_CASES input at its cap (and at maxSourcePixels where the cap is lower), each in a
    fresh handler-like process; the model's estimate beside the measured peak. `only`: the cases
    whose name starts with it (`--only HEIF`)."""
    import tempfile  # here, not at import: the child processes' baselines must not pay for it
    from dataclasses import replace

    from imgpipe.config import RESIZE_TASK, DeploymentConfig
    from lambdas.core import memory_model

    config = DeploymentConfig.from_cdk_json()
    memory_mb = config.memorySize[RESIZE_TASK]
    recipes = config.default_recipes()
    # One rendition per invocation: the default rendition the model finds most expensive.
    probe = replace(memory_model.REFERENCE_SOURCES["WebP"], width=4000, height=4000)
    recipe = max(recipes, key=lambda r: memory_model.estimate(probe, [r]).peak_bytes)
    env = _handler_environment() | {
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "CAP_RECIPE": f"{recipe.format}:{recipe.width}:{recipe.height}",
    }
    rows = []
    with tempfile.TemporaryDirectory(prefix="imgpipe-caps-", dir=workdir) as tmp:
        for case in (c for c in CAP_CASES if only is None or c.name.startswith(only)):
            frames = config.maxFrames if case.reference.startswith("animated ") else 1
            reference = replace(_reference(case, frames), source_bytes=config.maxSourceBytes)
            cap = memory_model.largest_fitting_pixels(
                reference, [recipe], memory_mb, upper=config.maxSourcePixels
            )
            if case.bytes_per_pixel:
                cap = min(cap, int(config.maxSourceBytes * 0.99 / case.bytes_per_pixel))
            sizes = [("at cap", cap)]
            lower = math.isqrt(cap // frames) < math.isqrt(config.maxSourcePixels // frames)
            if lower and not case.bytes_per_pixel:  # an uncompressed BMP that large is over the byte cap
                sizes.append(("at maxSourcePixels", config.maxSourcePixels))
            for label, pixels in sizes:
                side = math.isqrt(pixels // frames)
                path = Path(tmp) / f"{case.name.replace(' ', '_')}_{side}.{case.pil_format.lower()}"
                print(f"  {case.name} {label}: {side}x{side} x {frames} frames ...", flush=True)
                _write_source(case, side, frames, path)
                done = subprocess.run(
                    [sys.executable, "-m", "benchmarks.memory", CAP_CHILD, str(path)],
                    capture_output=True,
                    text=True,
                    cwd=REPO_ROOT,
                    env=env,
                    check=False,
                    timeout=900,
                )
                row: dict[str, Any] = {
                    "input": case.name,
                    "size": label,
                    "width": side,
                    "height": side,
                    "frames": frames,
                    "pixels": side * side * frames,
                    "source_mb": round(path.stat().st_size / MIB, 2),
                }
                if done.returncode != 0:
                    row["error"] = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
                else:
                    row |= json.loads(done.stdout.strip().splitlines()[-1])
                path.unlink()
                rows.append(row)
    return {
        "memory_mb": memory_mb,
        "usable_mb": round(memory_model.usable_bytes(memory_mb) / MIB),
        "handler_baseline_mb_assumed": memory_model.HANDLER_BASELINE_MB,
        "margin": memory_model.MEMORY_MARGIN,
        "recipe": f"{recipe.format} {recipe.width}x{recipe.height} {recipe.fit}",
        "max_source_pixels": config.maxSourcePixels,
        "max_frames": config.maxFrames,
        "rows": rows,
    }


def caps_markdown(caps: dict[str, Any]) -> list[str]:
    """The "Memory at the configured caps" section of docs/performance.md."""
    lines = [
        "## Memory at the configured caps (fresh resize-function process)",
        "",
        f"`python -m benchmarks.memory --caps`: each input at its cap (the memory model's, at most "
        f"maxSourcePixels = {caps['max_source_pixels']:,}; animations {caps['max_frames']} frames sharing "
        f"it) rendered to {caps['recipe']} by a process holding the handler and its S3 client, with "
        f"AWS_LAMBDA_FUNCTION_MEMORY_SIZE = {caps['memory_mb']}. The function has {caps['memory_mb']:,} MB; "
        f"the model allows a source {caps['usable_mb']:,} MB (less a "
        f"{caps['handler_baseline_mb_assumed']} MB handler baseline and a {caps['margin']:.0%} margin).",
        "",
        f"| input | size | pixels | source MB | handler baseline MB | peak RSS MB | of which the source "
        f"(peak - baseline; {caps['memory_mb'] - caps['rows'][0].get('baseline_rss_mb', 0):,.0f} MB free) "
        "| worker's estimate + baseline MB | outcome |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in caps["rows"]:
        dims = f"{row['width']}x{row['height']}" + (f" x {row['frames']}" if row["frames"] > 1 else "")
        if "error" in row:
            lines.append(
                f"| {row['input']} | {row['size']} ({dims}) | {row['pixels']:,} | {row['source_mb']} "
                f"| | | | | error: {row['error']} |"
            )
            continue
        outcome = row["outcome"].split("; the largest")[0]
        lines.append(
            f"| {row['input']} | {row['size']} ({dims}) | {row['pixels']:,} | {row['source_mb']} | "
            f"{row['baseline_rss_mb']} | {row['peak_rss_mb']} | "
            f"{row['peak_rss_mb'] - row['baseline_rss_mb']:.1f} | {row['model_mb'] or 'n/a'} | {outcome} |"
        )
    return [*lines, "", *_caps_summary(caps)]


def _caps_summary(caps: dict[str, Any]) -> list[str]:
    """What the table shows: the largest accepted peak against the memory, the refusals' peaks, and
    whether every measured peak stayed within the worker's own estimate."""
    measured = [row for row in caps["rows"] if "peak_rss_mb" in row]
    rendered = [row for row in measured if row["outcome"].startswith("rendered")]
    refused = [row for row in measured if "to decode and render" in row["outcome"]]  # by the model
    lines = []
    if rendered:
        top = max(rendered, key=lambda row: row["peak_rss_mb"])
        lines.append(
            f"- Largest peak of an accepted source: {top['peak_rss_mb']} MB ({top['input']}, {top['size']}), "
            f"{top['peak_rss_mb'] / caps['memory_mb']:.0%} of the function's {caps['memory_mb']:,} MB."
        )
    if refused:
        lines.append(
            f"- {len(refused)} sources refused by the memory check peaked at "
            f"{max(row['peak_rss_mb'] for row in refused)} MB at most: nothing was decoded."
        )
    over = [row for row in measured if row.get("model_mb") and row["peak_rss_mb"] > row["model_mb"]]
    lines.append(
        "- Every measured peak is within the worker's estimate (+ the measured baseline)."
        if not over
        else "- Measured over the worker's estimate: "
        + ", ".join(
            f"{row['input']} {row['size']} ({row['peak_rss_mb']} > {row['model_mb']} MB)" for row in over
        )
    )
    return lines


def main(argv: list[str]) -> int:
    if argv[:1] == [CAP_CHILD]:
        print(json.dumps(_cap_child(argv[1])))
        return 0
    if argv[:1] not in (["--caps"], ["--help"], ["-h"]):
        print(json.dumps(child(*argv[:3])))
        return 0
    import argparse  # here, not at import, as in measure_caps

    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--caps", action="store_true", help="every accepted format at its cap")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--only", help="with --caps: only the inputs whose name starts with this (HEIF)")
    args = parser.parse_args(argv)
    caps = measure_caps(only=args.only)
    if args.json:
        args.json.write_text(json.dumps(caps, indent=2))
    print("\n".join(caps_markdown(caps)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
