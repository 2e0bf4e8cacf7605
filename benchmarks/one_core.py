"""The same engines confined to one CPU, as each rendition runs on Lambda.

A resize function at or under 1,769 MB gets at most one vCPU (imgpipe's is 1,024 MB), so libvips'
and ImageMagick's worker threads, which use both cores of this machine in the default run, have no
second core there. This pass pins the whole benchmark process (and the `convert` children, which
inherit the affinity) to one CPU and tells the engines to use one thread, so the comparison is the
one a Lambda sees. It is reported beside the default run, not instead of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

# ImageMagick 6 reads both (its own resource limit and OpenMP's).
_THREAD_ENV = {"MAGICK_THREAD_LIMIT": "1", "OMP_NUM_THREADS": "1"}


@contextmanager
def single_core() -> Iterator[int]:
    """Pin this process to one CPU and the engines to one thread; yields the CPU used."""
    previous_affinity = os.sched_getaffinity(0)
    cpu = min(previous_affinity)
    previous_env = {key: os.environ.get(key) for key in _THREAD_ENV}
    vips_previous = _vips_concurrency(1)
    os.sched_setaffinity(0, {cpu})
    os.environ.update(_THREAD_ENV)
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, previous_affinity)
        for key, value in previous_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if vips_previous is not None:
            _vips_concurrency(vips_previous)


def _vips_concurrency(threads: int) -> int | None:
    """Set libvips' worker-thread count; returns the previous one (None without pyvips)."""
    try:
        import pyvips
    except (ImportError, OSError):
        return None
    previous = int(pyvips.concurrency_get())
    pyvips.concurrency_set(threads)
    return previous
