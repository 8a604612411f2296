"""The ``dictrack`` command.

- ``dictrack demo`` plays a scripted session on the embedded default;
- ``dictrack worker --cache URL --store URL`` runs the background jobs (flush,
  expiry, eviction, period resets) as a process of its own, for applications
  whose managers are built with ``run_jobs=False``; it stops on SIGINT or
  SIGTERM after a final flush.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from dictrack import __version__

logger = logging.getLogger(__name__)


def _demo(args: argparse.Namespace) -> int:
    from dictrack._demo import run_demo

    if args.db:
        run_demo(print, args.db)
        return 0
    with tempfile.TemporaryDirectory(prefix="dictrack-demo-") as folder:
        run_demo(print, str(Path(folder) / "demo.sqlite3"))
    return 0


def _worker(args: argparse.Namespace) -> int:
    from dictrack.errors import DictrackError
    from dictrack.manager import TrackingManager

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: stopping after a final flush", signum)
        stop.set()

    try:
        manager = TrackingManager(
            args.cache,
            args.store,
            flush_interval=args.flush_interval,
            expire_interval=args.expire_interval,
            run_jobs=False,
        )
    except (DictrackError, TypeError, ValueError) as exc:
        print(f"dictrack worker: {exc}", file=sys.stderr)
        return 2
    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        manager.jobs.start()
        print(
            f"dictrack worker: flushing {args.cache} to {args.store} every "
            f"{args.flush_interval:g}s (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            if not manager.jobs.is_alive():  # pragma: no cover - a runner bug
                logger.error("the job runner stopped; exiting")
                return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        manager.close()
    print("dictrack worker: stopped", file=sys.stderr)
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
    worker = commands.add_parser(
        "worker",
        help="run the background jobs (flush, expiry, eviction, resets) here",
    )
    worker.add_argument(
        "--cache", required=True, metavar="URL", help="e.g. redis://localhost:6379/0"
    )
    worker.add_argument(
        "--store",
        required=True,
        metavar="URL",
        help="e.g. mongodb://localhost/dictrack or sqlite:///dictrack.db",
    )
    worker.add_argument(
        "--flush-interval",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds within which a change reaches the store (default 1)",
    )
    worker.add_argument(
        "--expire-interval",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds between removals of expired trackers (default 60)",
    )
    worker.set_defaults(run=_worker)
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
