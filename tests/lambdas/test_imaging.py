"""The imaging core on generated images: every output is decoded and checked."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from PIL import Image

from lambdas.core.imaging import load_source, plan_geometry, render, render_bytes
from lambdas.core.recipe import OUTPUT_FORMATS, Recipe
from tests.support import images
from tests.support.images import decode, frame_count, px

LOSSY = {"jpeg", "webp", "avif"}


def recipe(fmt: str = "png", width: int = 300, height: int = 300, **options: Any) -> Recipe:
    quality = options.pop("quality", 80 if fmt in LOSSY else None)
    return Recipe(
        format=fmt, width=width, height=height, fit=options.pop("fit", "contain"), quality=quality, **options
    )


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


@pytest.mark.parametrize("fmt", sorted(OUTPUT_FORMATS))
def test_every_output_format_decodes_with_the_reported_size_and_type(fmt: str) -> None:
    rendered = render_bytes(images.jpeg_photo(640, 480), recipe(fmt, 300, 300))
    image = decode(rendered.data)
    assert image.format == OUTPUT_FORMATS[fmt].pil_format
    assert image.size == (rendered.width, rendered.height) == (300, 225)
    assert rendered.content_type == OUTPUT_FORMATS[fmt].content_type
    assert rendered.format == fmt


@pytest.mark.parametrize("fmt", sorted(OUTPUT_FORMATS))
def test_outputs_are_deterministic(fmt: str) -> None:
    source = images.rgba_png(300, 200)
    first = render_bytes(source, recipe(fmt, 120, 120, fit="cover"))
    second = render_bytes(source, recipe(fmt, 120, 120, fit="cover"))
    assert first.data == second.data


def test_exif_orientation_6_is_applied_and_metadata_stripped() -> None:
    rendered = render_bytes(images.jpeg_with_orientation(640, 480, orientation=6), recipe("jpeg", 320, 320))
    image = decode(rendered.data)
    assert image.size == (240, 320)  # displayed portrait: 480x640 scaled by 0.5
    # Orientation 6 = rotate 90 degrees clockwise: the stored top-left marker ends up top-right.
    assert near(px(image, (image.width - 4, 4)), images.MARKER)
    assert not near(px(image, (4, 4)), images.MARKER)
    exif = image.getexif()
    assert 0x0112 not in exif
    assert 0x010F not in exif
    assert "icc_profile" not in image.info


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_gives_the_displayed_size(orientation: int) -> None:
    rendered = render_bytes(images.jpeg_with_orientation(200, 100, orientation), recipe("png", 1000, 1000))
    expected = (100, 200) if orientation in (5, 6, 7, 8) else (200, 100)
    assert decode(rendered.data).size == expected


def test_keep_metadata_keeps_exif_with_orientation_reset_and_embeds_srgb() -> None:
    rendered = render_bytes(
        images.jpeg_with_orientation(640, 480, 6), recipe("jpeg", 320, 320, strip_metadata=False)
    )
    image = decode(rendered.data)
    exif = image.getexif()
    assert exif.get(0x010F) == "imgpipe-test-camera"
    assert exif.get(0x0112) == 1  # already rotated; a viewer must not rotate again
    assert image.info.get("icc_profile")
    assert image.size == (240, 320)


def test_rgba_png_keeps_alpha_in_png_and_webp() -> None:
    for fmt in ("png", "webp"):
        image = decode(render_bytes(images.rgba_png(300, 200), recipe(fmt, 150, 150)).data)
        assert image.mode == "RGBA"
        assert image.size == (150, 100)
        assert px(image, (75, 50))[3] == 255
        assert px(image, (2, 98))[3] == 0


def test_rgba_flattened_into_jpeg_over_the_background() -> None:
    image = decode(
        render_bytes(images.rgba_png(300, 200), recipe("jpeg", 150, 150, background="#00ff00")).data
    )
    assert image.mode == "RGB"
    assert near(px(image, (2, 98)), (0, 255, 0))  # transparent corner -> background
    assert near(px(image, (75, 50)), (0, 0, 255))  # opaque centre unchanged


def test_palette_gif_transparency_survives() -> None:
    png = decode(render_bytes(images.palette_gif_transparent(120, 80), recipe("png", 60, 60)).data)
    assert png.mode == "RGBA"
    assert px(png, (0, 0))[3] == 0
    assert px(png, (30, 20)) == (255, 0, 0, 255)
    gif = decode(render_bytes(images.palette_gif_transparent(120, 80), recipe("gif", 60, 60)).data)
    assert gif.mode == "P"
    rgba = gif.convert("RGBA")
    assert px(rgba, (0, 0))[3] == 0
    assert px(rgba, (30, 20)) == (255, 0, 0, 255)


@pytest.mark.parametrize("source_format", ["GIF", "WEBP"])
@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_animation_is_kept_when_the_output_can_hold_it(source_format: str, fmt: str) -> None:
    rendered = render_bytes(images.animated(source_format, 160, 120, frames=5), recipe(fmt, 80, 80))
    assert rendered.frames == 5
    image = decode(rendered.data)
    assert frame_count(image) == 5
    durations, colours = [], []
    for index in range(frame_count(image)):
        image.seek(index)
        image.load()
        durations.append(image.info.get("duration"))
        colours.append(px(image.convert("RGB"), (40, 30)))
    assert image.size == (80, 60)
    assert durations == [40, 50, 60, 70, 80]
    for colour, expected in zip(colours, images.FRAME_COLOURS, strict=True):
        assert near(colour, expected, 8)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "avif"])
def test_animation_becomes_the_first_frame_otherwise(fmt: str) -> None:
    rendered = render_bytes(images.animated("GIF", 160, 120, frames=5), recipe(fmt, 80, 80))
    image = decode(rendered.data)
    assert rendered.frames == 1
    assert getattr(image, "n_frames", 1) == 1
    assert near(px(image.convert("RGB"), (40, 30)), images.FRAME_COLOURS[0], 12)


def test_cmyk_jpeg_becomes_rgb_with_the_right_colours() -> None:
    image = decode(render_bytes(images.cmyk_jpeg(200, 100), recipe("jpeg", 100, 100)).data)
    assert image.mode == "RGB"
    assert image.size == (100, 50)
    assert near(px(image, (10, 25)), (0, 255, 255), 50)  # cyan
    assert near(px(image, (90, 25)), (255, 255, 0), 50)  # yellow


def test_16_bit_png_is_scaled_not_clipped() -> None:
    image = decode(render_bytes(images.png16_grey(256, 64), recipe("png", 256, 64)).data)
    assert image.mode == "L"
    assert px(image, (0, 10)) <= 2
    assert px(image, (255, 10)) >= 253
    assert 110 <= px(image, (128, 10)) <= 145  # clipping would give 255 here


def test_greyscale_stays_greyscale_where_the_format_allows() -> None:
    source = images.greyscale_jpeg(320, 240)
    assert decode(render_bytes(source, recipe("jpeg", 160, 160)).data).mode == "L"
    assert decode(render_bytes(source, recipe("png", 160, 160)).data).mode == "L"
    assert decode(render_bytes(source, recipe("webp", 160, 160)).data).mode == "RGB"


def test_tiny_image_is_not_upscaled_by_default() -> None:
    assert decode(render_bytes(images.solid("PNG", 1, 1), recipe("png", 300, 300)).data).size == (1, 1)
    assert decode(
        render_bytes(images.solid("PNG", 1, 1), recipe("png", 300, 300, upscale=True)).data
    ).size == (
        300,
        300,
    )


@pytest.mark.parametrize(
    ("size", "fit", "expected"),
    [
        ((4000, 10), "contain", (400, 1)),
        ((10, 4000), "contain", (1, 400)),
        ((4000, 10), "cover", (10, 10)),
        ((4000, 10), "fill", (400, 400)),
        ((4000, 10), "stretch", (400, 10)),
    ],
)
def test_extreme_aspect_ratios(size: tuple[int, int], fit: str, expected: tuple[int, int]) -> None:
    rendered = render_bytes(images.solid("PNG", *size), recipe("png", 400, 400, fit=fit))
    assert decode(rendered.data).size == expected == (rendered.width, rendered.height)


@pytest.mark.parametrize(
    ("fit", "fmt", "expected"),
    [
        ("contain", "png", (300, 225)),
        ("cover", "png", (300, 300)),
        ("fill", "png", (300, 300)),
        ("stretch", "png", (300, 300)),
        ("fill", "jpeg", (300, 300)),
    ],
)
def test_fit_modes(fit: str, fmt: str, expected: tuple[int, int]) -> None:
    image = decode(render_bytes(images.jpeg_photo(640, 480), recipe(fmt, 300, 300, fit=fit)).data)
    assert image.size == expected
    if fit == "fill":
        corner = px(image, (0, 0))
        if fmt == "png":
            assert corner[3] == 0  # transparent padding
        else:
            assert near(corner, (255, 255, 255), 10)  # white padding for JPEG


def test_cover_crops_the_centre() -> None:
    # Left third red, middle third green, right third blue: a square cover crop shows only green.
    source = Image.new("RGB", (300, 100), (255, 0, 0))
    source.paste((0, 255, 0), (100, 0, 200, 100))
    source.paste((0, 0, 255), (200, 0, 300, 100))
    image = decode(render_bytes(images.encode(source, "PNG"), recipe("png", 50, 50, fit="cover")).data)
    assert image.size == (50, 50)
    assert near(px(image, (2, 25)), (0, 255, 0), 5)
    assert near(px(image, (47, 25)), (0, 255, 0), 5)


def test_upscale_flag() -> None:
    assert render_bytes(images.jpeg_photo(640, 480), recipe("png", 1000, 1000)).width == 640
    rendered = render_bytes(images.jpeg_photo(640, 480), recipe("png", 1000, 1000, upscale=True))
    assert (rendered.width, rendered.height) == (1000, 750)


def test_decode_once_render_many_without_touching_the_source() -> None:
    source = load_source(images.jpeg_photo(800, 600), target_boxes=[(400, 400), (200, 200)])
    fingerprint = hashlib.sha256(source.first_frame.tobytes()).hexdigest()
    outputs = [render(source, recipe(fmt, w, w)) for fmt in ("jpeg", "webp") for w in (400, 200)]
    assert [(o.width, o.height) for o in outputs] == [(400, 300), (200, 150)] * 2
    assert hashlib.sha256(source.first_frame.tobytes()).hexdigest() == fingerprint
    again = render(source, recipe("jpeg", 400, 400))
    assert again.data == outputs[0].data


def test_jpeg_draft_decodes_at_reduced_scale_when_downscaling() -> None:
    data = images.jpeg_photo(2400, 1600)
    assert load_source(data, target_boxes=[(300, 300)]).size[0] <= 600  # libjpeg scaled the decode
    assert load_source(data).size == (2400, 1600)
    rotated = load_source(images.jpeg_with_orientation(2400, 1600, 6), target_boxes=[(300, 450)])
    width, height = rotated.size
    assert height > width
    assert width >= 300
    assert height >= 450
    assert decode(render(rotated, recipe("jpeg", 300, 450)).data).size == (300, 450)


def test_icc_profiles_broken_or_not_decode_to_srgb() -> None:
    for data in (images.with_icc(), images.with_icc(profile=b"not an icc profile" * 8)):
        image = decode(render_bytes(data, recipe("jpeg", 100, 100)).data)
        assert image.size == (100, 75)
        assert "icc_profile" not in image.info


def test_geometry_never_exceeds_the_box() -> None:
    for source in [(1, 1), (7, 3), (3000, 2), (999, 1000), (1000, 999)]:
        for fit in ("contain", "cover", "fill", "stretch"):
            for upscale in (False, True):
                geometry = plan_geometry(source, Recipe("png", 97, 61, fit, upscale))
                width, height = geometry.output_size
                assert 1 <= width <= 97
                assert 1 <= height <= 61


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
@pytest.mark.parametrize(
    ("fit", "box"),
    [
        ("contain", (200, 200)),
        ("contain", (1000, 1000)),
        ("cover", (150, 300)),
        ("stretch", (500, 90)),
        ("stretch", (90, 400)),
        ("fill", (240, 240)),
        ("contain", (60, 60)),  # > 3x: integer pre-reduction first
    ],
)
def test_separable_resize_matches_pillows_single_call(mode: str, fit: str, box: tuple[int, int]) -> None:
    """Same geometry as Pillow's one-call resize; pixels differ only by rounding (pass order)."""
    import numpy as np

    from lambdas.core.imaging import REDUCING_GAP, RESAMPLE, _transform

    source = images.photo(640, 480).convert(mode)
    if mode == "RGBA":
        source.putalpha(Image.linear_gradient("L").resize(source.size))
    before = source.tobytes()
    wanted = recipe("png", *box, fit=fit, upscale=True)
    geometry = plan_geometry(source.size, wanted)
    ours = _transform(source, geometry, wanted)
    assert ours.size == geometry.output_size
    assert source.tobytes() == before  # the caller's frame is never modified
    if geometry.canvas is None:
        assert ours.mode == mode
        pillow = source.resize(geometry.size, RESAMPLE, box=geometry.crop, reducing_gap=REDUCING_GAP)
        if mode == "RGBA":  # compare what is seen: colour at ~0 alpha is noise in both
            ours, pillow = ours.convert("RGBa"), pillow.convert("RGBa")
        difference = np.abs(np.asarray(ours, dtype=int) - np.asarray(pillow, dtype=int))
        assert difference.max() <= 8
        assert difference.mean() < 0.6


def test_a_released_source_gives_the_same_bytes_and_cannot_be_rendered_twice() -> None:
    data = images.jpeg_photo(1600, 1200)
    wanted = recipe("jpeg", 800, 800)
    kept = load_source(data, target_boxes=[(800, 800)])
    first, second = render(kept, wanted), render(kept, wanted)
    released = load_source(data, target_boxes=[(800, 800)])
    once = render(released, wanted, release_source=True)
    assert first.data == second.data == once.data == render_bytes(data, wanted).data
    assert released.size == kept.size
    with pytest.raises(RuntimeError, match="released"):
        render(released, wanted)
