"""`fakeface train`: fit a classifier on a crop folder and write a self-describing run folder.

RUN/
  model.keras, model.keras.json   the model and its contract (crop geometry, threshold, sha256)
  metrics.json                    validation and test results, overall and per source
  history.png, roc.png, confusion.png
  checkpoint/last.keras, checkpoint/state.json   after every epoch, for --resume
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from fakeface.edge.atomic import remove_stale_partials, write_text_atomic
from fakeface.edge.interrupts import signals_deferred, sigterm_as_interrupt
from fakeface.edge.contract import ModelContract, fake_probabilities, file_sha256, save_contract
from fakeface.edge import strict_json
from fakeface.edge.errors import FakeFaceError
from fakeface.edge.tf_environment import set_tf_environment
from fakeface.edge.wording import plural

from .data.augment import make_augment, make_window
from .data.dataset import make_dataset, resolve_source_weights
from .data.layout import people_of_crops
from .fit_crops import RunCrops, attach_context_windows, load_run_crops
from .fit_multiworker import fit_multiworker
from .fit_options import MAX_FOCAL_GAMMA, TrainOptions
from .fit_callbacks import epoch_checkpoint, progress_line, save_keras_atomic, stop_on_swallowed_interrupt
from .models.architectures import ARCHITECTURES, build_model, count_macs
from .models.face_oval import register as register_custom_layers
from .models.efficientnet_lite import NUM_BLOCKS, feature_extractor, freeze_early_blocks, freeze_for_fine_tuning
from .models.int8_stem import freeze_stem, snap_stem_to_int8_grid
from .models.linear_probe import fit_linear_probe
from .models.consistency import ConsistencyWeights, assemble_trainee, consistency_loss, float_path_metrics
from .reports.metrics import classification_report, threshold_for_real_acceptance
from .reports.perturb import robustness_summary
from .reports.plots import plot_confusion, plot_history, plot_roc
from .reports.twins import twin_rates

MODEL_NAME = "model.keras"


@dataclass
class TrainResult:
    run_dir: Path
    model_path: Path
    metrics: dict

    def summary(self) -> str:
        t = self.metrics.get("test") or {}
        lines = [f"train: wrote {self.model_path} ({self.metrics['architecture']})",
                 f"  {plural(self.metrics['epochs_run'], 'epoch')} in {self.metrics['train_seconds']:.0f} s"]
        if t:
            lines.append(f"  test: accuracy {t['accuracy']:.4f}, balanced {t['balanced_accuracy']:.4f}, "
                         f"ROC AUC {t['roc_auc']:.4f} (n={t['n']}, threshold {t['threshold']})")
            for src, r in sorted(t["per_source"].items()):
                lines.append(f"    {src:32s} {r['accuracy']:.4f}  (n={r['n']})")
        return "\n".join(lines)


def _strategy(name: str):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name != "default":
        raise FakeFaceError(f"unknown strategy {name!r}; choose default, mirrored or multiworker")
    return tf.distribute.get_strategy()


def train_run(crops_dir: str | os.PathLike, run_dir: str | os.PathLike, opts: TrainOptions) -> TrainResult:
    with sigterm_as_interrupt():
        return _train_run(crops_dir, run_dir, opts)


def _recipe(opts: TrainOptions):
    """The architecture's recipe, after checking the options that need one another."""
    if opts.arch not in ARCHITECTURES:
        raise FakeFaceError(f"unknown architecture {opts.arch!r}; choose from {', '.join(sorted(ARCHITECTURES))}")
    if opts.int8_stem and not opts.init_from:
        raise FakeFaceError("--int8-stem fine-tunes a trained model: give it with --init-from")
    if opts.int8_consistency and not (opts.init_from or opts.resume):
        raise FakeFaceError("--int8-consistency fine-tunes a trained model for int8: give it with --init-from")
    recipe = ARCHITECTURES[opts.arch][1]
    if opts.strategy == "multiworker" and recipe.pretrained and not opts.init_from:
        raise FakeFaceError(f"--strategy multiworker: --arch {opts.arch} starts with a linear probe that Keras cannot "
                            "fit across workers; train it on one machine first (any short run), then continue on "
                            "all of them with --init-from RUN/model.keras")
    if opts.strategy == "multiworker" and opts.patience:
        raise FakeFaceError("--patience stops on the validation AUC between epochs, which --strategy multiworker "
                            "does not score (it scores validation once, after the last epoch)")
    if opts.freeze_blocks and not recipe.pretrained:
        raise FakeFaceError(f"--freeze-blocks keeps ImageNet weights: --arch {opts.arch} has none (use a lite0 arch)")
    if opts.validate_every < 1:
        raise FakeFaceError(f"--validate-every must be 1 or more epochs, got {opts.validate_every}")
    if opts.patience and opts.validate_every != 1:
        raise FakeFaceError("--patience watches the validation AUC after every epoch: it needs --validate-every 1")
    if opts.focal_gamma and (opts.int8_consistency or opts.jitter_consistency):
        raise FakeFaceError("--focal-gamma changes the plain loss; the --int8-consistency and "
                            "--jitter-consistency phases keep cross-entropy: leave it out there")
    if not 0 <= opts.focal_gamma <= MAX_FOCAL_GAMMA:
        raise FakeFaceError(f"--focal-gamma must be 0-{MAX_FOCAL_GAMMA:g}, got {opts.focal_gamma:g}")
    if not 0 <= opts.freeze_blocks <= NUM_BLOCKS:
        raise FakeFaceError(f"--freeze-blocks must be 0-{NUM_BLOCKS} (Lite0 has {NUM_BLOCKS} blocks), got {opts.freeze_blocks}")
    return recipe


