"""Reading an axon back from the cluster: ``myelin list``, ``get``, ``status`` and ``endpoint``.

Every object the compiler emits (and every SeldonDeployment a deploy step applies, and every Workflow a
Sensor starts) carries ``app.kubernetes.io/part-of=myelin`` and ``myelin.io/axon=<name>``: the axon's objects
are the LISTs of the kinds below with that label selector. A kind whose CRD is not installed is reported, not
fatal: ``status`` without Argo Events still shows the runs and the deployments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import MyelinError
from .apply import missing_message, selector
from .labels import AXON_LABEL, PART_OF, SENSOR_LABEL
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
ROUTE_ANNOTATION = "myelin.io/route"  # as compiler.seldon: the route a SeldonDeployment serves
#: The routes of a deployer's main SeldonDeployment, which also serves the feedback route.
MAIN_ROUTES = ("/predict", "/api/v1.0/predictions")
ARGO_EVENTS_SENSOR_LABEL = "events.argoproj.io/sensor"
RUNS_SHOWN = 10
#: Seldon Core v1: the REST port of a predictor's service and the ingress path prefix (Ambassador, Istio).
SELDON_HTTP_PORT = 8000
API_PREFIX = "/api/v1.0/"


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


# --- myelin status ------------------------------------------------------------------------------------


def sensor_ready(sensor: dict[str, Any]) -> str:
    conditions = (sensor.get("status") or {}).get("conditions") or []
    if not conditions:
        return "Unknown"
    return "True" if all(c.get("status") == "True" for c in conditions) else "False"


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


# --- myelin endpoint ----------------------------------------------------------------------------------


def service_url(sdep: str, predictor: str, namespace: str) -> str:
    """The in-cluster REST base of one predictor: Seldon Core v1 serves each predictor through a Service
    ``<sdep>-<predictor>`` on port 8000."""
    return f"http://{sdep}-{predictor}.{namespace}.svc.cluster.local:{SELDON_HTTP_PORT}{API_PREFIX}"


def endpoints(transport: Transport, namespace: str, axon: str, ingress: str | None) -> dict[str, Any]:
    """The URLs of every SeldonDeployment of ``axon``, and of every route they serve. ``fixedUrl`` ends with
    ``/api/v1.0/``: append ``predictions`` or ``feedback``. Through ``ingress`` (Ambassador or Istio,
    Seldon's path ``/seldon/<namespace>/<sdep>/``) it splits traffic between predictors; without one it is
    the in-cluster service of the predictor with the most traffic.

    A deployer with several predict routes has one SeldonDeployment per route (annotation
    ``myelin.io/route``; without it, ``/predict``): ``routes`` lists each route's predict URL, and the
    feedback URL belongs to the ``/predict`` one. The main routes come first, then by name."""
    reader = Reader(transport, namespace)
    sdeps = reader.list(SELDON, "SeldonDeployment", selector(axon))
    if sdeps is None:
        raise MyelinError(reader.missing[0])
    if not sdeps:
        raise NotFoundError(
            f"axon '{axon}' has no SeldonDeployment in namespace {namespace} yet: its deploy step has not "
            f"run — see `myelin status -n {namespace} {axon}`"
        )
    out = []
    per_deployer: dict[str | None, int] = {}
    for sdep in sdeps:
        deployer = labels_of(sdep).get("myelin.io/deployer")
        per_deployer[deployer] = per_deployer.get(deployer, 0) + 1
    for sdep in sorted(sdeps, key=lambda d: (_route_of(d) not in MAIN_ROUTES, name_of(d))):
        name = name_of(sdep)
        route = _route_of(sdep)
        ns = sdep.get("metadata", {}).get("namespace") or namespace
        preds = predictors(sdep)
        for p in preds:
            p["url"] = service_url(name, p["name"], ns)
        serving = [p for p in preds if not p["shadow"]]
        if ingress:
            fixed = f"{ingress.rstrip('/')}/seldon/{ns}/{name}{API_PREFIX}"
        elif serving:
            fixed = max(serving, key=lambda p: p["traffic"] or 0)["url"]
        else:
            fixed = None
        out.append(
            {
                "name": name,
                "deployer": labels_of(sdep).get("myelin.io/deployer"),
                "route": route,
                "state": (sdep.get("status") or {}).get("state") or "Unknown",
                "fixedUrl": fixed,
                "predictUrl": f"{fixed}predictions" if fixed else None,
                # Seldon sends the feedback route through the /predict graph, or the deployer's only one
                "feedbackUrl": f"{fixed}feedback"
                if fixed
                and (route in MAIN_ROUTES or per_deployer[labels_of(sdep).get("myelin.io/deployer")] == 1)
                else None,
                "predictors": preds,
            }
        )
    first = out[0]
    return {
        "axon": axon,
        "namespace": namespace,
        "ingress": ingress,
        "fixedUrl": first["fixedUrl"],
        "predictUrl": first["predictUrl"],
        "feedbackUrl": first["feedbackUrl"],
        "routes": [
            {"deployer": d["deployer"], "route": d["route"], "deployment": d["name"], "url": d["predictUrl"]}
            for d in out
        ],
        "deployments": out,
    }


def _route_of(sdep: dict[str, Any]) -> str:
    annotations = sdep.get("metadata", {}).get("annotations") or {}
    return str(annotations.get(ROUTE_ANNOTATION) or MAIN_ROUTES[0])


def format_endpoints(result: dict[str, Any]) -> str:
    rows: list[tuple[str, ...]] = [("DEPLOYMENT", "STATE", "PREDICTOR", "TRAFFIC", "VERSION", "URL")]
    lines = []
    for d in result["deployments"]:
        head = f"{d['name']} ({d['state']})" + (
            f", route {d['route']}" if d["route"] not in MAIN_ROUTES else ""
        )
        feedback = f"  feedback: {d['feedbackUrl']}\n" if d["feedbackUrl"] else ""
        lines.append(f"{head}\n  predict:  {d['predictUrl']}\n{feedback}")
        for p in d["predictors"]:
            traffic = "shadow" if p["shadow"] else str(p["traffic"])
            rows.append((d["name"], d["state"], p["name"], traffic, p["version"] or "", p["url"]))
    note = (
        ""
        if result["ingress"]
        else "\nno --ingress: these are in-cluster URLs; only an ingress splits traffic between predictors\n"
    )
    return "".join(lines) + "\n" + table(rows) + note
