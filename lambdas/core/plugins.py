"""Which Pillow format plugins are loaded, and when: only the ones an image actually needs.

`Image.open(formats=...)` and `Image.save(format=...)` call `Image.init()`, which imports every
Pillow plugin (about 45, including the AVIF, WebP and TIFF codecs), as soon as a requested format is
not registered yet. That costs cold-start time and several MB of resident memory per process. Pillow
registers BMP, GIF, JPEG, PNG (and PPM) on its own (`Image.preinit`); the other allowed plugins are
imported here on demand, decided from the file signature (reading) or the output format (writing).
HEIF/HEIC is no Pillow plugin: pi-heif registers one (`register_heif_opener`) the first time a HEIF
signature arrives; without pi-heif installed, HEIF is simply not a candidate (unsupported).
"""

from __future__ import annotations

import importlib
from functools import cache

from PIL import Image

# Plugins Pillow's preinit() does not load; the module registers the format when imported.
_LAZY_PLUGIN_MODULES = {
    "WEBP": "PIL.WebPImagePlugin",
    "AVIF": "PIL.AvifImagePlugin",
    "TIFF": "PIL.TiffImagePlugin",
}
_ALWAYS_REGISTERED = ("JPEG", "PNG", "GIF", "BMP")
# ISO-BMFF major brands of HEIF images and sequences, as pi-heif's own `_accept` lists them.
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)


@cache
def _heif_registered() -> bool:
    """Register pi-heif's HEIF opener once; False when pi-heif is not installed."""
    try:
        from pi_heif import register_heif_opener  # libheif + libde265 decoder only (LGPL, no encoder)
    except ImportError:
        return False
    # The primary image only: thumbnails, depth and auxiliary images are neither parsed nor kept.
    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return True


def ensure_plugin(pil_format: str) -> None:
    """Register the plugin of `pil_format` (idempotent) so Pillow does not fall back to init()."""
    Image.preinit()
    if pil_format.upper() == "HEIF":
        _heif_registered()
        return
    module = _LAZY_PLUGIN_MODULES.get(pil_format.upper())
    if module is not None:
        importlib.import_module(module)


def _signature_formats(prefix: bytes) -> tuple[str, ...]:
    """Lazy-plugin formats this prefix could be; Pillow's own `_accept` checks still decide."""
    formats = []
    if prefix[:4] == b"RIFF" and prefix[8:12] == b"WEBP":
        formats.append("WEBP")
    if prefix[4:8] == b"ftyp":
        formats.append("AVIF")
        if prefix[8:12] in _HEIF_BRANDS and _heif_registered():
            formats.append("HEIF")
    if prefix[:2] in (b"MM", b"II"):
        formats.append("TIFF")
    return tuple(formats)


# Magic numbers from each format's specification (as Pillow's plugins check them in `_accept`).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"BM", "BMP"),
)
# ISO-BMFF brands that make an ftyp box AVIF (among the major and compatible brands); otherwise a
# HEIF major brand (heic, mif1, ...) makes it HEIF.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
SIGNATURE_BYTES = 64  # enough for an ftyp box with a dozen compatible brands


def claimed_format(head: bytes) -> str | None:
    """The format whose signature `head` (the first SIGNATURE_BYTES) carries, decodable or not: a
    file that claims an allowed format but does not open is corrupt, not unsupported."""
    for signature, fmt in _SIGNATURES:
        if head.startswith(signature):
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        box_end = min(int.from_bytes(head[:4], "big"), len(head))
        brands = {head[offset : offset + 4] for offset in range(16, box_end - 3, 4)} | {head[8:12]}
        if brands & _AVIF_BRANDS:
            return "AVIF"
        if head[8:12] in _HEIF_BRANDS:
            return "HEIF"
    return None


def candidate_formats(prefix: bytes, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The allowed formats worth trying for these leading bytes, with their plugins registered."""
    signature_formats = _signature_formats(prefix)
    wanted = [fmt for fmt in allowed if fmt in _ALWAYS_REGISTERED or fmt in signature_formats]
    for fmt in wanted:
        ensure_plugin(fmt)
    return tuple(wanted)
