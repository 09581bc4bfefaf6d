"""Sub-commands of the training layer: prepare, train, evaluate, calibrate.

Registration only builds argparse parsers: TensorFlow is imported inside each
``run`` function, so ``fakeface --help`` stays fast and works without the [train] extra.
"""

from __future__ import annotations

import argparse
import json
import sys

from fakeface.edge.cli_numbers import (NumberOption, count_or_zero, face_pixels, non_negative_float, positive_float,
                                       positive_int, probability, share_above_zero)

from .data.layout import SPLITS

_FORMATTER = argparse.RawDescriptionHelpFormatter
# The model contract's sane range for input_size (fakeface.edge.contract).
crop_side = NumberOption(int, low=8, high=1024)


# -- prepare ----------------------------------------------------------------------
def register_prepare(subparsers) -> None:
    from .data.prepare import (DEFAULT_CONTEXT, DEFAULT_CROP_MARGIN, DEFAULT_CROP_MODE, DEFAULT_INPUT_SIZE,
                          DEFAULT_NATIVE_MAX_SIDE)

    p = subparsers.add_parser(
        "prepare",
        help="crop the faces of a folder of photos into a training folder",
        formatter_class=_FORMATTER,
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
    p.set_defaults(func=run_prepare)


def run_prepare(args) -> int:
    from .data.prepare import PrepareOptions, prepare_folder

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


# -- train ------------------------------------------------------------------------
def register_train(subparsers) -> None:
    from .models.architectures import ARCHITECTURES, DEFAULT_ARCH

    p = subparsers.add_parser(
        "train",
        help="train a real/fake face classifier on a folder of crops",
        formatter_class=_FORMATTER,
        description=(
            "Train on CROPS (made by 'fakeface prepare': real/ and fake/ with source sub-folders).\n"
            "The split is fixed by the md5 of each photo's relative path (0-7 train, 8 validation,\n"
            "9 test), so the test split never changes between runs.  Writes into RUN: model.keras,\n"
            "its metadata sidecar model.keras.json (crop geometry, threshold, sha256), metrics.json\n"
            "with per-source results on validation and test, PNG plots, and a checkpoint per epoch\n"
            "(--resume continues from it).  The model takes raw RGB pixels 0..255."
        ),
        epilog=(
            "examples:\n"
            "  fakeface train work/crops --out runs/lite0 --box-jitter 0.5 --style-augment 0.3 --background-augment 0.15\n"
            "  fakeface train work/crops --out runs/seed --arch seed --epochs 8\n"
            "  fakeface train work/crops --out runs/lite0 --resume      # after an interruption"
        ),
    )
    p.add_argument("crops", metavar="CROPS", help="crop folder made by 'fakeface prepare'")
    p.add_argument("--out", required=True, metavar="RUN", help="output folder of this run")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default=DEFAULT_ARCH,
                   help=f"model architecture (default {DEFAULT_ARCH}; seed = the reference article's CNN)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: the architecture's recipe, 6 for lite0, 8 for seed and compact_q)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: the architecture's recipe)")
    p.add_argument("--learning-rate", type=positive_float, default=None, help="peak learning rate (default: the recipe's)")
    p.add_argument("--patience", type=count_or_zero, default=0,
                   help="stop early after this many epochs without a better validation AUC (default 0: off)")
    p.add_argument("--balance", choices=("class", "source"), default="source",
                   help="loss weights: class = real and fake count equally; source = also every source "
                        "folder within a class counts equally, so small sources are not drowned (default)")
    p.add_argument("--no-augment", action="store_true", help="train without augmentation (for comparisons)")
    _add_scale_augment(p)
    _add_box_and_style_augment(p)
    p.add_argument("--augment-strength", type=non_negative_float, default=1.0, metavar="S",
                   help="how often the trace-destroying augmentations (random JPEG, downscale-upscale, blur) "
                        "are applied, relative to the default (1.0: 16 %%, 10 %% and 6 %% of crops; 2 = twice as often)")
    p.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                   help="tf.distribute strategy (multiworker reads TF_CONFIG)")
    p.add_argument("--resume", action="store_true", help="continue from RUN's last epoch checkpoint")
    p.add_argument("--init-from", metavar="MODEL",
                   help="start from the weights of a trained .keras model of the same architecture "
                        "(a warm restart with a fresh learning-rate schedule)")
    p.add_argument("--int8-stem", action="store_true",
                   help="with --init-from: snap the first convolution to the int8 grid, freeze it and train "
                        "the rest (1-2 epochs at a low --learning-rate), so a full-int8 export decides like "
                        "the float model (see fakeface/train/models/int8_stem.py)")
    p.add_argument("--quant-noise", type=non_negative_float, default=0.0, metavar="K",
                   help="with --init-from: add int8 rounding noise (K x its standard deviation, calibrated on "
                        "training crops) to every tensor a full-int8 export quantises, so the float model learns "
                        "to decide as its int8 file will; 1 epoch at --learning-rate 5e-5 with K=1 is the "
                        "default model's last phase (default 0: off; see fakeface/train/models/quant_noise.py)")
    p.add_argument("--seed", type=count_or_zero, default=1, help="random seed (default 1)")
    p.add_argument("--limit", type=count_or_zero, default=0, help="use at most this many training crops (quick trials)")
    p.add_argument("--quiet", action="store_true", help="less output")
    p.set_defaults(func=run_train)


