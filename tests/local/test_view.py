"""The live view of ``myelin run``: a rich table of sensors, tasks, metrics and endpoints, redrawn from the
engine's snapshot; log lines printed whole, never interleaved."""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console

from myelin_sdk.local.view import View, _Table


class _Engine:
    def snapshot(self) -> dict[str, Any]:
        return {
            "axon": "ml-rec",
            "run": "20261127-031500-abc123",
            "sensors": [{"name": "TrainOnStart", "state": "running", "runs": 1, "last": None}],
            "tasks": [{"task": "TrainMyelinRecommender", "status": "running"}],
            "metrics": {"recommender_train_rmse_ml__rec": 0.8815},
            "endpoints": {"recommenderdeployer": "http://127.0.0.1:9000"},
            "deployments": {
                "recommenderdeployer": [{"label": "v2", "traffic": 50}, {"label": "v1", "traffic": 50}]
            },
        }


def test_the_table_shows_sensors_tasks_metrics_and_the_endpoint_with_its_split() -> None:
    console = Console(record=True, width=140)
    console.print(_Table(_Engine()))  # type: ignore[arg-type]
    text = console.export_text()
    assert "axon ml-rec — run 20261127-031500-abc123" in text
    assert "TrainOnStart" in text and "running (1 runs, last -)" in text
    assert "recommender_train_rmse_ml__rec" in text and "0.8815" in text
    assert "http://127.0.0.1:9000/predict  [v2 50%, v1 50%]" in text


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
