"""One execution of a train task on the local runner: its own version folder, registered when it succeeds.

The same rule as the cluster's ``register`` step (:mod:`myelin_sdk.runtime.register`, DESIGN §4)::

    execution = TrainExecution.start(Path(env["MYELIN_MODEL_ROOT"]))
    env["MODEL_PATH"] = execution.model_path          # '<store>/models/<task>/<version>/', fresh and empty
    ...run the task...
    outcome = execution.finish(succeeded, lambda since: metrics.published(task_id, since))

``finish`` on success writes the folder's ``metrics.json`` with the metrics the task pushed under its job
since the execution started (``"registered"``), or removes the folder when the task left it empty:
``"saved"`` when it committed versions of its own with the registry API during the execution (siblings of
the folder, :meth:`TrainExecution.committed`), ``"removed"`` when it wrote nothing. A failed execution's
folder is not registered: removed when empty, else left without ``metrics.json`` for inspection (every
reader ignores it) — ``"failed"``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..runtime.register import new_execution_folder, register, remove_if_empty
from ..runtime.registry import versions


@dataclass(frozen=True)
class TrainExecution:
    """A train task execution's version folder and when it started."""

    folder: Path
    started: datetime

    @classmethod
    def start(cls, root: Path) -> TrainExecution:
        """Create a fresh version folder under the task's registry root ``root``."""
        started = datetime.now(timezone.utc)
        return cls(new_execution_folder(root, started), started)

    def save(self, path: Path) -> None:
        """Keep where and when the execution started in ``path`` (beside the task's log), so a runner that
        resumes after a crash can register the folder of a task that succeeded while no runner watched."""
        record = {"folder": str(self.folder), "started": self.started.isoformat()}
        path.write_text(json.dumps(record), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> TrainExecution | None:
        """The execution :meth:`save` kept in ``path`` (None when there is none or it is unreadable)."""
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            return cls(Path(record["folder"]), datetime.fromisoformat(record["started"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @property
    def model_path(self) -> str:
        """The execution's ``MODEL_PATH``: the folder, ending in ``/``."""
        return f"{self.folder}/"

    def finish(self, succeeded: bool, published: Callable[[float], dict[str, float]]) -> str:
        """Register the folder (``published(since)`` gives the metrics) or not; return the outcome."""
        if not succeeded:
            remove_if_empty(self.folder)
            return "failed"
        if remove_if_empty(self.folder):
            return "saved" if self.committed() else "removed"
        return register(self.folder, published(self.started.timestamp()), created=self.started)

    def committed(self) -> list[str]:
        """Versions the task committed itself with the registry API since the execution started, newest
        first (beside its folder, under the same root)."""
        return [v.name for v in versions(self.folder.parent) if v.created >= self.started]
