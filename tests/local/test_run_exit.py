"""How ``myelin run`` ends, as a real process: a failed first task ends ``--until deployed`` within seconds
with exit status 1, the reason and the task's log tail; ``--until idle`` with a failure exits 1 too."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from support.processes import spawn_myelin

TOY = Path(__file__).parent / "toy"
OFFLINE_PREP = (
    "import sys; print('fetching'); sys.exit('prep: cannot download https://example.invalid (offline)')\n"
)


def _toy(tmp_path: Path) -> None:
    shutil.copytree(TOY, tmp_path / "code", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "code" / "prep.py").write_text(OFFLINE_PREP)
    shutil.copy(TOY / "axon.yaml", tmp_path / "axon.yaml")


def test_a_failing_first_task_ends_until_deployed_within_seconds_with_status_1(tmp_path: Path) -> None:
    _toy(tmp_path)
    began = time.monotonic()
    runner = spawn_myelin(
        tmp_path,
        "run",
        "axon.yaml",
        "--artifact",
        "code=code",
        "--until",
        "deployed",
        "--plain",
        "--port",
        "0",
    )
    out, _ = runner.communicate(timeout=120)
    elapsed = time.monotonic() - began
    assert runner.returncode == 1, out
    assert elapsed < 20, f"took {elapsed:.1f}s:\n{out}"
    last = out[out.index("failed: no deploy can happen any more") :]
    assert "sensor TrainOnStart (run 1) failed: task Prep failed with exit status 1" in last
    assert "prep: cannot download https://example.invalid (offline)" in last  # the log tail, at the end
    assert "Traceback" not in out
    status = subprocess.run(
        [sys.executable, "-m", "myelin_sdk.cli", "status", "--local", "-o", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(status.stdout)["status"] == "failed"


def test_until_idle_with_a_failed_sensor_exits_1_and_names_it(tmp_path: Path) -> None:
    _toy(tmp_path)
    runner = spawn_myelin(
        tmp_path, "run", "axon.yaml", "--artifact", "code=code", "--until", "idle", "--plain", "--port", "0"
    )
    out, _ = runner.communicate(timeout=120)
    assert runner.returncode == 1, out
    assert "finished with 1 failed sensor run(s):" in out
    assert "sensor TrainOnStart (run 1) failed: task Prep failed with exit status 1 (log: " in out
