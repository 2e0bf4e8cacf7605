"""The contact sheet: a PNG grid with every rendition, the renditions left untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

from PIL import Image

from imgpipe.local.contact_sheet import CELL, make_contact_sheet


def test_sheet_is_a_grid_of_all_renditions_and_sources_are_unchanged(tmp_path: Path) -> None:
    paths = []
    for index, (size, mode, fmt) in enumerate(
        [((300, 300), "RGB", "JPEG"), ((200, 100), "RGBA", "PNG"), ((50, 400), "RGB", "WEBP")]
    ):
        path = tmp_path / f"r{index}.{fmt.lower()}"
        Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (0, 0, 255, 128)).save(path, fmt)
        paths.append(path)
    before = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    sheet = make_contact_sheet(paths, tmp_path / "sheet.png")
    with Image.open(sheet) as image:
        assert image.format == "PNG"
        assert image.width >= 2 * CELL  # 3 renditions -> 2 columns x 2 rows
        assert image.height >= 2 * CELL
        assert image.getpixel((image.width // 4, image.height // 4)) != image.getpixel((1, 1))
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths] == before
    again = make_contact_sheet(paths, tmp_path / "sheet2.png")
    assert again.read_bytes() == sheet.read_bytes()  # deterministic


def _cell(image: Image.Image, position: int, columns: int) -> Image.Image:
    """The CELL x CELL area of grid position `position` (the layout's padding and label height)."""
    from imgpipe.local.contact_sheet import LABEL_HEIGHT, PADDING

    column, row = position % columns, position // columns
    left = PADDING + column * (CELL + PADDING)
    top = PADDING + row * (CELL + LABEL_HEIGHT + PADDING)
    return image.crop((left, top, left + CELL, top + CELL))


def test_the_placeholder_is_painted_in_the_last_cell(tmp_path: Path) -> None:
    from imgpipe.local.contact_sheet import SheetPlaceholder
    from lambdas.core.placeholder import placeholder

    source = Image.new("RGB", (400, 200), (20, 40, 220))  # blue, with a red right half
    source.paste((230, 20, 20), (200, 0, 400, 200))
    path = tmp_path / "r.png"
    source.save(path)
    taken = placeholder(source)
    shown = SheetPlaceholder(taken.blurhash, taken.dominant_colour, aspect=2.0)
    sheet = make_contact_sheet([path], tmp_path / "sheet.png", placeholder=shown)
    with Image.open(sheet) as image:
        cell = _cell(image.convert("RGB"), 1, columns=2)
    # 2:1 like the source: the blurred blue left and red right, the swatch below them
    left, right = (
        cell.getpixel((CELL // 8, CELL // 2 - 20)),
        cell.getpixel((CELL - CELL // 8, CELL // 2 - 20)),
    )
    assert left[2] > left[0]
    assert right[0] > right[2]
    assert cell.getpixel((CELL // 2, 0)) == cell.getpixel((0, 0))  # above the 2:1 tile: the background


def test_an_unreadable_placeholder_does_not_break_the_sheet(tmp_path: Path) -> None:
    from imgpipe.local.contact_sheet import SheetPlaceholder

    path = tmp_path / "r.png"
    Image.new("RGB", (50, 50), (200, 30, 30)).save(path)
    bad = SheetPlaceholder("not a blurhash", "#zzzzzz", aspect=1.0)
    sheet = make_contact_sheet([path], tmp_path / "sheet.png", placeholder=bad)
    with Image.open(sheet) as image:
        assert image.width >= 2 * CELL  # the placeholder's cell is there, blank and labelled