def _add_scale_augment(p) -> None:
    p.add_argument("--scale-augment", type=probability, default=0.0, metavar="P",
                   help="shrink this share of training faces by 0.6-1x (area averaging, no re-enlarging) "
                        "before their window is cut, so the model also sees faces at smaller pixel scales "
                        "than its photos'; needs crops made with 'prepare --context 160' (default 0: off; "
                        "0.25 lifted the held-out StyleGAN2-128 fold of leave-one-out from AUC 0.46 to 0.65)")


def _add_box_and_style_augment(p) -> None:
    p.add_argument("--box-jitter", type=probability, default=0.0, metavar="P",
                   help="re-cut this share of training faces from a box shifted by up to 5%% and scaled by "
                        "0.9-1.1x, so the score does not depend on where the detector's box lands "
                        "(resize-mode crops; default 0: off)")
    p.add_argument("--style-augment", type=probability, default=0.0, metavar="P",
                   help="change saturation, gamma and contrast of this share of training faces, real and fake "
                        "alike, so photo style cannot stand for 'fake' (default 0: off)")
    p.add_argument("--background-augment", type=probability, default=0.0, metavar="P",
                   help="blur or flatten the background outside the face box of this share of training faces, "
                        "real and fake alike (default 0: off)")


def _augment_options(args):
    from dataclasses import replace

    from .data.augment import AugmentOptions

    return replace(AugmentOptions().with_strength(getattr(args, "augment_strength", 1.0)), scale_p=args.scale_augment,
                   box_jitter_p=args.box_jitter, style_p=args.style_augment,
                   background_p=args.background_augment)


def run_train(args) -> int:
    from .onednn import import_tf_for_training

    import_tf_for_training()  # oneDNN on: ~2x faster training steps on x86
    from .fit import TrainOptions, train_run

    opts = TrainOptions(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
                        learning_rate=args.learning_rate, patience=args.patience, augment=not args.no_augment,
                        strategy=args.strategy, resume=args.resume, seed=args.seed, limit=args.limit,
                        init_from=args.init_from, int8_stem=args.int8_stem, quant_noise=args.quant_noise,
                        balance=args.balance,
                        augment_options=_augment_options(args),
                        verbose=not args.quiet)
    result = train_run(args.crops, args.out, opts)
    print(result.summary())
    return 0


