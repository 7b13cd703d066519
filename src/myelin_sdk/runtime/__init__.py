"""Runtime helpers that run inside the cluster; kept free of heavy imports.

:mod:`myelin_sdk.runtime.gate` is the metric gate of ``Metric`` conditions.  It uses
only the standard library, so the compiler can inline its source as a script::

    from myelin_sdk.runtime import gate_script_source

    script = gate_script_source()   # run as: python - --prometheus URL --query PROMQL < script
"""

from __future__ import annotations

from importlib import resources

__all__ = ["gate_script_source"]


def gate_script_source() -> str:
    """Return the source text of :mod:`myelin_sdk.runtime.gate`, runnable as a standalone script."""
    return resources.files(__name__).joinpath("gate.py").read_text(encoding="utf-8")
