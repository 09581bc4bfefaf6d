"""``fakeface export ship``: the command line of :mod:`fakeface.export.ship` (make passing exports the default models).

Registering it imports only the format table; the copying code is imported when it runs.
"""

from __future__ import annotations

import argparse

from ..formats import ship_preference

DESCRIPTION = """\
Install files exported by 'fakeface export' as the edge runtime's default models
(fakeface.tflite, fakeface.onnx and their sidecars), together with the parity report.
Per runtime the first format in the preference list that passed the parity gate is
copied; a format that failed or was not exported is skipped, and if none passed
nothing of that runtime is replaced."""


def _preference(runtime: str) -> str:
    return ",".join(f.key for f in ship_preference(runtime))


def build_ship_parser(parser_class, prog: str) -> argparse.ArgumentParser:
    p = parser_class(prog=prog, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog=f"example:\n  {prog} work/export --to edge/models")
    p.add_argument("export_dir", metavar="EXPORT_DIR", help="folder written by 'fakeface export' (with parity.json)")
    # Required: a default would be the installed package's models/ (site-packages, not the
    # checkout), replaced without a word.
    p.add_argument("--to", metavar="DIR", required=True,
                   help="models folder to install into, e.g. edge/models in a checkout (required)")
    for runtime in ("tflite", "onnx"):
        p.add_argument(f"--{runtime}", default=_preference(runtime), metavar="KEYS",
                       help=f"format keys to ship as fakeface.{runtime}, first that passed wins "
                            f"(default {_preference(runtime)})")
    p.set_defaults(func=run, command="export ship")
    return p


def run(args) -> int:
    from ..ship import ship

    for path in ship(args.export_dir, args.to, args.tflite, args.onnx):
        print(f"shipped {path}")
    return 0
