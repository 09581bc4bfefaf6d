"""`fakeface train`: fit a classifier on a crop folder."""

from __future__ import annotations

import sys

from fakeface.edge.cli_numbers import count_or_zero, non_negative_float, positive_float, positive_int

from .options import (FORMATTER, add_box_and_style_augment, add_focal_gamma, add_scale_augment, add_source_weight,
                      augment_options, source_share)


def register(subparsers) -> None:
    from ..models.architectures import ARCHITECTURES, DEFAULT_ARCH

    p = subparsers.add_parser(
        "train",
        help="train a real/fake face classifier on a folder of crops",
        formatter_class=FORMATTER,
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
            "  fakeface train work/crops --out runs/lite0 --resume      # after an interruption\n"
            "  fakeface train work/crops --out runs/int8 --init-from runs/lite0/model.keras \\\n"
            "      --int8-consistency 200 --epochs 1 --learning-rate 2e-5 --box-jitter 0.5 --style-augment 0.3 \\\n"
            "      --background-augment 0.15                         # before an int8 export"
        ),
    )
    p.add_argument("crops", metavar="CROPS", help="crop folder made by 'fakeface prepare'")
    p.add_argument("--out", required=True, metavar="RUN", help="output folder of this run")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default=DEFAULT_ARCH,
                   help=f"model architecture (default {DEFAULT_ARCH}; seed = the reference article's CNN)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: the architecture's recipe, 10 for lite0, 8 for seed and compact_q)")
    p.add_argument("--steps-per-epoch", type=positive_int, default=None, metavar="N",
                   help="train N batches an epoch instead of one pass over the training crops (the crops are "
                        "drawn on from a reshuffled stream; e.g. a consistency phase shorter than an epoch)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: the architecture's recipe)")
    p.add_argument("--learning-rate", type=positive_float, default=None, help="peak learning rate (default: the recipe's)")
    p.add_argument("--patience", type=count_or_zero, default=0,
                   help="stop early after this many epochs without a better validation AUC (default 0: off)")
    p.add_argument("--balance", choices=("class", "source"), default="source",
                   help="loss weights: class = real and fake count equally; source = also every source "
                        "folder within a class counts equally, so small sources are not drowned (default)")
    p.add_argument("--no-augment", action="store_true", help="train without augmentation (for comparisons)")
    add_scale_augment(p)
    add_box_and_style_augment(p)
    p.add_argument("--augment-strength", type=non_negative_float, default=1.0, metavar="S",
                   help="how often the trace-destroying augmentations (random JPEG, downscale-upscale, blur) "
                        "are applied, relative to the default (1.0: 16 %%, 10 %% and 6 %% of crops; 2 = twice as often)")
    p.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                   help="tf.distribute strategy: mirrored for several GPUs of one machine; multiworker for "
                        "several machines, one process each, all with the same command and crops and each "
                        "with its own TF_CONFIG (train/README.md, 'Several machines')")
    p.add_argument("--resume", action="store_true", help="continue from RUN's last epoch checkpoint")
    p.add_argument("--init-from", metavar="MODEL",
                   help="start from the weights of a trained .keras model of the same architecture "
                        "(a warm restart with a fresh learning-rate schedule)")
    p.add_argument("--int8-stem", action="store_true",
                   help="with --init-from: snap the first convolution to the int8 grid, freeze it and train "
                        "the rest (1-2 epochs at a low --learning-rate), so a full-int8 export decides like "
                        "the float model (see fakeface/train/models/int8_stem.py)")
    p.add_argument("--int8-consistency", type=non_negative_float, default=0.0, metavar="W",
                   help="with --init-from: a last phase that trains the model together with a fake-quantised "
                        "copy of itself (same weights, every tensor a full-int8 export quantises rounded to 8 "
                        "bits of its calibrated range) on BCE(float) + BCE(int8 path) + W x (gap)^2, at a constant "
                        "--learning-rate, so the int8 file decides as the float model does (default 0: off; the "
                        "recipe: W=200, 1 epoch, --learning-rate 2e-5, the augmentation of the run it starts from; see "
                        "fakeface/train/models/int8_consistency.py)")
    p.add_argument("--jitter-consistency", type=non_negative_float, default=0.0, metavar="J",
                   help="train each crop beside a re-cut of it from a box moved by up to 5%% and scaled 0.9-1.1, on "
                        "BCE of both + J x (p_float - p_jittered)^2, so p(fake) does not hinge on where the detector's "
                        "box lands (default 0: off; combines with --int8-consistency; see "
                        "fakeface/train/models/consistency.py)")
    p.add_argument("--freeze-blocks", type=count_or_zero, default=0, metavar="N",
                   help="lite0 archs: keep the stem and the first N of the 16 MBConv blocks at their ImageNet "
                        "weights and fine-tune the rest, a regulariser for small data (default 0: fine-tune "
                        "everything; N=3 was measured: not faster, and it traded one StyleGAN twin for the other; "
                        "see train/README.md)")
    p.add_argument("--int8-remeasure-every", type=count_or_zero, default=None, metavar="STEPS",
                   help="with --int8-consistency: measure the int8 ranges again on the export's 512 calibration "
                        "crops every STEPS training steps, so they follow the weights as they move (default 50; "
                        "0: measure once, before the phase)")
    p.add_argument("--validate-every", type=positive_int, default=1, metavar="N",
                   help="score the validation split after every Nth epoch only (default 1: every epoch; "
                        "--validate-every 10 with 10 epochs: only after the last, ~8 s saved an epoch on 2 "
                        "cores). The history plot leaves gaps; --patience needs 1")
    p.add_argument("--skip-test", action="store_true",
                   help="do not score the test split when training ends (metrics.json and the plots cover "
                        "validation only): for a run that only feeds another, as make default-model's first "
                        "stage feeds its int8 phase")
    p.add_argument("--source-share", type=source_share, action="append", default=[], metavar="SOURCE=F",
                   help="train on only the share F (0-1] of one source folder's training photos, e.g. "
                        "fake/stylegan1-140k=0.5; repeatable. The shares nest (0.25 is within 0.5), so runs at "
                        "0.25, 0.5 and 1 are a learning curve: is a source data-limited? Validation and test "
                        "stay whole")
    add_source_weight(p)
    add_focal_gamma(p)
    p.add_argument("--seed", type=count_or_zero, default=1, help="random seed (default 1)")
    p.add_argument("--limit", type=count_or_zero, default=0, help="use at most this many training crops (quick trials)")
    p.add_argument("--quiet", action="store_true", help="less output")
    p.set_defaults(func=run)


