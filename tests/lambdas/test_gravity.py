"""`gravity` for `fit: "cover"`: centre (default), smart (attention crop) and focal points.

Sources are generated with a subject away from the centre; every rendition is decoded and its
pixels counted, so a crop that lost the subject fails."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageDraw

from lambdas.core.attention import saliency_map
from lambdas.core.errors import InvalidRecipeError
from lambdas.core.imaging import load_source, render, render_bytes, render_each
from lambdas.core.inputs import parse_resize_input
from lambdas.core.planner import plan
from lambdas.core.recipe import FocalPoint, normalised_recipe

SUBJECT = (220, 40, 40)
BASE = {
    "fileLocation": "s3://bucket/a.jpg",
    "outputFormat": "png",
    "outputWidth": 300,
    "outputHeight": 300,
    "fit": "cover",
}


def _scene(size: tuple[int, int], centre: tuple[int, int], *, background: str = "gradient") -> Image.Image:
    """A quiet background (a soft grey gradient, or low-contrast grey noise) with a busy, saturated
    subject: 300 red dots within 100 px of `centre`."""
    width, height = size
    if background == "gradient":
        image = Image.linear_gradient("L").resize((width, height)).point(lambda v: 90 + v // 4).convert("RGB")
    else:
        noise = Image.effect_noise((width, height), 6).point(lambda v: 110 + v // 8)
        image = noise.convert("RGB")
    draw = ImageDraw.Draw(image)
    rng = random.Random(7)
    for _ in range(300):
        x = centre[0] + rng.randint(-100, 100)
        y = centre[1] + rng.randint(-100, 100)
        draw.ellipse((x - 8, y - 8, x + 8, y + 8), fill=SUBJECT)
    return image


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _subject_pixels(data: bytes) -> int:
    """Pixels of the subject's red in a decoded rendition."""
    decoded = Image.open(io.BytesIO(data)).convert("RGB")
    red, green, _ = (band.tobytes() for band in decoded.split())
    return sum(1 for r, g in zip(red, green, strict=True) if r > 170 and g < 110)


def _cover(gravity: object, width: int = 300, height: int = 300, fmt: str = "png"):
    return normalised_recipe(fmt, width, height, fit="cover", gravity=gravity)


@pytest.mark.parametrize(
    ("size", "subject", "box"),
    [
        ((1600, 600), (1350, 300), (300, 300)),  # landscape, subject right: the crop slides along x
        ((1600, 600), (220, 330), (300, 300)),  # subject left
        ((500, 1500), (250, 1250), (400, 300)),  # portrait, subject low: the crop slides along y
    ],
)
@pytest.mark.parametrize("background", ["gradient", "noise"])
def test_smart_crop_keeps_an_off_centre_subject_that_the_centre_crop_loses(
    size: tuple[int, int], subject: tuple[int, int], box: tuple[int, int], background: str
) -> None:
    data = _png(_scene(size, subject, background=background))
    centre = render_bytes(data, _cover("centre", *box))
    smart = render_bytes(data, _cover("smart", *box))
    assert (smart.width, smart.height) == (centre.width, centre.height) == box
    assert _subject_pixels(centre.data) == 0
    # the subject covers ~45% of a 200x200 area; most of it must be inside the smart crop
    assert _subject_pixels(smart.data) > 0.3 * 200 * 200 * (box[0] * box[1]) / (300 * 300) * 0.5


def test_a_focal_point_centres_the_crop_there_as_far_as_the_edges_allow() -> None:
    data = _png(_scene((1600, 600), (1350, 300)))
    at_subject = render_bytes(data, _cover({"x": 1350 / 1600, "y": 0.5}))
    at_left_edge = render_bytes(data, _cover({"x": 0, "y": 0}))
    at_right_edge = render_bytes(data, _cover({"x": 1, "y": 1}))
    assert _subject_pixels(at_subject.data) > 5_000
    assert _subject_pixels(at_left_edge.data) == 0
    assert _subject_pixels(at_right_edge.data) > 5_000  # clamped: the crop ends at the right edge
    # the right-edge crop is the source's last 600 columns, pixel for pixel
    expected = Image.open(io.BytesIO(data)).convert("RGB").crop((1000, 0, 1600, 600)).resize((300, 300))
    got = Image.open(io.BytesIO(at_right_edge.data)).convert("RGB")
    difference = sum(abs(a - b) for a, b in zip(got.tobytes(), expected.tobytes(), strict=True))
    assert difference / (300 * 300 * 3) < 3


def test_centre_gravity_is_the_default_and_keeps_existing_keys() -> None:
    default = normalised_recipe("png", 300, 300, fit="cover")
    explicit = _cover("center")
    assert default == explicit
    assert default.gravity == "centre"
    assert "gravity" not in default.canonical_json()  # keys written before gravity existed stay
    assert _cover("smart").digest() != default.digest() != _cover({"x": 0.2, "y": 0.5}).digest()
    assert _cover({"x": 0.2, "y": 0.5}).digest() == _cover({"x": 0.2, "y": 0.5}).digest()
    assert _cover({"x": 1, "y": 0}).gravity == FocalPoint(1.0, 0.0)


