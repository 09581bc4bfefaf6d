"""TensorFlow's environment variables, set in one place for every layer.

TensorFlow reads them once, while it is imported, so they must be set before the first
``import tensorflow`` (or keras, mtcnn, tf2onnx) anywhere in the process.  This module
imports no TensorFlow itself; it lives in edge/, the bottom layer, so the ``fakeface``
entry point, train/, export/, benchmarks/ and the tests can all share it.
"""

from __future__ import annotations

import os

# Warnings and errors only: TF's INFO lines would drown every command's own output.
# oneDNN off: its kernels change float round-off, so Keras scores would wander from the
# converted files the parity gate compares them with.  Training turns it on on purpose
# (train/onednn.py), since round-off does not matter there and it is ~2x faster.
QUIET_TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def set_tf_environment(onednn: bool = False) -> None:
    """Quiet TensorFlow before it is imported; a value the user set wins, except ``onednn``.

    ``onednn=True`` forces oneDNN on: ``fakeface train`` asks for it explicitly.
    """
    if onednn:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
    for name, value in QUIET_TF_ENV.items():
        os.environ.setdefault(name, value)


def quiet_tf_env(base: dict | None = None) -> dict:
    """A copy of ``base`` (default: this process's environment) with TensorFlow quietened,
    for child processes; here the quiet values win over inherited ones."""
    return {**(os.environ if base is None else base), **QUIET_TF_ENV}
