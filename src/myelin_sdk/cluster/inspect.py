"""Reading an axon back from the cluster: the :class:`Reader`, the helpers the read-only commands share, and
``myelin list`` and ``get``.

Every object the compiler emits (and every SeldonDeployment a deploy step applies, and every Workflow a
Sensor starts) carries ``app.kubernetes.io/part-of=myelin`` and ``myelin.io/axon=<name>``: the axon's objects
are the LISTs of the kinds below with that label selector. A kind whose CRD is not installed is reported, not
fatal: ``status`` without Argo Events still shows the runs and the deployments. ``myelin status`` is
:mod:`.status`, ``myelin endpoint`` :mod:`.endpoints`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import MyelinError
from .apply import missing_message, selector
from .labels import AXON_LABEL, PART_OF
from .transport import HttpError, Transport

WORKFLOWS = "argoproj.io/v1alpha1"
SELDON = "machinelearning.seldon.io/v1"
#: The kinds an axon's objects can be, in bundle order (runs and deployments last).
KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("v1", "PersistentVolumeClaim"),
    (WORKFLOWS, "WorkflowTemplate"),
    (WORKFLOWS, "EventSource"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    (WORKFLOWS, "Sensor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"),
    (WORKFLOWS, "Workflow"),
    (SELDON, "SeldonDeployment"),
)
#: ``myelin list`` columns: the kinds counted per axon (WorkflowTemplates index the axons).
LIST_KINDS: tuple[tuple[str, str, str], ...] = (
    (WORKFLOWS, "WorkflowTemplate", "templates"),
    (WORKFLOWS, "Sensor", "sensors"),
    (SELDON, "SeldonDeployment", "deployments"),
    (WORKFLOWS, "Workflow", "runs"),
)
VERSIONS_ANNOTATION = "myelin.io/versions"  # as compiler.serving (not imported: it pulls in the model)


class NotFoundError(MyelinError):
    """Nothing of the axon in the namespace: exit status 1 (the input was fine, the cluster lacks it)."""

    exit_code = 1


def now() -> datetime:
    """The current time (tests replace it)."""
    return datetime.now(UTC)


class Reader:
    """LISTs of one namespace (``None``: of every namespace), with errors made readable and missing CRDs
    collected."""

    def __init__(self, transport: Transport, namespace: str | None) -> None:
        self.transport = transport
        self.namespace = namespace
        self.missing: list[str] = []

    def list(self, api_version: str, kind: str, label_selector: str) -> list[dict[str, Any]] | None:
        """The objects of ``kind`` matching ``label_selector``; ``None`` (and a note in ``missing``) when
        the cluster does not serve the kind."""
        resource = self.transport.resource(api_version, kind)
        if resource is None:
            message = missing_message(api_version, kind)
            if message not in self.missing:
                self.missing.append(message)
            return None
        try:
            listing = self.transport.request(
                "GET", resource.path(self.namespace), [("labelSelector", label_selector)]
            )
        except HttpError as exc:
            raise http_error(exc, "list", resource.qualified, self.namespace) from None
        items: list[dict[str, Any]] = listing.get("items") or []
        for item in items:  # LIST items carry neither; -o yaml|json prints whole objects
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items


def http_error(exc: HttpError, verb: str, what: str, namespace: str | None) -> MyelinError:
    where = "in all namespaces" if namespace is None else f"in namespace {namespace}"
    if exc.status in (401, 403):
        word = "unauthorized" if exc.status == 401 else "forbidden"
        return MyelinError(f"{word}: cannot {verb} {what} {where} ({exc.status}): {exc.message}")
    reason = f" {exc.reason}" if exc.reason else ""
    return MyelinError(f"cannot {verb} {what} {where} ({exc.status}{reason}): {exc.message}")


# --- helpers ------------------------------------------------------------------------------------------


def name_of(obj: dict[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(timestamp: str | None, at: datetime | None = None) -> str:
    """``kubectl``'s short age: ``45s``, ``12m``, ``5h``, ``3d``; ``<unknown>`` without a timestamp."""
    then = parse_time(timestamp)
    if then is None:
        return "<unknown>"
    seconds = max(0, int(((at or now()) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def table(rows: list[tuple[str, ...]], indent: str = "") -> str:
    """Columns separated by two spaces, trailing blanks removed."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "".join(f"{indent}{line}\n" for line in lines)


def require_some(found: bool, axon: str, namespace: str) -> None:
    if not found:
        raise NotFoundError(
            f"axon '{axon}' has no objects in namespace {namespace} (none labelled {AXON_LABEL}={axon}) "
            f"— see `myelin list -n {namespace}`"
        )


# --- myelin list --------------------------------------------------------------------------------------


@dataclass
class AxonSummary:
    name: str
    counts: dict[str, int | None] = field(default_factory=dict)  # None: the kind is not installed
    namespace: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "namespace": self.namespace, **self.counts}


def list_axons(transport: Transport, namespace: str | None) -> tuple[list[AxonSummary], list[str]]:
    """The axons of ``namespace`` (``None``: of every namespace) by their ``myelin.io/axon`` label, with
    counts; and missing CRDs."""
    reader = Reader(transport, namespace)
    found: dict[tuple[str, str], AxonSummary] = {}
    missing_kinds: list[str] = []
    for api_version, kind, column in LIST_KINDS:
        items = reader.list(api_version, kind, f"{PART_OF}=myelin")
        if items is None:
            missing_kinds.append(column)
            continue
        for item in items:
            axon = labels_of(item).get(AXON_LABEL)
            if axon:
                where = namespace or str(item.get("metadata", {}).get("namespace") or "")
                summary = found.setdefault((where, axon), AxonSummary(axon, namespace=where))
                summary.counts[column] = int(summary.counts.get(column) or 0) + 1
    axons = [found[key] for key in sorted(found)]
    for summary in axons:
        summary.counts = {
            c: (None if c in missing_kinds else summary.counts.get(c, 0)) for _, _, c in LIST_KINDS
        }
    return axons, reader.missing


def format_axons(axons: list[AxonSummary], namespace: str | None) -> str:
    """The table of ``myelin list``; with a NAMESPACE column first for every namespace (``None``)."""
    if not axons:
        return "no axons in any namespace\n" if namespace is None else f"no axons in namespace {namespace}\n"
    first = () if namespace else ("NAMESPACE",)
    header = (*first, "AXON", *(c.upper() for _, _, c in LIST_KINDS))
    rows = [
        (
            *(() if namespace else (a.namespace,)),
            a.name,
            *("-" if v is None else str(v) for v in a.counts.values()),
        )
        for a in axons
    ]
    return table([header, *rows])


def axon_namespaces(transport: Transport, axon: str) -> list[str]:
    """The namespaces holding objects of ``axon`` (``myelin status -A``), sorted; NotFoundError if none."""
    reader = Reader(transport, None)
    found: set[str] = set()
    for api_version, kind, _ in LIST_KINDS:
        for item in reader.list(api_version, kind, selector(axon)) or []:
            found.add(str(item.get("metadata", {}).get("namespace") or ""))
    found.discard("")
    if not found:
        raise NotFoundError(
            f"axon '{axon}' has no objects in any namespace (none labelled {AXON_LABEL}={axon}) "
            "— see `myelin list -A`"
        )
    return sorted(found)


# --- myelin get ---------------------------------------------------------------------------------------


def axon_objects(transport: Transport, namespace: str, axon: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Every object of ``axon`` in ``namespace``, in bundle order; and missing CRDs."""
    reader = Reader(transport, namespace)
    objects: list[dict[str, Any]] = []
    for api_version, kind in KINDS:
        objects.extend(reader.list(api_version, kind, selector(axon)) or [])
    return objects, reader.missing


def object_state(obj: dict[str, Any]) -> str:
    """What ``get -o wide`` shows as STATUS: a run's phase, a deployment's state, a claim's phase."""
    status = obj.get("status") or {}
    if obj.get("kind") == "SeldonDeployment":
        return str(status.get("state") or "")
    if obj.get("kind") == "Sensor":
        return sensor_ready(obj)
    return str(status.get("phase") or "")


def format_objects(objects: list[dict[str, Any]], wide: bool = False) -> str:
    at = now()
    header: tuple[str, ...] = ("KIND", "NAME", "AGE") + (("STATUS", "CREATED") if wide else ())
    rows = [header]
    for obj in objects:
        created = obj.get("metadata", {}).get("creationTimestamp")
        row: tuple[str, ...] = (obj["kind"], name_of(obj), age(created, at))
        if wide:
            row += (object_state(obj), created or "")
        rows.append(row)
    return table(rows)


# --- shared by get, status, endpoint and logs ---------------------------------------------------------


def sensor_ready(sensor: dict[str, Any]) -> str:
    conditions = (sensor.get("status") or {}).get("conditions") or []
    if not conditions:
        return "Unknown"
    return "True" if all(c.get("status") == "True" for c in conditions) else "False"


def newest_first(workflows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(w: dict[str, Any]) -> tuple[str, str]:
        started = (w.get("status") or {}).get("startedAt") or w.get("metadata", {}).get("creationTimestamp")
        return (started or "", name_of(w))

    return sorted(workflows, key=key, reverse=True)


def served_versions(sdep: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``myelin.io/versions`` annotation: ``[{"label", "models"}]``, newest first."""
    text = (sdep.get("metadata", {}).get("annotations") or {}).get(VERSIONS_ANNOTATION)
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def predictors(sdep: dict[str, Any]) -> list[dict[str, Any]]:
    """Each predictor with its traffic (``None`` for a shadow) and the version it serves."""
    from ..names import dns_label

    versions: dict[str, dict[str, Any]] = {}
    for version in served_versions(sdep):
        try:
            versions[dns_label(str(version.get("label")))] = version
        except ValueError:
            continue
    out = []
    for predictor in (sdep.get("spec") or {}).get("predictors") or []:
        name = str(predictor.get("name", ""))
        shadow = bool(predictor.get("shadow"))
        served = versions.get(name)
        out.append(
            {
                "name": name,
                "traffic": None if shadow else int(predictor.get("traffic") or 0),
                "shadow": shadow,
                "version": served.get("label") if served else None,
                "models": dict(served.get("models") or {}) if served else {},
            }
        )
    return out
