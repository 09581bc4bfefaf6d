"""Really trained, very small models for tests and examples of the other layers.

``build_tiny_model`` trains the ``tiny`` architecture for a few dozen steps, on real
crops when a crop folder is given, else on generated faces (smooth "real" ones and
"fake" ones carrying a high-frequency pattern, like a generator's up-sampling trace).
It takes seconds and writes model.keras plus its sidecar, like `fakeface train`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from fakeface.edge.atomic import write_bytes_atomic, write_text_atomic
from fakeface.edge.contract import ModelContract, file_sha256, save_contract
from fakeface.edge.tf_environment import set_tf_environment

TINY_INPUT = 32


def synthetic_faces(n: int, size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` RGB uint8 face-like images and labels (half real, half fake).

    A "face" is a skin-coloured ellipse with two eyes and a mouth on a random
    background, slightly blurred.  Fakes add a faint checkerboard, the classic trace
    of transposed-convolution up-sampling, so a tiny CNN can learn the task for real.
    """
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), np.uint8)
    labels = np.arange(n) % 2
    yy, xx = np.mgrid[0:size, 0:size]
    checker = ((yy + xx) % 2 * 2 - 1).astype(np.float32)
    for i in range(n):
        bg = rng.integers(30, 220, 3)
        img = np.ones((size, size, 3), np.float32) * bg
        skin = np.array([rng.integers(150, 240), rng.integers(100, 190), rng.integers(80, 160)], np.float32)
        c = (size // 2 + rng.integers(-3, 4), size // 2 + rng.integers(-3, 4))
        axes = (int(size * rng.uniform(0.25, 0.33)), int(size * rng.uniform(0.32, 0.42)))
        cv2.ellipse(img, c, axes, 0, 0, 360, skin.tolist(), -1)
        for dx in (-1, 1):
            cv2.circle(img, (c[0] + dx * axes[0] // 2, c[1] - axes[1] // 4), max(1, size // 20), (40, 30, 30), -1)
        cv2.ellipse(img, (c[0], c[1] + axes[1] // 2), (axes[0] // 2, max(1, size // 24)), 0, 0, 360, (150, 60, 60), -1)
        img = cv2.GaussianBlur(img, (0, 0), 1.0)
        img += rng.normal(0, 2.0, img.shape)
        if labels[i] == 1:
            img += checker[..., None] * rng.uniform(4.0, 8.0)
        images[i] = np.clip(img, 0, 255).astype(np.uint8)
    return images, labels


def write_synthetic_crops(out_dir: str | os.PathLike, n: int = 80, size: int = 64, seed: int = 0,
                          crop_margin: float = 0.15) -> Path:
    """A crop folder like `fakeface prepare` writes (real/synthetic, fake/synthetic, crops.json)."""
    out = Path(out_dir)
    images, labels = synthetic_faces(n, size, seed)
    for i, (img, y) in enumerate(zip(images, labels)):
        cls = "fake" if y else "real"
        ok, png = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        write_bytes_atomic(out / cls / "synthetic" / f"face{i:04d}.jpg.png", png.tobytes())
    write_text_atomic(out / "crops.json", json.dumps({"input_size": size, "crop_margin": crop_margin,
                                                      "faces": "best", "detector": "synthetic"}) + "\n")
    return out


def _real_crops(crops_dir: Path, n: int, size: int, seed: int) -> Optional[tuple[np.ndarray, np.ndarray, float]]:
    from fakeface.train.data.dataset import load_crops, read_geometry
    from fakeface.train.data.layout import scan_folder, select_split

    try:
        samples = select_split(scan_folder(crops_dir, cropped=True), "train")
    except Exception:
        return None
    rng = np.random.default_rng(seed)
    picked = []
    for label in (0, 1):
        pool = [s for s in samples if s.label == label]
        if not pool:
            return None
        picked += [pool[i] for i in rng.choice(len(pool), min(n // 2, len(pool)), replace=False)]
    cs, _ = load_crops(picked, size=size, progress=False)
    margin = float(read_geometry(crops_dir).get("crop_margin", 0.15))
    return cs.images, cs.labels, margin


def build_tiny_model(out_dir: str | os.PathLike, crops_dir: Optional[str | os.PathLike] = None,
                     steps: int = 60, input_size: int = TINY_INPUT, seed: int = 0) -> Path:
    """Train a tiny classifier for ``steps`` batches; return the path of model.keras (with sidecar)."""
    set_tf_environment()
    import keras

    from fakeface.train.fit_callbacks import save_keras_atomic
    from fakeface.train.models.architectures import build_tiny, count_macs

    keras.utils.set_random_seed(seed)
    data = _real_crops(Path(crops_dir), 512, input_size, seed) if crops_dir else None
    if data is None:
        images, labels = synthetic_faces(512, input_size, seed)
        margin, trained_on = 0.15, "synthetic faces"
    else:
        images, labels, margin = data
        trained_on = f"crops from {Path(crops_dir).name}"
    model = build_tiny(input_size)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    batch = 32
    reps = int(np.ceil(steps * batch / len(images)))
    x = np.concatenate([images] * reps).astype(np.float32)
    y = np.concatenate([labels] * reps).astype(np.float32)
    model.fit(x, y, batch_size=batch, epochs=1, steps_per_epoch=steps, shuffle=True, verbose=0)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "model.keras"
    save_keras_atomic(model, path)
    contract = ModelContract(input_size=input_size, crop_margin=margin, threshold=0.5, name="fakeface-tiny",
                             architecture=f"tiny: {model.count_params():,} params, {count_macs(model) / 1e6:.2f}M MACs"
                                          f" ({steps} steps on {trained_on})",
                             format="keras", sha256=file_sha256(path))
    save_contract(path, contract)
    return path
