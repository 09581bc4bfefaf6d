"""`fakeface generalise capture MODEL PHOTOS`: real faces accepted (or, with --fakes, generated
faces passed) as the same photos are taken differently.  Registered by :mod:`.generalise`;
runs without TensorFlow (the [edge] extra)."""

from __future__ import annotations

import sys

from fakeface.edge.cli_numbers import face_pixels, positive_int, probability

from ..data.layout import SPLITS
from .options import FORMATTER, source_list

DEFAULT_OUT = "reports/capture"
MAX_UNREADABLE_LINES = 20  # one line each on stderr, then a count
BACKENDS = ("auto", "litert", "tflite-runtime", "onnxruntime")

DESCRIPTION = """\
Are real people in studio, ID or camera photos called fake?  For a folder of REAL photos
(raw photos, not crops), the share of faces judged real (acceptance, at the model's own
threshold or --threshold) as the same photos are taken differently:
  face size     the photo rescaled so the face box's shorter side is 64, 96, 128, 192, 256 px
  JPEG          lossless (PNG in memory), quality 90, 70, 50
  exposure      every pixel x0.8 (under-exposed) or x1.25 (over-exposed, highlights clipping)
  camera frame  the photo resized and letterboxed into a 640x480 frame
  background    flat grey, or strongly blurred, outside an ellipse around the face
and per person group where the file names carry one (UTKFace: sex, race, age; 3DSK: sex;
NUAA, Taiwanese and Canada studio sets: the person).  Every row has the faces, the photos
whose face was not found in that variant ("no face": left out, never counted as accepted),
and the acceptance with a Wilson 95 % interval.

PHOTOS is a data folder with real/<source>/ (each source reported on its own; --split
picks the stable split, default test) or any folder of photos (its sub-folders are the
sources; every photo by default).  Sources whose file names number the person are COUNTED
BY PERSON: a person filmed 40 times counts once (the mean over persons of each person's
acceptance).

A slice is FLAGGED when its acceptance is below 0.93, or more than 0.05 under its
source's own as-is acceptance; slices of fewer than 10 faces are shown, not flagged.
Writes capture.md, capture.json (strict JSON) and capture.png (needs matplotlib; skipped
with a note on an edge-only install) into --out.  The model is a .tflite or .onnx file
with its .json sidecar, run by the edge pipeline: no TensorFlow needed.

--fakes turns the question round for GENERATED faces: PHOTOS' fake/<source>/ (or a folder of
generated photos) through the same variants, and the share that PASSES AS REAL.  A slice is
flagged when more than 0.07 pass, or 0.05 more than as they are: that way of taking or editing
the photo evades the check (a blurred backdrop around a generated face, for one).

exit codes: 0 nothing flagged, 1 at least one slice flagged, 2 bad options or input."""

EXAMPLES = """\
examples:
  fakeface generalise capture edge/models/fakeface.tflite ../shared/data/faces \\
      --sources studio-3dsk,canada-studio,taiwanese-studio,nuaa-webcam --split test
  fakeface generalise capture edge/models/fakeface.onnx my_id_photos/ --out reports/id
  fakeface generalise capture model.tflite ../shared/data/faces --sources utkface --limit 200 --json
  fakeface generalise capture edge/models/fakeface.tflite ../shared/data/faces --fakes --limit 100 \\
      --out reports/capture-fakes        # does a blurred backdrop or a re-encode let fakes through?"""