def _resume_from_checkpoint(keras, ckpt_dir: Path, opts: TrainOptions):
    """(model, trainee, epochs done, history) from RUN/checkpoint, or None when there is nothing to resume."""
    state_path = ckpt_dir / "state.json"
    if not (opts.resume and (ckpt_dir / "last.keras").is_file() and state_path.is_file()):
        if opts.resume and opts.verbose:
            print("train: nothing to resume in", ckpt_dir, "- starting fresh")
        return None
    state = json.loads(state_path.read_text(encoding="utf-8"))
    register_custom_layers()
    model = keras.models.load_model(ckpt_dir / "last.keras", safe_mode=True, compile=True)
    saved_gamma = _focal_gamma_of(keras, model)
    if not _consistency(opts).active and saved_gamma != opts.focal_gamma:
        # a resumed plain run keeps the checkpoint's compiled loss, so a different flag would be ignored
        raise FakeFaceError(f"--resume: --focal-gamma {opts.focal_gamma:g} does not match the checkpoint in "
                            f"{ckpt_dir}, which trains with --focal-gamma {saved_gamma:g}; resume with the value "
                            "the run began with")
    if opts.verbose:
        print(f"train: resuming after epoch {int(state['epoch'])}"
              + ("; the consistency phase's optimizer starts afresh" if _consistency(opts).active else ""))
    return model, int(state["epoch"]), state.get("history", {})


def _focal_gamma_of(keras, model) -> float:
    """The focal gamma a compiled model trains with (0: plain cross-entropy)."""
    loss = getattr(model, "loss", None)
    return float(loss.gamma) if isinstance(loss, keras.losses.BinaryFocalCrossentropy) else 0.0


