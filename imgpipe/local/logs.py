"""Where the local runtime's own noise goes: a log file, so the terminal shows only what a person needs.

The workers log JSON lines to stdout (Powertools, as on Lambda, where stdout is CloudWatch Logs);
moto logs every internal evaluation error at ERROR (including the normal ``IsPresent`` misses of
the translated Choice states); werkzeug logs every HTTP request of ``imgpipe serve``; Powertools
warns about empty metrics. All of it goes to one file; stdout stays for the command's result.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

NOISY_LOGGERS = ("moto", "werkzeug", "py.warnings", "botocore", "urllib3")


class _RoutedStdout(io.TextIOBase):
    """One process-wide stand-in for stdout whose destination is looked up at every write.

    Powertools binds its handler to whatever ``sys.stdout`` is when a worker module is imported;
    binding it to this object (instead of a file that a later ``with`` closes) keeps every later
    write valid: inside ``captured()`` it goes to the log file, outside to the current stdout.
    """

    def __init__(self) -> None:
        super().__init__()
        self._targets: list[TextIO] = []
        self._lock = threading.Lock()

    def _target(self) -> Any:
        if self._targets:
            return self._targets[-1]
        current = sys.stdout
        return current if current is not self else sys.__stdout__

    def push(self, target: TextIO) -> None:
        with self._lock:
            self._targets.append(target)

    def pop(self) -> None:
        with self._lock:
            self._targets.pop()

    def write(self, text: str) -> int:
        target = self._target()
        return 0 if target is None else int(target.write(text))

    def flush(self) -> None:
        target = self._target()
        if target is not None:
            target.flush()

    def writable(self) -> bool:
        return True


_ROUTED_STDOUT = _RoutedStdout()


@contextlib.contextmanager
def captured(path: Path, *, until_exit: bool = False) -> Iterator[TextIO]:
    """Send worker stdout, moto/werkzeug logs and warnings to ``path`` while inside the block.

    ``until_exit``: for a process that ends after the block (``imgpipe serve``), whose invocations
    still running then finish in background threads: what they write goes on to ``path`` until the
    process exits, instead of to the terminal (the file is closed by the exit).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    stream = path.open("w", encoding="utf-8")
    _ROUTED_STDOUT.push(stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = []
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate, logger.level))
        logger.addHandler(handler)
        logger.propagate = False
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    logging.captureWarnings(True)
    saved_stdout, sys.stdout = sys.stdout, _ROUTED_STDOUT
    try:
        yield stream
    finally:
        stream.flush()
        if not until_exit:
            sys.stdout = saved_stdout
            _ROUTED_STDOUT.pop()
            logging.captureWarnings(False)
            for logger, propagate, level in saved:
                logger.removeHandler(handler)
                logger.propagate = propagate
                logger.setLevel(level)
            stream.close()
