"""`fakeface train --strategy multiworker`: two worker processes on localhost, as a user with
several machines would run them (issue 29, item 20), end with the same weights.

Each worker is its own `fakeface train` process with its own TF_CONFIG (the cluster, and its
own index in it) and its own --out.  MultiWorkerMirroredStrategy averages the gradients of
both workers every step, so their models must be identical; two workers that each trained
alone would differ from the first step on (each reads its own half of the data).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tiny_models import write_synthetic_crops

pytestmark = pytest.mark.tf


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _weights(path):
    from fakeface.export.tf_import import load_keras_model

    return load_keras_model(path).get_weights()


def test_two_workers_on_localhost_train_the_same_model(tmp_path):
    pytest.importorskip("tensorflow")
    crops = write_synthetic_crops(tmp_path / "crops", n=160, size=32)
    workers = [f"localhost:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                                     "task": {"type": "worker", "index": index}}),
                   CUDA_VISIBLE_DEVICES="")
        cmd = [sys.executable, "-m", "fakeface.edge.cli", "train", str(crops), "--out", str(tmp_path / f"w{index}"),
               "--arch", "tiny", "--epochs", "2", "--strategy", "multiworker", "--quiet"]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("the two workers did not finish in 150 s (did they find each other?)")
        outputs.append(out)
        assert p.returncode == 0, out[-2000:]

    first, second = (_weights(tmp_path / f"w{i}" / "model.keras") for i in range(2))
    start = _weights_of_a_fresh_tiny_model()
    assert len(first) == len(second) == len(start)
    for a, b in zip(first, second):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    # ...and they did train: the weights moved away from where a fresh model starts.
    assert max(float(np.abs(a - s).max()) for a, s in zip(first, start)) > 1e-3


def _weights_of_a_fresh_tiny_model():
    from fakeface.edge.tf_environment import set_tf_environment

    set_tf_environment()
    import keras

    from fakeface.train.models.architectures import build_model

    keras.utils.set_random_seed(1)  # train's default --seed
    return build_model("tiny", 32).get_weights()


def test_a_pretrained_arch_without_init_from_is_refused_with_the_way_round(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from fakeface.edge.cli import main

    crops = write_synthetic_crops(tmp_path / "crops", n=40, size=32)
    assert main(["train", str(crops), "--out", str(tmp_path / "run"), "--strategy", "multiworker"]) == 2
    err = capsys.readouterr().err
    assert "--strategy multiworker: --arch lite0 starts with a linear probe" in err
    assert "--init-from RUN/model.keras" in err
    assert not (tmp_path / "run" / "model.keras").exists()
