"""Sub-commands below ``fakeface export``, whose own first argument is a model file.

argparse cannot mix a positional MODEL with sub-parsers, so the export parser hands
every command line that starts with a sub-command's name to that sub-command's parser.
"""

from __future__ import annotations

import argparse
from typing import Callable

# Builds a sub-command's parser: (parser class, prog) -> parser, with func and command set.
ParserBuilder = Callable[[type, str], argparse.ArgumentParser]


def attach(export_parser: argparse.ArgumentParser, builders: dict[str, ParserBuilder]) -> dict:
    """Make ``<export_parser> NAME ...`` parse with the parser ``builders[NAME]`` makes."""
    parsers = {name: build(type(export_parser), f"{export_parser.prog} {name}") for name, build in builders.items()}
    plain = export_parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        if args and args[0] in parsers:
            return parsers[args[0]].parse_known_args(args[1:], namespace)
        return plain(args, namespace)

    export_parser.parse_known_args = parse_known_args
    export_parser.attached_parsers = parsers  # for tools (and tests) that walk every command's options
    return parsers
