"""`fakeface prepare`: crop the faces of a folder of photos into a training folder."""

from __future__ import annotations

import sys

from fakeface.edge.cli_numbers import count_or_zero, face_pixels, non_negative_float, positive_int

from .options import FORMATTER, crop_side


def register(subparsers) -> None:
    from ..data.prepare import (DEFAULT_CONTEXT, DEFAULT_CROP_MARGIN, DEFAULT_CROP_MODE, DEFAULT_INPUT_SIZE,
                          DEFAULT_NATIVE_MAX_SIDE)

    p = subparsers.add_parser(
        "prepare",
        help="crop the faces of a folder of photos into a training folder",
        formatter_class=FORMATTER,
        description=(
            "Detect the face(s) in every photo under SRC/real and SRC/fake (any sub-folders) and save\n"
            "each crop as a lossless PNG under OUT with the same folder layout.  Crops are cut exactly\n"
            "as the edge runtime cuts them (fakeface.edge.contract.crop_face).  OUT/manifest.jsonl\n"
            "records every photo's box, score and landmarks, or why it has no crop (no face,\n"
            "unreadable); those photos are listed at the end and never stop the run.\n"
            "Rerunning the same command resumes: finished photos are skipped."
        ),
        epilog=(
            "examples:\n"
            "  fakeface prepare ../shared/data/faces work/crops\n"
            "  fakeface prepare photos/ work/crops --faces all --detector edge\n"
            "  # recut at another size from stored boxes, no detection:\n"
            "  fakeface prepare ../shared/data/faces work/crops128 --input-size 128 \\\n"
            "      --reuse-boxes work/crops/manifest.jsonl"
        ),
    )
    p.add_argument("src", metavar="SRC", help="folder with real/ and fake/ sub-folders of photos")
    p.add_argument("out", metavar="OUT", help="output folder for crops and manifest.jsonl")
    p.add_argument("--input-size", type=crop_side, default=DEFAULT_INPUT_SIZE,
                   help=f"crop side in pixels (default {DEFAULT_INPUT_SIZE}: the default model's input)")
    p.add_argument("--crop-margin", type=non_negative_float, default=DEFAULT_CROP_MARGIN,
                   help=f"margin around the face box, per side, as a share of its size (default {DEFAULT_CROP_MARGIN})")
    p.add_argument("--crop", choices=("resize", "native"), default=DEFAULT_CROP_MODE,
                   help="resize: scale the whole face square to --input-size; native: keep the centre "
                        "--input-size window at the photo's own pixel scale, so generator traces are not "
                        f"resampled away (squares over --native-max-side px are shrunk first; default {DEFAULT_CROP_MODE})")
    p.add_argument("--native-max-side", type=positive_int, default=DEFAULT_NATIVE_MAX_SIDE,
                   help=f"with --crop native: larger face squares are shrunk to this side first (default {DEFAULT_NATIVE_MAX_SIDE})")
    p.add_argument("--context", type=count_or_zero, default=DEFAULT_CONTEXT, metavar="PX",
                   help="with --crop native: also keep the centre PX x PX window of each face at the same scale "
                        "under OUT/context/, for 'fakeface train --scale-augment' (160 lets it shrink faces to "
                        f"0.6x; default {DEFAULT_CONTEXT}: not kept)")
    p.add_argument("--faces", choices=("best", "all"), default="best",
                   help="photos with several faces: keep the highest-scoring face (default) or all")
    p.add_argument("--detector", choices=("edge", "mtcnn"), default="edge",
                   help="edge: the runtime's own TF-free MTCNN (default), so crops match what users get; "
                        "mtcnn: the reference mtcnn package (TensorFlow)")
    p.add_argument("--min-face-size", type=face_pixels, default=20, help="smallest face to detect, pixels (default 20)")
    p.add_argument("--workers", type=count_or_zero, default=0, help="worker processes (default: one per core)")
    p.add_argument("--reuse-boxes", metavar="MANIFEST",
                   help="take face boxes from an earlier manifest.jsonl instead of detecting again")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.prepare import PrepareOptions, prepare_folder

    opts = PrepareOptions(input_size=args.input_size, crop_margin=args.crop_margin, crop_mode=args.crop,
                          native_max_side=args.native_max_side, context=args.context, faces=args.faces,
                          detector=args.detector, min_face_size=args.min_face_size, workers=args.workers,
                          reuse_boxes=args.reuse_boxes)
    rep = prepare_folder(args.src, args.out, opts, progress=not args.quiet)
    for rel, status, reason in sorted(rep.failures)[:50]:
        print(f"  {status:10s} {reason}", file=sys.stderr)
    if len(rep.failures) > 50:
        print(f"  ... and {len(rep.failures) - 50} more (see {args.out}/manifest.jsonl)", file=sys.stderr)
    rate = rep.processed / rep.seconds if rep.seconds else 0.0
    print(f"prepare: {rep.photos} photos, {rep.skipped} already done, {rep.processed} processed "
          f"({rate:.1f}/s), {rep.crops} crops, {rep.no_face} without a face, {rep.unreadable} unreadable")
    if rep.interrupted:
        print("prepare: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0
