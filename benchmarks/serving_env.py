"""Serving environment build benchmark: a cold build of a deploy task's environment with uv and with pip.

    python benchmarks/serving_env.py                                  # the demo's requirements.txt
    python benchmarks/serving_env.py path/to/requirements.txt

Each build gets an empty temporary ``MYELIN_CACHE_DIR`` and empty installer caches (``UV_CACHE_DIR``,
``PIP_CACHE_DIR``), so every wheel is downloaded (it needs the network); then the cached look-up. Prints a
Markdown table.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from myelin_sdk.local.envs import ensure_env

DEMO = Path(__file__).resolve().parent.parent / "examples" / "recommender_demo" / "requirements.txt"


def build(requirements: Path, tool: str, root: Path, installer_cache: Path) -> tuple[float, float]:
    """(seconds to build, seconds to find it cached) of a new environment in ``root``."""
    os.environ.update(
        MYELIN_CACHE_DIR=str(root),
        MYELIN_INSTALLER=tool,
        UV_CACHE_DIR=str(installer_cache / "uv"),
        PIP_CACHE_DIR=str(installer_cache / "pip"),
    )
    began = time.monotonic()
    ensure_env(
        requirements, root / "serving-envs", progress=lambda s: print(f"[{tool}] {s}", file=sys.stderr)
    )
    built = time.monotonic() - began
    began = time.monotonic()
    ensure_env(requirements, root / "serving-envs")
    return built, time.monotonic() - began


def main() -> int:
    requirements = Path(sys.argv[1]) if len(sys.argv) > 1 else DEMO
    with tempfile.TemporaryDirectory(prefix="myelin-env-bench-") as tmp:
        base = Path(tmp)
        uv_cold, cached = build(requirements, "uv", base / "uv-cold", base / "caches-uv")
        pip_cold, _ = build(requirements, "pip", base / "pip-cold", base / "caches-pip")
    rows = [
        ("uv, cold (empty uv cache)", uv_cold),
        ("pip, cold (empty pip cache)", pip_cold),
        ("cached environment found", cached),
    ]
    print(f"requirements: {requirements}\n\n| build | seconds |\n|---|---|")
    for what, seconds in rows:
        print(f"| {what} | {seconds:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
