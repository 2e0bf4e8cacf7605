"""Placeholder: replaced by the module that implements `imgpipe remote`."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("remote", help="(not implemented yet)")
    parser.set_defaults(func=lambda _args: 2)