def _new_model(keras, opts: TrainOptions, recipe, crops: RunCrops,
               source_weights: Optional[dict] = None) -> tuple[object, Optional[dict]]:
    """A fresh model of ``opts.arch``, or one warm-started from --init-from; pretrained ones get their
    linear probe (whose metrics come back) and --int8-stem its snapped stem."""
    probe_metrics = None
    model = build_model(opts.arch, crops.size, crops.margin)
    if opts.init_from:
        # Weights only: a warm restart with this run's own schedule and optimizer.
        register_custom_layers()
        source = keras.models.load_model(opts.init_from, safe_mode=True, compile=False)
        try:
            model.set_weights(source.get_weights())
        except ValueError as exc:
            raise FakeFaceError(f"{opts.init_from}: weights do not fit --arch {opts.arch} at {crops.size} px "
                                f"({' '.join(str(exc).split())[:120]})") from None
    if recipe.pretrained:
        frozen = freeze_for_fine_tuning(model)
        if opts.verbose:
            print(f"train: {frozen} BatchNormalization layers keep their ImageNet statistics; "
                  "the int8-exact stem layers stay frozen")
        if opts.freeze_blocks:
            n = freeze_early_blocks(model, opts.freeze_blocks)
            if opts.verbose:
                print(f"train: the stem and blocks 0-{opts.freeze_blocks - 1} keep their ImageNet weights "
                      f"({n} more layers frozen)")
        if not opts.init_from:
            probe = fit_linear_probe(model, feature_extractor(model), crops.train, crops.val, opts.balance,
                                     seed=opts.seed, verbose=opts.verbose,
                                     source_weights=source_weights)
            probe_metrics = asdict(probe)
            if opts.verbose:
                print(probe.line())
    if opts.int8_stem:
        change = snap_stem_to_int8_grid(model)
        freeze_stem(model)
        if opts.verbose:
            print(f"train: stem snapped to the int8 grid (largest change {change:.4f} of a channel's "
                  "peak weight) and frozen")
    return model, probe_metrics


def _consistency(opts: TrainOptions) -> ConsistencyWeights:
    return ConsistencyWeights(int8=opts.int8_consistency, jitter=opts.jitter_consistency)


def _compile(keras, trainee, recipe, lr: float, steps: int, epochs: int,
             consistency: ConsistencyWeights = ConsistencyWeights(), focal_gamma: float = 0.0) -> None:
    total = steps * epochs
    if recipe.schedule == "cosine" and not consistency.int8:  # the int8 phase is short: a constant rate
        warm = max(1, min(steps, total // 10))
        schedule = keras.optimizers.schedules.CosineDecay(
            lr * 0.05, decay_steps=max(1, total - warm), alpha=0.01, warmup_target=lr, warmup_steps=warm)
    else:
        schedule = lr
    optimizer = (keras.optimizers.AdamW(schedule, weight_decay=recipe.weight_decay)
                 if recipe.weight_decay else keras.optimizers.Adam(schedule))
    if consistency.active:
        loss = consistency_loss(consistency, recipe.label_smoothing)
        metrics = float_path_metrics()
    else:
        if focal_gamma:
            # (1 - p_true)^gamma x cross-entropy: faces the model already gets right fade out of the loss, so
            # the real faces it still calls fake (and the fakes it passes) carry the late epochs.
            loss = keras.losses.BinaryFocalCrossentropy(gamma=focal_gamma, label_smoothing=recipe.label_smoothing)
        else:
            loss = keras.losses.BinaryCrossentropy(label_smoothing=recipe.label_smoothing)
        metrics = [keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")]
    trainee.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                    # XLA compilation of the train step costs minutes on a small CPU and gains little.
                    jit_compile=False)


def _callbacks(keras, opts: TrainOptions, ckpt_dir: Path, history: dict, val_ds, model) -> list:
    # The int8 phase's trainee holds fake-quantisation layers: its checkpoint is the float model.
    saved = model if _consistency(opts).active else None
    callbacks = [epoch_checkpoint(keras, ckpt_dir, history, saved), stop_on_swallowed_interrupt(keras)]
    if opts.verbose:
        callbacks.append(progress_line(keras))
    if opts.patience and val_ds is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=opts.patience,
                                                       restore_best_weights=True))
    return callbacks


def _save_model(model, run_dir: Path, opts: TrainOptions, crops: RunCrops, threshold: float) -> tuple[Path, ModelContract, int]:
    """model.keras and its sidecar, saved as a pair; returns (path, contract, MACs)."""
    model_path = run_dir / MODEL_NAME
    macs = count_macs(model)
    with signals_deferred():  # never a model.keras whose sidecar describes another file
        save_keras_atomic(model, model_path)
        contract = ModelContract(
            input_size=crops.size, crop_margin=crops.margin, crop_mode=str(crops.geometry.get("crop_mode", "resize")),
            native_max_side=int(crops.geometry.get("native_max_side", 288)), threshold=threshold, name="fakeface",
            architecture=f"{opts.arch}: {model.count_params():,} params, {macs / 1e6:.1f}M MACs",
            format="keras", sha256=file_sha256(model_path))
        save_contract(model_path, contract)
    return model_path, contract, macs


