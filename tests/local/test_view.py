"""The live view of ``myelin run``: a rich table redrawn from the engine's snapshot (sensors with their run,
serving env builds, tasks with elapsed time, metrics under the names the tasks wrote, endpoints with each
version's traffic and latency from the router); log lines printed whole, never interleaved."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from rich.console import Console

from myelin_sdk import Axon, ContainerTask, Sensor
from myelin_sdk.local import RunOptions, run_local
from myelin_sdk.local.view import View, _Table, render

from support.processes import until


def text_of(snap: dict[str, Any]) -> str:
    console = Console(record=True, width=160)
    console.print(render(snap))
    return console.export_text()


def demo_snapshot() -> dict[str, Any]:
    """What Engine.snapshot() gives during the demo: a retraining run, a canary, an env being built."""
    return {
        "axon": "ml-rec",
        "run": "20261127-031500-abc123",
        "sensors": [
            {"name": "TrainOnStart", "state": "idle", "runs": 1, "last": "succeeded", "run": None},
            {"name": "RetrainOnAlert", "state": "running", "runs": 2, "last": "running", "run": 4},
        ],
        "builds": [
            {
                "what": "serving env for RecommenderDeploy",
                "state": "building",
                "installer": "uv",
                "seconds": 12.3,
                "log": "/c/serving-envs/0d6f.log",
            }
        ],
        "tasks": [
            {"task": "TrainMyelinRecommender", "status": "succeeded", "run": 1, "step": 1, "seconds": 41.2},
            {"task": "TrainMyelinRecommender", "status": "running", "run": 4, "step": 0, "seconds": 7.04},
        ],
        "metrics": {"recommender_train_rmse_ml__rec": 0.8815, 'feedback_reward_ml__rec{task="x"}': 0.31},
        "endpoints": {"recommenderdeployer": "http://127.0.0.1:9000"},
        "deployments": {
            "recommenderdeployer": [{"label": "v2", "traffic": 50}, {"label": "v1", "traffic": 50}]
        },
        "traffic": {
            "recommenderdeployer": {
                "v2": {
                    "weight": 50,
                    "requests": 120,
                    "errors": 2,
                    "feedback": 0,
                    "p50Ms": 3.14,
                    "p95Ms": 8.0,
                },
                "v1": {
                    "weight": 50,
                    "requests": 118,
                    "errors": 0,
                    "feedback": 5,
                    "p50Ms": 2.5,
                    "p95Ms": 6.25,
                },
            }
        },
    }


def test_the_table_shows_runs_builds_elapsed_times_user_metric_names_and_version_traffic() -> None:
    text = text_of(demo_snapshot())
    assert "axon ml-rec — run 20261127-031500-abc123" in text
    assert "running run 4 (2 runs, last running)" in text and "idle (1 runs, last succeeded)" in text
    assert "serving env for RecommenderDeploy" in text
    assert "building with uv … 12.3 s (log /c/serving-envs/0d6f.log)" in text
    assert "succeeded · 41.2 s · run 1 step 1" in text and "running · 7.0 s · run 4 step 0" in text
    assert "recommender_train_rmse " in text and "0.8815" in text
    assert 'feedback_reward{task="x"}' in text
    assert "_ml__rec" not in text  # the axon suffix is the runner's business, not the user's
    assert "http://127.0.0.1:9000/predict  [v2 50%, v1 50%]" in text
    assert "50% · 120 req, 2 err · p50 3.1 ms, p95 8.0 ms" in text
    assert "50% · 118 req, 0 err · 5 feedback · p50 2.5 ms, p95 6.2 ms" in text


def test_built_and_cached_envs_and_a_version_without_traffic_yet() -> None:
    snap = demo_snapshot()
    snap["builds"] = [
        {"what": "serving env for A", "state": "built", "installer": "pip", "seconds": 49.4, "log": "x"},
        {"what": "serving env for B", "state": "cached", "installer": "uv", "seconds": 0.0, "log": "y"},
    ]
    snap["traffic"] = {}
    text = text_of(snap)
    assert "built with pip in 49.4 s" in text and "cached" in text
    assert "v2" in text and "  version" in text and "req" not in text


def test_the_view_of_a_real_engine_snapshot(tmp_path: Path) -> None:
    publish = (
        "from myelin_sdk.runtime import publish_metric; publish_metric('view_rmse', 0.75);"
        "import time; time.sleep(30)"
    )
    with Axon("view-check") as axon:
        task = ContainerTask("Publish", image="python:3.11", command=[sys.executable, "-c", publish])
        Sensor("Start", tasks=[task])
    (tmp_path / "pipeline.py").write_text("# the task runs here\n")
    run = run_local(axon, RunOptions(workdir=tmp_path, port=0), source=tmp_path / "pipeline.py")
    try:
        until(lambda: run.status()["metrics"], timeout=30)
        console = Console(record=True, width=160)
        console.print(_Table(run.engine))
        text = console.export_text()
    finally:
        run.stop()
    assert "axon view-check — run " in text
    assert "running run 1 (1 runs, last running)" in text
    assert "view_rmse" in text and "0.75" in text and "view_rmse_view__check" not in text
    assert "running · " in text and " s · run 1 step 0" in text


def test_plain_lines_from_many_threads_stay_whole(capsys) -> None:
    view = View(live=False)
    threads = [
        threading.Thread(target=lambda i=i: [view.line(f"line {i} " + "x" * 50) for _ in range(50)])
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 400
    assert all(line.startswith("line ") and line.endswith("x" * 50) for line in lines)


def test_status_local_prints_the_same_table_live_and_from_the_state_once_stopped(tmp_path: Path) -> None:
    from myelin_sdk.local.command import format_local_status, local_status

    publish = (
        "from myelin_sdk.runtime import publish_metric; publish_metric('view_rmse', 0.75);"
        "import time; time.sleep(30)"
    )
    with Axon("status-check") as axon:
        task = ContainerTask("Publish", image="python:3.11", command=[sys.executable, "-c", publish])
        Sensor("Start", tasks=[task])
    (tmp_path / "pipeline.py").write_text("# the task runs here\n")
    run = run_local(axon, RunOptions(workdir=tmp_path, port=0), source=tmp_path / "pipeline.py")
    try:
        until(lambda: run.status()["metrics"], timeout=30)
        status = local_status(tmp_path, None)
        running = format_local_status(status)
    finally:
        run.stop()
    stopped = format_local_status(local_status(tmp_path, None))
    assert running.startswith(f"run {status['run']} of axon status-check: running")
    assert f"axon status-check — run {status['run']} (running)" in running
    assert "running run 1 (1 runs, last running)" in running  # from the runner's own snapshot
    assert "view_rmse" in running and "0.75" in running
    assert "running · " in running and " s · run 1 step 0" in running
    assert f"axon status-check — run {status['run']} (stopped)" in stopped
    assert "Start" in stopped and "Publish" in stopped and "view_rmse" not in stopped
    assert [t["task"] for t in status["tasks"]] == ["Publish"]  # -o json has the view's fields too
    assert status["taskRuns"][0]["task"] == "Publish"


def test_a_deployer_that_does_not_serve_now_shows_what_it_served() -> None:
    snap = demo_snapshot()
    snap["endpoints"] = {}
    text = text_of(snap)
    assert "not serving now; last served [v2 50%, v1 50%]" in text
    assert "/predict" not in text
