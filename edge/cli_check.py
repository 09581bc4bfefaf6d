"""``fakeface check``: score every face in files and folders."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .cli_numbers import face_pixels, positive_int, probability, working_pixels
from .strict_json import dumps
from .wording import plural

EXIT_ALL_REAL = 0
EXIT_FAKE_FOUND = 1
EXIT_USAGE = 2  # bad options, or the model/backend could not be loaded
EXIT_INPUT_FAILED = 4  # added to 0 or 1: some inputs could not be checked

EXIT_CODES_HELP = """exit codes:
  0  every input was checked and no face was judged fake (inputs with no face count as checked)
  1  at least one face was judged fake
  2  bad options, or the model or backend could not be loaded
  4  some inputs could not be read (each one is reported); 5 = 4 + a fake was found
  130  interrupted (Ctrl-C or SIGTERM): the images checked so far are reported, then the summary
"""


def add_runtime_options(p: argparse.ArgumentParser) -> None:
    """Options shared by check and watch: which model, backend, threads, min face, threshold."""
    p.add_argument("--model", metavar="FILE", help="classifier .tflite or .onnx with its .json sidecar "
                   "(default: the shipped model; fakeface.onnx when --backend onnxruntime)")
    p.add_argument("--backend", default="auto", choices=["auto", "litert", "tflite-runtime", "onnxruntime"],
                   help="interpreter: auto picks ai-edge-litert for .tflite and onnxruntime for .onnx (default: auto)")
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="CPU threads per model, at least 1 (default: the CPUs this process may use: affinity mask and cgroup "
                        "quota; 1 on tflite-runtime, whose threads spin and slow a busy device down)")
    p.add_argument("--min-face", type=face_pixels, default=20, metavar="PX",
                   help="smallest face to look for and report, in pixels: the shorter side of its box, at "
                   "least 12; a box down to 0.9 PX is reported, the detector's box error; larger is faster "
                   "(face unlock: 80) (default: 20)")
    p.add_argument("--threshold", type=probability, default=None, metavar="P",
                   help="judge a face fake when p(fake) is at or above P, in [0, 1] "
                   "(default: the model's calibrated threshold, printed with the results)")


def register(sub) -> None:
    p = sub.add_parser(
        "check",
        help="find faces in images and judge each real or fake",
        description="Find every face in the given images and judge each one real or fake. "
        "Bad inputs are reported one line each and the rest of the batch goes on; a summary "
        "line (images, faces, judged fake, errors, seconds) ends the run on stderr.",
        epilog="examples:\n  fakeface check photo.jpg\n  fakeface check holiday/ --json > verdicts.jsonl\n"
        "  fakeface check selfie.jpg --min-face 80 --annotate out/\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    add_runtime_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object per input line instead of a table")
    p.add_argument("--annotate", metavar="DIR",
                   help="write a JPEG copy of each image with boxes and verdicts drawn; a folder's images "
                   "keep their sub-folders under DIR")
    p.add_argument("--max-pixels", type=positive_int, default=None, metavar="N",
                   help="refuse images with more pixels than this (default: 64 million; FAKEFACE_MAX_PIXELS raises it)")
    p.add_argument("--working-pixels", type=working_pixels, default=None, metavar="N",
                   help="search for faces on a copy of at most N pixels; boxes still come in the photo's own "
                   "pixels and faces are judged at full resolution. On a larger photo the smallest face found "
                   "is 12 px of that copy, about 59 px of a 12-MP photo by default; a larger N finds smaller "
                   "faces and needs more memory (default: 500000)")
    p.set_defaults(func=run)


@dataclass
class CheckTally:
    """What the summary line counts: image files (read or not), and errors, which include the
    inputs that name no image (a missing path, a folder without images)."""

    images: int = 0
    faces: int = 0
    fakes: int = 0
    errors: int = 0

    def add(self, report, fake_label: str, is_image: bool = True) -> None:
        self.images += is_image
        self.faces += len(report.faces)
        self.fakes += sum(f.label == fake_label for f in report.faces)
        self.errors += report.error is not None

    def line(self, seconds: float) -> str:
        return (f"fakeface check: {plural(self.images, 'image')}, {plural(self.faces, 'face')}, {self.fakes} "
                f"judged fake, {plural(self.errors, 'error')}, {seconds:.1f} s")


# Hex digits of the model file's sha256 in check's output: enough to tell two models apart.
SHA256_PREFIX = 12


def model_identity(checker) -> dict:
    """The classifier file check used: its name and the start of its sha256 (the sidecar's,
    which loading verified against the file; computed when the sidecar has none)."""
    from .contract import file_sha256

    path = checker.classifier.model_path
    return {"file": path.name, "sha256": (checker.contract.sha256 or file_sha256(path))[:SHA256_PREFIX]}


def header(model: dict, threshold: float) -> str:
    return (f"model {model['file']} (sha256 {model['sha256']}), threshold {threshold:.4g}: "
            f"a face with p(fake) at or above it is judged FAKE")


def table_lines(report) -> str:
    if report.error:
        return f"{report.path}: ERROR {report.error}"
    if not report.faces:
        return f"{report.path}: no face found"
    parts = []
    for i, f in enumerate(report.faces, 1):
        x, y, w, h = (int(round(v)) for v in f.box)
        parts.append(f"  face {i}: {f.label.upper():4s}  p(fake)={f.fake_probability:.3f}  "
                     f"box=({x},{y},{w},{h})  det={f.score:.2f}")
    return f"{report.path}: {plural(len(report.faces), 'face')}\n" + "\n".join(parts)


def check_one(checker, copies, root: Path, path: Path, problem):
    """The report of one input, with its annotated copy written when asked for."""
    from .errors import FakeFaceError
    from .faces import ImageReport

    if problem:
        return ImageReport(str(path), error=problem)
    report, image = checker.check_file_and_image(path)
    if copies is not None and image is not None:
        try:
            copies.write(path, root, image, report.faces)
        except FakeFaceError as exc:
            report.error = f"annotated copy not written: {getattr(exc, 'reason', exc)}"
    return report


def print_report(report, threshold: float, model: dict, as_json: bool, out) -> None:
    """One input's result through ``out`` (a Progress: lines never overlap its bar)."""
    if not as_json:
        out.print(table_lines(report))
        return
    out.print(dumps({**report.to_json(), "threshold": round(threshold, 5), "model": model}))
    if report.error:  # keep the person at the terminal informed too
        out.print(f"fakeface check: {report.path}: {report.error}", file=sys.stderr)


