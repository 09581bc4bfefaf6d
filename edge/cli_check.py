"""``fakeface check``: score every face in files and folders."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_ALL_REAL = 0
EXIT_FAKE_FOUND = 1
EXIT_USAGE = 2  # bad options, or the model/backend could not be loaded
EXIT_INPUT_FAILED = 4  # added to 0 or 1: some inputs could not be checked

EXIT_CODES_HELP = """exit codes:
  0  every input was checked and no face was judged fake (inputs with no face count as checked)
  1  at least one face was judged fake
  2  bad options, or the model or backend could not be loaded
  4  some inputs could not be read (each one is reported); 5 = 4 + a fake was found
"""


def add_runtime_options(p: argparse.ArgumentParser) -> None:
    """Options shared by check, watch and bench: which model, backend and threads."""
    p.add_argument("--model", metavar="FILE", help="classifier .tflite or .onnx with its .json sidecar "
                   "(default: the shipped model; fakeface.onnx when --backend onnxruntime)")
    p.add_argument("--backend", default="auto", choices=["auto", "litert", "tflite-runtime", "onnxruntime"],
                   help="interpreter: auto picks ai-edge-litert for .tflite and onnxruntime for .onnx (default: auto)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads per model (default: all cores)")
    p.add_argument("--min-face", type=int, default=20, metavar="PX",
                   help="smallest face to look for, in pixels; larger is faster (face unlock: 80) (default: 20)")


def register(sub) -> None:
    p = sub.add_parser(
        "check",
        help="find faces in images and judge each real or fake",
        description="Find every face in the given images and judge each one real or fake. "
        "Bad inputs are reported one line each and the rest of the batch goes on.",
        epilog="examples:\n  fakeface check photo.jpg\n  fakeface check holiday/ --json > verdicts.jsonl\n"
        "  fakeface check selfie.jpg --min-face 80 --annotate out/\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    add_runtime_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object per input line instead of a table")
    p.add_argument("--annotate", metavar="DIR", help="write a copy of each image with boxes and verdicts drawn")
    p.add_argument("--max-pixels", type=int, default=None, metavar="N",
                   help="refuse images with more pixels than this (default: 64 million; FAKEFACE_MAX_PIXELS raises it)")
    p.set_defaults(func=run)


def _unique_name(out_dir: Path, src: Path, used: set) -> Path:
    name = f"{src.stem}.jpg"
    n = 1
    while name in used:
        n += 1
        name = f"{src.stem}-{n}.jpg"
    used.add(name)
    return out_dir / name


def _table_line(report) -> str:
    if report.error:
        return f"{report.path}: ERROR {report.error}"
    if not report.faces:
        return f"{report.path}: no face found"
    parts = []
    for i, f in enumerate(report.faces, 1):
        x, y, w, h = (int(round(v)) for v in f.box)
        parts.append(f"  face {i}: {f.label.upper():4s}  p(fake)={f.fake_probability:.3f}  "
                     f"box=({x},{y},{w},{h})  det={f.score:.2f}")
    return f"{report.path}: {len(report.faces)} face(s)\n" + "\n".join(parts)


def run(args) -> int:
    from .annotate import write_annotated
    from .errors import FakeFaceError
    from .imageio import iter_image_paths, load_image
    from .faces import ImageReport
    from .pipeline import CheckerOptions, FakeFaceChecker

    if args.threads is not None and args.threads < 1:
        print("fakeface check: error: --threads must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    opts = CheckerOptions(model_path=args.model, backend=args.backend, threads=args.threads,
                          min_face_size=args.min_face, max_pixels=args.max_pixels)
    checker = FakeFaceChecker.create_from_options(opts)  # model errors -> exit 2 in cli.main
    out_dir = Path(args.annotate) if args.annotate else None
    used: set = set()
    fake_found = failed = False
    with checker:
        for path, problem in iter_image_paths(args.paths):
            if problem:
                report = ImageReport(str(path), error=problem)
            else:
                try:
                    image = load_image(path, args.max_pixels)
                    report = ImageReport(str(path), checker.check(image))
                    if out_dir is not None:
                        write_annotated(_unique_name(out_dir, path, used), image, report.faces)
                except FakeFaceError as exc:
                    report = ImageReport(str(path), error=str(exc))
            fake_found |= any(f.label == checker.contract.labels[1] for f in report.faces)
            failed |= report.error is not None
            if args.json:
                print(json.dumps(report.to_json()), flush=True)
                if report.error:  # keep the person at the terminal informed too
                    print(f"fakeface check: {report.error}", file=sys.stderr)
            else:
                print(_table_line(report), flush=True)
    return (EXIT_FAKE_FOUND if fake_found else EXIT_ALL_REAL) + (EXIT_INPUT_FAILED if failed else 0)