# -- evaluate ---------------------------------------------------------------------
def register_evaluate(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="measure a model (.keras, .tflite, .onnx) on labelled photos or crops",
        formatter_class=_FORMATTER,
        description=(
            "Score every image under DATA/real and DATA/fake and report accuracy, balanced accuracy,\n"
            "ROC AUC, the accuracy per sub-folder, faces not found, and the threshold used (the\n"
            "model's calibrated one unless --threshold).  DATA holds raw photos (faces are detected\n"
            "and cropped with the model's own geometry) or, with --cropped, crops from 'prepare'.\n"
            "--split picks the same fixed split as 'train', so the test split can be measured."
        ),
        epilog=(
            "examples:\n"
            "  fakeface evaluate runs/lite0/model.keras work/crops --cropped --split test\n"
            "  fakeface evaluate edge/models/fakeface.tflite ../shared/data/faces --split test --json\n"
            "  fakeface evaluate model.onnx my_photos/              # every photo: the default without --cropped\n"
            "  fakeface evaluate runs/lite0/model.keras work/crops --cropped --perturb   # + AUC under JPEG, blur...\n"
            "  fakeface evaluate edge/models/fakeface.tflite work/crops --cropped --split val \\\n"
            "      --compare runs/new/model.keras       # is the new model better, or is it noise?"
        ),
    )
    p.add_argument("model", metavar="MODEL", help="model file with its .json sidecar")
    p.add_argument("data", metavar="DATA", help="folder with real/ and fake/ sub-folders")
    p.add_argument("--cropped", action="store_true", help="DATA holds crops made by 'fakeface prepare'")
    p.add_argument("--split", choices=SPLITS + ("all",), default=None,
                   help="which split to score (default: test with --cropped, the held-out tenth of 'prepare' "
                        "crops; all for a folder of photos, which 'train' never saw)")
    p.add_argument("--threshold", type=probability, default=None, help="override the model's decision threshold")
    p.add_argument("--detector", choices=("edge", "mtcnn"), default="edge", help="detector for raw photos (default edge)")
    p.add_argument("--backend", default="auto", help="interpreter for .tflite/.onnx (auto, litert, onnxruntime)")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--perturb", action="store_true",
                   help="with --cropped: also re-score after JPEG, rescale, blur, shift and crop perturbations "
                        "(the 'fakeface generalise perturb' table)")
    p.add_argument("--compare", metavar="MODEL_B",
                   help="also score the same faces with MODEL_B and give, overall, per fake source and per "
                        "twin pair, the AUC difference B - A with a 95 %% paired bootstrap interval: whether "
                        "these faces can tell the two models apart")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_evaluate)


def evaluate_split(split, cropped: bool) -> tuple[str, str]:
    """The split to score and, when it was not given, a line saying which files that is."""
    if split is not None:
        return split, ""
    if cropped:
        return "test", ("scoring the test split: the held-out tenth of these crops that 'train' never "
                        "uses (--split all scores every crop)")
    return "all", "scoring every image under DATA (--split test scores only the tenth that 'train' holds out)"


def run_evaluate(args) -> int:
    from .reports.evaluate import EvaluateOptions, evaluate_model

    args.split, note = evaluate_split(args.split, args.cropped)
    if note:
        print(f"fakeface evaluate: {note}", file=sys.stderr)
    opts = EvaluateOptions(cropped=args.cropped, split=args.split, threshold=args.threshold,
                           detector=args.detector, backend=args.backend, batch_size=args.batch_size,
                           progress=not (args.quiet or args.json))
    if args.perturb and not args.cropped:
        from fakeface.edge.errors import FakeFaceError

        raise FakeFaceError("--perturb needs --cropped: perturbations are applied to 'fakeface prepare' crops")
    report = evaluate_model(args.model, args.data, opts)
    out = report.to_json() if args.json else report.to_markdown()
    if args.perturb:
        from .reports.generalise import perturb_report

        pr = perturb_report(args.model, args.data, split=args.split, threshold=args.threshold, backend=args.backend,
                            batch_size=args.batch_size, progress=opts.progress)
        out = {**out, "perturb": pr.to_json()} if args.json else out + "\n\n" + pr.to_markdown()
    if args.compare:
        from .reports.compare import compare_models

        cmp = compare_models(report.faces, args.model, args.compare, args.data, opts)
        out = {**out, "compare": cmp.to_json()} if args.json else out + "\n\n" + cmp.to_markdown()
    print(json.dumps(out, indent=2) if args.json else out)
    return 0


