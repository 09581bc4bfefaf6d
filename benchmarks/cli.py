"""``fakeface bench``: latency of every stage, format, backend and thread count on this device.

Registration imports nothing heavy: the benchmark modules (and TensorFlow, only for
--with-reference or the speed-up target) are imported inside the run functions.
"""

from __future__ import annotations

import argparse
import sys

from fakeface.edge.cli_numbers import NumberOption, count_or_zero, face_pixels, positive_float, positive_int

EXAMPLES = """examples:
  fakeface bench                                   # shipped models, all stages, sizes, threads 1/2/all
  fakeface bench --models exported/ --stages classify --threads 1
  fakeface bench --sizes 640x480 --min-face 80 --seconds 5 --out results/pi5.json --peak-gflops 38.4
  fakeface bench --stages detect --sizes 640x480 --threads 1 --profile   # where a detection's time goes
  fakeface bench --images my_photos/*.jpg --yunet ~/models/yunet.onnx
  fakeface bench --with-reference --reference-model fakeface.keras --sizes 640x480
  fakeface bench report results/*.json --out report/
  fakeface bench targets --models exported/ --reference-model fakeface.keras
  fakeface bench frames ../shared/data/faces frames/   # the project's 20-frame set, built from the data
  fakeface bench --frames frames/ --stages detect --sizes 640x480 --threads 1 --profile

Timing follows TFLite's benchmark_model: warm-up runs are not timed, init and the first
inference are reported apart, then each timed run is the wall time of one call.
"""


def _number_list(element: NumberOption):
    """An argparse ``type=`` for a comma list whose every value ``element`` checks."""

    def parse(text: str) -> list:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected a comma list of {element.describe()}, not {text!r}")
        try:
            return [element(p) for p in parts]
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None

    parse.__name__ = f"list of {element.describe()}"
    return parse


_thread_counts = _number_list(positive_int)
_face_sizes = _number_list(face_pixels)


def _threads(text: str) -> list[int]:
    from fakeface.edge.cpus import usable_cpus

    parts = [p.strip() for p in text.split(",") if p.strip()]
    cores = usable_cpus()  # "all": the CPUs this process may use (affinity, cgroup quota)
    return sorted(set(_thread_counts(",".join(str(cores) if p == "all" else p for p in parts))))


def _sizes(text: str) -> list[tuple[int, int]]:
    from .frames import parse_size

    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected a comma list of WIDTHxHEIGHT, not {text!r}")
    try:
        return [parse_size(p) for p in parts]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _stages(text: str) -> list[str]:
    from .suite import STAGES

    vals = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in vals if v not in STAGES]
    if bad or not vals:
        raise argparse.ArgumentTypeError(f"unknown stage(s) {bad}; choose from {', '.join(STAGES)}")
    return vals


