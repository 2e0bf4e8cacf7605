"""Interleaved timing: every round runs every engine on every job, rotating the engine order, so
that drift (thermal, page cache, noisy neighbours) hits all engines alike."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from benchmarks.engines import Engine
from benchmarks.jobs import Job


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    outputs: list[bytes] = field(default_factory=list)
    error: str | None = None

    def summary(self) -> dict[str, float | int]:
        ms = [s * 1000 for s in self.seconds]
        return {
            "rounds": len(ms),
            "median_ms": round(statistics.median(ms), 2),
            "min_ms": round(min(ms), 2),
            "max_ms": round(max(ms), 2),
        }


def run_interleaved(
    engines: Sequence[Engine], jobs: Sequence[Job], sources: dict[str, bytes], rounds: int, warmup: int = 1
) -> dict[tuple[str, str], Samples]:
    """Time each (engine, job): `warmup` untimed rounds, then `rounds` timed ones, interleaved."""
    samples = {(engine.name, job.name): Samples() for engine in engines for job in jobs}
    for round_index in range(warmup + rounds):
        for job in jobs:
            shift = round_index % len(engines)
            for engine in [*engines[shift:], *engines[:shift]]:
                sample = samples[(engine.name, job.name)]
                if sample.error:
                    continue
                source = sources[job.source]
                gc.collect()
                started = time.perf_counter()
                try:
                    outputs = engine.render(source, job.renditions)
                except Exception as error:  # reported per engine, never hides other engines' numbers
                    sample.error = f"{type(error).__name__}: {error}"
                    continue
                elapsed = time.perf_counter() - started
                if round_index >= warmup:
                    sample.seconds.append(elapsed)
                sample.outputs = outputs
    return samples
