"""The values of the caps on untrusted input and on what one call may produce, written once.

`lambdas.settings` binds each to its environment variable (with its bounds and meaning), which
`imgpipe.config.DeploymentConfig` takes its cdk.json defaults from; `DecodeLimits` (Pillow- and
pydantic-free, for the core and the benchmarks) starts from the same values.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SOURCE_BYTES = 50 * 1024 * 1024
# Pillow's own DecompressionBombWarning threshold (its default MAX_IMAGE_PIXELS, 89,478,485): by
# default every image Pillow would warn about is refused, i.e. bomb warnings are errors. Raising the cap
# (up to PILLOW_HARD_PIXEL_LIMIT) is a deployer's explicit choice. Also the budget of
# width * height * frames of an animation (docs/workers.md, "Decoding").
MAX_SOURCE_PIXELS = 89_478_485
MAX_FRAMES = 200
MAX_OUTPUT_DIMENSION = 8192
MAX_FANOUT = 50
# Step Functions: "Maximum input or output size for a task, state, or execution: 256 KiB of data as a
# UTF-8 encoded string" (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html);
# SendTaskSuccess's output has the same bound ("Maximum length of 262144", its API reference page).
STATE_PAYLOAD_BYTES = 256 * 1024
# The resize function's memory (cdk.json `imgpipe:memorySize`), and what a worker assumes when its
# environment has no AWS_LAMBDA_FUNCTION_MEMORY_SIZE (tests, the benchmark): the memory model
# (lambdas/core/memory_model.py) checks every source against it before decoding.
RESIZE_MEMORY_MB = 1024

# Pillow refuses any image over twice its MAX_IMAGE_PIXELS (89,478,485 by default, never changed by
# the project) with DecompressionBombError while opening, before the project's own checks: a
# configured MAX_SOURCE_PIXELS above this could never be reached, so settings refuse it.
PILLOW_HARD_PIXEL_LIMIT = 2 * (1024 * 1024 * 1024 // 4 // 3)


@dataclass(frozen=True)
class DecodeLimits:
    """Caps on one untrusted source (MAX_SOURCE_BYTES, MAX_SOURCE_PIXELS, MAX_FRAMES) and the memory
    of the function decoding it. Pillow-free, so the planner's settings can build it without importing
    Pillow at cold start."""

    max_bytes: int = MAX_SOURCE_BYTES
    max_pixels: int = MAX_SOURCE_PIXELS
    max_frames: int = MAX_FRAMES
    memory_mb: int = RESIZE_MEMORY_MB