def _held_out_metrics(model, crops: RunCrops, val_p: np.ndarray, test_p: np.ndarray) -> dict:
    """metrics.json's twins, test at 99 % validation real acceptance, and robustness of the test split."""
    val_cs, test_cs = crops.val, crops.test
    metrics = {}
    if len(val_cs) and len(test_cs):
        metrics["twins"] = twin_rates(val_p, val_cs.sources, test_cs.labels, test_p, test_cs.sources)
        if (val_cs.labels == 0).any():
            t99 = threshold_for_real_acceptance(val_p[val_cs.labels == 0], 0.99)
            metrics["test_at_val_real_acceptance_0.99"] = classification_report(
                test_cs.labels, test_p, t99, test_cs.sources).to_json()
    if len(test_cs) and (test_cs.labels == 0).any() and (test_cs.labels == 1).any():
        def score(images):
            return fake_probabilities(model.predict(images, batch_size=128, verbose=0))

        metrics["robustness_test"] = robustness_summary(score, test_cs.images, test_cs.labels, test_p)
    return metrics


def _plot_run(run_dir: Path, history: dict, crops: RunCrops, val_p, test_p, test_rep) -> None:
    if history.get("loss"):
        plot_history(history, run_dir / "history.png")
    curves = {}
    if len(crops.val):
        curves["validation"] = (crops.val.labels, val_p)
    if len(crops.test):
        curves["test"] = (crops.test.labels, test_p)
    if curves:
        plot_roc(curves, run_dir / "roc.png")
    if test_rep:
        plot_confusion(test_rep.confusion, run_dir / "confusion.png")


