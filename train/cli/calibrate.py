"""`fakeface calibrate`: choose the decision threshold from a target share of real faces accepted."""

from __future__ import annotations

from fakeface.edge.cli_numbers import share_above_zero
from fakeface.edge.strict_json import dumps

from ..data.layout import SPLITS
from .options import FORMATTER

DEFAULT_TARGET = 0.95  # train/calibrate.py's; registering imports nothing heavy


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="choose the decision threshold from a target share of real faces accepted",
        formatter_class=FORMATTER,
        description=(
            "Score the validation split of DATA and set the model's threshold so that at least\n"
            "--target-real-acceptance of the real faces are called real; the rest of the range\n"
            "catches as many fakes as it can.  The model file is never touched.  With --write the\n"
            "threshold and the measured rates replace the model's metadata sidecar MODEL.json\n"
            "(atomically; the old threshold is kept as calibration.previous_threshold); without it\n"
            "the sidecar is left alone and the result goes to MODEL.json.calibrated beside it, to\n"
            "look at first (copy it over MODEL.json, or rerun with --write, to install it).\n\n"
            "A split with fewer than 20 real or 20 fake faces is refused (exit 2): a threshold\n"
            "from a handful of faces is the score of one or two of them.\n\n"
            "A pooled share can hide a population (95% of all reals may be 80% of one source):\n"
            "--every-real-source asks for the share of each real source folder with at least 20\n"
            "faces in the split, which raises the threshold and lets more fakes through.  The summary\n"
            "always names the real source accepted least often.\n\n"
            "Validation reals come from the studios and cameras the model was trained on, and a\n"
            "studio it has never seen scores higher (generalise leave-one-out --real-source shows\n"
            "it).  --fake-catch SHARE then raises the threshold as far as still catching SHARE of the\n"
            "split's fakes allows, never below the real target's threshold: the margin the known\n"
            "fakes leave goes to unknown real people instead of to catching more known fakes."
        ),
        epilog=(
            "examples:\n"
            "  fakeface calibrate runs/lite0/model.keras work/crops --cropped            # proposes MODEL.json.calibrated\n"
            "  fakeface calibrate runs/lite0/model.keras work/crops --cropped --write    # installs the threshold\n"
            "  fakeface calibrate edge/models/fakeface.tflite work/crops --cropped --target-real-acceptance 0.99\n"
            "  fakeface calibrate runs/lite0/model.keras work/crops --cropped --every-real-source --write\n"
            "  fakeface calibrate runs/lite0/model.keras work/crops --cropped --fake-catch 0.95\n\n"
            "exit codes:\n"
            "  0  calibrated (written with --write, else proposed beside the sidecar)\n"
            "  2  bad options, an unreadable model, or too few faces of a class in the split\n"
            "  130  interrupted (Ctrl-C)"
        ),
    )
    p.add_argument("model", metavar="MODEL", help="model file with its .json sidecar")
    p.add_argument("data", metavar="DATA", help="folder with real/ and fake/ sub-folders")
    p.add_argument("--target-real-acceptance", type=share_above_zero, default=DEFAULT_TARGET,
                   help=f"share of real faces that must be accepted (default {DEFAULT_TARGET}, the recipe's)")
    p.add_argument("--write", action="store_true",
                   help="replace the model's sidecar MODEL.json with the new threshold (default: leave it and "
                   "write the proposal to MODEL.json.calibrated)")
    p.add_argument("--every-real-source", action="store_true",
                   help="reach the target share in each real source folder (>= 20 faces), not only overall")
    p.add_argument("--fake-catch", type=share_above_zero, default=None, metavar="SHARE",
                   help="then raise the threshold as far as still catching SHARE of the split's fakes allows "
                        "(never below the --target-real-acceptance threshold; default: do not raise it)")
    p.add_argument("--cropped", action="store_true", help="DATA holds crops made by 'fakeface prepare'")
    p.add_argument("--split", choices=SPLITS + ("all",), default="val",
                   help="split to calibrate on (default val; never calibrate on test)")
    p.add_argument("--detector", choices=("edge", "mtcnn"), default="edge", help="detector for raw photos (default edge)")
    p.add_argument("--backend", default="auto", help="interpreter for .tflite/.onnx")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..calibrate import MIN_FACES_PER_CLASS, calibrate_model

    result = calibrate_model(args.model, args.data, target_real_acceptance=args.target_real_acceptance,
                             cropped=args.cropped, split=args.split, detector=args.detector,
                             backend=args.backend, progress=not (args.quiet or args.json),
                             every_real_source=args.every_real_source, write=args.write,
                             min_per_class=MIN_FACES_PER_CLASS, fake_catch=args.fake_catch)
    print(dumps(result.to_json(), indent=2) if args.json else result.summary())
    return 0
