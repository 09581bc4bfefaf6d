"""`fakeface calibrate`: choose the decision threshold from a target share of real faces accepted."""

from __future__ import annotations

import json

from fakeface.edge.cli_numbers import share_above_zero

from ..data.layout import SPLITS
from .options import FORMATTER


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="choose the decision threshold from a target share of real faces accepted",
        formatter_class=FORMATTER,
        description=(
            "Score the validation split of DATA and set the model's threshold so that at least\n"
            "--target-real-acceptance of the real faces are called real; the rest of the range\n"
            "catches as many fakes as it can.  The threshold and the measured rates are written\n"
            "to the model's metadata sidecar (atomically); the model file is not touched.\n\n"
            "A pooled share can hide a population (95% of all reals may be 80% of one source):\n"
            "--every-real-source asks for the share of each real source folder with at least 20\n"
            "faces in the split, which raises the threshold and lets more fakes through.  The summary\n"
            "always names the real source accepted least often."
        ),
        epilog=(
            "examples:\n"
            "  fakeface calibrate runs/lite0/model.keras work/crops --cropped\n"
            "  fakeface calibrate edge/models/fakeface.tflite work/crops --cropped --target-real-acceptance 0.995\n"
            "  fakeface calibrate runs/lite0/model.keras work/crops --cropped --target-real-acceptance 0.95 "
            "--every-real-source"
        ),
    )
    p.add_argument("model", metavar="MODEL", help="model file with its .json sidecar")
    p.add_argument("data", metavar="DATA", help="folder with real/ and fake/ sub-folders")
    p.add_argument("--target-real-acceptance", type=share_above_zero, default=0.99,
                   help="share of real faces that must be accepted (default 0.99)")
    p.add_argument("--every-real-source", action="store_true",
                   help="reach the target share in each real source folder (>= 20 faces), not only overall")
    p.add_argument("--cropped", action="store_true", help="DATA holds crops made by 'fakeface prepare'")
    p.add_argument("--split", choices=SPLITS + ("all",), default="val",
                   help="split to calibrate on (default val; never calibrate on test)")
    p.add_argument("--detector", choices=("edge", "mtcnn"), default="edge", help="detector for raw photos (default edge)")
    p.add_argument("--backend", default="auto", help="interpreter for .tflite/.onnx")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..calibrate import calibrate_model

    result = calibrate_model(args.model, args.data, target_real_acceptance=args.target_real_acceptance,
                             cropped=args.cropped, split=args.split, detector=args.detector,
                             backend=args.backend, progress=not (args.quiet or args.json),
                             every_real_source=args.every_real_source)
    print(json.dumps(result.to_json(), indent=2) if args.json else result.summary())
    return 0
