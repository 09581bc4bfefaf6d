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
import importlib.util
import sys
from importlib import metadata

from . import __version__
from .errors import FakeFaceError
from .extras import extra_providing, install_hint
from .interrupts import sigterm_as_interrupt
from .tf_environment import set_tf_environment

EXIT_OK = 0
EXIT_USAGE = 2

# The commands that run TensorFlow: the module whose absence shows it is not installed (an
# [edge] install), and which of their sub-commands need it ("": all of it).  --help marks them
# and says what to install.  prepare, evaluate, calibrate and the other generalise reports run
# in an [edge] install on .tflite/.onnx models; only a .keras model (or `prepare --detector
# mtcnn`) needs TensorFlow, and the command says so when it is run.
_COMMAND_NEEDS = {
    "train": ("tensorflow", ""),
    "export": ("tensorflow", "exporting a .keras model and mtcnn-nets (kit and ship run without it)"),
    "generalise": ("tensorflow", "leave-one-out"),
}


class CommandParser(argparse.ArgumentParser):
    """argparse with a one-line error: ``fakeface check: error: argument --min-face: ...``.

    The usage block argparse prints before its error would push the reason off a small
    terminal; ``--help`` is one command away and the message says so."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _MarkNeeds:
    """Stands in for the sub-parsers action while a layer whose extra is missing registers."""

    def __init__(self, sub, hint: str):
        self._sub, self._hint = sub, hint

    def add_parser(self, name, **kwargs):
        kwargs["help"] = f"{kwargs.get('help', '')} [{self._hint}]".strip()
        return self._sub.add_parser(name, **kwargs)


def _missing_extra_hint(entry_point) -> str | None:
    module, which = _COMMAND_NEEDS.get(entry_point.name, (None, ""))
    if module is None or importlib.util.find_spec(module) is not None:
        return None
    extra = extra_providing(module)
    hint = install_hint(extra) if extra else f"needs {module}"
    return f"{hint} for {which}" if which else hint


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="fakeface",
        description="Find faces in photos and tell real ones from GAN/AI-generated ones, on small CPUs.",
        epilog="Run 'fakeface COMMAND --help' for a command's options. "
        "Example: fakeface check photo.jpg holiday/ --json",
    )
    parser.add_argument("--version", action="version", version=f"fakeface {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    eps = sorted(metadata.entry_points(group="fakeface.commands"), key=lambda e: e.name)
    for ep in eps:
        hint = _missing_extra_hint(ep)
        try:
            ep.load()(_MarkNeeds(sub, hint) if hint else sub)
        except ImportError as exc:  # a layer whose code is absent from this install
            sub.add_parser(ep.name, help=f"(unavailable: {exc})")
    return parser


def _needs_extra(exc: ModuleNotFoundError) -> str | None:
    extra = extra_providing(exc.name or "")
    return f"{install_hint(extra)} (no module named {exc.name!r})" if extra else None


def main(argv: list[str] | None = None) -> int:
    set_tf_environment()  # before any command imports TF (train, export...)
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
    except ModuleNotFoundError as exc:
        hint = _needs_extra(exc)
        if hint is None:
            raise
        print(f"fakeface {args.command}: error: {hint}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"fakeface {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
