"""What the training sub-commands share: the help formatter, the crop side's range and the augmentation flags.

Registration only builds argparse parsers: TensorFlow is imported inside each sub-command's
``run`` function, so ``fakeface --help`` stays fast and works without the [train] extra.
"""

from __future__ import annotations

import argparse

from fakeface.edge.cli_numbers import NumberOption, probability

FORMATTER = argparse.RawDescriptionHelpFormatter
# The model contract's sane range for input_size (fakeface.edge.contract).
crop_side = NumberOption(int, low=8, high=1024)


share = NumberOption(float, low=0.0, high=1.0, low_open=True)


def source_share(text: str) -> tuple:
    """argparse ``type=`` for ``SOURCE=F``: a source folder (``fake/stylegan1-140k``, or its
    last part alone) and the share (0, 1] of its training photos to keep."""
    name, sep, value = text.rpartition("=")
    if not sep or not name.strip("/ "):
        raise argparse.ArgumentTypeError(f"expected SOURCE=F, e.g. fake/stylegan1-140k=0.5, not {text!r}")
    return name.strip("/ "), share(value)


def source_weight(text: str) -> tuple:
    """argparse ``type=`` for ``SOURCE=W``: a source folder and a loss weight factor >= 0."""
    name, sep, value = text.rpartition("=")
    try:
        factor = float(value)
    except ValueError:
        factor = -1.0
    if not sep or not name.strip("/ ") or not (factor >= 0 and factor != float("inf")):
        raise argparse.ArgumentTypeError(f"expected SOURCE=W with a weight factor W >= 0, e.g. "
                                         f"fake/generated-photos=0.25, not {text!r}")
    return name.strip("/ "), factor


def add_source_weight(p) -> None:
    p.add_argument("--source-weight", type=source_weight, action="append", default=[], metavar="SOURCE=W",
                   help="scale one source folder's loss weight by W (repeatable), the rest of its class taking "
                        "up the difference: e.g. fake/generated-photos=0.25, so a fake source that looks like "
                        "studio portraits cannot teach 'studio portrait = fake'; 0: it teaches nothing")


def add_focal_gamma(p) -> None:
    from ..fit_options import MAX_FOCAL_GAMMA

    p.add_argument("--focal-gamma", type=NumberOption(float, low=0.0, high=MAX_FOCAL_GAMMA), default=0.0,
                   metavar="G",
                   help="fine-tune on focal cross-entropy (a lite0 arch's linear probe stays plain): each "
                        "face's loss is scaled by (1 - p of its true class)^G, so faces the model already gets "
                        "right fade out and the hard ones (real faces it still calls fake, fakes it still "
                        "passes) carry the training; 1-2 is usual "
                        f"(default 0: plain cross-entropy; at most {MAX_FOCAL_GAMMA:g})")


def add_scale_augment(p) -> None:
    p.add_argument("--scale-augment", type=probability, default=0.0, metavar="P",
                   help="shrink this share of training faces by 0.6-1x (area averaging, no re-enlarging) "
                        "before their window is cut, so the model also sees faces at smaller pixel scales "
                        "than its photos'; needs crops made with 'prepare --context 160' (default 0: off)")


def add_box_and_style_augment(p) -> None:
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
    p.add_argument("--exposure-augment", type=probability, default=0.0, metavar="P",
                   help="multiply the brightness of this share of training faces by 0.7-1.4x, highlights "
                        "clipping, real and fake alike, so a dim or bright exposure cannot stand for 'fake' "
                        "(default 0: off)")
    p.add_argument("--outside-face-augment", type=probability, default=0.0, metavar="P",
                   help="replace everything outside an ellipse around the face (hair, ears, clothes, backdrop) "
                        "of this share of training faces, real and fake alike, by a strong blur, flat grey or "
                        "the crop's mean colour, so the verdict has to come from the face itself (default 0: "
                        "off; 'generalise capture' shows what the outside does to a model)")


def augment_options(args):
    from dataclasses import replace

    from ..data.augment import AugmentOptions

    return replace(AugmentOptions().with_strength(getattr(args, "augment_strength", 1.0)), scale_p=args.scale_augment,
                   box_jitter_p=args.box_jitter, style_p=args.style_augment,
                   background_p=args.background_augment, exposure_p=args.exposure_augment,
                   outside_face_p=args.outside_face_augment)


def source_list(text: str) -> list:
    """argparse ``type=`` for ``a,b,c``: source folder names."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected source names separated by commas, not {text!r}")
    return names