def add_capture_parser(sub) -> None:
    q = sub.add_parser("capture", help="real faces accepted (--fakes: generated ones passed) as photos are taken "
                                       "differently (size, JPEG, camera frame, background, person groups); runs "
                                       "without TensorFlow",
                       formatter_class=FORMATTER, description=DESCRIPTION, epilog=EXAMPLES)
    q.add_argument("model", metavar="MODEL", help=".tflite or .onnx model with its .json sidecar")
    q.add_argument("photos", metavar="PHOTOS",
                   help="a data folder with real/<source>/ (and fake/<source>/ for --fakes), or any folder of photos")
    q.add_argument("--split", choices=SPLITS + ("all",), default=None,
                   help="stable split to measure (default: test in a data folder, all elsewhere)")
    q.add_argument("--sources", type=source_list, default=None, metavar="A,B",
                   help="only these source folders, e.g. nuaa-webcam,real/canada-studio (default: all)")
    q.add_argument("--fakes", action="store_true",
                   help="measure generated faces instead (a data folder's fake/<source>/, or a folder of them): "
                        "the share that passes as real in each variant, flagged above 0.07 or 0.05 over as-is")
    q.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="at most N photos per source, spread over its persons (quick runs; default: all)")
    q.add_argument("--threshold", type=probability, default=None,
                   help="p(fake) at or above it is judged fake (default: the model's sidecar threshold)")
    q.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    q.add_argument("--backend", choices=BACKENDS, default="auto", help="interpreter (default auto)")
    q.add_argument("--threads", type=positive_int, default=None, help="interpreter threads (default: all CPUs)")
    q.add_argument("--min-face", type=face_pixels, default=20, metavar="PX",
                   help="smallest face searched, shorter box side in px (default 20; the smallest variant is 64)")
    q.add_argument("--json", action="store_true", help="print the JSON instead of the Markdown table")
    q.add_argument("--quiet", action="store_true", help="no progress bar (it is shown only on a terminal anyway)")
    q.set_defaults(func=run_capture)


def write_capture(report, out_dir) -> tuple[list, str]:
    """capture.json, capture.md and capture.png under ``out_dir``; (paths, a note when the PNG was skipped)."""
    from pathlib import Path

    from fakeface.edge.atomic import write_text_atomic

    from ..reports.capture_plot import plot_capture

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from fakeface.edge.errors import FakeFaceError

        raise FakeFaceError(f"{out_dir}: cannot create the output folder ({exc.strerror or exc})") from None
    paths = [out / "capture.json", out / "capture.md"]
    write_text_atomic(paths[0], report.to_json_text() + "\n")
    write_text_atomic(paths[1], report.to_markdown() + "\n")
    png, note = plot_capture(report, out / "capture.png")
    return paths + ([png] if png else []), note


def run_capture(args) -> int:
    from ..reports.capture import check_model, measure
    from ..reports.capture_inputs import find_photos
    from ..reports.capture_report import capture_report

    check_model(args.model)
    photo_set = find_photos(args.photos, args.split, args.sources, args.limit, kind="fake" if args.fakes else "real")
    m = measure(photo_set, args.model, backend=args.backend, threads=args.threads, threshold=args.threshold,
                min_face=args.min_face, progress=False if args.quiet else None)
    report = capture_report(m)
    paths, note = write_capture(report, args.out)
    print(report.to_json_text() if args.json else report.to_markdown())
    bad = [(key, reason) for s in report.sources for key, reason in s.unreadable]
    for key, reason in bad[:MAX_UNREADABLE_LINES]:
        print(f"fakeface generalise capture: skipped {key}: {reason}", file=sys.stderr)
    if len(bad) > MAX_UNREADABLE_LINES:
        print(f"fakeface generalise capture: ... and {len(bad) - MAX_UNREADABLE_LINES} more unreadable (capture.json "
              "lists them all)", file=sys.stderr)
    unreadable = len(bad)
    tried = sum(s.photos for s in report.sources)
    print(f"fakeface generalise capture: {tried} photo(s) in {len(report.sources)} source(s), {unreadable} "
          f"unreadable, {len(report.flagged())} slice(s) flagged, {m.seconds:.1f} s; wrote "
          + ", ".join(str(p) for p in paths), file=sys.stderr)
    if note:
        print(note, file=sys.stderr)
    return report.exit_code