def _train_run(crops_dir: str | os.PathLike, run_dir: str | os.PathLike, opts: TrainOptions) -> TrainResult:
    set_tf_environment()
    import keras

    # First of all: MultiWorkerMirroredStrategy configures the collective ops of the runtime,
    # which TensorFlow allows only before its first op.  Made later, the workers each train
    # alone and end with different weights.
    strategy = _strategy(opts.strategy)
    crops_dir, run_dir = Path(crops_dir), Path(run_dir)
    recipe = _recipe(opts)
    epochs = opts.epochs or recipe.epochs
    batch = opts.batch_size or recipe.batch_size
    lr = opts.learning_rate or recipe.learning_rate
    keras.utils.set_random_seed(opts.seed)

    crops = load_run_crops(crops_dir, opts)
    attach_context_windows(crops_dir, crops, opts)
    size, train_cs, val_cs, test_cs = crops.size, crops.train, crops.val, crops.test

    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = run_dir / "checkpoint"
    ckpt_dir.mkdir(exist_ok=True)
    remove_stale_partials(run_dir)
    augment = make_augment(size, opts.augment_options, crops.margin) if opts.augment else None
    source_weights = resolve_source_weights(opts.source_weights, train_cs.sources)
    train_ds = make_dataset(train_cs, batch, training=True, augment=augment, seed=opts.seed,
                            balance=opts.balance, window=make_window(size, opts.augment_options),
                            source_weights=source_weights)
    val_ds = make_dataset(val_cs, 128, training=False) if len(val_cs) else None
    steps = opts.steps_per_epoch or int(np.ceil(len(train_cs) / batch))
    if opts.steps_per_epoch:
        train_ds = train_ds.repeat()

    history: dict = {}
    probe_metrics: Optional[dict] = None
    initial_epoch = 0
    with strategy.scope():
        resumed = _resume_from_checkpoint(keras, ckpt_dir, opts)
        if resumed:
            model, initial_epoch, history = resumed
        else:
            model, probe_metrics = _new_model(keras, opts, recipe, crops, source_weights)
        trainee, tracker = model, None
        if _consistency(opts).active:
            trainee, tracker = assemble_trainee(model, _consistency(opts), crops.train, opts.int8_remeasure_every,
                                               limited=bool(opts.limit), verbose=opts.verbose)
        if trainee is not model or not resumed:  # a resumed plain run keeps its compiled optimizer
            _compile(keras, trainee, recipe, lr, steps, epochs, _consistency(opts), opts.focal_gamma)
            if resumed:  # a fresh optimizer, but the learning-rate schedule goes on where it was
                trainee.optimizer.build(trainee.trainable_variables)
                trainee.optimizer.iterations.assign(initial_epoch * steps)

    callbacks = _callbacks(keras, opts, ckpt_dir, history, val_ds, model)
    if tracker is not None and opts.int8_remeasure_every:
        callbacks.insert(0, tracker.callback(keras, opts.int8_remeasure_every, opts.verbose))
    t0 = time.perf_counter()
    if initial_epoch < epochs and opts.strategy == "multiworker":
        fit_multiworker(keras, strategy, trainee, train_ds.repeat(), epochs, initial_epoch, steps, callbacks)
    elif initial_epoch < epochs:
        trainee.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                    steps_per_epoch=steps, callbacks=callbacks, verbose=2 if opts.verbose else 0,
                    validation_freq=opts.validate_every, shuffle=False)  # the tf.data pipeline shuffles
    session_seconds = time.perf_counter() - t0
    # Over all sessions of a resumed run, from the per-epoch times the checkpoints kept.
    train_seconds = max(session_seconds, float(sum(history.get("seconds", []))))

    def predict(cs):
        if len(cs) == 0:
            return np.zeros(0)
        return fake_probabilities(model.predict(make_dataset(cs, 128, training=False), verbose=0))

    val_p, test_p = predict(val_cs), predict(test_cs)
    if len(np.unique(val_cs.labels)) < 2 and history.get("val_auc"):
        # Keras logs an AUC of 0.0 for a one-class split: no value, so the plot shows a gap, not a flat 0
        history["val_auc"] = [None] * len(history["val_auc"])
    threshold = 0.5
    val_rep = (classification_report(val_cs.labels, val_p, threshold, val_cs.sources, people_of_crops(val_cs.paths))
               if len(val_cs) else None)
    test_rep = (classification_report(test_cs.labels, test_p, threshold, test_cs.sources, people_of_crops(test_cs.paths))
                if len(test_cs) else None)
    model_path, contract, macs = _save_model(model, run_dir, opts, crops, threshold)

    metrics = {
        "architecture": contract.architecture, "arch": opts.arch, "params": int(model.count_params()),
        "macs": int(macs), "input_size": size, "crop_margin": crops.margin,
        "crop_mode": contract.crop_mode, "epochs": epochs,
        "epochs_run": len(history.get("loss", [])), "steps_per_epoch": steps, "batch_size": batch,
        "learning_rate": lr,
        "balance": opts.balance, "context": crops.context, "init_from": opts.init_from,
        "int8_consistency": opts.int8_consistency,
        "int8_remeasure_every": opts.int8_remeasure_every if opts.int8_consistency else None,
        "jitter_consistency": opts.jitter_consistency, "freeze_blocks": opts.freeze_blocks,
        "focal_gamma": opts.focal_gamma,
        "validate_every": opts.validate_every, "test_scored": not opts.skip_test,
        "source_shares": opts.source_shares or None, "source_weights": opts.source_weights or None,
        "augment": asdict(opts.augment_options) if opts.augment else None, "seed": opts.seed,
        "train_crops": len(train_cs), "train_seconds": round(train_seconds, 1),
        "seconds_per_epoch": round(float(np.mean(history["seconds"])), 1) if history.get("seconds") else None,
        "history": history, "threshold": threshold, "linear_probe": probe_metrics,
        "val": val_rep.to_json() if val_rep else None, "test": test_rep.to_json() if test_rep else None,
        **_held_out_metrics(model, crops, val_p, test_p),
    }
    write_text_atomic(run_dir / "metrics.json", strict_json.dumps(metrics, indent=2) + "\n")
    _plot_run(run_dir, history, crops, val_p, test_p, test_rep)
    return TrainResult(run_dir=run_dir, model_path=model_path, metrics=metrics)
