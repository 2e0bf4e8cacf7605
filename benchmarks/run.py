"""`python -m benchmarks.run [--quick]`: the whole benchmark in one run (see docs/performance.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import PIL

from benchmarks import (
    coldinit,
    cost,
    e2e,
    images,
    manifest_smartcrop,
    memory,
    one_core,
    pillow_prototype,
    quality,
    registry,
    report,
    settings,
    timing,
)
from benchmarks.engines import Engine, EngineUnavailableError
from benchmarks.jobs import JOBS

TARGET_JOBS = ("A", "B", "C")
# The default deployment is priced on a typical camera upload: job C's 12 MP JPEG.
DEFAULT_DEPLOYMENT_SOURCE = "jpeg4000"
COST_TARGET_USD = 70.0  # issue 6: all-in, per million source images, 9 renditions
STATUS = {True: "met", False: "MISSED", None: "n/a"}


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _engines(names: list[str]) -> tuple[list[Engine], dict[str, Any]]:
    built, info = [], {}
    for name in names:
        try:
            engine = registry.build(name)
        except EngineUnavailableError as error:
            info[name] = {"available": False, "reason": str(error)}
            print(f"  {name}: unavailable ({error})")
            continue
        built.append(engine)
        info[name] = {"available": True, "description": engine.description, **engine.meta}
    return built, info


def _timing_table(
    samples: dict[tuple[str, str], timing.Samples], sources: dict[str, bytes]
) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for job in JOBS.values():
        rows: dict[str, Any] = {}
        for (engine, job_name), sample in samples.items():
            if job_name != job.name:
                continue
            if sample.error or not sample.seconds:
                rows[engine] = {"error": sample.error or "no samples"}
                continue
            checks = [
                quality.check(sources[job.source], r, o)
                for r, o in zip(job.renditions, sample.outputs, strict=True)
            ]
            rows[engine] = {
                **sample.summary(),
                "output_bytes": sum(len(o) for o in sample.outputs),
                "min_psnr_db": min(c.psnr_db for c in checks),
                "min_ssim": min(c.ssim for c in checks),
                "renditions": [
                    {"rendition": r.label, "bytes": len(o), **c.to_json()}
                    for r, o, c in zip(job.renditions, sample.outputs, checks, strict=True)
                ],
                "problems": [
                    f"{r.label}: {p}" for r, c in zip(job.renditions, checks, strict=True) for p in c.problems
                ],
            }
        if not rows:
            continue
        medians = {e: r["median_ms"] for e, r in rows.items() if "median_ms" in r}
        fastest = min(medians.values()) if medians else None
        im = medians.get("imagemagick")
        for engine, median in medians.items():
            rows[engine]["ratio_to_fastest"] = round(median / fastest, 3) if fastest else None
            rows[engine]["ratio_to_imagemagick"] = round(median / im, 3) if im else None
            rows[engine]["speedup_vs_imagemagick"] = round(im / median, 2) if im else None
        table[job.name] = rows
    return table


def _one_core_table(engines: list[Engine], sources: dict[str, bytes], rounds: int) -> dict[str, Any]:
    """The primary engines on jobs A-C again, pinned to one CPU with one thread each: the speed a
    one-vCPU Lambda sees. Outputs are the default run's (the thread count changes no pixel), so only
    time is reported."""
    primary = [engine for engine in engines if engine.name in registry.PRIMARY]
    jobs = [JOBS[name] for name in TARGET_JOBS]
    with one_core.single_core() as cpu:
        samples = timing.run_interleaved(primary, jobs, sources, rounds=rounds, warmup=1)
    table: dict[str, Any] = {"cpu": cpu}
    for job in jobs:
        rows: dict[str, dict[str, Any]] = {
            engine.name: dict(samples[(engine.name, job.name)].summary())
            for engine in primary
            if samples[(engine.name, job.name)].seconds
        }
        mine = rows.get("imgpipe", {}).get("median_ms")
        for row in rows.values():
            row["imgpipe_time_ratio"] = round(mine / row["median_ms"], 3) if mine else None
        table[job.name] = rows
    return table


def _targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    timing_table = results["timing"]
    for job in TARGET_JOBS:
        row = timing_table.get(job, {})
        mine, vips = row.get("imgpipe", {}), row.get("libvips", {})
        ratio = (
            round(mine["median_ms"] / vips["median_ms"], 2)
            if "median_ms" in mine and "median_ms" in vips
            else None
        )
        out.append(
            {
                "target": f"job {job}: imgpipe <= 1.0x libvips' time",
                "measured": f"{ratio}x",
                "met": None if ratio is None else ratio <= 1.0,
            }
        )
        speedup = mine.get("speedup_vs_imagemagick")
        out.append(
            {
                "target": f"job {job}: imgpipe >= 4x faster than ImageMagick",
                "measured": f"{speedup}x",
                "met": None if speedup is None else speedup >= 4,
            }
        )
    rss = next(
        (
            m["peak_rss_mb"]
            for m in results["memory"]
            if m.get("engine") == "imgpipe" and m["job"] == "C" and "peak_rss_mb" in m
        ),
        None,
    )
    out.append(
        {
            "target": "job C: imgpipe imaging core peak RSS <= 50 MB",
            "measured": f"{rss} MB",
            "met": None if rss is None else rss <= 50,
        }
    )
    out += coldinit.targets(results["cold_init"])  # on the `bundle, as deployed` scenario
    overhead = results["e2e"].get("overhead_pct")
    out.append(
        {
            "target": "local dynamic fork overhead over pure imaging <= 25% (warm runtime)",
            "measured": f"{overhead}%" if overhead is not None else results["e2e"].get("reason", "n/a"),
            "met": None if overhead is None else overhead <= 25,
        }
    )
    out += cost.default_deployment_targets(results["cost"])
    for row in results["cost"]["configurations"]:
        total = row["usd_per_million"]["total"]
        deployable = "" if row["deployable"] else ", not deployable: the translator marks it Standard-only"
        out.append(
            {
                "target": f"all-in cost <= ${COST_TARGET_USD:.0f} per million images, 9 renditions "
                f"({row['configuration']}{deployable})",
                "measured": f"${total:,.2f}",
                "met": total <= COST_TARGET_USD,
            }
        )
    return out


def _cost_analysis(cost_results: dict[str, Any], split_ms: dict[str, float]) -> list[dict[str, Any]]:
    """Per deployable configuration: where the Lambda compute dollars go (job A's decode/resize/encode
    split, S3 waits) and how fast the imaging would have to be to meet the target."""
    rows = []
    per_rendition = cost_results["imaging_ms_per_rendition"]
    for row in cost_results["configurations"]:
        if not row["deployable"] or "image_convert_resize" not in row["lambda_invocations"]:
            continue
        rows.append(
            {
                "configuration": row["configuration"],
                "lambda_compute_usd_by_phase": cost.compute_breakdown(
                    row, imaging_ms_per_rendition=per_rendition, split_ms=split_ms
                ),
                "imaging_ms_per_rendition_measured": per_rendition,
                "imaging_ms_per_rendition_for_target": {
                    f"{mb or cost.memory_sizes()['image_convert_resize']} MB": cost.imaging_budget_ms(
                        row, target_usd=COST_TARGET_USD, memory_mb=mb
                    )
                    for mb in (None, 512)
                },
            }
        )
    return rows


def _decode_once_notes(rows: dict[str, Any]) -> list[str]:
    """Job E, the default deployment's unit of work, timed in the same interleaved run: imgpipe's
    render-all path against libvips and ImageMagick each decoding once and writing every rendition."""
    medians = {name: rows.get(name, {}).get("median_ms") for name in registry.ONCE}
    mine = medians.get("imgpipe-batch")
    if not mine:
        return []
    parts = [
        f"{name} {ms:,.0f} ms (imgpipe {mine / ms:.2f}x its time)"
        for name, ms in medians.items()
        if ms and ms != mine
    ]
    per_rendition = rows.get("imgpipe", {}).get("median_ms")
    tail = (
        f"; one decode per rendition (the dynamic fork's unit), imgpipe takes {per_rendition:,.0f} ms"
        if per_rendition
        else ""
    )
    head = f"Job E, decode once and write every rendition: imgpipe-batch {mine:,.0f} ms"
    return [f"{head}, {', '.join(parts)}{tail}."]


def _notes(results: dict[str, Any]) -> list[str]:
    notes = []
    for target in results["targets"]:
        if target["met"] is False:
            notes.append(f"Missed: {target['target']} (measured {target['measured']}).")
        elif target["met"] is None:
            notes.append(f"Not measured: {target['target']} ({target['measured']}).")
    for row in results["cost"]["configurations"]:
        usd = row["usd_per_million"]
        parts = ", ".join(f"{k.replace('_', ' ')} ${v:,.2f}" for k, v in usd.items() if k != "total")
        notes.append(f"Cost of {row['configuration']} is made of: {parts}.")
    one = results.get("timing_one_core", {})
    for job in TARGET_JOBS:
        rows = one.get(job, {})
        vips, im = rows.get("libvips", {}), rows.get("imagemagick", {})
        if vips.get("imgpipe_time_ratio") and im.get("imgpipe_time_ratio"):
            notes.append(
                f"On one core (a Lambda of <= 1,769 MB): job {job} imgpipe takes "
                f"{vips['imgpipe_time_ratio']:.2f}x libvips' time and is "
                f"{1 / im['imgpipe_time_ratio']:.2f}x faster than ImageMagick."
            )
    notes += _decode_once_notes(results["timing"].get("E", {}))
    for item in results["cost"].get("analysis", []):
        phases = ", ".join(f"{k} ${v:,.2f}" for k, v in item["lambda_compute_usd_by_phase"].items())
        budgets = ", ".join(
            f"{ms} ms at {size}" if ms is not None else f"unreachable at {size}"
            for size, ms in item["imaging_ms_per_rendition_for_target"].items()
        )
        notes.append(
            f"Lambda compute of {item['configuration']} by phase: {phases}. Imaging time per rendition "
            f"that would meet ${COST_TARGET_USD:.0f}: {budgets} "
            f"(measured {item['imaging_ms_per_rendition_measured']} ms)."
        )
    return notes


def _cost_only(executions: int) -> int:
    """`--only cost`: the default deployment priced from real local uploads, nothing else."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-") as workdir:
        source = Path(workdir) / f"{DEFAULT_DEPLOYMENT_SOURCE}.jpg"
        source.write_bytes(images.SOURCES[DEFAULT_DEPLOYMENT_SOURCE]())
        print(f"default deployment: {executions} real local uploads per configuration ...", flush=True)
        priced = cost.measure_default_deployment(source, executions)
    targets = cost.default_deployment_targets(priced)
    machine = {"cpus": os.cpu_count(), "cpu_model": _cpu_model()}
    results: dict[str, Any] = {"stamp": stamp, "machine": machine, "cost": priced, "targets": targets}
    path = settings.RESULTS_DIR / f"{stamp}-cost.json"
    settings.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    print("\n".join(report.default_deployment_lines(priced)))
    for reason in priced["default_deployment_skipped"]:
        print(f"  skipped: {reason}")
    for target in targets:
        print(f"  [{STATUS[target['met']]}] {target['target']}: {target['measured']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 rounds, fewer repeats: a smoke run (~2 min)")
    parser.add_argument("--rounds", type=int, help="timed rounds per engine and job (default 5, quick 2)")
    parser.add_argument(
        "--engines",
        default="imgpipe,imagemagick,libvips,imgpipe-batch,imagemagick-once,libvips-once,pillow-tuned",
    )
    parser.add_argument("--no-docs", action="store_true", help="write the JSON only")
    parser.add_argument(
        "--only",
        choices=["cost"],
        help="run one part alone: `cost` prices the default deployment (cdk.json as shipped) from real "
        "local executions, printing cost.default_deployment and writing benchmarks/results/<stamp>-cost.json "
        "(no docs, latest.json untouched)",
    )
    parser.add_argument(
        "--cost-executions", type=int, default=6, help="uploads per priced configuration (the first is cold)"
    )
    args = parser.parse_args(argv)
    if args.only == "cost":
        return _cost_only(args.cost_executions)
    rounds = args.rounds or (2 if args.quick else 5)
    repeats = 2 if args.quick else 5
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    print("generating images ...", flush=True)
    sources = {name: make() for name, make in images.SOURCES.items()}
    engines, engine_info = _engines(args.engines.split(","))
    print(f"timing {len(engines)} engines x {len(JOBS)} jobs x {rounds} rounds ...", flush=True)
    samples = timing.run_interleaved(engines, list(JOBS.values()), sources, rounds=rounds, warmup=1)
    results: dict[str, Any] = {
        "stamp": stamp,
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "python": platform.python_version(),
            "pillow": PIL.__version__,
            "platform": platform.platform(),
        },
        "config": {"rounds": rounds, "warmup": 1, "quick": args.quick, "seed": images.DEFAULT_SEED},
        "jobs": {job.name: job.description for job in JOBS.values()},
        "engines": engine_info,
        "timing": _timing_table(samples, sources),
    }
    print("timing on one core (as on a Lambda of <= 1,769 MB) ...", flush=True)
    results["timing_one_core"] = _one_core_table(engines, sources, rounds)
    print("profiling decode/resize/encode ...", flush=True)
    results["profile"] = {
        job.name: pillow_prototype.profile(sources[job.source], job.renditions, tuned=True, repeats=repeats)
        for job in JOBS.values()
    }
    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-") as workdir:
        files = {}
        for name, data in sources.items():
            files[name] = Path(workdir) / f"{name}.{'png' if name.startswith('png') else 'jpg'}"
            files[name].write_bytes(data)
        print("peak RSS in fresh processes ...", flush=True)
        results["memory"] = [
            memory.measure(engine.name, job.name, files[job.source])
            for job in JOBS.values()
            for engine in engines
            if engine.name not in registry.NOT_MEMORY_MEASURED
        ]
        # What a Lambda really holds: handler, validation and the boto3 S3 client on top of the core.
        results["memory"] += [
            memory.measure("imgpipe-handler", job.name, files[job.source]) for job in JOBS.values()
        ]
        print("peak RSS at the configured caps, every accepted format ...", flush=True)
        results["memory_caps"] = memory.measure_caps(Path(workdir))
        print("manifest and smart crop, per source ...", flush=True)
        results["manifest_smartcrop"] = manifest_smartcrop.measure(rounds)
        print("cold init ...", flush=True)
        results["cold_init"] = coldinit.measure_all(repeats)
        imaging_ms = results["timing"].get("A", {}).get("imgpipe", {}).get("median_ms")
        print("local end-to-end ...", flush=True)
        results["e2e"] = e2e.measure(files["png900"], imaging_ms, repeats=2 if args.quick else 3)
        print("cost-model executions ...", flush=True)
        upload_run = e2e.counts(files["png900"], e2e.UPLOAD_WORKFLOW)
        print("default deployment: real local uploads ...", flush=True)
        deployment_cost = cost.measure_default_deployment(
            files[DEFAULT_DEPLOYMENT_SOURCE], args.cost_executions
        )
    renditions = len(JOBS["A"].renditions)
    per_rendition_ms = (imaging_ms or 0.0) / renditions
    executions = []
    if results["e2e"].get("status") == "measured":
        fork = {
            "transitions": results["e2e"]["transitions"],
            "stateAttempts": results["e2e"]["state_attempts"],
            "durationMs": results["e2e"]["median_duration_ms"],
        }
        executions.append(cost.execution_from_run(e2e.WORKFLOW, fork))
    if upload_run.get("status") == "measured":
        executions.append(cost.execution_from_run(e2e.UPLOAD_WORKFLOW, upload_run))
    results["cost"] = {
        "model": cost.model_inputs(),
        "imaging_ms_per_rendition": round(per_rendition_ms, 1),
        "configurations": cost.configurations(
            executions, imaging_ms_per_rendition=per_rendition_ms, renditions=renditions
        ),
        "skipped": [r["reason"] for r in (results["e2e"], upload_run) if r.get("status") != "measured"],
        **deployment_cost,
    }
    results["cost"]["analysis"] = _cost_analysis(results["cost"], results["profile"].get("A", {}))
    results["targets"] = _targets(results)
    results["notes"] = _notes(results)
    for path in report.write_json(results, stamp):
        print(f"wrote {path}")
    if not args.no_docs:
        print(f"wrote {report.write_docs(results)}")
    for target in results["targets"]:
        print(f"  [{STATUS[target['met']]}] {target['target']}: {target['measured']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
