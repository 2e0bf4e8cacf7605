"""A contact sheet: every rendition of a run on one PNG, so a person can check them at a glance."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

CELL = 240
LABEL_HEIGHT = 28
PADDING = 12
BACKGROUND = (245, 245, 245)
CHECKER = (214, 214, 214)
TEXT = (20, 20, 20)


def _checkerboard(size: tuple[int, int], square: int = 12) -> Image.Image:
    """Transparent renditions are shown over a checkerboard, as image editors do."""
    board = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(board)
    for y in range(0, size[1], square):
        for x in range((y // square) % 2 * square, size[0], square * 2):
            draw.rectangle((x, y, x + square - 1, y + square - 1), fill=CHECKER)
    return board


def make_contact_sheet(images: Sequence[Path], destination: Path, *, columns: int | None = None) -> Path:
    """Write a PNG grid of ``images`` (each scaled to fit a cell, labelled with format and size).

    The sources are only read. The grid order is the order given, so the sheet is deterministic.
    """
    if not images:
        raise ValueError("images: at least one rendition is needed for a contact sheet")
    count = len(images)
    columns = columns or min(count, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / columns)
    width = columns * (CELL + PADDING) + PADDING
    height = rows * (CELL + LABEL_HEIGHT + PADDING) + PADDING
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for position, path in enumerate(images):
        column, row = position % columns, position // columns
        left = PADDING + column * (CELL + PADDING)
        top = PADDING + row * (CELL + LABEL_HEIGHT + PADDING)
        with Image.open(path) as opened:
            label = f"{opened.format} {opened.width}x{opened.height}"
            frame = ImageOps.exif_transpose(opened).convert("RGBA")
        frame.thumbnail((CELL, CELL), Image.Resampling.LANCZOS)
        tile = _checkerboard(frame.size)
        tile.paste(frame, (0, 0), frame)
        sheet.paste(tile, (left + (CELL - tile.width) // 2, top + (CELL - tile.height) // 2))
        draw.text((left, top + CELL + 6), label, fill=TEXT)
    destination.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(destination, format="PNG", optimize=False)
    return destination
