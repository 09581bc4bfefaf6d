"""`export mtcnn-nets` where TensorFlow cannot be imported: exit 2, one line, and no folder left
behind (issue 29, item 19).  TensorFlow is made unimportable, so this runs in any environment."""

from __future__ import annotations

import pytest

import fakeface.export.mtcnn_nets as mtcnn_nets
from fakeface.edge.cli import main


def no_tensorflow():
    raise ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")


@pytest.mark.parametrize("depth", [1, 3])
def test_mtcnn_nets_without_tensorflow_leaves_no_folder(depth, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(mtcnn_nets, "import_tf", no_tensorflow)
    out = tmp_path.joinpath(*["nets"] * depth)
    assert main(["export", "mtcnn-nets", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert 'needs: pip install "fakeface[train]"' in err and "Traceback" not in err
    assert not (tmp_path / "nets").exists()
