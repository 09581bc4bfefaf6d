"""PORTING.md: the stages in order, each with its rule, golden files and tolerance, and the pitfalls.

Written from the stage table, pipeline.json's tree and the golden index of the kit being
built, so every number in it is the kit's own.
"""

from __future__ import annotations

from .stages import STAGES

# pipeline.json entries that state each stage's rule (dotted paths into the tree).
STAGE_RULES = {
    "pyramid_levels": ("pyramid.cell_size", "pyramid.min_face_size", "pyramid.scale_factor", "pyramid.first_scale",
                       "pyramid.level_count", "pyramid.scales", "pyramid.level_size", "pyramid.min_level_side",
                       "pyramid.skip_rule"),
    "pnet_input": ("pyramid.resize", "pyramid.normalise", "normalisation.mean", "normalisation.scale",
                   "normalisation.formula"),
    "pnet_output": ("nets.pnet.files", "nets.layout", "nets.output_rule"),
    "pnet_level_nms": ("pnet.stride", "pnet.cell_size", "pnet.window", "pnet.regression", "detection.thresholds.pnet",
                       "detection.threshold_rule", "pnet.order", "nms.pnet_level", "nms.overlap", "nms.rule",
                       "nms.ties"),
    "pnet_nms": ("nms.pnet_all",),
    "rnet_boxes": ("boxes.square",),
    "rnet_input": ("nets.rnet.input_size", "patches.sampling", "patches.value"),
    "rnet_nms": ("nets.rnet.files", "boxes.refine", "detection.thresholds.rnet", "nms.rnet"),
    "onet_boxes": ("boxes.square",),
    "onet_input": ("nets.onet.input_size", "patches.sampling"),
    "onet_nms": ("nets.onet.files", "boxes.landmarks", "boxes.refine", "detection.thresholds.onet", "nms.onet"),
    "faces": ("boxes.clip", "boxes.rounding", "detection.min_face_size", "detection.min_face_box_share",
              "detection.min_face_rule", "boxes.output"),
    "classifier_input": ("classifier.contract", "classifier.crop"),
    "logit": ("classifier.crop.input", "classifier.output.logit"),
    "p_fake": ("classifier.output", "classifier.decision"),
}


def _lookup(tree: dict, path: str):
    for key in path.split("."):
        tree = tree[key]
    return tree


def _flatten(path: str, value) -> list[tuple[str, object]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _flatten(f"{path}.{k}", v)]
    return [(path, value)]


def _rule_lines(pipeline: dict, key: str) -> list[str]:
    return [f"- `{name}`: {value}" for path in STAGE_RULES[key] for name, value in _flatten(path, _lookup(pipeline, path))]


def _stage_section(number: int, stage, pipeline: dict, index: dict) -> list[str]:
    row = next(r for r in index["stages"] if r["key"] == stage.key)
    files = ", ".join(f"`{f}`" for f in row["files"])
    tolerance = ", ".join(f"{k} {v:g}" for k, v in row["tolerance"].items())
    return [f"### {number}. {stage.title}", "", f"Golden file: {files}: {stage.content}.", "",
            f"What to compute: {stage.check}.  Tolerance ({stage.kind}): {tolerance}.", "", "Rules:",
            *_rule_lines(pipeline, stage.key), ""]


def _variant_lines(pipeline: dict) -> list[str]:
    lines = []
    for v in pipeline["classifier"]["variants"]:
        quant = v["input"]["quantization"]
        q = (f"int8 input: scale {quant['scale']:g}, zero point {quant['zero_point']}" if quant
             else "float input, no quantisation to apply")
        out = "outputs the logit (sigmoid on the host)" if v["output"] == "logit" else "outputs p(fake)"
        lines.append(f"- `{v['file']}` ({v['name']}; {', '.join(v['runtimes'])}): input {v['input']['dtype']} "
                     f"{v['input']['shape']}, {q}; {out}")
    return lines


