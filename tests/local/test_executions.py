"""A train execution's version folder on real folders: registered with its metrics, removed when empty, and
told apart from versions the task committed itself with the registry API."""

from __future__ import annotations

import json
from pathlib import Path

from myelin_sdk.local.executions import TrainExecution
from myelin_sdk.runtime.registry import new_version, versions


def test_files_in_model_path_become_a_version_with_the_published_metrics(tmp_path: Path) -> None:
    execution = TrainExecution.start(tmp_path)
    (execution.folder / "lr.pkl").write_bytes(b"model")
    seen: list[float] = []

    def published(since: float) -> dict[str, float]:
        seen.append(since)
        return {"rmse": 0.9}

    assert execution.finish(True, published) == "registered"
    assert seen == [execution.started.timestamp()]
    record = json.loads((execution.folder / "metrics.json").read_text())
    assert record["metrics"] == {"rmse": 0.9}
    assert [v.name for v in versions(tmp_path)] == [execution.folder.name]


def test_an_empty_folder_is_removed_and_a_registry_api_version_is_told_apart(tmp_path: Path) -> None:
    nothing = TrainExecution.start(tmp_path)
    assert nothing.finish(True, lambda since: {}) == "removed"
    assert not nothing.folder.exists()

    api = TrainExecution.start(tmp_path)
    with new_version({"rmse": 0.8}, root=tmp_path) as version:
        (version / "weights.npz").write_bytes(b"w")
    assert api.committed() == [version.committed.name]
    assert api.finish(True, lambda since: {}) == "saved"
    assert not api.folder.exists()
    assert [v.name for v in versions(tmp_path)] == [version.committed.name]


def test_a_failed_execution_is_never_registered(tmp_path: Path) -> None:
    execution = TrainExecution.start(tmp_path)
    (execution.folder / "half.pkl").write_bytes(b"x")
    assert execution.finish(False, lambda since: {"rmse": 0.1}) == "failed"
    assert execution.folder.exists() and not (execution.folder / "metrics.json").exists()
    assert versions(tmp_path) == []
