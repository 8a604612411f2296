"""The ``dictrack`` command: ``dictrack demo`` plays a scripted session."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dictrack import __version__


def _demo(args: argparse.Namespace) -> int:
    from dictrack._demo import run_demo

    if args.db:
        run_demo(print, args.db)
        return 0
    with tempfile.TemporaryDirectory(prefix="dictrack-demo-") as folder:
        run_demo(print, str(Path(folder) / "demo.sqlite3"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dictrack", description="Gamified progress tracking for Python services."
    )
    parser.add_argument(
        "--version", action="version", version=f"dictrack {__version__}"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log at INFO level"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="play a short scripted session on the embedded default"
    )
    demo.add_argument(
        "--db", metavar="PATH", help="keep the SQLite file here (default: a temp file)"
    )
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dictrack`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    code: int = args.run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
