"""`fakeface prepare`: turn folders of photos into folders of face crops for training.

Every crop is cut by :func:`fakeface.edge.contract.crop_face`, the function the edge
runtime uses, so a model sees the same pixels in training and in use.  Crops are PNG
(lossless: no second round of JPEG artefacts that the model could learn instead of
faces).  ``manifest.jsonl`` records, for every photo, the box, score and landmarks of
each face or why there is none, so crops can be recut at another size or margin
(``--reuse-boxes``) without running the detector again.

Resumable: a photo with a manifest line is done.  Each crop is written atomically
*before* its manifest line, and lines are appended and flushed one photo at a time,
so an interrupted run (Ctrl-C, SIGTERM) never leaves a half-written crop or a line
pointing at a missing file.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from fakeface.edge.atomic import remove_stale_partials, write_bytes_atomic, write_text_atomic
from fakeface.edge.strict_json import dumps
from fakeface.edge.contract import ModelContract, crop_face
from fakeface.edge.errors import FakeFaceError, ImageError
from fakeface.edge.imageio import load_image
from fakeface.edge.interrupts import sigterm_as_interrupt
from fakeface.edge.tf_environment import set_tf_environment

from .detectors import DEFAULT_MIN_FACE, make_detector
from .layout import CONTEXT_DIR, crop_relpath, scan_folder

MANIFEST = "manifest.jsonl"
GEOMETRY = "crops.json"  # the crop geometry of a crop folder; `train` copies it into the model contract
# Default crop geometry: the shipped model's (its sidecar edge/models/fakeface.tflite.json, a
# test holds them equal), so `prepare` then `train` without flags follows the shipped recipe.
# Why 128 px, margin 0.25, resized: train/README.md, "Crop geometry and size".
DEFAULT_INPUT_SIZE = 128
DEFAULT_CROP_MARGIN = 0.25
DEFAULT_CROP_MODE = "resize"
DEFAULT_NATIVE_MAX_SIDE = 288
# `--context PX` (native mode) also keeps a wider window of every face at the same pixel
# scale (OUT/context/<crop name>), which `train --scale-augment` shrinks before cutting the
# crop-sized window, so the model sees faces at smaller pixel scales than its photos'.
# Off by default: it doubles the folder's size and the shipped recipe does not use it.
DEFAULT_CONTEXT = 0
GEOMETRY_KEYS = ("input_size", "crop_margin", "crop_mode", "native_max_side", "faces", "context")
# What a crops.json written before a key existed meant by its absence.
OLD_GEOMETRY = {"crop_mode": "resize", "native_max_side": DEFAULT_NATIVE_MAX_SIDE, "context": 0}
CHUNK = 16  # photos per worker task


@dataclass
class PrepareOptions:
    input_size: int = DEFAULT_INPUT_SIZE
    crop_margin: float = DEFAULT_CROP_MARGIN
    crop_mode: str = DEFAULT_CROP_MODE
    native_max_side: int = DEFAULT_NATIVE_MAX_SIDE
    context: int = DEFAULT_CONTEXT  # native mode: also keep this wide a window for training (0: no)
    faces: str = "best"  # "best": highest-scoring face only; "all": every face
    detector: str = "edge"
    min_face_size: int = DEFAULT_MIN_FACE
    workers: int = 0  # 0: one per core
    reuse_boxes: Optional[str] = None  # a manifest.jsonl whose boxes are reused

    def contract(self) -> ModelContract:
        return ModelContract(input_size=self.input_size, crop_margin=self.crop_margin, crop_mode=self.crop_mode,
                             native_max_side=self.native_max_side)

    def context_size(self) -> int:
        """The wider training window actually kept: only in native mode, only if wider."""
        return self.context if self.crop_mode == "native" and self.context > self.input_size else 0

    def geometry(self) -> dict:
        return {"input_size": self.input_size, "crop_margin": self.crop_margin, "crop_mode": self.crop_mode,
                "native_max_side": self.native_max_side, "context": self.context_size(), "faces": self.faces,
                "detector": self.detector, "min_face_size": self.min_face_size}


@dataclass
class PrepareReport:
    photos: int = 0  # photos found under SRC
    skipped: int = 0  # already in the manifest from an earlier run
    processed: int = 0
    crops: int = 0
    no_face: int = 0
    unreadable: int = 0
    seconds: float = 0.0
    failures: list = field(default_factory=list)  # (relative path, status, reason)
    interrupted: bool = False


def read_manifest(path: str | os.PathLike) -> list[dict]:
    """Read manifest lines; a torn last line (killed mid-write) is ignored."""
    records = []
    p = Path(path)
    if not p.is_file():
        return records
    with open(p, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


# -- worker side ------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(options: PrepareOptions, boxes: dict) -> None:
    # The parent decides when to stop; a worker hit by Ctrl-C would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_tf_environment()
    cv2.setNumThreads(1)
    _WORKER.clear()
    _WORKER.update(options=options, boxes=boxes, detector=None)


def _detector():
    if _WORKER["detector"] is None:  # built lazily: --reuse-boxes may never need it
        _WORKER["detector"] = make_detector(_WORKER["options"].detector, _WORKER["options"].min_face_size)
    return _WORKER["detector"]


def _detect_all(rels: list[str], images: dict) -> dict:
    """Faces of every photo that needs detection; photos of one size go in one batch."""
    by_shape: dict = {}
    for rel in rels:
        by_shape.setdefault(images[rel].shape, []).append(rel)
    found = {}
    for group in by_shape.values():
        try:
            faces = _detector()([images[r] for r in group])
        except Exception:  # a batch failed: retry one by one so one odd photo costs only itself
            faces = []
            for r in group:
                try:
                    faces.extend(_detector()([images[r]]))
                except Exception as exc:
                    faces.append(exc)
        for r, f in zip(group, faces):
            found[r] = f if isinstance(f, Exception) else [
                {"box": list(b.box), "score": b.score, "landmarks": [list(p) for p in b.landmarks]} for b in f]
    return found


def _crop_records(rel: str, rgb: np.ndarray, faces: list, out_root: str) -> list[dict]:
    opts: PrepareOptions = _WORKER["options"]
    H, W = rgb.shape[:2]
    if not faces:
        return [{"source": rel, "status": "no_face", "image_size": [W, H],
                 "reason": f"{rel}: no face found (min face {opts.min_face_size} px)"}]
    contract = opts.contract()
    chosen = faces if opts.faces == "all" else faces[:1]
    records = []
    context = opts.context_size()
    for i, face in enumerate(chosen):
        crop_rel = crop_relpath(rel, i)
        if context:
            # The crop is the wider window's centre (context - input_size is even), so the
            # square is cut and shrunk once.  The window is written first: a crop on disk
            # always has its context beside it.
            wide = crop_face(rgb, face["box"], contract, context)
            off = (wide.shape[0] - opts.input_size) // 2
            crop = np.ascontiguousarray(wide[off:off + opts.input_size, off:off + opts.input_size])
            cuts = [(Path(out_root) / CONTEXT_DIR / crop_rel, wide), (Path(out_root) / crop_rel, crop)]
        else:
            cuts = [(Path(out_root) / crop_rel, crop_face(rgb, face["box"], contract))]
        for path, pixels in cuts:
            ok, png = cv2.imencode(".png", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
            if not ok:
                return [{"source": rel, "status": "unreadable", "reason": f"{rel}: PNG encoding failed"}]
            write_bytes_atomic(path, png.tobytes())
        records.append({"source": rel, "status": "ok", "crop": crop_rel, "face": i,
                        "box": [round(float(v), 2) for v in face["box"]], "score": round(float(face["score"]), 5),
                        "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in face["landmarks"]],
                        "faces_found": len(faces), "image_size": [W, H]})
    return records


def _process_chunk(job: tuple[str, list[str], str]) -> list[list[dict]]:
    """Crop a few photos; returns the manifest records of each photo, in order."""
    src_root, rels, out_root = job
    images, results = {}, {}
    for rel in rels:
        try:
            images[rel] = load_image(Path(src_root) / rel)
        except ImageError as exc:
            results[rel] = [{"source": rel, "status": "unreadable", "reason": str(exc)}]
    known = _WORKER["boxes"]
    need = [r for r in images if r not in known]
    detected = _detect_all(need, images) if need else {}
    for rel, rgb in images.items():
        faces = known.get(rel, detected.get(rel))
        if isinstance(faces, Exception):
            results[rel] = [{"source": rel, "status": "unreadable", "reason": f"{rel}: detector failed ({faces})"}]
        else:
            results[rel] = _crop_records(rel, rgb, faces, out_root)
    return [results[r] for r in rels]


# -- parent side ------------------------------------------------------------------
def _check_geometry(out: Path, options: PrepareOptions) -> None:
    path = out / GEOMETRY
    want = options.geometry()
    if path.is_file():
        have = json.loads(path.read_text(encoding="utf-8"))
        differs = {k: (have.get(k), v) for k, v in want.items() if k in GEOMETRY_KEYS
                   and have.get(k, OLD_GEOMETRY.get(k)) != v}
        if differs:
            detail = ", ".join(f"{k} {a} (folder) vs {b} (now)" for k, (a, b) in differs.items())
            raise FakeFaceError(f"{out}: crops there were cut differently ({detail}); choose another output folder")
    else:
        write_text_atomic(path, dumps(want, indent=2, sort_keys=True) + "\n")


def _load_reuse_boxes(path: Optional[str]) -> dict:
    if not path:
        return {}
    if not Path(path).is_file():
        raise FakeFaceError(f"{path}: manifest to reuse boxes from not found")
    boxes: dict = {}
    for r in read_manifest(path):
        if r.get("status") == "ok":
            boxes.setdefault(r["source"], []).append(
                {"box": r["box"], "score": r["score"], "landmarks": r.get("landmarks", [])})
        elif r.get("status") == "no_face":
            boxes.setdefault(r["source"], [])
    for faces in boxes.values():
        faces.sort(key=lambda f: -f["score"])
    return boxes


def _append_results(manifest_path: Path, results: Iterator[list[dict]], report: PrepareReport, photos: int,
                    progress: bool) -> None:
    """Append every photo's records to the manifest and count them in ``report``."""
    from tqdm import tqdm

    with open(manifest_path, "a+", encoding="utf-8") as manifest:
        # A torn last line from a killed run: start ours on a fresh line.
        if manifest.tell() > 0:
            manifest.seek(manifest.tell() - 1)
            if manifest.read(1) != "\n":
                manifest.write("\n")
        bar = tqdm(total=photos, unit="photo", desc="prepare", disable=not progress)
        try:
            for records in results:
                # One write per photo, then flush: a line on disk means its crops are on disk.
                manifest.write("".join(dumps(r, sort_keys=True) + "\n" for r in records))
                manifest.flush()
                report.processed += 1
                for r in records:
                    if r["status"] == "ok":
                        report.crops += 1
                    else:
                        setattr(report, r["status"], getattr(report, r["status"]) + 1)
                        report.failures.append((r["source"], r["status"], r["reason"]))
                bar.update(1)
        finally:
            results.close()  # stops and joins the worker pool now, not whenever it is collected
            bar.close()


