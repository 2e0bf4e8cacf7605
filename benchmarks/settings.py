"""Encoder settings shared by every engine, so that speed is compared at comparable quality.

Each engine maps these onto its own knobs (see `engines.py`); docs/performance.md lists the mapping.
"""

from __future__ import annotations

from pathlib import Path

JPEG_QUALITY = 85
# imgpipe writes progressive JPEGs with optimised Huffman tables (smaller, render early on the web);
# the other engines are configured the same way (ImageMagick `-interlace Plane` + optimize-coding,
# libvips `interlace` + `optimize_coding`) so that JPEG timings compare the same output kind.
JPEG_PROGRESSIVE = True
WEBP_QUALITY = 80
WEBP_EFFORT = 4  # Pillow `method`, libvips `effort`, ImageMagick `webp:method`: all default to 4
AVIF_QUALITY = 60
# libaom cpu-used 6 everywhere: Pillow `speed=6`, libvips `effort=3` (cpu-used = 9 - effort),
# ImageMagick/libheif `heic:speed=6`.
AVIF_SPEED = 6
PNG_COMPRESSION = 6  # zlib level; the default of Pillow and libvips
# imgpipe additionally uses zlib's Z_RLE strategy (lambdas.core.imaging.PNG_COMPRESS_TYPE): an
# imgpipe choice, not a shared setting; libvips cannot select a zlib strategy, so the others keep
# their default strategy. Output bytes are reported per engine so the trade is visible.
# Adaptive per-row filtering, what Pillow and ImageMagick do by default. libvips defaults to no
# filter (faster, ~50% larger files on photos), so it is set to "all" to compare like with like.
PNG_ADAPTIVE_FILTER = True
GIF_COLOURS = 256

# The real ImageMagick from Debian's `imagemagick` package (IM 6 provides convert, IM 7 magick).
# Never `command -v convert`: a stand-in may shadow it on PATH.
IMAGEMAGICK_CANDIDATES = (Path("/usr/bin/magick"), Path("/usr/bin/convert"))

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
DOCS_DIR = REPO_ROOT / "docs"
