"""Live progress of an execution from its history events: states as they start, retries as they
happen, and each Map state's iterations as a progress bar. Shared by `run`, `start` and `watch`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from imgpipe.local.results import _by_id, _details, _state_of


class ExecutionProgress:
    """Feed it history events (``update``); use as a context manager around the wait."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._events: list[Mapping[str, Any]] = []
        self._started_states: set[str] = set()
        self._bars: dict[str, TaskID] = {}

    def __enter__(self) -> ExecutionProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def update(self, events: Sequence[Mapping[str, Any]]) -> None:
        self._events.extend(events)
        index = _by_id(self._events)
        for event in events:
            kind = str(event.get("type", ""))
            details = _details(event)
            if kind.endswith("StateEntered"):
                name = str(details.get("name", "?"))
                if name not in self._started_states:  # Map iterations repeat states: show the first
                    self._started_states.add(name)
                    self._print(f"[cyan]▶[/] {name}")
            elif kind == "MapStateStarted":
                state = _state_of(event, index) or "Map"
                total = int(details.get("length", 0))
                self._bars[state] = self._progress.add_task(f"{state} iterations", total=total)
            elif kind in ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"):
                state = str(details.get("name", ""))
                bar = self._bars.get(state) or (next(iter(self._bars.values())) if self._bars else None)
                if bar is not None:
                    self._progress.advance(bar)
            elif kind in ("TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "LambdaFunctionTimedOut"):
                state = _state_of(event, index) or "?"
                self._print(f"[yellow]✗[/] {state}: {details.get('error', kind)}")
            elif kind == "ExecutionSucceeded":
                self._print("[green]✔ execution succeeded[/]")
            elif kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
                self._print(f"[red]✘ execution {kind.removeprefix('Execution').lower()}[/]")

    def _print(self, message: str) -> None:
        self._progress.console.print(message)
