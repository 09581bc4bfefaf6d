"""Which pip extra of fakeface installs a module, read from the package's own metadata.

pyproject.toml's extras are the one list of what each layer needs; an edge-only install
that reaches for TensorFlow should say which extra to install, not raise
ModuleNotFoundError.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Optional

_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _normal(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(".", "_")


def extra_providing(module: str) -> Optional[str]:
    """The first extra whose requirements name ``module``'s distribution (``tensorflow`` ->
    ``train`` through ``tensorflow-cpu``), or None when no extra does."""
    top = _normal(module.split(".")[0])
    try:
        requirements = metadata.requires("fakeface") or []
    except metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        spec, _, marker = requirement.partition(";")
        extra = _EXTRA_MARKER.search(marker)
        dist = _normal(re.split(r"[\[<>=!~;\s]", spec.strip(), maxsplit=1)[0])
        if extra and (dist == top or dist.startswith(top + "_")):
            return extra.group(1)
    return None


def install_hint(extra: str) -> str:
    return f'needs: pip install "fakeface[{extra}]"'
