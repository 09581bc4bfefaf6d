"""`fakeface evaluate`: measure a model on labelled photos or crops (optionally perturbed, or against a second model)."""

from __future__ import annotations

import sys

from fakeface.edge.cli_numbers import positive_int, probability
from fakeface.edge.strict_json import dumps

from ..data.layout import SPLITS
from .options import FORMATTER


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="measure a model (.keras, .tflite, .onnx) on labelled photos or crops",
        formatter_class=FORMATTER,
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
    p.set_defaults(func=run)


def evaluate_split(split, cropped: bool) -> tuple[str, str]:
    """The split to score and, when it was not given, a line saying which files that is."""
    if split is not None:
        return split, ""
    if cropped:
        return "test", ("scoring the test split: the held-out tenth of these crops that 'train' never "
                        "uses (--split all scores every crop)")
    return "all", "scoring every image under DATA (--split test scores only the tenth that 'train' holds out)"


def run(args) -> int:
    from ..reports.evaluate import EvaluateOptions, evaluate_model

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
        from ..reports.perturb import perturb_report

        pr = perturb_report(args.model, args.data, split=args.split, threshold=args.threshold, backend=args.backend,
                            batch_size=args.batch_size, progress=opts.progress)
        out = {**out, "perturb": pr.to_json()} if args.json else out + "\n\n" + pr.to_markdown()
    if args.compare:
        from ..reports.compare import compare_models

        cmp = compare_models(report.faces, args.model, args.compare, args.data, opts)
        out = {**out, "compare": cmp.to_json()} if args.json else out + "\n\n" + cmp.to_markdown()
    print(dumps(out, indent=2) if args.json else out)
    return 0
