"""TensorFlow's environment is set by one helper: a user's own values win, training forces oneDNN."""

from __future__ import annotations

import os

from fakeface.edge.tf_environment import QUIET_TF_ENV, quiet_tf_env, set_tf_environment


def test_defaults_are_set_but_a_users_log_level_wins(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    set_tf_environment()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"


def test_training_forces_onednn_on_over_an_earlier_default(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    set_tf_environment(onednn=True)
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"


def test_child_environment_is_quiet_and_keeps_the_rest():
    env = quiet_tf_env({"PATH": "/bin", "TF_CPP_MIN_LOG_LEVEL": "0"})
    assert env == {"PATH": "/bin", **QUIET_TF_ENV}
