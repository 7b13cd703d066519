"""``myelin.admin`` of the original client: where a task's latest execution and a served model live.

The original asked Myelin's admin service; here the answers come from the axon's store (the folder that
``DATA_PATH`` is in) and, for what is served, from the local run's control endpoint
(``MYELIN_CONTROL_URL``, set by ``myelin run``)::

    import myelin.admin

    prep = myelin.admin.task(task_name="DataPrep")      # None when it never ran
    prep.data_path, prep.model_path, prep.status        # '…/store/data/', '…/models/data-prep/', 'Succeeded'
    backend = myelin.admin.model_backend("deployer", "Model", "Backend")
    backend.model_path, backend.url                     # the newest served version's folder, the endpoint

A train task's latest execution is its newest version folder (``<store>/models/<task>/<version>/``: its
``MODEL_PATH``); another task's ``model_path`` is its model folder. Outside a run (no ``DATA_PATH``) both
functions answer ``default_value``, as the original did without an admin service.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple

from myelin_sdk import contract

__all__ = [
    "ModelBackendMetadata",
    "TaskMetadata",
    "data_path",
    "model_backend",
    "model_path",
    "task",
]

#: Where ``myelin run`` serves ``GET /status`` (the deployments and the latest task runs).
CONTROL_URL = "MYELIN_CONTROL_URL"
_STATUS = {"running": "Running", "succeeded": "Succeeded", "failed": "Failed", "interrupted": "Failed"}


class TaskMetadata(NamedTuple):
    """A task's latest execution (the original's fields)."""

    id: str
    name: str
    status: str
    model_path: str
    data_path: str
    timestamp: float


class ModelBackendMetadata(NamedTuple):
    """A served backend model of the newest deployed version (the original's fields)."""

    id: str
    name: str
    url: str | None
    publicUrl: str | None
    clusterUrl: str | None
    status: str
    model_path: str | None
    timestamp: float | None


def data_path(default_value: str | None = None) -> str | None:
    """``DATA_PATH`` (ends in ``/``), or ``default_value`` when unset."""
    return os.environ.get(contract.DATA_PATH) or default_value


def model_path(default_value: str | None = None) -> str | None:
    """``MODEL_PATH`` (ends in ``/``), or ``default_value`` when unset."""
    return os.environ.get(contract.MODEL_PATH) or default_value


def _store() -> Path | None:
    data = os.environ.get(contract.DATA_PATH)
    return Path(data.rstrip("/")).parent if data else None


def _other_axon(axon: str | None) -> bool:
    return axon is not None and axon != os.environ.get(contract.AXON_NAME)


def _status() -> dict[str, Any] | None:
    """The run's ``GET /status``, or None outside a local run (or when it does not answer)."""
    url = os.environ.get(CONTROL_URL)
    if not url:
        return None
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/status", timeout=10) as response:
            value = json.load(response)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _run_status(task_name: str) -> str | None:
    status = _status()
    runs = [t for t in (status or {}).get("tasks", []) if t.get("task") == task_name]
    return _STATUS.get(str(runs[-1].get("status")), str(runs[-1].get("status"))) if runs else None


def task(
    task_name: str,
    axon: str | None = None,
    namespace: str | None = None,
    default_value: TaskMetadata | None = None,
) -> TaskMetadata | None:
    """The latest execution of ``task_name`` in this axon: its id, status, ``MODEL_PATH`` and ``DATA_PATH``.

    ``None`` when the task never ran; ``default_value`` outside a run or for another axon (``namespace`` is
    accepted for the original's signature: a run has one).
    """
    store = _store()
    if store is None or _other_axon(axon):
        return default_value
    root = Path(contract.model_root(str(store), task_name))
    if not root.is_dir():
        return None
    versions = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    latest = versions[-1] if versions else root
    registered = (latest / "metrics.json").is_file()
    status = _run_status(task_name) or ("Succeeded" if registered or latest == root else "Running")
    task_id = contract.task_id(os.environ.get(contract.AXON_NAME, ""), task_name)
    return TaskMetadata(
        id=f"{task_id}-{latest.name}" if latest != root else task_id,
        name=task_name,
        status=status,
        model_path=f"{latest}/",
        data_path=f"{store / 'data'}/",
        timestamp=latest.stat().st_mtime,
    )


def model_backend(
    model_graph: str,
    model: str,
    model_backend_name: str,
    axon: str | None = None,
    namespace: str | None = None,
    default_value: ModelBackendMetadata | None = None,
) -> ModelBackendMetadata | None:
    """The backend ``model_backend_name`` of the newest version the deployer ``model_graph`` serves.

    ``None`` when it serves nothing (yet); ``default_value`` outside a local run or for another axon.
    (``model`` is accepted for the original's signature: a local deployer serves one model.)
    """
    status = _status()
    store = _store()
    if status is None or store is None or _other_axon(axon):
        return default_value
    served = status.get("deployments", {}).get(model_graph) or []
    if not served:
        return None
    newest = served[0]
    version = newest.get("models", {}).get(model_backend_name)
    if version is None:
        return None
    folders = sorted((store / "models").glob(f"*/{version}"))
    url = status.get("endpoints", {}).get(model_graph)
    return ModelBackendMetadata(
        id=f"{newest.get('label')}-{model_backend_name}",
        name=model_backend_name,
        url=url,
        publicUrl=url,
        clusterUrl=url,
        status="Available",
        model_path=f"{folders[0]}/" if folders else None,
        timestamp=folders[0].stat().st_mtime if folders else None,
    )
