"""``myelin status``: an axon's Sensors, its last runs and its SeldonDeployments with their predictors.

:func:`axon_status` reads them (``None`` for a kind whose CRD is not installed) as the ``-o json|yaml``
dictionary; :func:`format_status` prints it as three tables.
"""

from __future__ import annotations

from typing import Any

from .apply import selector
from .inspect import (
    SELDON,
    WORKFLOWS,
    Reader,
    labels_of,
    name_of,
    newest_first,
    predictors,
    require_some,
    sensor_ready,
    table,
)
from .labels import SENSOR_LABEL
from .transport import Transport

ARGO_EVENTS_SENSOR_LABEL = "events.argoproj.io/sensor"
RUNS_SHOWN = 10


def sensor_status(sensor: dict[str, Any]) -> dict[str, Any]:
    conditions = (sensor.get("status") or {}).get("conditions") or []
    return {
        "name": name_of(sensor),
        "ready": sensor_ready(sensor),
        "conditions": [
            {k: c[k] for k in ("type", "status", "reason", "message", "lastTransitionTime") if c.get(k)}
            for c in conditions
        ],
    }


def run_status(workflow: dict[str, Any]) -> dict[str, Any]:
    status = workflow.get("status") or {}
    labels = labels_of(workflow)
    return {
        "name": name_of(workflow),
        "sensor": labels.get(SENSOR_LABEL) or labels.get(ARGO_EVENTS_SENSOR_LABEL),
        "workflowTemplate": ((workflow.get("spec") or {}).get("workflowTemplateRef") or {}).get("name"),
        "phase": status.get("phase") or "Pending",
        "startedAt": status.get("startedAt"),
        "finishedAt": status.get("finishedAt"),
        "message": status.get("message"),
    }


def deployment_status(sdep: dict[str, Any]) -> dict[str, Any]:
    status = sdep.get("status") or {}
    return {
        "name": name_of(sdep),
        "state": status.get("state") or "Unknown",
        "description": status.get("description"),
        "predictors": predictors(sdep),
    }


def axon_status(transport: Transport, namespace: str, axon: str) -> dict[str, Any]:
    """Sensors, the last runs and the deployments of ``axon`` (``None`` for a kind not installed)."""
    reader = Reader(transport, namespace)
    sensors = reader.list(WORKFLOWS, "Sensor", selector(axon))
    workflows = reader.list(WORKFLOWS, "Workflow", selector(axon))
    sdeps = reader.list(SELDON, "SeldonDeployment", selector(axon))
    found = bool(sensors or workflows or sdeps)
    if not found:
        templates = reader.list(WORKFLOWS, "WorkflowTemplate", selector(axon))
        found = bool(templates)
    require_some(found, axon, namespace)
    return {
        "axon": axon,
        "namespace": namespace,
        "sensors": None if sensors is None else [sensor_status(s) for s in sensors],
        "runs": None if workflows is None else [run_status(w) for w in newest_first(workflows)[:RUNS_SHOWN]],
        "deployments": None if sdeps is None else [deployment_status(d) for d in sdeps],
        "missing": reader.missing,
    }


def _section(title: str, missing: str | None, rows: list[tuple[str, ...]] | None) -> str:
    out = f"{title}:\n"
    if rows is None:
        return out + f"  {missing}\n"
    if len(rows) == 1:
        return out + "  none\n"
    return out + table(rows, indent="  ")


def format_status(status: dict[str, Any]) -> str:
    missing = {m.split(":")[0]: m for m in status["missing"]}  # by product
    parts = [f"axon {status['axon']} in namespace {status['namespace']}\n"]
    sensors = status["sensors"]
    parts.append(
        _section(
            "Sensors",
            missing.get("Argo Events is not installed in this cluster"),
            None
            if sensors is None
            else [("NAME", "READY", "MESSAGE")]
            + [
                (
                    s["name"],
                    s["ready"],
                    "; ".join(
                        f"{c['type']}: {c.get('message') or c.get('reason') or c['status']}"
                        for c in s["conditions"]
                        if c.get("status") != "True"
                    ),
                )
                for s in sensors
            ],
        )
    )
    runs = status["runs"]
    parts.append(
        _section(
            f"Runs (newest first, at most {RUNS_SHOWN})",
            missing.get("Argo Workflows is not installed in this cluster"),
            None
            if runs is None
            else [("NAME", "SENSOR", "TEMPLATE", "PHASE", "STARTED", "FINISHED", "MESSAGE")]
            + [
                (
                    r["name"],
                    r["sensor"] or "",
                    r["workflowTemplate"] or "",
                    r["phase"],
                    r["startedAt"] or "",
                    r["finishedAt"] or "",
                    r["message"] or "",
                )
                for r in runs
            ],
        )
    )
    deployments = status["deployments"]
    rows: list[tuple[str, ...]] | None = None
    if deployments is not None:
        rows = [("NAME", "STATE", "PREDICTOR", "TRAFFIC", "VERSION", "MODELS")]
        for d in deployments:
            for i, p in enumerate(d["predictors"] or [{}]):
                traffic = "shadow" if p.get("shadow") else str(p.get("traffic", ""))
                models = ",".join(f"{k}={v}" for k, v in sorted((p.get("models") or {}).items()))
                rows.append(
                    (
                        d["name"] if i == 0 else "",
                        d["state"] if i == 0 else "",
                        p.get("name", ""),
                        traffic if p else "",
                        p.get("version") or "",
                        models,
                    )
                )
    parts.append(
        _section("Deployments", missing.get("Seldon Core v1 is not installed in this cluster"), rows)
    )
    return "\n".join(parts)
