"""``fakeface watch``: the face-unlock loop on a camera or a video file."""

from __future__ import annotations

import argparse
import sys

from .cli_check import add_runtime_options
from .cli_numbers import count_or_zero, positive_int
from .strict_json import dumps
from .wording import plural

EXIT_REAL = 0
EXIT_NOT_REAL = 1  # fake, no face or unsure: do not unlock
EXIT_SOURCE_FAILED = 3
# Decimals of p(fake), as in check's output: 5 in JSON, 3 in text.
JSON_DECIMALS = 5


def register(sub) -> None:
    p = sub.add_parser(
        "watch",
        help="face-unlock loop: judge a camera or video stream frame by frame",
        description="Check every frame of a camera or video, smooth the per-frame decisions over the "
        "last N frames and print a stable verdict: real, fake, no-face or unsure.",
        epilog="examples:\n  fakeface watch --source 0 --min-face 80\n  fakeface watch --source clip.mp4 --json\n\n"
        "exit codes:\n  0  final verdict real\n  1  final verdict fake, no-face or unsure\n"
        "  2  bad options or model\n  3  the source could not be opened or read (a missing file at once)\n"
        "  130  interrupted while the model loads or the source opens (Ctrl-C or SIGTERM); once it is\n"
        "       open, Ctrl-C ends the loop cleanly with the verdict's code\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--source", required=True, metavar="CAMERA_INDEX|VIDEO_FILE",
                   help="camera index (0 is the first camera) or a video file")
    add_runtime_options(p)
    p.add_argument("--window", type=positive_int, default=15, metavar="N",
                   help="frames to smooth over, at least 1 (default: 15)")
    p.add_argument("--max-frames", type=positive_int, default=None, metavar="N", help="stop after N frames")
    p.add_argument("--retries", type=count_or_zero, default=5, metavar="N",
                   help="after a failed open, or a failed read, try N more times before giving up; "
                   "0 = one try (default: 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object per frame, then a summary")
    p.set_defaults(func=run)


def frame_printer(as_json: bool, to_terminal: bool):
    """on_frame callback: JSON lines, one status line redrawn in place on a terminal, or
    one plain line per frame when stdout is a file or a pipe."""

    def on_frame(decision, verdict, fps):
        p = decision.fake_probability
        if as_json:
            print(dumps({"frame": decision.index, "label": decision.label,
                              "fake_probability": None if p is None else round(p, JSON_DECIMALS),
                              "faces": len(decision.faces), "verdict": verdict, "fps": round(fps, 2)}), flush=True)
            return
        text = "-" if p is None else f"{p:.3f}"
        line = (f"frame {decision.index:6d}  {decision.label:7s} p(fake)={text:5s}  verdict={verdict:7s}  "
                f"{fps:5.1f} FPS")
        print(f"\r{line}" if to_terminal else line, end="" if to_terminal else "\n", flush=True)

    return on_frame


def summary_json(summary, threshold: float) -> dict:
    """The last JSON line; ``verdict`` is null when the source delivered no frame."""
    return {"summary": True, "verdict": summary.verdict if summary.frames_read else None,
            "frames_read": summary.frames_read, "frames_checked": summary.frames_checked,
            "frames_failed": summary.frames_failed, "fps": round(summary.fps, 2),
            "threshold": round(threshold, JSON_DECIMALS), "stopped": summary.stop_reason}


def summary_text(summary, threshold: float) -> str:
    """The last line: the verdict, or that no frame was read (no verdict to give)."""
    if not summary.frames_read:
        return f"no verdict: no frame was read from the source (stopped: {summary.stop_reason})"
    return (f"verdict: {summary.verdict}  ({plural(summary.frames_checked, 'frame')} checked, {summary.frames_failed} skipped, "
            f"{summary.fps:.1f} FPS; threshold {threshold:.4g}; stopped: {summary.stop_reason})")


def run(args) -> int:
    from .pipeline import CheckerOptions, FakeFaceChecker
    from .stream import missing_file, watch

    source = int(args.source) if args.source.isdigit() else args.source
    problem = missing_file(source)
    if problem:  # retrying helps a camera that is starting, never a file that is not there
        print(f"fakeface watch: error: {problem}", file=sys.stderr)
        return EXIT_SOURCE_FAILED
    opts = CheckerOptions(model_path=args.model, backend=args.backend, threads=args.threads,
                          min_face_size=args.min_face, threshold=args.threshold)
    to_terminal = sys.stdout.isatty()
    with FakeFaceChecker.create_from_options(opts) as checker:
        summary = watch(source, checker.check, real_label=checker.contract.labels[0], window=args.window,
                        max_frames=args.max_frames, max_open_retries=args.retries + 1,
                        max_failed_reads=args.retries + 1, on_frame=frame_printer(args.json, to_terminal))
    if not args.json and to_terminal and summary.frames_checked:
        print()
    for err in summary.errors:
        print(f"fakeface watch: skipped {err}", file=sys.stderr)
    print(dumps(summary_json(summary, checker.threshold)) if args.json else summary_text(summary, checker.threshold))
    if summary.frames_read == 0:
        print(f"fakeface watch: error: {summary.stop_reason or 'no frames read'}", file=sys.stderr)
        return EXIT_SOURCE_FAILED
    return EXIT_REAL if summary.verdict == checker.contract.labels[0] else EXIT_NOT_REAL
