"""``fakeface export kit``: the mobile port kit's command line (build, or --verify a port's dumps).

It hangs below ``fakeface export`` (see :mod:`.subcommands`); the kit itself is
:mod:`fakeface.export.kit`.  Nothing here needs TensorFlow.
"""

from __future__ import annotations

import argparse
import sys

from fakeface.edge.cli_numbers import positive_int

EXIT_OK, EXIT_DIVERGED = 0, 1

DESCRIPTION = """\
Build the mobile port kit: the MTCNN nets and the classifier variants that passed the
parity gate (TFLite, ONNX) with their sidecars, pipeline.json (every constant of the
pipeline, generated from the code), three photos with golden vectors for every stage,
and PORTING.md.  With --verify, compare a port's own dumps with the golden vectors and
name the first stage that diverges.  Needs only the [edge] extra."""

EPILOG = """\
exit status: 0 built / every stage within tolerance, 1 a stage diverges, 2 bad input.

examples:
  fakeface export kit dist/port-kit
  fakeface export kit dist/port-kit --models work/export     # variants from a 'fakeface export' folder
  fakeface export kit --verify dist/port-kit --candidate app-dumps/
  fakeface export kit --verify dist/port-kit --candidate app-dumps/ --partial
"""


def build_kit_parser(parser_class, prog: str) -> argparse.ArgumentParser:
    p = parser_class(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kit", metavar="OUT", help="the kit folder: written (new, empty or an older kit), or read with --verify")
    p.add_argument("--models", metavar="DIR",
                   help="classifier files and parity.json to take the variants from (default: the shipped models)")
    p.add_argument("--threads", type=positive_int, metavar="N", help="interpreter threads (default: the usable CPUs)")
    p.add_argument("--verify", action="store_true", help="compare --candidate's dumps with OUT's golden vectors")
    p.add_argument("--candidate", metavar="DIR", help="a port's dumps: DIR/<photo>/<golden file name>.npy")
    p.add_argument("--partial", action="store_true", help="with --verify: skip stages the port did not dump")
    p.set_defaults(func=run, command="export kit")
    return p


def _run_build(args) -> int:
    from fakeface.edge.checker_options import CheckerOptions
    from fakeface.edge.classifier import MODELS_DIR

    from ..kit.build import build_kit

    summary = build_kit(args.kit, args.models or MODELS_DIR, CheckerOptions(threads=args.threads))
    for name, size in summary.files:
        print(f"  {size / 1024:9.1f} KiB  {name}")
    faces = ", ".join(f"{name} {count}" for name, count in summary.faces.items())
    print(f"fakeface export kit: {summary.out}: {len(summary.files)} files, {summary.total_bytes / 2**20:.2f} MiB; "
          f"faces per photo: {faces}. Start with {summary.out}/PORTING.md")
    return EXIT_OK


def _run_verify(args) -> int:
    from ..kit.verify import verify

    report = verify(args.kit, args.candidate, partial=args.partial)
    for line in report.lines():
        print(line)
    if report.first_divergence is not None:
        print(f"fakeface export kit: {len(report.failures)} stage file(s) diverge", file=sys.stderr)
        return EXIT_DIVERGED
    if not report.passed:
        print("fakeface export kit: the candidate dumped no stage to compare", file=sys.stderr)
        return EXIT_DIVERGED
    return EXIT_OK


def run(args) -> int:
    from ..errors import ExportError

    if args.candidate and not args.verify:
        raise ExportError("--candidate needs --verify")
    if args.verify and not args.candidate:
        raise ExportError("--verify needs --candidate DIR (the port's dumps)")
    if args.partial and not args.verify:
        raise ExportError("--partial only applies with --verify")
    return _run_verify(args) if args.verify else _run_build(args)