def run(args) -> int:
    from .annotate import AnnotatedCopies, out_dir_problem
    from .errors import OptionsError
    from .imageio import iter_image_paths
    from .pipeline import CheckerOptions, FakeFaceChecker
    from .progress import Progress

    started = time.perf_counter()
    problem = out_dir_problem(Path(args.annotate)) if args.annotate else None
    if problem:  # at once, not after every image has been checked
        raise OptionsError(problem)
    opts = CheckerOptions(model_path=args.model, backend=args.backend, threads=args.threads,
                          min_face_size=args.min_face, max_pixels=args.max_pixels, threshold=args.threshold)
    if args.working_pixels is not None:
        opts.working_pixels = args.working_pixels
    checker = FakeFaceChecker.create_from_options(opts)  # model errors -> exit 2 in cli.main
    copies = AnnotatedCopies(Path(args.annotate)) if args.annotate else None
    tally = CheckTally()
    model = model_identity(checker)
    if not args.json:
        print(header(model, checker.threshold), flush=True)
    progress = None
    try:
        with checker:
            inputs = [(root, path, problem) for root in args.paths for path, problem in iter_image_paths([root])]
            progress = Progress(len(inputs), unit="image")  # on stderr, only on a terminal
            for root, path, problem in inputs:
                report = check_one(checker, copies, Path(root), path, problem)
                tally.add(report, checker.contract.labels[1], is_image=problem is None)
                print_report(report, checker.threshold, model, args.json, progress)
                progress.update()
    finally:  # after Ctrl-C too: what was done, and where the copies are
        if progress is not None:
            progress.close()
        if copies is not None:
            print(f"fakeface check: {plural(copies.count, 'annotated copy', 'annotated copies')} written under "
                  f"{copies.out_dir}/", file=sys.stderr)
        print(tally.line(time.perf_counter() - started), file=sys.stderr)
    return (EXIT_FAKE_FOUND if tally.fakes else EXIT_ALL_REAL) + (EXIT_INPUT_FAILED if tally.errors else 0)