# -- calibrate --------------------------------------------------------------------
def register_calibrate(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="choose the decision threshold from a target share of real faces accepted",
        formatter_class=_FORMATTER,
        description=(
            "Score the validation split of DATA and set the model's threshold so that at least\n"
            "--target-real-acceptance of the real faces are called real; the rest of the range\n"
            "catches as many fakes as it can.  The threshold and the measured rates are written\n"
            "to the model's metadata sidecar (atomically); the model file is not touched."
        ),
        epilog=(
            "examples:\n"
            "  fakeface calibrate runs/lite0/model.keras work/crops --cropped\n"
            "  fakeface calibrate edge/models/fakeface.tflite work/crops --cropped --target-real-acceptance 0.995"
        ),
    )
    p.add_argument("model", metavar="MODEL", help="model file with its .json sidecar")
    p.add_argument("data", metavar="DATA", help="folder with real/ and fake/ sub-folders")
    p.add_argument("--target-real-acceptance", type=share_above_zero, default=0.99,
                   help="share of real faces that must be accepted (default 0.99)")
    p.add_argument("--cropped", action="store_true", help="DATA holds crops made by 'fakeface prepare'")
    p.add_argument("--split", choices=SPLITS + ("all",), default="val",
                   help="split to calibrate on (default val; never calibrate on test)")
    p.add_argument("--detector", choices=("edge", "mtcnn"), default="edge", help="detector for raw photos (default edge)")
    p.add_argument("--backend", default="auto", help="interpreter for .tflite/.onnx")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_calibrate)


def run_calibrate(args) -> int:
    from .calibrate import calibrate_model

    result = calibrate_model(args.model, args.data, target_real_acceptance=args.target_real_acceptance,
                             cropped=args.cropped, split=args.split, detector=args.detector,
                             backend=args.backend, progress=not (args.quiet or args.json))
    print(json.dumps(result.to_json(), indent=2) if args.json else result.summary())
    return 0


