"""10,000 predictions at concurrency 16 through the router while a new canary version is swapped in: not
one fails. Runs benchmarks/swap.py (real seldon-core model servers, the real router, a client process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from myelin_sdk.local.envs import ensure_env

ROOT = Path(__file__).resolve().parents[2]
DOUBLER = Path(__file__).parent / "fixtures" / "doubler"


@pytest.mark.slow
def test_ten_thousand_predictions_during_a_canary_swap_all_succeed(
    serving_env_cache: Path, tmp_path: Path
) -> None:
    python = ensure_env(DOUBLER / "requirements.txt", serving_env_cache)
    out = tmp_path / "swap.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "swap.py"), "--python", str(python)]
    done = subprocess.run(
        [*command, "--requests", "10000", "--concurrency", "16", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    phases = {p["phase"]: p for p in result["phases"]}
    assert sum(p["requests"] for p in phases.values()) == result["requests"] == 10_000
    assert [p["failed"] for p in phases.values()] == [0, 0, 0]
    assert set(phases["before"]["versions"]) == {"v1"}
    assert phases["during"]["versions"].get("v2", 0) > 0  # the canary answered during the swap
    if phases["after"]["requests"]:
        assert set(phases["after"]["versions"]) == {"v2"}  # promoted: v1 is stopped
    assert "| during |" in done.stdout  # the table
