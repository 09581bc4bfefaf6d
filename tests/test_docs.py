"""What the README and the build files promise matches what the code does (issue 29, items 7, 12)."""

from __future__ import annotations

import re
import tomllib

import pytest

from fakeface.edge.cli import main

from conftest import REPO

README = (REPO / "README.md").read_text()


def test_python_version_is_311_everywhere():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">=3.11"
    assert "Python 3.11+" in README and "Python 3.11+" in (REPO / "Makefile").read_text()
    assert not re.search(r"3\.9\+", README + (REPO / "Makefile").read_text())
    assert "on **Python 3.11 only**" in README  # the [legacy] set: tflite-runtime 2.14 stops at 3.11


def _exit_code_tables(text: str) -> list[str]:
    return re.findall(r"\| exit code \| meaning \|\n(?:\|.*\|\n)+", text)


def test_exit_code_tables_list_130():
    tables = _exit_code_tables(README)
    assert len(tables) >= 2  # check and watch
    for table in tables:
        assert "\n| 130 | interrupted" in table, table


@pytest.mark.parametrize("command", ["check", "watch"])
def test_help_lists_130(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert re.search(r"^\s+130\s+interrupted", capsys.readouterr().out, re.M)
