"""``make demo``'s driver (demo.py) as a real process: offline it ends within seconds with the download
error and exit status 1, not after its 30 min timeout; a relative ``MOVIELENS_DIR`` is resolved from where
the user stands; SIGTERM ends it with 130. The whole successful demo is ``make demo`` itself (minutes)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import DEMO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _demo(tmp_path: Path, cwd: Path, **env: str) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "MOVIELENS_CACHE": str(tmp_path / "cache"),  # no cached zip from an earlier demo
        "MOVIELENS_BASE_URL": "http://127.0.0.1:9/",  # discard port: what offline looks like
        "DEMO_PORT": str(_free_port()),
        **env,
    }
    if "MOVIELENS_DIR" not in env:
        environment.pop("MOVIELENS_DIR", None)
    return subprocess.Popen(
        [sys.executable, str(DEMO / "demo.py"), "--workdir", str(tmp_path / "work")],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_offline_the_demo_fails_within_seconds_with_the_download_error(tmp_path: Path) -> None:
    began = time.monotonic()
    demo = _demo(tmp_path, tmp_path)
    assert demo.stdout is not None
    lines, failed_at = [], None
    for line in demo.stdout:  # timed as they come: starting Python is slow on a loaded machine
        lines.append(line)
        if failed_at is None and "sensor TrainOnStart (run 1) failed" in line:
            failed_at = time.monotonic()
    demo.wait(timeout=60)
    ended = time.monotonic()
    out = "".join(lines)
    assert demo.returncode == 1, out
    assert failed_at is not None, out
    assert ended - failed_at < 15, f"{ended - failed_at:.0f}s from the failure to the end:\n{out}"
    assert ended - began < 90, out
    failed = out[out.index("demo failed: ") :]
    assert "no deploy can happen any more: sensor TrainOnStart (run 1) failed" in failed
    assert "cannot download http://127.0.0.1:9/ml-1m.zip" in failed  # the task's own message, at the end
    assert "MOVIELENS_DIR=DIR" in failed
    assert "Traceback" not in out
    assert "Done:" not in out and "status 130" not in out


def test_a_relative_movielens_dir_is_resolved_from_where_the_user_stands(tmp_path: Path) -> None:
    """An existing folder that is not a release: the task's error names it, absolute from the demo's cwd."""
    (tmp_path / "stand" / "data" / "empty").mkdir(parents=True)
    demo = _demo(tmp_path, tmp_path / "stand", MOVIELENS_DIR="data/empty")
    out, _ = demo.communicate(timeout=120)
    assert demo.returncode == 1, out
    assert f"reading MovieLens from {tmp_path / 'stand' / 'data' / 'empty'}" in out
    assert "not an extracted MovieLens release" in out


def test_a_movielens_dir_that_does_not_exist_is_refused_before_the_runner_starts(tmp_path: Path) -> None:
    demo = _demo(tmp_path, tmp_path, MOVIELENS_DIR="no/such/folder")
    out, _ = demo.communicate(timeout=60)
    assert demo.returncode == 1, out
    assert f"demo failed: MOVIELENS_DIR=no/such/folder: no such folder ({tmp_path}/no/such/folder" in out
    assert "myelin run" not in out


def test_a_taken_port_says_how_to_pick_another_with_demo_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        demo = _demo(tmp_path, tmp_path, DEMO_PORT=str(port))
        out, _ = demo.communicate(timeout=120)
    assert demo.returncode == 1, out
    assert f"demo failed: port {port} is taken: choose another one with DEMO_PORT=9100 make demo" in out


def test_sigterm_ends_the_demo_with_130(tmp_path: Path) -> None:
    with socket.socket() as silent:  # a download server that never answers: the demo is mid-way
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        demo = _demo(tmp_path, tmp_path, MOVIELENS_BASE_URL=url)
        assert demo.stdout is not None
        seen = []
        for line in demo.stdout:
            seen.append(line)
            if "task DataPrepMyelinRecommender started" in line:
                break
        demo.send_signal(signal.SIGTERM)
        out, _ = demo.communicate(timeout=90)
    out = "".join(seen) + out
    assert demo.returncode == 130, out
    assert "demo interrupted" in out
    assert "Demo complete" not in out and "demo failed" not in out
