"""The ``fakeface`` command.  Sub-commands are plug-ins registered by each layer.

Each layer (edge, train, export, benchmarks) declares its commands under the
``fakeface.commands`` entry-point group in pyproject.toml.  An entry point names a
``register(subparsers)`` function that adds one sub-parser and sets ``func`` to a
callable taking the parsed args and returning the exit code.  Registration must be
cheap: heavy imports (TensorFlow above all) happen inside ``func``, so that
``fakeface check`` starts fast and works where only the edge extra is installed.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata

from . import __version__
from .errors import FakeFaceError
from .interrupts import sigterm_as_interrupt

EXIT_OK = 0
EXIT_USAGE = 2


def _quiet_tensorflow() -> None:
    # Commands that do import TF (train, export...) should not drown the user in logs.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakeface",
        description="Find faces in photos and tell real ones from GAN/AI-generated ones, on small CPUs.",
        epilog="Run 'fakeface COMMAND --help' for a command's options. "
        "Example: fakeface check photo.jpg holiday/ --json",
    )
    parser.add_argument("--version", action="version", version=f"fakeface {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    eps = sorted(metadata.entry_points(group="fakeface.commands"), key=lambda e: e.name)
    for ep in eps:
        try:
            ep.load()(sub)
        except ImportError as exc:  # a layer whose code is absent from this install
            sub.add_parser(ep.name, help=f"(unavailable: {exc})")
    return parser


def main(argv: list[str] | None = None) -> int:
    _quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        with sigterm_as_interrupt():  # `kill` and schedulers stop a command like Ctrl-C does
            return int(func(args) or 0)
    except FakeFaceError as exc:
        print(f"fakeface {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"fakeface {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