def test_an_animation_is_cropped_where_its_first_frame_is_interesting() -> None:
    frames = [_scene((800, 300), (650 - shift, 150)).convert("P") for shift in (0, 10, 20)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    rendered = render_bytes(buffer.getvalue(), _cover("smart", 150, 150, fmt="gif"))
    decoded = Image.open(io.BytesIO(rendered.data))
    assert decoded.n_frames == 3
    assert _subject_pixels(rendered.data) > 2_000


def test_one_attention_map_serves_every_size_and_format_of_a_source() -> None:
    data = _png(_scene((1600, 600), (1350, 300)))
    recipes = [_cover("smart", 300, 300), _cover("smart", 300, 300, fmt="webp"), _cover("smart", 120, 200)]
    source = load_source(data, recipes=recipes)
    outputs = dict(render_each(source, recipes))
    assert source._saliency is not None  # computed once, kept for the other sizes
    for index, recipe in enumerate(recipes):
        assert outputs[index].data == render(load_source(data), recipe).data
        assert _subject_pixels(outputs[index].data) > 1_000


def test_a_flat_image_has_no_interesting_part_and_smart_is_centre() -> None:
    data = _png(Image.new("RGB", (900, 300), (120, 130, 140)))
    assert render_bytes(data, _cover("smart")).data == render_bytes(data, _cover("centre")).data
    assert sum(saliency_map(Image.new("RGB", (900, 300), (120, 130, 140))).scores) == 0


def test_transparent_detail_does_not_attract_the_crop() -> None:
    # the busier subject is on the left, but the left half is fully transparent
    scene = _scene((1600, 600), (300, 300))
    ImageDraw.Draw(scene).rectangle((1250, 250, 1350, 350), fill=SUBJECT)
    alpha = Image.new("L", (1600, 600), 255)
    alpha.paste(0, (0, 0, 800, 600))
    scene.putalpha(alpha)
    out = render_bytes(_png(scene), _cover("smart"))
    decoded = Image.open(io.BytesIO(out.data)).convert("RGBA")
    # the crop is in the opaque half (its first column within the resampling kernel's reach of the
    # transparent one)
    assert decoded.getchannel("A").getextrema()[0] > 200
    assert _subject_pixels(out.data) > 2_000


@pytest.mark.parametrize(
    ("gravity", "field", "words"),
    [
        ("north", "gravity", "unknown gravity 'north'"),
        (5, "gravity", "got int"),
        ({"x": 0.5}, "gravity.y", "field required"),
        ({"x": 1.5, "y": 0.5}, "gravity.x", "outside 0..1"),
        ({"x": -0.1, "y": 0.5}, "gravity.x", "outside 0..1"),
        ({"x": 0.5, "y": "0.5"}, "gravity.y", "expected a number"),
        ({"x": True, "y": 0.5}, "gravity.x", "expected a number"),
        ({"x": float("nan"), "y": 0.5}, "gravity.x", "expected a number"),
        ({"x": 0.5, "y": 0.5, "z": 1}, "gravity.z", "unknown field"),
    ],
)
def test_bad_gravity_is_a_typed_error_naming_the_field(gravity: object, field: str, words: str) -> None:
    with pytest.raises(InvalidRecipeError) as caught:
        parse_resize_input({**BASE, "gravity": gravity}, max_dimension=4096)
    assert caught.value.field == field
    assert words in caught.value.problem


@pytest.mark.parametrize("fit", ["contain", "fill"])
def test_gravity_without_a_cover_crop_is_a_contradiction(fit: str) -> None:
    with pytest.raises(InvalidRecipeError) as caught:
        parse_resize_input({**BASE, "fit": fit, "gravity": "smart"}, max_dimension=4096)
    assert caught.value.field == "gravity"
    assert "cover" in caught.value.problem
    # centre is every fit's behaviour, so naming it is never a contradiction
    assert (
        parse_resize_input({**BASE, "fit": fit, "gravity": "centre"}, max_dimension=4096)[1].gravity
        == "centre"
    )


def test_the_planner_checks_gravity_before_fanning_out_and_passes_it_to_every_item() -> None:
    event = {
        "fileLocation": "s3://bucket/a.jpg",
        "outputFormats": ["png", "webp"],
        "outputSizes": [{"width": 300, "height": 300}],
        "fit": "cover",
        "gravity": {"x": 0.8, "y": 0.4},
    }
    planned = plan(event, max_dimension=4096, max_fanout=50)
    assert [item["input"]["gravity"] for item in planned["dynamicForkItems"]] == [{"x": 0.8, "y": 0.4}] * 2
    with pytest.raises(InvalidRecipeError) as caught:
        plan({**event, "gravity": {"x": 2, "y": 0}}, max_dimension=4096, max_fanout=50)
    assert caught.value.field == "gravity.x"
