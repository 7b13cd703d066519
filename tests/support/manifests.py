"""Helpers for reading compiled manifests in tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["strings"]


def strings(value: Any) -> Iterator[str]:
    """Every string (keys included) anywhere in a manifest."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value