def _results(jobs, options: PrepareOptions, boxes: dict, workers: int) -> Iterator[list[dict]]:
    if workers <= 1:
        _init_worker(options, boxes)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # in-process: Ctrl-C stops us
        for job in jobs:
            yield from _process_chunk(job)
        return
    # spawn, not fork: a parent that already imported TensorFlow must not be forked.
    ctx = mp.get_context("spawn")
    pool = ctx.Pool(workers, initializer=_init_worker, initargs=(options, boxes))
    try:
        for chunk in pool.imap_unordered(_process_chunk, jobs):
            yield from chunk
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def prepare_folder(src: str | os.PathLike, out: str | os.PathLike, options: PrepareOptions,
                   progress: bool = True) -> PrepareReport:
    """Crop every face photo under ``src`` into ``out``, resuming where a run stopped."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise FakeFaceError(f"{src}: no such folder")
    if options.faces not in ("best", "all"):
        raise FakeFaceError(f"--faces must be best or all, not {options.faces!r}")
    if options.crop_mode == "native" and options.native_max_side < options.input_size:
        raise FakeFaceError(f"--native-max-side {options.native_max_side} is smaller than --input-size {options.input_size}")
    if options.context_size() and (options.context - options.input_size) % 2:
        raise FakeFaceError(f"--context {options.context} minus --input-size {options.input_size} must be even "
                            "(so the context's centre window is exactly the crop)")
    samples = scan_folder(src)
    out.mkdir(parents=True, exist_ok=True)
    _check_geometry(out, options)
    remove_stale_partials(out)
    boxes = _load_reuse_boxes(options.reuse_boxes)
    manifest_path = out / MANIFEST
    done = {r["source"] for r in read_manifest(manifest_path)}
    report = PrepareReport(photos=len(samples))
    todo = [s.rel for s in samples if s.rel not in done]
    report.skipped = len(samples) - len(todo)
    workers = options.workers or max(1, os.cpu_count() or 1)
    workers = max(1, min(workers, len(todo)))
    # Chunks of consecutive photos: a source folder's photos mostly share one size,
    # which the detector can run as one batch.
    jobs = [(str(src), todo[i:i + CHUNK], str(out)) for i in range(0, len(todo), CHUNK)]
    t0 = time.perf_counter()

    with sigterm_as_interrupt():  # SIGTERM ends the run like Ctrl-C: cleanly
        try:
            _append_results(manifest_path, _results(jobs, options, boxes, workers), report, len(todo), progress)
        except KeyboardInterrupt:
            report.interrupted = True
            # Workers stopped by the pool's terminate() may have died inside an atomic write.
            remove_stale_partials(out)
        finally:
            report.seconds = time.perf_counter() - t0
    return report
