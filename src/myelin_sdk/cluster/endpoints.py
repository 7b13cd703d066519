"""``myelin endpoint``: the URLs an axon's SeldonDeployments serve, per route and per predictor.

:func:`endpoints` reads them as the ``-o json|yaml`` dictionary (through an ingress, or the in-cluster
services without one); :func:`format_endpoints` prints it.
"""

from __future__ import annotations

from typing import Any

from ..errors import MyelinError
from .apply import selector
from .inspect import SELDON, NotFoundError, Reader, labels_of, name_of, predictors, table
from .transport import Transport

ROUTE_ANNOTATION = "myelin.io/route"  # as compiler.seldon: the route a SeldonDeployment serves
#: The routes of a deployer's main SeldonDeployment, which also serves the feedback route.
MAIN_ROUTES = ("/predict", "/api/v1.0/predictions")
#: Seldon Core v1: the REST port of a predictor's service and the ingress path prefix (Ambassador, Istio).
SELDON_HTTP_PORT = 8000
API_PREFIX = "/api/v1.0/"


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
