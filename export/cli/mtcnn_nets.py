"""``fakeface export mtcnn-nets``: the command line of :mod:`fakeface.export.mtcnn_nets` (the detector's P-, R-, O-Net).

Registering it imports only the format table; TensorFlow and the ``mtcnn`` package are
imported when it runs.
"""

from __future__ import annotations

import argparse

from ..formats import MTCNN_NET_FORMATS

DESCRIPTION = """\
Convert the mtcnn package's P-, R- and O-Net to the edge runtime's formats, write
mtcnn_nets.json (source version, sha256 of every file, parity against Keras) and print
the largest output difference of every converted net against its Keras original.
Needs the [train] extra (TensorFlow and mtcnn)."""


def build_nets_parser(parser_class, prog: str) -> argparse.ArgumentParser:
    keys = ",".join(MTCNN_NET_FORMATS)
    p = parser_class(prog=prog, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog=f"examples:\n  {prog} --out edge/models/mtcnn\n  {prog} --out edge/models/mtcnn --check-only")
    p.add_argument("--out", default="edge/models/mtcnn", metavar="DIR", help="output folder (default edge/models/mtcnn)")
    p.add_argument("--formats", default=keys, metavar="LIST", help=f"comma list of format keys, of {keys} (default both)")
    p.add_argument("--check-only", action="store_true", help="only report the parity of the files already in --out")
    p.set_defaults(func=run, command="export mtcnn-nets")
    return p


def chosen_formats(keys: str) -> list:
    """The table rows named in ``keys``; only the fp32 rows the nets are converted to are allowed."""
    from ..errors import ExportError
    from ..formats import formats_in_order

    formats = formats_in_order(keys)
    other = [f.key for f in formats if f.key not in MTCNN_NET_FORMATS]
    if other:
        raise ExportError(f"the MTCNN nets are exported as {', '.join(MTCNN_NET_FORMATS)} only, not {', '.join(other)}")
    return formats


def run(args) -> int:
    from pathlib import Path

    from ..mtcnn_nets import NetParity, export_nets, net_parity, parity_table

    formats = chosen_formats(args.formats)
    if args.check_only:
        parity = net_parity(Path(args.out), formats=formats)
    else:
        sidecar = export_nets(Path(args.out), formats)
        parity = [NetParity(*key.split("."), diffs) for key, diffs in sidecar["parity_max_abs_diff"].items()]
    print(parity_table(parity))
    return 0
