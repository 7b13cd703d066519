"""Deployers -> SeldonDeployments: the names of :mod:`myelin_sdk.compiler.seldon`, importable from here
as before (the mapping is documented there and in docs/deployers.md)."""

from __future__ import annotations

from .seldon import *  # noqa: F403
from .seldon import __all__ as __all__