# -- generalise -------------------------------------------------------------------
def register_generalise(subparsers) -> None:
    from .models.architectures import ARCHITECTURES, DEFAULT_ARCH

    p = subparsers.add_parser(
        "generalise",
        help="generalisation reports: unseen generators, same-pipeline twins, perturbed crops",
        formatter_class=_FORMATTER,
        description=(
            "Does the model find fakes it was not trained on, and is one overall number hiding a\n"
            "source it cannot tell apart?  Five reports, each printed as a table and written as\n"
            "Markdown, JSON and a PNG bar chart under --out:\n"
            "  leave-one-out  train once per fake source without it (and its real twin), test on it\n"
            "  twins          each fake source against its same-pipeline real twin, next to the others\n"
            "  perturb        AUC after JPEG, rescaling, blur and small crops/shifts\n"
            "  shortcuts      real faces re-scored after one photo property changes (backdrop, light...)\n"
            "  jitter         p(fake) change when the face box shifts or scales a little\n"
            "CROPS is a crop folder made by 'fakeface prepare'; MODEL is .keras, .tflite or .onnx\n"
            "with its .json sidecar."
        ),
        epilog=(
            "examples:\n"
            "  fakeface generalise twins runs/lite0/model.keras work/crops --out reports/\n"
            "  fakeface generalise perturb edge/models/fakeface.tflite work/crops --out reports/\n"
            "  fakeface generalise leave-one-out work/crops --out reports/loo      # ~15 min on 2 cores\n"
            "Run 'fakeface generalise REPORT --help' for each report's options."
        ),
    )
    sub = p.add_subparsers(dest="report", metavar="REPORT")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    def model_report(name, help_, description, examples):
        q = sub.add_parser(name, help=help_, formatter_class=_FORMATTER, description=description,
                           epilog="examples:\n" + "\n".join(f"  {e}" for e in examples))
        q.add_argument("model", metavar="MODEL", help="model file (.keras, .tflite, .onnx) with its .json sidecar")
        q.add_argument("crops", metavar="CROPS", help="crop folder made by 'fakeface prepare'")
        q.add_argument("--split", choices=SPLITS + ("all",), default="test", help="split to measure (default test)")
        q.add_argument("--out", metavar="DIR", help=f"write {name}.json, {name}.md and {name}.png here")
        q.add_argument("--threshold", type=probability, default=None,
                       help="decision threshold for 'caught'/'accepted' (default: the model's sidecar threshold)")
        q.add_argument("--backend", default="auto", help="interpreter for .tflite/.onnx (auto, litert, onnxruntime)")
        q.add_argument("--batch-size", type=positive_int, default=64)
        q.add_argument("--json", action="store_true", help="print JSON instead of the table")
        q.add_argument("--quiet", action="store_true", help="no progress bars")
        q.set_defaults(func=run_generalise)
        return q

    model_report(
        "twins", "fake sources vs their same-pipeline real twins, next to the style-separable sources",
        "For each fake source that has a real twin made by the same pipeline (fake/stylegan1-140k vs\n"
        "real/ffhq-140k, fake/stylegan2-tpdne-128 vs real/ffhq-128): ROC AUC, accuracy and fakes\n"
        "caught at the model's threshold, and fakes caught where 95% of the twin's reals are accepted\n"
        "(threshold set on the validation split, measured on --split).  Shown next to the sources a\n"
        "model can separate by look (generated-photos, boredhumans vs all reals) and the overall\n"
        "number, so a twin at chance level cannot hide behind a good average.",
        ["fakeface generalise twins runs/lite0/model.keras work/crops",
         "fakeface generalise twins edge/models/fakeface.tflite work/crops --out reports/ --json"])
    model_report(
        "perturb", "AUC after JPEG re-encoding, rescaling, blur and small crops/shifts",
        "Re-score the crops of --split after each perturbation: JPEG quality 90/70/50, 0.5x\n"
        "downscale-and-upscale, Gaussian blur (sigma 1 px), a 4-pixel shift and a 90% centre crop\n"
        "(what a different face detector does).  Reports the AUC, its change from the clean crops\n"
        "(the follow-up asks for a drop of at most 0.03), and fakes caught / reals accepted at the\n"
        "model's threshold, which shows when a perturbation shifts every score one way.",
        ["fakeface generalise perturb runs/lite0/model.keras work/crops --out reports/",
         "fakeface generalise perturb model.onnx work/crops --split val --json"])
    model_report(
        "shortcuts", "does a photo property (backdrop, light, colour, JPEG) push real faces toward fake?",
        "For every real face of --split, change one property of the photo at a time and re-score:\n"
        "background outside the face box blurred or flattened, even studio-like light, JPEG quality\n"
        "50/95, saturation x0.6/x1.4.  Reports the mean p(fake) change and the reals still accepted\n"
        "at the model's threshold, each with a 95% interval, and flags a property as a shortcut when\n"
        "both move toward 'fake' beyond their intervals.  Train it away with 'fakeface train\n"
        "--style-augment/--background-augment' and audit again.",
        ["fakeface generalise shortcuts runs/lite0/model.keras work/crops --out reports/",
         "fakeface generalise shortcuts edge/models/fakeface.tflite work/crops --split val --json"])
    q = model_report(
        "jitter", "how far p(fake) moves when the face box shifts 5% or scales 10%",
        "Cut every face of --split again from its photo (under --photos, the folder 'prepare' read)\n"
        "with the box shifted by 5% of its side in four directions and scaled by 0.9 and 1.1, as the\n"
        "edge runtime would cut it, and report the largest p(fake) change per face: median, 90th\n"
        "percentile (goal <= 0.10) and the share of faces whose label flips, overall and per source.",
        ["fakeface generalise jitter runs/lite0/model.keras work/crops --photos ../shared/data/faces",
         "fakeface generalise jitter edge/models/fakeface.tflite work/crops --photos DATA --out reports/"])
    q.add_argument("--photos", required=True, metavar="DATA",
                   help="the photo folder the crops were cut from (the SRC given to 'prepare')")

    q = sub.add_parser(
        "leave-one-out", help="train without each fake source in turn and test on it (slow)",
        formatter_class=_FORMATTER,
        description=(
            "For each fake source folder: train a model on CROPS without it and test on its test+val\n"
            "crops.  A fake source with a same-pipeline real twin (stylegan1-140k <-> ffhq-140k,\n"
            "stylegan2-tpdne-128 <-> ffhq-128) is held out together with the twin, and its AUC is\n"
            "against the twin's test+val crops; the others hold out no real source and are compared\n"
            "with all test reals (which no fold trains on).  'caught' and 'accepted' use each fold\n"
            "model's threshold, calibrated like the shipped one (--target-real-acceptance on the fold's\n"
            "validation reals) unless --threshold is given.\n\n"
            "The default schedule is SHORT so that it fits a 2-core CPU: --arch lite0 (the shipped\n"
            "model's architecture), 2 epochs of at most 4000 training crops in batches of 32, sources\n"
            "balanced as for the shipped model, about 7 minutes per fold on 2 cores (the scratch-trained\n"
            "--arch compact_q needs more steps: 4 epochs of 6000 crops, as its BatchNorm statistics must\n"
            "be learned).  Its AUCs are lower than a full training's; compare folds with\n"
            "each other (and with the 'in-distribution test AUC' column, the same fold model on the\n"
            "sources it saw), not with the shipped model.\n"
            "Finished folds are kept in DIR/folds/*/fold.json and reused when the command is rerun\n"
            "with the same options."
        ),
        epilog=(
            "examples:\n"
            "  fakeface generalise leave-one-out work/crops --out reports/loo\n"
            "  fakeface generalise leave-one-out work/crops --out reports/loo --arch tiny --epochs 2 --limit 2000\n"
            "  fakeface generalise leave-one-out work/crops --out reports/loo --source fake/stylegan1-140k"
        ),
    )
    q.add_argument("crops", metavar="CROPS", help="crop folder made by 'fakeface prepare'")
    q.add_argument("--out", required=True, metavar="DIR", help="output folder: report files and one run per fold")
    q.add_argument("--arch", choices=sorted(ARCHITECTURES), default=DEFAULT_ARCH,
                   help=f"architecture (default: the shipped model's, {DEFAULT_ARCH})")
    q.add_argument("--epochs", type=positive_int, default=2,
                   help="epochs per fold (default 2: a short schedule, ~7 min per lite0 fold on 2 cores)")
    q.add_argument("--limit", type=count_or_zero, default=4000, help="training crops per fold (default 4000; 0 = all)")
    q.add_argument("--batch-size", type=positive_int, default=32,
                   help="batch size (default 32: more steps in a short schedule)")
    q.add_argument("--balance", choices=("class", "source"), default="source",
                   help="loss weights, as in 'fakeface train' (default source)")
    _add_scale_augment(q)
    _add_box_and_style_augment(q)
    q.add_argument("--seed", type=count_or_zero, default=1, help="random seed (default 1)")
    q.add_argument("--threshold", type=probability, default=None, help="fixed threshold instead of calibrating each fold")
    q.add_argument("--target-real-acceptance", type=share_above_zero, default=0.95,
                   help="per-fold calibration target on validation reals (default 0.95, like the shipped model)")
    q.add_argument("--source", action="append", metavar="FAKE_SOURCE",
                   help="hold out only this fake source (repeatable; default: every fake source)")
    q.add_argument("--json", action="store_true", help="print JSON instead of the table")
    q.add_argument("--quiet", action="store_true", help="less output")
    q.set_defaults(func=run_generalise)


