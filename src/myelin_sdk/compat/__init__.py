"""Compatibility layers for code written for the original Myelin.

``compat/myelin/`` is the original client's import path (``import myelin.metric``, ``myelin.admin``), served
by the SDK's runtime. It is not importable from the SDK itself: the local runner puts this folder first on
the ``PYTHONPATH`` of every task and model server it starts, so code written for Myelin runs unchanged, with
or without the original ``myelin`` package installed::

    from myelin_sdk.compat import path

    env["PYTHONPATH"] = f"{path()}:{env.get('PYTHONPATH', '')}"   # then `import myelin.metric` works
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["path"]


def path() -> Path:
    """The folder to put on ``PYTHONPATH`` so that ``import myelin`` finds the compatible client."""
    return Path(__file__).resolve().parent
