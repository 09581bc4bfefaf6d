"""Counts in words for the lines a person reads: "1 image", "2 images", "1 annotated copy"."""

from __future__ import annotations

from typing import Optional


def plural(count: int, singular: str, plural_form: Optional[str] = None) -> str:
    """``count`` and the noun that agrees with it; ``plural_form`` defaults to ``singular + "s"``."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"
