"""The `imgpipe` console script: one sub-command per module under `imgpipe.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
COMMAND_MODULES = (
    "imgpipe.commands.translate",
    "imgpipe.commands.run",
    "imgpipe.commands.history",
    "imgpipe.commands.serve",
    "imgpipe.commands.remote",  # start, watch
    "imgpipe.commands.backfill",
    "imgpipe.commands.complete",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgpipe",
        description="Conductor image workflows on AWS Step Functions, deployed or run locally.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
