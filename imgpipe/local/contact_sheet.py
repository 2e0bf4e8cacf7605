"""A contact sheet: every rendition of a run on one PNG, so a person can check them at a glance;
with the manifest's placeholder (its BlurHash decoded as a page would paint it, and the dominant
colour) in a last cell when the workflow wrote one."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from lambdas.core.placeholder import preview

CELL = 240
LABEL_HEIGHT = 28
PADDING = 12
BACKGROUND = (245, 245, 245)
CHECKER = (214, 214, 214)
TEXT = (20, 20, 20)


SWATCH_HEIGHT = 16
PREVIEW_SIDE = 32  # BlurHash holds a few cosine terms: decoded small, then scaled to the cell


@dataclass(frozen=True)
class SheetPlaceholder:
    """A manifest's placeholder: BlurHash, dominant colour ("#rrggbb"), source width / height."""

    blurhash: str
    dominant_colour: str
    aspect: float


def _placeholder_tile(placeholder: SheetPlaceholder) -> tuple[Image.Image, str]:
    """The decoded BlurHash at the source's aspect ratio over a dominant-colour swatch, and its label;
    a hash or colour that does not decode gives a labelled blank tile (it came from S3)."""
    aspect = min(max(placeholder.aspect, 1 / 8), 8.0)
    width, height = (
        (CELL, max(1, round(CELL / aspect))) if aspect >= 1 else (max(1, round(CELL * aspect)), CELL)
    )
    height = max(1, height - SWATCH_HEIGHT)
    try:
        small = preview(placeholder.blurhash, (PREVIEW_SIDE, max(1, round(PREVIEW_SIDE * height / width))))
        painted = small.resize((width, height), Image.Resampling.BICUBIC)
        swatch = Image.new("RGB", (width, SWATCH_HEIGHT), placeholder.dominant_colour)
    except (ValueError, IndexError):
        return Image.new("RGB", (width, height + SWATCH_HEIGHT), BACKGROUND), "placeholder: unreadable"
    tile = Image.new("RGB", (width, height + SWATCH_HEIGHT), BACKGROUND)
    tile.paste(painted, (0, 0))
    tile.paste(swatch, (0, height))
    return tile, f"BlurHash, {placeholder.dominant_colour}"


def _checkerboard(size: tuple[int, int], square: int = 12) -> Image.Image:
    """Transparent renditions are shown over a checkerboard, as image editors do."""
    board = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(board)
    for y in range(0, size[1], square):
        for x in range((y // square) % 2 * square, size[0], square * 2):
            draw.rectangle((x, y, x + square - 1, y + square - 1), fill=CHECKER)
    return board


def make_contact_sheet(
    images: Sequence[Path],
    destination: Path,
    *,
    columns: int | None = None,
    placeholder: SheetPlaceholder | None = None,
) -> Path:
    """Write a PNG grid of ``images`` (each scaled to fit a cell, labelled with format and size),
    then the placeholder's cell if one is given.

    The sources are only read. The grid order is the order given, so the sheet is deterministic.
    """
    if not images:
        raise ValueError("images: at least one rendition is needed for a contact sheet")
    count = len(images) + (placeholder is not None)
    columns = columns or min(count, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / columns)
    width = columns * (CELL + PADDING) + PADDING
    height = rows * (CELL + LABEL_HEIGHT + PADDING) + PADDING
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)

    def place(position: int, tile: Image.Image, label: str) -> None:
        column, row = position % columns, position // columns
        left = PADDING + column * (CELL + PADDING)
        top = PADDING + row * (CELL + LABEL_HEIGHT + PADDING)
        sheet.paste(tile, (left + (CELL - tile.width) // 2, top + (CELL - tile.height) // 2))
        draw.text((left, top + CELL + 6), label, fill=TEXT)

    for position, path in enumerate(images):
        with Image.open(path) as opened:
            label = f"{opened.format} {opened.width}x{opened.height}"
            frame = ImageOps.exif_transpose(opened).convert("RGBA")
        frame.thumbnail((CELL, CELL), Image.Resampling.LANCZOS)
        tile = _checkerboard(frame.size)
        tile.paste(frame, (0, 0), frame)
        place(position, tile, label)
    if placeholder is not None:
        place(len(images), *_placeholder_tile(placeholder))
    destination.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(destination, format="PNG", optimize=False)
    return destination