def porting_markdown(pipeline: dict, index: dict, contents: list) -> str:
    contract = pipeline["classifier"]["contract"]
    outputs = pipeline["nets"]["outputs_by_last_dimension"]
    by_size = ", ".join(f"{size} {name}" for name, size in outputs.items())
    photos = "\n".join(f"- `{p['photo']}` ({p['width']}x{p['height']}): {p['description']}; "
                       f"{p['faces']} face(s); golden P-Net level {p['chosen_level']}" for p in index["photos"])
    present = {row["key"] for row in index["stages"]}
    stages = [s for s in STAGES if s.key in present]  # a kit of probability files has no logit stage
    sections = [line for i, s in enumerate(stages, 1) for line in _stage_section(i, s, pipeline, index)]
    files = "\n".join(f"- `{name}` ({size / 1024:.1f} KiB)" for name, size in contents)
    total = sum(size for _, size in contents)
    text = [
        "# Porting fakeface to Android or iOS",
        "",
        "This kit holds everything an app needs to run fakeface's pipeline without Python: the MTCNN",
        "nets (P-, R-, O-Net) and the real/fake classifier as TFLite and ONNX files with their sidecars,",
        "`pipeline.json` (every constant and rule, generated from the code that runs them), three photos,",
        "and golden vectors: each stage's result on each photo, so a port can be checked stage by stage.",
        "",
        "## How to use it",
        "",
        "1. Load the models with LiteRT (Android, iOS) or ONNX Runtime Mobile (iOS, Android); the `.json`",
        "   beside each classifier is its contract (crop, threshold, labels) and sha256.",
        "2. Implement the stages below in order, reading every number from `pipeline.json`.",
        "3. Decode each `photos/*.png` (PNG, so every decoder gives the same pixels), run your port on it",
        "   with the settings of `pipeline.json` and write each stage's result as a `.npy` file with the",
        "   golden file's name, shape, dtype and column order: `DUMP/<photo>/<file>` (a `.npy` is a short",
        "   text header, format 1.0, then the raw little-endian array: easy to write from Kotlin or Swift).",
        "4. On a machine with fakeface installed (`pip install fakeface[edge]`, no TensorFlow):",
        "   `fakeface export kit --verify KIT/ --candidate DUMP/` compares stage by stage and names the",
        "   first stage that leaves its tolerance, and by how much (`--partial` skips stages not dumped).",
        "",
        "Fix stages in order: a later stage's golden input is the earlier stage's golden output, so only",
        "the first divergence is informative.",
        "",
        "## Photos",
        "",
        photos,
        "",
        f"The golden P-Net level is {index['chosen_level_rule']}; R-/O-Net patches are kept for the first "
        f"{index['patch_samples']} boxes each net sees.",
        "",
        "## Stages",
        "",
        *sections,
        "## Classifier variants",
        "",
        *_variant_lines(pipeline),
        "",
        "## Pitfalls",
        "",
        "- **Area resize corners.** The pyramid's output pixel i covers input [i*H/h, (i+1)*H/h): corners",
        "  aligned at 0, no half-pixel shift, partly covered pixels weighted. Android's `Bitmap.createScaledBitmap`",
        "  and Core Graphics interpolate instead; implement the average yourself (an integral image is exact).",
        "- **crop_and_resize sampling.** R-/O-Net patches sample at `x1*(W-1)/W + k*(x2-x1)*(W-1)/W/(n-1)`,",
        "  not at pixel centres, and a sample outside the photo is 0 *after* normalisation "
        f"(the grey value {pipeline['normalisation']['mean']:g}).",
        "- **Where rounding happens.** Level sizes are truncated (`int`), the level count and the classifier",
        "  crop's square use round-half-to-even (Kotlin `Math.rint`, Swift `.toNearestOrEven`), boxes are never",
        "  rounded between stages, and crops are rounded to uint8 by the resize.",
        "- **Thresholds are strict** (`>`), NMS drops a box overlapped by *any* better box, even one itself",
        "  dropped, and NMS areas have no `+1` while box regression widths do.",
        f"- **RGB, not BGR.** Every net and the classifier take RGB (contract: {contract['color_order']}).",
        "  Android `Bitmap` pixels are ARGB ints and iOS buffers are often BGRA: reorder before anything else.",
        "- **Output order.** A TFLite file may return P-Net's outputs probability-first; pick outputs by their",
        f"  last dimension ({by_size}), and p(face) is index 1 of the probabilities.",
        "- **int8 input scale and zero point.** The classifier takes float pixels 0..255 (normalisation is",
        "  inside the model). An int8-input variant needs `q = clip(round(x / scale + zero_point), -128, 127)`",
        "  with the values listed above (pipeline.json `classifier.variants`); read them from the",
        "  interpreter rather than assume a scale.",
        "- **Sigmoid on the host.** A classifier whose sidecar says `\"output\": \"logit\"` returns the logit,",
        "  not p(fake): apply p = 1 / (1 + exp(-z)) yourself, in double precision, as exp(z) / (1 + exp(z))",
        "  for z < 0 (no overflow). Dump the logit as the file returns it (`logit.<format>.npy`, compared in",
        "  logit units) and p(fake) after your sigmoid (`p_fake.<format>.npy`). A file without that field",
        "  returns p(fake) itself.",
        f"- **Decision.** p(fake) >= {contract['threshold']:.6g} means `{contract['labels'][1]}` (a probability:",
        "  compare after the sigmoid, never the logit).",
        "- **Tolerances assume the CPU interpreter in float32** (XNNPack on LiteRT, the CPU provider on ONNX",
        "  Runtime). GPU delegates and NNAPI compute in fp16: expect larger net outputs differences there.",
        "",
        "## Contents",
        "",
        files,
        "",
        f"Total without this file: {total / 2**20:.2f} MiB in {len(contents)} files.",
        "",
    ]
    return "\n".join(text)
