"""``fakeface watch``: the face-unlock loop on a camera or a video file."""

from __future__ import annotations

import argparse
import json
import sys

from .cli_check import add_runtime_options

EXIT_REAL = 0
EXIT_NOT_REAL = 1  # fake, no face or unsure: do not unlock
EXIT_SOURCE_FAILED = 3


def register(sub) -> None:
    p = sub.add_parser(
        "watch",
        help="face-unlock loop: judge a camera or video stream frame by frame",
        description="Check every frame of a camera or video, smooth the per-frame decisions over the "
        "last N frames and print a stable verdict: real, fake, no-face or unsure.",
        epilog="examples:\n  fakeface watch --source 0 --min-face 80\n  fakeface watch --source clip.mp4 --json\n\n"
        "exit codes:\n  0  final verdict real\n  1  final verdict fake, no-face or unsure\n"
        "  2  bad options or model\n  3  the source could not be opened or read\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--source", required=True, metavar="CAMERA_INDEX|VIDEO_FILE",
                   help="camera index (0 is the first camera) or a video file")
    add_runtime_options(p)
    p.add_argument("--window", type=int, default=15, metavar="N", help="frames to smooth over (default: 15)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    p.add_argument("--retries", type=int, default=5, metavar="N",
                   help="failed reads in a row (or tries to open) before giving up (default: 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object per frame, then a summary")
    p.set_defaults(func=run)


def run(args) -> int:
    from .pipeline import CheckerOptions, FakeFaceChecker
    from .stream import watch

    source = int(args.source) if args.source.isdigit() else args.source
    opts = CheckerOptions(model_path=args.model, backend=args.backend, threads=args.threads,
                          min_face_size=args.min_face)

    def on_frame(decision, verdict, fps):
        if args.json:
            print(json.dumps({"frame": decision.index, "label": decision.label,
                              "fake_probability": decision.fake_probability, "faces": len(decision.faces),
                              "verdict": verdict, "fps": round(fps, 2)}), flush=True)
        else:
            p = "-" if decision.fake_probability is None else f"{decision.fake_probability:.3f}"
            print(f"\rframe {decision.index:6d}  {decision.label:7s} p(fake)={p:5s}  verdict={verdict:7s}  "
                  f"{fps:5.1f} FPS", end="", flush=True)

    with FakeFaceChecker.create_from_options(opts) as checker:
        summary = watch(source, checker.check, real_label=checker.contract.labels[0], window=args.window,
                        max_frames=args.max_frames, max_open_retries=args.retries,
                        max_failed_reads=args.retries, on_frame=on_frame)
    if not args.json and summary.frames_checked:
        print()
    for err in summary.errors:
        print(f"fakeface watch: skipped {err}", file=sys.stderr)
    line = {"summary": True, "verdict": summary.verdict, "frames_read": summary.frames_read,
            "frames_checked": summary.frames_checked, "frames_failed": summary.frames_failed,
            "fps": round(summary.fps, 2), "stopped": summary.stop_reason}
    print(json.dumps(line) if args.json else
          f"verdict: {summary.verdict}  ({summary.frames_checked} frames checked, {summary.frames_failed} skipped, "
          f"{summary.fps:.1f} FPS; stopped: {summary.stop_reason})")
    if summary.frames_read == 0:
        print(f"fakeface watch: error: {summary.stop_reason or 'no frames read'}", file=sys.stderr)
        return EXIT_SOURCE_FAILED
    return EXIT_REAL if summary.verdict == checker.contract.labels[0] else EXIT_NOT_REAL
