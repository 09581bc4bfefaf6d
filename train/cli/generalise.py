"""`fakeface generalise REPORT`: leave-one-out, twins, perturb, shortcuts, jitter and learning-curve reports."""

from __future__ import annotations

from fakeface.edge.cli_numbers import count_or_zero, positive_int, probability, share_above_zero
from fakeface.edge.strict_json import dumps

from ..data.layout import SPLITS
from .generalise_capture import add_capture_parser
from .options import (FORMATTER, add_box_and_style_augment, add_focal_gamma, add_scale_augment, add_source_weight,
                      augment_options, source_list)


def register(subparsers) -> None:
    from ..models.architectures import ARCHITECTURES, DEFAULT_ARCH

    p = subparsers.add_parser(
        "generalise",
        help="generalisation reports: unseen generators, same-pipeline twins, perturbed crops",
        formatter_class=FORMATTER,
        description=(
            "Does the model find fakes it was not trained on, and is one overall number hiding a\n"
            "source it cannot tell apart?  Seven reports, each printed as a table and written as\n"
            "Markdown, JSON and a PNG bar chart under --out:\n"
            "  leave-one-out  train once per fake source without it (and its real twin), test on it\n"
            "  twins          each fake source against its same-pipeline real twin, next to the others\n"
            "  perturb        AUC after JPEG, rescaling, blur and small crops/shifts\n"
            "  shortcuts      real faces re-scored after one photo property changes (backdrop, light...)\n"
            "  jitter         p(fake) change when the face box shifts or scales a little\n"
            "  learning-curve runs trained on shares of one source's photos: is it data-limited?\n"
            "  capture        real photos as other cameras/studios take them: still accepted? (no TensorFlow)\n"
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
        q = sub.add_parser(name, help=help_, formatter_class=FORMATTER, description=description,
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
        q.set_defaults(func=run)
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
        "(the chart marks a drop of 0.03), and fakes caught / reals accepted at the\n"
        "model's threshold, which shows when a perturbation shifts every score one way.",
        ["fakeface generalise perturb runs/lite0/model.keras work/crops --out reports/",
         "fakeface generalise perturb model.onnx work/crops --split val --json"])
    model_report(
        "shortcuts", "does a photo property (backdrop, light, colour, exposure, JPEG) push real faces toward fake?",
        "For every real face of --split, change one property of the photo at a time and re-score:\n"
        "background outside the face box blurred or flattened, even studio-like light, JPEG quality\n"
        "50/95, saturation x0.6/x1.4, exposure x0.8/x1.25.  Reports the mean p(fake) change and the\n"
        "reals still accepted at the model's threshold, each with a 95% interval, and flags a property\n"
        "as a shortcut when both move toward 'fake' beyond their intervals.  Train it away with\n"
        "'fakeface train --style-augment/--background-augment/--exposure-augment' and audit again.",
        ["fakeface generalise shortcuts runs/lite0/model.keras work/crops --out reports/",
         "fakeface generalise shortcuts edge/models/fakeface.tflite work/crops --split val --json",
         "fakeface generalise shortcuts reports/loso/folds/real__canada-studio/run/model.keras work/crops \\\n"
         "      --split all --sources real/canada-studio   # what turns a fold's unseen studio away?"]
    ).add_argument("--sources", type=source_list, default=None, metavar="A,B",
                   help="only the real faces of these source folders, e.g. real/canada-studio: the held-out "
                        "source of a leave-one-out fold, scored by that fold's model (default: every real source)")
    q = model_report(
        "jitter", "how far p(fake) moves when the face box shifts 5%% or scales 10%%",
        "Cut every face of --split again from its photo (under --photos, the folder 'prepare' read)\n"
        "with the box shifted by 5% of its side in four directions and scaled by 0.9 and 1.1, as the\n"
        "edge runtime would cut it, and report the largest p(fake) change per face: median, 90th\n"
        "percentile (goal <= 0.10) and the share of faces whose label flips, overall and per source.\n"
        "Beside it: the change when the model's input crop moves by one whole pixel, with no re-cut.\n"
        "When that is as large, the network itself is shift-sensitive there, not the crop pipeline.",
        ["fakeface generalise jitter runs/lite0/model.keras work/crops --photos ../shared/data/faces",
         "fakeface generalise jitter edge/models/fakeface.tflite work/crops --photos DATA --out reports/"])
    q.add_argument("--photos", required=True, metavar="DATA",
                   help="the photo folder the crops were cut from (the SRC given to 'prepare')")

    add_capture_parser(sub)  # TensorFlow-free: its own run function (generalise_capture.run_capture)

    q = sub.add_parser(
        "learning-curve", help="is a fake source data-limited? AUC of runs trained on shares of its photos",
        formatter_class=FORMATTER,
        description=(
            "Hand it runs of the same recipe trained on nested shares of one fake source and its real\n"
            "twin ('fakeface train --source-share', e.g. 0.25, 0.5 and 1).  For each MODEL it reports\n"
            "the ROC AUC of --fake against --real on the training photos the model saw (its fit), on\n"
            "every photo it never saw (validation, test, and the training photos its share left out),\n"
            "and on validation + test alone, and, paired, its difference to the run with the most\n"
            "photos on the photos no run saw.  Held-out AUC still climbing with the share is what\n"
            "data-limited looks like; a flat curve says the limit lies elsewhere.  Shares are read from\n"
            "the metrics.json beside each model (none: every training photo).  CROPS must be the crop\n"
            "folder the runs trained on."
        ),
        epilog=(
            "examples:\n"
            "  for f in 0.25 0.5; do fakeface train work/crops --out runs/share$f \\\n"
            "      --source-share stylegan1-140k=$f --source-share ffhq-140k=$f; done\n"
            "  fakeface generalise learning-curve runs/share0.25/model.keras runs/share0.5/model.keras \\\n"
            "      work/run/model.keras work/crops --out reports/curve"
        ),
    )
    q.add_argument("models", nargs="+", metavar="MODEL",
                   help="models (.keras, .tflite, .onnx with their .json sidecars), each beside its run's metrics.json")
    q.add_argument("crops", metavar="CROPS", help="the crop folder the runs trained on")
    q.add_argument("--fake", default="fake/stylegan1-140k", metavar="SOURCE",
                   help="fake source folder (default fake/stylegan1-140k)")
    q.add_argument("--real", default=None, metavar="SOURCE",
                   help="real source folder to compare with (default: the fake source's twin, e.g. real/ffhq-140k)")
    q.add_argument("--out", metavar="DIR", help="write learning_curve.json, .md and .png here")
    q.add_argument("--backend", default="auto", help="interpreter for .tflite/.onnx (auto, litert, onnxruntime)")
    q.add_argument("--batch-size", type=positive_int, default=64)
    q.add_argument("--json", action="store_true", help="print JSON instead of the table")
    q.add_argument("--quiet", action="store_true", help="no progress bars")
    q.set_defaults(func=run)

    q = sub.add_parser(
        "leave-one-out", help="train without each fake source in turn and test on it (slow)",
        formatter_class=FORMATTER,
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
            "with the same options; a rerun that only changes --threshold, --target-real-acceptance\n"
            "or --fake-catch keeps each fold's trained model and only calibrates and scores it again."
        ),
        epilog=(
            "examples:\n"
            "  fakeface generalise leave-one-out work/crops --out reports/loo\n"
            "  fakeface generalise leave-one-out work/crops --out reports/loo --arch tiny --epochs 2 --limit 2000\n"
            "  fakeface generalise leave-one-out work/crops --out reports/loo --source fake/stylegan1-140k\n"
            "  fakeface generalise leave-one-out work/crops --out reports/loso-real --real-source studio   # 4 folds"
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
    q.add_argument("--freeze-blocks", type=count_or_zero, default=0, metavar="N",
                   help="lite0 archs: keep the stem and the first N of the 16 blocks at their ImageNet weights, "
                        "as 'fakeface train --freeze-blocks' (default 0)")
    add_scale_augment(q)
    add_box_and_style_augment(q)
    add_source_weight(q)
    add_focal_gamma(q)
    q.add_argument("--seed", type=count_or_zero, default=1, help="random seed (default 1)")
    q.add_argument("--threshold", type=probability, default=None, help="fixed threshold instead of calibrating each fold")
    q.add_argument("--target-real-acceptance", type=share_above_zero, default=0.95,
                   help="per-fold calibration target on validation reals (default 0.95, like the shipped model)")
    q.add_argument("--fake-catch", type=share_above_zero, default=None, metavar="SHARE",
                   help="then raise each fold's threshold as far as still catching SHARE of its validation fakes "
                        "allows, as 'fakeface calibrate --fake-catch' (default: do not raise it); a rerun that "
                        "changes only the threshold options reuses the folds' trained models")
    q.add_argument("--source", action="append", metavar="FAKE_SOURCE",
                   help="hold out only this fake source (repeatable; default: every fake source)")
    q.add_argument("--real-source", action="append", metavar="REAL_SOURCE",
                   help="hold out REAL sources instead, one fold each (repeatable), and report how often each "
                        "is accepted by its fold's model, counted by person; 'studio' names the four studio "
                        "and camera sources (studio-3dsk, canada-studio, taiwanese-studio, nuaa-webcam)")
    q.add_argument("--json", action="store_true", help="print JSON instead of the table")
    q.add_argument("--quiet", action="store_true", help="less output")
    q.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from fakeface.edge.errors import FakeFaceError

    if args.report == "leave-one-out":
        from ..onednn import import_tf_for_training

        import_tf_for_training()  # it trains: see fakeface.train.cli.train.run
    from ..reports.common import write_report

    progress = not (args.quiet or args.json)
    if args.report == "leave-one-out":
        from ..reports.leave_one_out import LeaveOneOutOptions, leave_one_out, plot_leave_one_out

        if not Path(args.crops).is_dir():
            raise FakeFaceError(f"{args.crops}: no such crop folder")
        opts = LeaveOneOutOptions(arch=args.arch, epochs=args.epochs, limit=args.limit, batch_size=args.batch_size,
                                  seed=args.seed, threshold=args.threshold, balance=args.balance,
                                  freeze_blocks=args.freeze_blocks, source_weights=dict(args.source_weight),
                                  focal_gamma=args.focal_gamma,
                                  scale_augment=args.scale_augment, augment_options=augment_options(args),
                                  target_real_acceptance=args.target_real_acceptance,
                                  fake_catch=args.fake_catch, sources=args.source,
                                  verbose=progress)
        if args.real_source:
            from ..reports.leave_one_real_out import STUDIO_SOURCES, leave_one_real_out, plot_leave_one_real_out

            reals = [r for name in args.real_source for r in (STUDIO_SOURCES if name == "studio" else [name])]
            report = leave_one_real_out(args.crops, args.out, opts, reals)
            stem, plot = "leave_one_real_out", plot_leave_one_real_out
        else:
            report = leave_one_out(args.crops, args.out, opts)
            stem, plot = "leave_one_out", plot_leave_one_out
    elif args.report == "learning-curve":
        from ..reports.learning_curve import learning_curve_report, plot_learning_curve

        report = learning_curve_report(args.models, args.crops, fake=args.fake, real=args.real,
                                       backend=args.backend, batch_size=args.batch_size, progress=progress)
        stem, plot = "learning_curve", plot_learning_curve
    elif args.report == "jitter":
        from ..reports.box_stability import jitter_report, plot_jitter

        report = jitter_report(args.model, args.crops, args.photos, split=args.split, threshold=args.threshold,
                               backend=args.backend, progress=progress)
        stem, plot = args.report, plot_jitter
    else:
        from ..reports import perturb, shortcut_audit, twins

        make, plot = {"twins": (twins.twins_report, twins.plot_twins),
                      "perturb": (perturb.perturb_report, perturb.plot_perturb),
                      "shortcuts": (shortcut_audit.shortcut_report, shortcut_audit.plot_shortcuts)}[args.report]
        only = {"sources": args.sources} if args.report == "shortcuts" else {}
        report = make(args.model, args.crops, split=args.split, threshold=args.threshold,
                      backend=args.backend, batch_size=args.batch_size, progress=progress, **only)
        stem = args.report
    paths = write_report(report, args.out, stem, plot) if args.out else []
    print(dumps(report.to_json(), indent=2) if args.json else report.to_markdown())
    if paths and not args.json:
        print("\nwrote " + ", ".join(str(p) for p in paths))
    return 0
