"""`render_each`: every recipe from one decoded source, byte-identical to rendering each alone, with
one resize per distinct geometry."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.core import imaging
from lambdas.core.recipe import normalised_recipe
from tests.support import images


def _recipes(**options: Any) -> list[Any]:
    return [
        normalised_recipe(
            fmt, width, height, fit=options.get("fit", "contain"), background=options.get("background")
        )
        for fmt in ("webp", "jpeg", "png")
        for width, height in ((200, 200), (80, 60))
    ]


@pytest.mark.parametrize(
    ("source", "options"),
    [
        (images.jpeg_with_orientation(320, 240, orientation=6), {}),
        (images.rgba_png(300, 200), {"fit": "fill"}),
        (images.rgba_png(300, 200), {"fit": "fill", "background": "#336699"}),
        (images.animated("GIF", 160, 120, frames=3), {}),
    ],
)
def test_bytes_are_those_of_one_render_per_recipe(source: bytes, options: dict[str, Any]) -> None:
    recipes = _recipes(**options)
    each = dict(imaging.render_each(imaging.load_source(source), recipes))
    assert sorted(each) == list(range(len(recipes)))
    for index, recipe in enumerate(recipes):
        alone = imaging.render(imaging.load_source(source), recipe)
        assert each[index].data == alone.data, recipe
        assert (each[index].width, each[index].height) == (alone.width, alone.height)
        assert each[index].content_type == alone.content_type


def test_one_resize_per_size_and_renditions_grouped_by_size(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    real = imaging._transform

    def counting(frame: Any, geometry: Any, recipe: Any) -> Any:
        calls.append(geometry.output_size)
        return real(frame, geometry, recipe)

    monkeypatch.setattr(imaging, "_transform", counting)
    recipes = _recipes()
    order = [
        index for index, _ in imaging.render_each(imaging.load_source(images.jpeg_photo(400, 300)), recipes)
    ]
    assert calls == [(200, 150), (80, 60)]
    assert order == [0, 2, 4, 1, 3, 5]  # the formats of the first size, then those of the second


def test_the_source_is_released_to_the_last_resize_only() -> None:
    source = imaging.load_source(images.jpeg_photo(400, 300))
    rendered = list(imaging.render_each(source, _recipes()))
    assert len(rendered) == 6
    with pytest.raises(RuntimeError, match="released"):
        source.still_frame()
