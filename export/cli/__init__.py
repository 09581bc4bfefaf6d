"""``fakeface export`` and the commands below it, one module each.

    fakeface export MODEL --out DIR ...     convert.py     Keras model -> TFLite/ONNX, each checked against Keras
    fakeface export ship DIR --to MODELS    ship.py        make the formats that passed the default models
    fakeface export mtcnn-nets --out DIR    mtcnn_nets.py  convert the detector's P-, R- and O-Net
    fakeface export kit OUT                 kit.py         the mobile port kit, or --verify a port's dumps

``export`` takes a model file as its first argument, so argparse cannot give it ordinary
sub-parsers; :mod:`.subcommands` hands a command line that starts with a sub-command's
name to that sub-command's parser.  Registration builds parsers only: TensorFlow, the
converters and the kit's code are imported inside each command's ``run``.
"""

from __future__ import annotations

import argparse

from .convert import build_export_parser
from .kit import build_kit_parser
from .mtcnn_nets import build_nets_parser
from .ship import build_ship_parser
from .subcommands import attach

SUBCOMMANDS = {"kit": build_kit_parser, "ship": build_ship_parser, "mtcnn-nets": build_nets_parser}


def register(subparsers) -> argparse.ArgumentParser:
    """The ``fakeface.commands`` entry point: ``fakeface export`` with its sub-commands."""
    parser = build_export_parser(subparsers)
    attach(parser, SUBCOMMANDS)
    return parser
