"""Serving environment build: a deploy task's virtual environment built cold with uv, beside pip.

    python benchmarks/suite_env.py [--quick] [--json FILE]

What a new user waits for at the first deploy of ``myelin run``: :func:`myelin_sdk.local.envs.ensure_env`
builds the model server's environment from the deploy task's ``requirements.txt``. Each build gets an empty
``MYELIN_CACHE_DIR`` and empty installer caches (``UV_CACHE_DIR``, ``PIP_CACHE_DIR``), so every wheel is
downloaded (it needs the network) and the source-only packages are built. The figure is uv's build; its
baseline is pip's build of the same requirements in the same run; then the cached look-up.

Full: the recommender demo's ``requirements.txt`` (seldon-core 1.17.1, numpy: 36 packages). ``--quick``
(CI's budget): the same procedure for a small environment (Flask, 7 packages, no seldon-core), which
checks the machinery and the ratio but not the demo's absolute time.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from figures import ROOT, Context, Figure, progress

DEMO = ROOT / "examples" / "recommender_demo" / "requirements.txt"
QUICK = "flask>=3,<4\n"


def build(requirements: Path, tool: str, root: Path, seldon: bool) -> tuple[float, float]:
    """(seconds to build, seconds to find it cached) of a new environment under ``root``, with ``tool``."""
    from myelin_sdk.local.envs import ensure_env

    os.environ.update(
        MYELIN_CACHE_DIR=str(root),
        MYELIN_INSTALLER=tool,
        UV_CACHE_DIR=str(root / "uv-cache"),
        PIP_CACHE_DIR=str(root / "pip-cache"),
    )
    began = time.monotonic()
    ensure_env(
        requirements, root / "serving-envs", seldon=seldon, progress=lambda s: progress(f"{tool}: {s}")
    )
    built = time.monotonic() - began
    began = time.monotonic()
    ensure_env(requirements, root / "serving-envs", seldon=seldon)
    return built, time.monotonic() - began


def run(ctx: Context) -> list[Figure]:
    if ctx.quick:
        requirements = ctx.scratch / "requirements.txt"
        requirements.write_text(QUICK)
        label, seldon = "Flask (quick: 7 packages)", False
    else:
        requirements, label, seldon = DEMO, "the demo's requirements.txt (36 packages)", True
    uv, cached = build(requirements, "uv", ctx.scratch / "uv", seldon)
    pip, _ = build(requirements, "pip", ctx.scratch / "pip", seldon)
    return [
        Figure.timed("env", f"serving env, cold, uv: {label}", [uv], f"pip, cold: {label}", [pip]),
        Figure.timed(
            "env", "serving env found in the cache", [cached], note="a second deploy of the same requirements"
        ),
    ]


if __name__ == "__main__":
    from figures import suite_main

    sys.exit(suite_main(run))
