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
