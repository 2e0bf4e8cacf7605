"""What the manifest and smart crop add per source: `python -m benchmarks.manifest_smartcrop`.

In one process, the imaging core only (what image_render_renditions does between its GET and its
PUTs), on the benchmark's two sources (benchmarks/images.py), interleaved rounds, medians:
- manifest: decode once + render the default recipe's renditions (cdk.json `defaultRecipe`), without
  and with the manifest's work (the placeholder from the decoded frame, the document and its bytes);
- smart crop: the same formats and sizes as `fit: cover`, gravity "centre" against "smart" (the
  attention map, once per source, then the crop search per size).
Plus the manifest's one extra S3 PUT per source, priced with benchmarks/cost.py's constants.
Results go to benchmarks/analysis.md by hand ("Manifest and smart crop"), not to docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from benchmarks import cost
from benchmarks.images import SOURCES
from imgpipe.config import DeploymentConfig
from lambdas.core import manifest
from lambdas.core.attention import saliency_map
from lambdas.core.imaging import load_source, render_each
from lambdas.core.placeholder import placeholder
from lambdas.core.recipe import Recipe


def _boxes(recipes: list[Recipe]) -> list[tuple[int, int]]:
    return [] if any(r.upscale for r in recipes) else [(r.width, r.height) for r in recipes]


def _render_all(data: bytes, recipes: list[Recipe], *, with_manifest: bool) -> int:
    """One source as the render-all worker treats it (no S3); returns the bytes produced."""
    source = load_source(data, target_boxes=_boxes(recipes), recipes=recipes)
    taken = placeholder(source.still_frame()) if with_manifest else None
    produced = 0
    listed = []
    for index, rendered in render_each(source, recipes):
        produced += len(rendered.data)
        listed.append(
            manifest.ManifestRendition(
                location=f"s3://bench/{index}",
                key=str(index),
                url=f"https://bench.s3.us-east-1.amazonaws.com/{index}",
                format=rendered.format,
                content_type=rendered.content_type,
                width=rendered.width,
                height=rendered.height,
                bytes=len(rendered.data),
                requested=(recipes[index].width, recipes[index].height),
            )
        )
    if taken is not None:
        document = manifest.manifest(
            source_location="s3://bench/source",
            source_size=source.size,
            source_format=source.source_format,
            placeholder=taken,
            renditions=listed,
        )
        produced += len(manifest.manifest_bytes(document))
    return produced


def _time(function: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure(rounds: int) -> dict[str, Any]:
    recipes = DeploymentConfig.from_cdk_json().default_recipes()
    cover = [replace(recipe, fit="cover") for recipe in recipes]
    smart = [replace(recipe, gravity="smart") for recipe in cover]
    variants: dict[str, tuple[list[Recipe], bool]] = {
        "renditions": (recipes, False),
        "renditions + manifest": (recipes, True),
        "cover, centre": (cover, False),
        "cover, smart": (smart, False),
    }
    results: dict[str, Any] = {
        "rounds": rounds,
        "recipes": [r.canonical_json() for r in recipes],
        "sources": {},
    }
    for source_name, make in SOURCES.items():
        data = make()
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for round_index in range(rounds + 1):  # the first round warms up, untimed
            names = list(variants)
            shift = round_index % len(names)
            for name in [*names[shift:], *names[:shift]]:
                chosen, with_manifest = variants[name]
                seconds = _time(partial(_render_all, data, chosen, with_manifest=with_manifest))
                if round_index:
                    samples[name].append(seconds)
        medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
        frame = load_source(data, target_boxes=_boxes(recipes), recipes=recipes).still_frame()
        parts = {
            "placeholder": [_time(partial(placeholder, frame)) for _ in range(rounds)],
            "attention map": [_time(partial(saliency_map, frame)) for _ in range(rounds)],
        }
        results["sources"][source_name] = {
            "median_ms": {name: round(value, 1) for name, value in medians.items()},
            "min_ms": {name: round(min(values) * 1000, 1) for name, values in samples.items()},
            "part_median_ms": {name: round(statistics.median(v) * 1000, 1) for name, v in parts.items()},
            "manifest_ratio": round(medians["renditions + manifest"] / medians["renditions"], 3),
            "smart_ratio": round(medians["cover, smart"] / medians["cover, centre"], 3),
        }
    per_million = 1_000_000
    results["manifest_put_usd_per_million_sources"] = round(cost.S3_PUT_USD * per_million, 2)
    results["renditions_put_usd_per_million_sources"] = round(len(recipes) * cost.S3_PUT_USD * per_million, 2)
    return results


def markdown(results: dict[str, Any]) -> list[str]:
    lines = [
        f"Medians of {results['rounds']} interleaved rounds (min in brackets), ms per source:",
        "",
        "| source | renditions | + manifest | ratio | placeholder alone | cover centre | cover smart | ratio "
        "| attention map alone |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in results["sources"].items():
        ms, low, part = row["median_ms"], row["min_ms"], row["part_median_ms"]
        cells = {variant: f"{ms[variant]} ({low[variant]})" for variant in ms}
        lines.append(
            f"| {name} | {cells['renditions']} | {cells['renditions + manifest']} | {row['manifest_ratio']} "
            f"| {part['placeholder']} | {cells['cover, centre']} | {cells['cover, smart']} "
            f"| {row['smart_ratio']} | {part['attention map']} |"
        )
    lines.append(
        f"\nS3: the manifest is one more PUT per source, ${results['manifest_put_usd_per_million_sources']} "
        f"per million sources beside the renditions' ${results['renditions_put_usd_per_million_sources']}."
    )
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.manifest_smartcrop", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    results = measure(args.rounds)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    print("\n".join(markdown(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