def _remeasure(args) -> dict:
    """--int8-remeasure-every, checked against --int8-consistency; {} leaves the default."""
    if args.int8_remeasure_every is None:
        return {}
    if not args.int8_consistency:
        from fakeface.edge.errors import FakeFaceError

        raise FakeFaceError("--int8-remeasure-every only applies with --int8-consistency W")
    return {"int8_remeasure_every": args.int8_remeasure_every}


def warn_small_validation(crops) -> None:
    """Say so on stderr when the validation split has fewer than MIN_PER_CLASS crops of a class."""
    from fakeface.edge.errors import FakeFaceError

    from ..data.layout import scan_folder, select_split
    from ..reports.sample_size import MIN_PER_CLASS, shortfall

    try:
        val = select_split(scan_folder(crops, cropped=True), "val")
    except (FakeFaceError, OSError):
        return  # training reports a bad folder itself
    short = shortfall([s.label for s in val], MIN_PER_CLASS, "crops")
    if short:
        print(f"fakeface train: warning: the validation split has {short}: validation AUC is undefined "
              f"(one class) or noise, and so are early stopping, the run's threshold and the validation "
              f"curves of its plots; add photos (the split is 1 photo in 10)", file=sys.stderr)


def run(args) -> int:
    from ..onednn import import_tf_for_training

    import_tf_for_training()  # oneDNN on: ~2x faster training steps on x86
    from ..fit import TrainOptions, train_run

    opts = TrainOptions(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
                        learning_rate=args.learning_rate, patience=args.patience, augment=not args.no_augment,
                        strategy=args.strategy, resume=args.resume, seed=args.seed, limit=args.limit,
                        init_from=args.init_from, int8_stem=args.int8_stem, int8_consistency=args.int8_consistency,
                        jitter_consistency=args.jitter_consistency, **_remeasure(args),
                        freeze_blocks=args.freeze_blocks, validate_every=args.validate_every,
                        skip_test=args.skip_test, source_shares=dict(args.source_share),
                        source_weights=dict(args.source_weight), focal_gamma=args.focal_gamma,
                        steps_per_epoch=args.steps_per_epoch,
                        balance=args.balance,
                        augment_options=augment_options(args),
                        verbose=not args.quiet)
    warn_small_validation(args.crops)
    result = train_run(args.crops, args.out, opts)
    print(result.summary())
    return 0