def run_generalise(args) -> int:
    from pathlib import Path

    from fakeface.edge.errors import FakeFaceError

    if args.report == "leave-one-out":
        from .onednn import import_tf_for_training

        import_tf_for_training()  # it trains: see run_train
    from .reports import generalise as g

    progress = not (args.quiet or args.json)
    if args.report == "leave-one-out":
        if not Path(args.crops).is_dir():
            raise FakeFaceError(f"{args.crops}: no such crop folder")
        opts = g.LeaveOneOutOptions(arch=args.arch, epochs=args.epochs, limit=args.limit, batch_size=args.batch_size,
                                    seed=args.seed, threshold=args.threshold, balance=args.balance,
                                    scale_augment=args.scale_augment, augment_options=_augment_options(args),
                                    target_real_acceptance=args.target_real_acceptance, sources=args.source,
                                    verbose=progress)
        report = g.leave_one_out(args.crops, args.out, opts)
        stem, plot = "leave_one_out", g.plot_leave_one_out
    else:
        from .reports import box_stability
        from .reports import shortcut_audit

        if args.report == "jitter":
            report = box_stability.jitter_report(args.model, args.crops, args.photos, split=args.split,
                                                 threshold=args.threshold, backend=args.backend, progress=progress)
            plot = box_stability.plot_jitter
        else:
            make, plot = {"twins": (g.twins_report, g.plot_twins), "perturb": (g.perturb_report, g.plot_perturb),
                          "shortcuts": (shortcut_audit.shortcut_report, shortcut_audit.plot_shortcuts)}[args.report]
            report = make(args.model, args.crops, split=args.split, threshold=args.threshold,
                          backend=args.backend, batch_size=args.batch_size, progress=progress)
        stem = args.report
    paths = g.write_report(report, args.out, stem, plot) if args.out else []
    print(json.dumps(report.to_json(), indent=2) if args.json else report.to_markdown())
    if paths and not args.json:
        print("\nwrote " + ", ".join(str(p) for p in paths))
    return 0
