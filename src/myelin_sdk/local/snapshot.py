"""The status of a local run as the live view and ``GET /status`` show it, assembled from its parts::

    status = snapshot(
        axon, state, run="20261203T181900Z-3fa9c1", active={"Retrain"}, metrics=metrics,
        deployments=deployments, failures=[], deploy_blocked=None,
    )
    status["sensors"][0]   # {"name": "Retrain", "state": "running", "runs": 2, "last": "succeeded", "run": 2}

Keys: ``run``, ``axon``, ``sensors``, ``tasks`` (the last 20 task runs), ``metrics``, ``traffic``, ``builds``,
``endpoints``, ``deployments``, ``failures``, ``deployBlocked``, ``trials``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Set
from typing import Any

from ..spec import Axon
from .deployments import Deployments
from .outcome import Failure
from .state import RUNNING, State

__all__ = ["snapshot", "traffic"]


def snapshot(
    axon: Axon,
    state: State,
    *,
    run: str | None,
    active: Set[str],
    metrics: Any,
    deployments: Deployments | None,
    failures: Iterable[Failure],
    deploy_blocked: str | None,
    trials: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Sensors with their number of runs, last status and running run (``active``: the sensors running now);
    the last 20 task runs with their sensor run, step and ``seconds`` (so far, while running);
    metrics; endpoints; what each deployer serves; ``traffic`` (:func:`traffic`); ``builds``: the serving
    environments (:meth:`.Deployments.builds`); the session's failed sensor runs; why no deploy can happen;
    ``trials``: one row per hpTuning trial (task, trial, params, budget, loss, state; :mod:`.tuning`)."""
    summary = state.sensor_summary()
    running = {r.sensor: r.id for r in state.sensor_runs(status=RUNNING)}
    return {
        "run": run,
        "axon": axon.name,
        "sensors": [
            {
                "name": s.name,
                "state": "running" if s.name in active else "idle",
                "runs": summary.get(s.name, (0, None))[0],
                "last": summary.get(s.name, (0, None))[1],
                "run": running.get(s.name) if s.name in active else None,
            }
            for s in axon.sensors
        ],
        "tasks": task_rows(state),
        "metrics": metrics.latest() if metrics else {},
        "traffic": traffic(deployments),
        "builds": deployments.builds() if deployments else [],
        "endpoints": deployments.endpoints() if deployments else {},
        "routes": deployments.routes() if deployments else {},  # deployer -> its route paths
        "deployments": {name: d.served for name, d in state.current_deployments().items()},
        "failures": [f.to_dict() for f in failures],
        "deployBlocked": deploy_blocked,
        "trials": trials or [],
    }


def task_rows(state: State, last: int = 20) -> list[dict[str, Any]]:
    """The last ``last`` task runs: task, status, exit code, log, sensor run, step and ``seconds`` (so far,
    while running) — of a running run's snapshot and of a stopped run's (:func:`.view.stored_snapshot`)."""
    now = time.time()
    return [
        {
            "task": t.task,
            "status": t.status,
            "exitCode": t.exit_code,
            "log": t.log,
            "run": t.sensor_run_id,
            "step": t.step,
            "seconds": round((t.finished or now) - t.started, 1),
        }
        for t in state.task_runs(last=last)
    ]


def traffic(deployments: Deployments | None) -> dict[str, dict[str, dict[str, Any]]]:
    """Deployer -> version -> the router's counters (``p50Ms``/``p95Ms``: recent predictions)."""
    if deployments is None:
        return {}

    def ms(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds * 1000, 2)

    return {
        deployer: {
            version: {
                "weight": v.weight,
                "requests": v.requests,
                "errors": v.errors,
                "feedback": v.feedback,
                "inFlight": v.in_flight,
                "p50Ms": ms(v.p50),
                "p95Ms": ms(v.p95),
            }
            for version, v in versions.items()
        }
        for deployer, versions in deployments.stats().items()
    }
