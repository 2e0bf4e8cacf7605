"""How a finished run is shown to a person: the renditions table, or what failed and what to do."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from imgpipe.local.runner import RunResult


def print_result(console: Console, result: RunResult, *, history_file: Path | None = None) -> None:
    """``history_file``: where a local run wrote its history (the local engine is gone afterwards,
    so ``imgpipe history`` cannot read it); otherwise the command that exports it is shown."""
    if result.renditions:
        table = Table(title="Renditions", title_justify="left")
        for column in ("format", "size", "bytes", "time", "path"):
            table.add_column(column, justify="right" if column in ("bytes", "time") else "left")
        for rendition in result.renditions:
            table.add_row(
                rendition.format or "?",
                f"{rendition.width}x{rendition.height}",
                f"{rendition.bytes:,}",
                "-" if rendition.seconds is None else f"{rendition.seconds:.2f}s",
                _short(rendition.path),
            )
        console.print(table)
    if result.contact_sheet:
        console.print(f"contact sheet: {result.contact_sheet}")
    if result.manifest:
        console.print(f"manifest: {result.manifest}")
    duration = "" if result.duration_ms is None else f" in {result.duration_ms / 1000:.1f}s"
    summary = f"{result.status}{duration}, {result.transitions} state transitions"
    if result.status == "SUCCEEDED":
        console.print(f"[green]{summary}[/]")
        return
    console.print(f"[red]{summary}[/]")
    failure = result.failure
    if failure is not None:
        console.print(f"[red]failed state:[/] {failure.state or 'unknown'}")
        console.print(f"[red]error:[/] {failure.error or 'unknown'}")
        if failure.cause:
            console.print(f"[red]cause:[/] {failure.cause}")
        console.print(f"[yellow]what to do:[/] {failure.advice}")
    if history_file is not None:
        console.print(f"history: {_short(str(history_file))}", highlight=False)
    else:
        console.print(f"history: imgpipe history {result.execution_arn}", highlight=False, soft_wrap=True)


def _short(path: str) -> str:
    """Paths relative to the current directory when they are below it (they usually are)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path
