"""The memory model (lambdas/core/memory_model.py), the per-format caps it derives, and the workers'
refusal, before decoding, of a source whose header says it would not fit the function."""

from __future__ import annotations

import io
import math
import resource
import struct
import tracemalloc
import zlib
from dataclasses import replace

import pytest
from PIL import Image

from imgpipe.config import DeploymentConfig
from lambdas.core import limits, memory_model
from lambdas.core.decode import DecodeLimits, check_memory, open_untrusted, source_header
from lambdas.core.errors import ImageTooLargeError
from lambdas.core.imaging import load_source, render_bytes
from lambdas.core.memory_model import MIB, REFERENCE_SOURCES, SourceHeader, estimate
from lambdas.core.recipe import normalised_recipe
from lambdas.settings import ResizeSettings
from tests.support import images
from tests.support.worker_settings import settings_from

WEBP_1200 = normalised_recipe("webp", 1200, 1200, fit="contain")
JPEG_300 = normalised_recipe("jpg", 300, 300, fit="contain")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def flat_rgba_png(width: int, height: int) -> bytes:
    """A real, fully decodable RGBA PNG of `width` x `height` transparent pixels, compressed row by
    row so the test never holds the raw image: a few hundred KB that decode to width*height*4."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    row = b"\x00" + bytes(width * 4)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")


def _u24(value: int) -> bytes:
    return value.to_bytes(3, "little")


def webp_one_pixel_on_a_huge_canvas(width: int, height: int) -> bytes:
    """A valid extended WebP (VP8X + ANIM + one ANMF frame of 1x1 pixel) whose canvas is `width` x
    `height`: libwebp composites the frame onto a canvas it allocates at full size."""
    buffer = io.BytesIO()
    Image.new("RGBA", (1, 1), (255, 0, 0, 255)).save(buffer, "WEBP", lossless=True)
    frame_bitstream = buffer.getvalue()[12:]  # the VP8L chunk, header included
    vp8x = bytes([0x12, 0, 0, 0]) + _u24(width - 1) + _u24(height - 1)  # animation + alpha flags
    anim = bytes(4) + struct.pack("<H", 0)
    anmf = _u24(0) + _u24(0) + _u24(0) + _u24(0) + _u24(100) + b"\x00" + frame_bitstream
    body = b"WEBP" + _riff_chunk(b"VP8X", vp8x) + _riff_chunk(b"ANIM", anim) + _riff_chunk(b"ANMF", anmf)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def jpeg_declaring(width: int, height: int, *, progressive: bool) -> bytes:
    """A small JPEG whose frame header (SOF) is patched to declare `width` x `height`."""
    data = bytearray(images.encode(images.photo(64, 48), "JPEG", quality=80, progressive=progressive))
    marker = data.index(b"\xff\xc2" if progressive else b"\xff\xc0")
    struct.pack_into(">HH", data, marker + 5, height, width)
    return bytes(data)


def test_pillow_stores_rgb_in_four_bytes_and_16_bit_grey_in_two() -> None:
    assert [
        memory_model.bytes_per_pixel(m) for m in ("L", "P", "1", "I;16", "RGB", "RGBA", "LA", "CMYK")
    ] == [
        1,
        1,
        1,
        2,
        4,
        4,
        4,
        4,
    ]
    assert Image.new("RGB", (100, 100)).getbbox() is None  # sanity: Pillow is the real one


def test_webp_decoding_holds_libwebp_canvas_and_frame_bytes_beside_the_image() -> None:
    webp = replace(REFERENCE_SOURCES["WebP"], width=4000, height=4000, transposed=False, has_icc=False)
    png = replace(REFERENCE_SOURCES["PNG RGBA"], width=4000, height=4000, transposed=False, has_icc=False)
    scratch = memory_model.SCRATCH_BYTES
    assert estimate(webp).stages["decode"] == 4000 * 4000 * 16 + scratch  # measured 16 B/px in all
    assert estimate(png).stages["decode"] == 4000 * 4000 * 4 + scratch
    assert estimate(webp, [WEBP_1200]).peak_bytes > 3 * estimate(png, [WEBP_1200]).peak_bytes / 2


def test_jpeg_draft_decoding_shrinks_the_decode_unless_a_recipe_upscales() -> None:
    jpeg = SourceHeader("JPEG", 9459, 9459, "RGB", transposed=False, progressive=False, alpha=False)
    assert memory_model.draft_scale(jpeg, memory_model.draft_boxes_of([WEBP_1200])) == 4
    assert memory_model.draft_scale(jpeg, memory_model.draft_boxes_of([JPEG_300])) == 8
    upscaling = replace(WEBP_1200, upscale=True)
    assert memory_model.draft_scale(jpeg, memory_model.draft_boxes_of([upscaling, JPEG_300])) == 1
    drafted = estimate(jpeg, [WEBP_1200]).stages["decode"]
    assert drafted == ((9459 + 3) // 4) ** 2 * 4 + memory_model.SCRATCH_BYTES
    assert estimate(jpeg, [upscaling]).stages["decode"] == 9459 * 9459 * 4 + memory_model.SCRATCH_BYTES


def test_progressive_jpeg_keeps_every_coefficient_of_the_full_image_whatever_the_draft() -> None:
    baseline = SourceHeader("JPEG", 8000, 8000, "RGB", progressive=False, samples_per_pixel=1.5)
    progressive = replace(baseline, progressive=True)
    extra = (
        estimate(progressive, [WEBP_1200]).stages["decode"] - estimate(baseline, [WEBP_1200]).stages["decode"]
    )
    assert extra == 8000 * 8000 * 1.5 * 2  # 4:2:0: 1.5 samples per pixel, 2 bytes per coefficient


def test_an_animation_costs_every_rendered_frame_on_top_of_one_canvas() -> None:
    short = SourceHeader("GIF", 600, 600, "P", frames=10, has_icc=False)
    long = replace(short, frames=100)
    difference = estimate(long, [WEBP_1200]).peak_bytes - estimate(short, [WEBP_1200]).peak_bytes
    assert difference == 90 * 600 * 600 * 5  # each kept RGBA output frame + its share of bitstream
    still_output = normalised_recipe("png", 1200, 1200, fit="contain")  # PNG renders frame 0 only
    assert estimate(long, [still_output]).peak_bytes == estimate(short, [still_output]).peak_bytes


def test_decode_once_holds_the_source_and_one_rendition_at_a_time() -> None:
    source = replace(REFERENCE_SOURCES["PNG RGB"], width=6000, height=4000)
    one = estimate(source, [WEBP_1200])
    three = estimate(source, [WEBP_1200, JPEG_300, WEBP_1200])
    assert three.peak_bytes == one.peak_bytes  # sequential: the largest rendition decides
    assert len([stage for stage in three.stages if stage.startswith("render")]) == 3


def test_per_format_caps_at_the_deployed_memory() -> None:
    config = DeploymentConfig.from_cdk_json()
    memory_mb = config.memorySize["image_convert_resize"]
    recipes = config.default_recipes()
    caps = {}
    for name, reference in REFERENCE_SOURCES.items():
        header = replace(reference, source_bytes=config.maxSourceBytes)
        cap = max(
            memory_model.largest_fitting_pixels(header, [r], memory_mb, upper=config.maxSourcePixels)
            for r in recipes[:1]
        )
        caps[name] = cap
        side = int(cap**0.5)
        assert memory_model.fits(replace(header, width=side, height=side), recipes[:1], memory_mb)
        if side < math.isqrt(config.maxSourcePixels):  # below the configured cap: the model decided
            bigger = replace(header, width=side + 2, height=side + 2)
            assert not memory_model.fits(bigger, recipes[:1], memory_mb)
    # JPEG reaches the configured cap thanks to draft decoding; WebP (4 copies) and AVIF do not.
    assert caps["JPEG (baseline, 4:2:0)"] >= config.maxSourcePixels - 2 * 9459
    assert caps["JPEG (progressive, 4:4:4)"] >= config.maxSourcePixels - 2 * 9459
    assert caps["WebP"] < caps["PNG RGBA"] < caps["PNG RGB"] < caps["JPEG (baseline, 4:2:0)"]
    assert 30_000_000 < caps["WebP"] < 50_000_000


def test_the_usable_share_is_the_memory_less_margin_and_baseline() -> None:
    usable = memory_model.usable_bytes(1024)
    assert usable == int(1024 * MIB * 0.9) - memory_model.HANDLER_BASELINE_MB * MIB
    header = replace(REFERENCE_SOURCES["WebP"], width=5000, height=5000)
    needed = memory_model.memory_needed_mb(header, [WEBP_1200])
    assert memory_model.fits(header, [WEBP_1200], needed)
    assert not memory_model.fits(header, [WEBP_1200], needed - 1)


def test_header_facts_come_from_pillow_without_decoding() -> None:
    image = open_untrusted(jpeg_declaring(9000, 7000, progressive=True), DecodeLimits())
    header = source_header(image, 1234, orientation=1)
    assert (header.format, header.width, header.height, header.mode) == ("JPEG", 9000, 7000, "RGB")
    assert header.progressive
    assert header.samples_per_pixel == 1.5
    assert not header.transposed
    assert header.source_bytes == 1234
    rgba = source_header(open_untrusted(images.rgba_png(), DecodeLimits()), 1)
    assert rgba.alpha
    assert rgba.transposed


def test_a_jpeg_at_the_pixel_cap_passes_the_memory_check() -> None:
    side = int(limits.MAX_SOURCE_PIXELS**0.5)
    image = open_untrusted(jpeg_declaring(side, side, progressive=True), DecodeLimits())
    estimate_ = check_memory(image, 50 * MIB, DecodeLimits(), [WEBP_1200], orientation=6)
    assert estimate_.peak_bytes <= memory_model.usable_bytes(limits.RESIZE_MEMORY_MB)


@pytest.mark.parametrize("recipe", [WEBP_1200, JPEG_300])
def test_a_small_webp_declaring_a_huge_canvas_is_refused_before_decoding(recipe) -> None:
    data = webp_one_pixel_on_a_huge_canvas(9000, 9000)  # 81 MP, under the pixel cap: ~1.2 GB to decode
    assert len(data) < 100
    with pytest.raises(ImageTooLargeError) as caught:
        render_bytes(data, recipe, DecodeLimits())
    message = str(caught.value)
    assert caught.value.field == "fileLocation"
    assert "9000x9000" in message
    assert "WEBP" in message
    assert "imgpipe:memorySize" in message
    assert "imgpipe:maxSourcePixels" in message
    assert "1,024 MB function" in message


def test_an_over_cap_png_is_refused_without_a_large_allocation() -> None:
    data = flat_rgba_png(9000, 9000)  # 81 MP RGBA: 324 MB decoded, twice that premultiplied
    assert len(data) < 2 * MIB
    tracemalloc.start()
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageTooLargeError, match="RGBA PNG"):
        render_bytes(data, WEBP_1200, DecodeLimits())
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert grown_kb < 100 * 1024  # the decoded image alone would be 324 MB
    assert python_peak < 20 * MIB


def test_the_same_png_renders_on_a_function_with_enough_memory() -> None:
    data = flat_rgba_png(3000, 2000)
    needed = memory_model.memory_needed_mb(
        source_header(open_untrusted(data, DecodeLimits()), len(data)), [WEBP_1200]
    )
    with pytest.raises(ImageTooLargeError):
        load_source(data, DecodeLimits(memory_mb=needed - 1), recipes=[WEBP_1200])
    assert render_bytes(data, WEBP_1200, DecodeLimits(memory_mb=needed)).width == 1200


def test_workers_read_their_memory_from_lambdas_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(ResizeSettings, {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048"}, monkeypatch)
    assert settings.decode_limits().memory_mb == 2048
    assert settings_from(ResizeSettings, {}, monkeypatch).decode_limits().memory_mb == limits.RESIZE_MEMORY_MB
    assert DeploymentConfig.model_validate({}).memorySize["image_convert_resize"] == limits.RESIZE_MEMORY_MB


def test_a_decode_that_fits_is_not_refused(tmp_path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (2000, 1500), (10, 20, 30)).save(buffer, "WEBP")
    assert render_bytes(buffer.getvalue(), WEBP_1200, DecodeLimits(memory_mb=256)).width == 1200


def test_a_broken_memory_variable_is_named_as_lambda_spells_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdas.core.errors import InvalidRecipeError

    with pytest.raises(InvalidRecipeError, match=r"environment\.AWS_LAMBDA_FUNCTION_MEMORY_SIZE"):
        settings_from(ResizeSettings, {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}, monkeypatch)


def test_an_upscaled_animation_is_refused_before_any_frame_is_decoded() -> None:
    data = images.animated("GIF", width=100, height=100, frames=20)
    huge = normalised_recipe("webp", 8192, 8192, fit="contain", upscale=True)
    assert render_bytes(data, replace(huge, width=200, height=200), DecodeLimits()).frames == 20
    with pytest.raises(ImageTooLargeError, match="GIF of 20 frames"):
        render_bytes(data, huge, DecodeLimits())  # 20 kept frames of 67 MP: about 6.7 GB


def test_decode_once_checks_every_rendition_it_will_render() -> None:
    data = images.jpeg_photo(800, 600)
    small = normalised_recipe("jpg", 300, 300, fit="contain")
    poster = normalised_recipe("avif", 8192, 8192, fit="fill")  # padded to the whole box, AVIF encoder
    assert load_source(data, DecodeLimits(), recipes=[small]).size == (800, 600)
    with pytest.raises(ImageTooLargeError, match=r"render 2 \(avif 8192x8192\)"):
        load_source(data, DecodeLimits(), recipes=[small, poster])


@pytest.mark.parametrize(
    ("chroma", "samples"),
    [(420, 1.5), (444, 3.0)],
)
def test_a_heif_header_gives_its_chroma_and_bit_depth_without_decoding(chroma: int, samples: float) -> None:
    from tests.support.pixels import heic

    data = heic(images.photo(320, 240), chroma=chroma)
    image = open_untrusted(data, DecodeLimits())
    header = source_header(image, len(data), orientation=1)
    assert (header.format, header.width, header.height, header.mode) == ("HEIF", 320, 240, "RGB")
    assert (header.samples_per_pixel, header.bit_depth) == (samples, 8)
    assert not header.transposed  # pi-heif applies the container's rotation itself


def test_heif_decoding_holds_libheif_planes_and_output_beside_the_image() -> None:
    # Measured beyond Pillow's 4 B/px (fresh process): 8-bit 4:2:0 3.0, 8-bit 4:4:4 5.0, 10-bit
    # 4:2:0 3.5, 10-bit 4:4:4 11.0, alpha +1.0 at 8 bits, +5.5 above; nothing held after the decode.
    side = 4000
    pixels = side * side
    phone = replace(REFERENCE_SOURCES["HEIF (8-bit 4:2:0, iPhone)"], width=side, height=side, has_icc=False)
    SCRATCH = memory_model.SCRATCH_BYTES
    assert estimate(phone).stages["decode"] == SCRATCH + pixels * (4 + 3)
    assert estimate(replace(phone, samples_per_pixel=3.0)).stages["decode"] == SCRATCH + pixels * (4 + 5)
    assert estimate(replace(phone, bit_depth=10)).stages["decode"] == SCRATCH + pixels * (4 + 3.5)
    worst = replace(phone, bit_depth=10, samples_per_pixel=3.0, mode="RGBA", alpha=True)
    assert estimate(worst).stages["decode"] == SCRATCH + pixels * (4 + 11 + 5.5)
    assert estimate(replace(phone, mode="RGBA", alpha=True)).stages["decode"] == SCRATCH + pixels * (
        4 + 3 + 1
    )
    # held afterwards: only Pillow's image (upright, untagged: the opened image itself)
    assert estimate(phone).stages["convert"] == SCRATCH + pixels * 4
    # an unknown header is the worst case
    assert estimate(SourceHeader("HEIF", side, side, "RGBA")).stages["decode"] == SCRATCH + pixels * (
        4 + 11 + 5.5
    )


def test_an_iphone_heic_at_its_largest_fits_the_deployed_functions() -> None:
    config = DeploymentConfig.from_cdk_json()
    phone = replace(
        REFERENCE_SOURCES["HEIF (8-bit 4:2:0, iPhone)"],
        width=8064,
        height=6048,
        source_bytes=config.maxSourceBytes,
    )
    assert phone.pixels == memory_model.HEIF_PHONE_PIXELS
    for task in ("image_convert_resize", "image_render_renditions"):
        assert memory_model.fits(phone, config.default_recipes(), config.memorySize[task])
    assert not memory_model.fits(phone, config.default_recipes(), 512)