def register(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="measure latency per stage, model format, backend, threads and frame size",
        description="Benchmark the edge runtime on this device and write one JSON results file. "
        "Stages: decode, detect (MTCNN, default and face-unlock settings), classify (per face) and "
        "end to end; every model format with every installed backend that can run it.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", action="append", default=[], metavar="FILE",
                   help="classifier .tflite/.onnx with its .json sidecar (repeatable; default: the shipped models)")
    p.add_argument("--models", metavar="DIR", help="benchmark every exported model file in DIR (from fakeface export)")
    p.add_argument("--backends", metavar="LIST", type=lambda s: [v.strip() for v in s.split(",") if v.strip()],
                   help="only these backends (litert, tflite-runtime, onnxruntime; default: all installed)")
    p.add_argument("--threads", type=_threads, default=None, metavar="LIST",
                   help="thread counts, e.g. 1,2,all (default: 1, 2 and all usable CPUs, de-duplicated)")
    p.add_argument("--sizes", type=_sizes, default=None, metavar="LIST",
                   help="frame sizes WxH (default: 320x240,640x480,1280x720)")
    p.add_argument("--min-face", type=_face_sizes, default=[20, 80], metavar="LIST",
                   help="detector minimum face sizes in pixels (default: 20,80 = default and face-unlock)")
    p.add_argument("--stages", type=_stages, default=None, metavar="LIST",
                   help="decode,detect,classify,e2e (default: all)")
    p.add_argument("--images", nargs="+", default=[], metavar="IMG",
                   help="photos to make the frames from (default: the shipped sample photo)")
    p.add_argument("--frames", metavar="DIR",
                   help="time every image in DIR (e.g. from `fakeface bench frames`), each the same number of "
                   "runs; latencies are then over all of them")
    p.add_argument("--runs", type=positive_int, default=None, metavar="N",
                   help="timed runs per configuration (default: 50)")
    p.add_argument("--seconds", type=positive_float, default=None, metavar="S",
                   help="time budget per configuration; stops at --runs or S seconds, whichever comes first")
    p.add_argument("--warmup", type=count_or_zero, default=5, metavar="N", help="untimed warm-up runs (default: 5)")
    p.add_argument("--out", metavar="FILE", help="results file (default: results/<device>-<timestamp>.json)")
    p.add_argument("--device-name", metavar="NAME", help="device label in the results (default: host name)")
    p.add_argument("--peak-gflops", type=positive_float, metavar="G",
                   help="the device's peak GFLOP/s, to show achieved throughput as a share of it")
    p.add_argument("--with-reference", action="store_true",
                   help="also time the TensorFlow reference stack (mtcnn + Keras) on the same frames")
    p.add_argument("--reference-model", metavar="KERAS", help="the .keras model for --with-reference")
    p.add_argument("--yunet", metavar="ONNX", help="also time the YuNet detector (OpenCV) from this file")
    p.add_argument("--profile", action="store_true",
                   help="also time each part of a detection (pyramid, P/R/O-Net, patch crops, post-processing)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)

    bsub = p.add_subparsers(dest="bench_command", metavar="{report,targets,frames}")
    r = bsub.add_parser("report", help="merge results files into Markdown tables and PNG charts",
                        description="Merge results files from several devices into report.md and PNG charts.",
                        epilog="example:\n  fakeface bench report results/*.json --out report/",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("files", nargs="+", metavar="RESULTS.json")
    r.add_argument("--out", default="report", metavar="DIR", help="output folder (default: report/)")
    r.set_defaults(func=run_report)

    t = bsub.add_parser("targets", help="measure the performance targets and print PASS/FAIL",
                        description="Measure the project's performance targets on this device: edge >= 8x faster "
                        "than the reference stack (same faces), int8 classifier <= 3 ms/face on 1 thread, "
                        "cold start <= 0.5 s, peak RSS of `fakeface check` <= 200 MB, a 4000x3000 JPEG through "
                        "`check` in <= 400 MB and <= 1.0 s; with --yunet, end to end per 640x480 frame <= 1.6x / "
                        "0.35x YuNet's detection at min face 20 / 80 (median over --frames DIR). For the one-core figures of a Pi-class "
                        "device, pin it: taskset -c 0 fakeface bench targets ...",
                        epilog="examples:\n  fakeface bench targets --models exported/\n"
                        "  fakeface bench targets --yunet ../shared/peers/yunet.onnx\n"
                        "  fakeface bench targets --model m.int8.tflite --reference-model m.keras --json t.json\n"
                        "exit code: 0 all measured targets pass, 1 one fails, 2 bad options",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--model", metavar="FILE", help="classifier for the pipeline targets (default: shipped)")
    t.add_argument("--int8-model", metavar="FILE", help="full-int8 classifier (default: found in --models / shipped)")
    t.add_argument("--models", metavar="DIR", help="folder of exported models to find the int8 one in")
    t.add_argument("--reference-model", metavar="KERAS", help="the Keras model of the reference stack")
    t.add_argument("--runs", type=positive_int, default=20, metavar="N",
                   help="timed runs for the speed-up (default: 20)")
    t.add_argument("--yunet", metavar="ONNX",
                   help="also judge end to end per frame against OpenCV's YuNet detection from this file")
    t.add_argument("--frames", metavar="DIR",
                   help="frames for the reference and YuNet targets (default: the sample photo letterboxed)")
    t.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    t.set_defaults(func=run_targets)

    f = bsub.add_parser("frames", help="build the project's 20-frame benchmark set from the face data",
                        description="Write the frame set of the project's target run into OUT as 640x480 PNGs: "
                        "the first frame of each of 10 people from real/nuaa-webcam, then 10 other real photos "
                        "(1-3 faces, busy backgrounds) letterboxed. The data stays where it is; time the set "
                        "with --frames OUT.",
                        epilog="example:\n  fakeface bench frames ../shared/data/faces frames/\n"
                        "  taskset -c 1 fakeface bench targets --frames frames/ --yunet ../shared/peers/yunet.onnx",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("faces_dir", metavar="FACES_DIR", help="the face data folder (holds real/nuaa-webcam, ...)")
    f.add_argument("out", metavar="OUT", help="folder to write the frames into (made if missing)")
    f.set_defaults(func=run_frames)


def _frame_files(folder: str, prog: str):
    """The image files of ``--frames`` as strings, or None after printing why there are none."""
    from .frames import frame_paths

    try:
        return [str(p) for p in frame_paths(folder)]
    except FileNotFoundError as exc:
        print(f"{prog}: error: --frames {exc}", file=sys.stderr)
        return None


def run(args) -> int:
    from .benchmark import BenchSettings, bench_and_write
    from .runners import TimingPlan
    from .suite import STAGES, default_thread_counts

    if args.with_reference and not args.reference_model:
        print("fakeface bench: error: --with-reference needs --reference-model MODEL.keras", file=sys.stderr)
        return 2
    if args.frames and args.images:
        print("fakeface bench: error: give --frames DIR or --images, not both", file=sys.stderr)
        return 2
    images = _frame_files(args.frames, "fakeface bench") if args.frames else args.images
    if images is None:
        return 2
    runs = args.runs if args.runs is not None else (None if args.seconds else 50)
    settings = BenchSettings(
        stages=args.stages or STAGES, model_files=args.model, models_dir=args.models, backends=args.backends,
        threads=args.threads or default_thread_counts(), min_faces=args.min_face, images=images,
        plan=TimingPlan(warmup=args.warmup, runs=runs, seconds=args.seconds), device_name=args.device_name,
        peak_gflops=args.peak_gflops, with_reference=args.with_reference, reference_model=args.reference_model,
        yunet=args.yunet, profile=args.profile, progress=not args.no_progress,
    )
    if args.sizes:
        settings.sizes = args.sizes
    path = bench_and_write(settings, args.out)
    from .report import summary_lines
    from .results import load_results
    from .stage_profile import profile_lines

    doc = load_results(path)
    for line in summary_lines(doc) + profile_lines(doc):
        print(line)
    print(f"results: {path}")
    return 0


def run_report(args) -> int:
    from .report import write_report

    try:
        written = write_report(args.files, args.out, log=lambda m: print(m, file=sys.stderr))
    except ValueError as exc:
        print(f"fakeface bench report: error: {exc}", file=sys.stderr)
        return 2
    for p in written:
        print(p)
    return 0


def run_targets(args) -> int:
    from .targets import run_targets as measure, targets_json

    frames = _frame_files(args.frames, "fakeface bench targets") if args.frames else None
    if args.frames and frames is None:
        return 2
    results = measure(model=args.model, int8_model=args.int8_model, models_dir=args.models,
                      reference_model=args.reference_model, runs=args.runs, yunet=args.yunet, frames=frames)
    for r in results:
        print(r.line())
    if args.json:
        from fakeface.edge.atomic import write_text_atomic

        write_text_atomic(args.json, targets_json(results) + "\n")
    return 1 if any(r.passed is False for r in results) else 0


def run_frames(args) -> int:
    from fakeface.edge.errors import ImageError

    from .frames import write_frame_set

    try:
        written = write_frame_set(args.faces_dir, args.out)
    except (OSError, ImageError) as exc:
        print(f"fakeface bench frames: error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(written)} frames in {args.out}")
    return 0
