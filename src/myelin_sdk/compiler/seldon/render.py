"""A plan and the served versions -> the deployer's ``SeldonDeployment`` documents (pure, deterministic).

One SeldonDeployment per predict route: ``/predict`` (or ``/api/v1.0/predictions``) keeps the deployer's
name ``<axon>-<deployer>``, another route ``/predict1`` is ``<axon>-<deployer>-predict1``. With several
routes, each carries the annotation ``myelin.io/route`` (the path) and the label ``myelin.io/route``. All of
a deployer's SeldonDeployments have the same predictors (versions and traffic).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from ... import contract
from ...config import CompileOptions
from ...errors import Diagnostic, MyelinError
from ...names import dns_label
from ...spec import Axon, BackendModel, Deployer, Task
from ..meta import canonical, labels, metadata
from ..security import container_security, pod_security
from ..storage import VOLUME_NAME
from ..workflows import merge_env, runtime_env, task_image
from .node_image import graph_node_image
from .nodes import (
    CUSTOM_PORT,
    SELDON_SIDECAR_PORTS,
    ABTest,
    GraphNode,
    Node,
    Unit,
    container_nodes,
    node_names,
)
from .plan import Plan, Planner, RoutePlan, Slot
from .versions import (
    API_VERSION,
    KIND,
    PROTOCOL,
    REVIEW_LABEL,
    REVIEW_VERSION,
    ROUTE_ANNOTATION,
    ROUTE_LABEL,
    VERSIONS_ANNOTATION,
    GraphVersion,
    deployer_path,
)

__all__ = [
    "first_deploy_review",
    "first_deploy_reviews",
    "seldon_deployment",
    "seldon_deployments",
    "uses_graph_nodes",
]

_RANDOM_ABTEST = "RANDOM_ABTEST"


def _graph(node: Node) -> dict[str, Any]:
    if isinstance(node, ABTest):
        return {
            "name": node.name,
            "implementation": _RANDOM_ABTEST,
            "parameters": [{"name": "ratioA", "type": "FLOAT", "value": repr(node.ratio_a)}],
            "children": [_graph(child) for child in node.children],
        }
    if isinstance(node, Unit):
        return {"name": node.name, "type": "MODEL", "endpoint": {"type": node.endpoint}}
    params = {"mode": node.mode, "target": node.target}
    if node.mode != "identity":
        params["protocol"] = node.protocol
    if node.names:
        params["names"] = json.dumps(list(node.names))
    if node.feedback:
        params["feedback"] = node.feedback
    out: dict[str, Any] = {
        "name": node.name,
        "type": "COMBINER" if node.combiner else "MODEL",
        "endpoint": {"type": node.endpoint},
        "parameters": [{"name": k, "type": "STRING", "value": v} for k, v in params.items() if v],
    }
    if node.children:
        out["children"] = [_graph(child) for child in node.children]
    return out


def _container(
    axon: Axon,
    name: str,
    backend: BackendModel,
    task: Task,
    version: GraphVersion,
    options: CompileOptions,
    ports: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = task.body
    served = version.models[backend.name]
    paths = contract.served_paths(contract.STORE_MOUNT, backend.trainer, served)
    env = [
        {"name": item["name"], "value": paths[item["name"]]} if item["name"] in paths else item
        for item in runtime_env(axon, task, options)
    ]
    env.append({"name": contract.MODEL_VERSION, "value": version.predictor_name})
    env = merge_env(env, [canonical(e.to_dict()) for e in body.env])
    if ports:  # a server beside a graph node listens where the graph node calls it
        env = merge_env(env, [{"name": k, "value": v} for k, v in ports.items()])
    container: dict[str, Any] = {"name": name, "image": task_image(task, options)}
    if body.command:
        container["command"] = list(body.command)
    if body.args:
        container["args"] = list(body.args)
    container["env"] = env
    if body.resources is not None:
        resources = {
            k: {r: str(q) for r, q in sorted(v.items())} for k, v in body.resources.to_dict().items()
        }
        if resources:
            container["resources"] = resources
    container["volumeMounts"] = [{"name": VOLUME_NAME, "mountPath": contract.STORE_MOUNT}]
    container["securityContext"] = container_security("image")  # restricted; the image's root stays writable
    return container


def _pod(
    axon: Axon, node: Unit | GraphNode, version: GraphVersion, plan: Plan, options: CompileOptions
) -> tuple[dict[str, Any], Task | None]:
    """The pod spec of a container node, and the deploy task whose settings it takes (None: none)."""
    if isinstance(node, Unit):
        containers = [_container(axon, node.name, node.backend, node.task, version, options)]
        task: Task | None = node.task
    else:
        containers = [
            {
                "name": node.name,
                "image": graph_node_image(options),
                "securityContext": container_security("image"),
            }
        ]
        task = None
        if node.sidecar is not None:
            task = node.sidecar.task
            if node.sidecar.custom:
                ports = {"PORT": str(CUSTOM_PORT)}
            else:
                ports = {k: str(v) for k, v in SELDON_SIDECAR_PORTS.items()}
            containers.append(
                _container(axon, node.container, node.sidecar.backend, task, version, options, ports)
            )
    pod: dict[str, Any] = {"containers": containers, "securityContext": pod_security()}
    if task is not None:
        if task.body.node_selector:
            pod["nodeSelector"] = canonical(task.body.node_selector)
        pod["volumes"] = [copy.deepcopy(plan.volume)]  # no shared objects: no YAML aliases
    return pod, task


def _component_spec(
    axon: Axon,
    deployer: Deployer,
    node: Unit | GraphNode,
    version: GraphVersion,
    plan: Plan,
    options: CompileOptions,
) -> dict[str, Any]:
    pod, task = _pod(axon, node, version, plan, options)
    spec: dict[str, Any] = {
        "metadata": {
            "labels": labels(
                axon,
                deployer=_deployer_label(deployer),
                version=version.predictor_name,
                backend=node.name,
            )
        },
        "spec": pod,
    }
    replicas = task.deploy.replicas if task is not None and task.deploy is not None else None
    if deployer.replicas is None and replicas is not None:
        spec["replicas"] = replicas
    return spec


def _deployer_label(deployer: Deployer) -> str:
    return dns_label(deployer.name or "deployer")


def _predictor(
    axon: Axon,
    deployer: Deployer,
    slot: Slot,
    version: GraphVersion,
    route: RoutePlan,
    plan: Plan,
    options: CompileOptions,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": version.predictor_name}
    if slot.traffic is None:
        out["shadow"] = True
    else:
        out["traffic"] = slot.traffic
    if deployer.replicas is not None:
        out["replicas"] = deployer.replicas
    out["graph"] = _graph(route.graph)
    out["componentSpecs"] = [
        _component_spec(axon, deployer, node, version, plan, options) for node in container_nodes(route.graph)
    ]
    return out


def _check_versions(where: str, plan: Plan, versions: Sequence[GraphVersion]) -> list[int]:
    """The version indices the predictors use; raises MyelinError for missing or colliding versions."""
    used = sorted({slot.index for slot in plan.slots})
    problems: list[Diagnostic] = []
    names: dict[str, int] = {}
    backends = sorted(
        {n.backend.name for r in plan.routes for n in container_nodes(r.graph) if isinstance(n, Unit)}
        | {
            n.sidecar.backend.name
            for r in plan.routes
            for n in container_nodes(r.graph)
            if isinstance(n, GraphNode) and n.sidecar is not None
        }
    )
    for index in used:
        version = versions[index]
        other = names.setdefault(version.predictor_name, index)
        if other != index:
            problems.append(
                Diagnostic(
                    where,
                    f"versions[{other}] and versions[{index}] both give the predictor name "
                    f"{version.predictor_name!r}: version labels must differ",
                )
            )
        for backend in backends:
            if backend not in version.models:
                problems.append(
                    Diagnostic(
                        where,
                        f"versions[{index}] (label {version.label!r}) has no model version for backend model "
                        f"{backend!r}",
                    )
                )
    for route in plan.routes:
        found = node_names(route.graph) + [
            n.container for n in container_nodes(route.graph) if isinstance(n, GraphNode) and n.sidecar
        ]
        duplicates = sorted({n for n in found if found.count(n) > 1})
        if duplicates:
            problems.append(
                Diagnostic(where, f"graph node and container names collide: {', '.join(duplicates)}")
            )
    if problems:
        raise MyelinError(problems)
    return used


def seldon_deployments(
    axon: Axon,
    deployer: Deployer,
    versions: Sequence[GraphVersion],
    options: CompileOptions,
    path: str | None = None,
) -> list[dict[str, Any]]:
    """The ``SeldonDeployment`` of every predict route of ``deployer`` serving ``versions`` (newest first),
    the main one (``/predict``) first.

    ``path`` is the deployer's field path for error messages (found in ``axon`` when not given). Raises
    :class:`~myelin_sdk.errors.MyelinError` (an ``UnsupportedError`` for what cannot map to Seldon Core) with
    every problem found, and ``ValueError`` when ``versions`` is empty.
    """
    if not versions:
        raise ValueError("seldon_deployment needs at least one version (versions[0] is the newest)")
    where = path if path is not None else deployer_path(axon, deployer)
    plan = Planner(axon, deployer, where).plan(len(versions))
    used = _check_versions(where, plan, versions)
    served = json.dumps(
        [v.to_dict() for v in versions[: max(used) + 1]], sort_keys=True, separators=(",", ":")
    )
    out = []
    for route in plan.routes:
        parts = [axon.name, deployer.name or "deployer"] + ([route.suffix] if route.suffix else [])
        extra = {"deployer": _deployer_label(deployer)}
        named = plan.multi_route or route.suffix is not None  # a route other than /predict: say which
        if named:
            extra[ROUTE_LABEL] = route.suffix or "predict"
        md = metadata(axon, dns_label(*parts), options, original=deployer.name, **extra)
        annotations = {**md.get("annotations", {}), VERSIONS_ANNOTATION: served}
        if named:
            annotations[ROUTE_ANNOTATION] = route.path
        md["annotations"] = annotations
        predictors = [
            _predictor(axon, deployer, slot, versions[slot.index], route, plan, options)
            for slot in plan.slots
        ]
        out.append(
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "metadata": md,
                "spec": {"protocol": PROTOCOL, "predictors": predictors},
            }
        )
    return out


def seldon_deployment(
    axon: Axon,
    deployer: Deployer,
    versions: Sequence[GraphVersion],
    options: CompileOptions,
    path: str | None = None,
) -> dict[str, Any]:
    """The deployer's main ``SeldonDeployment`` (its ``/predict`` route; see :func:`seldon_deployments`)."""
    return seldon_deployments(axon, deployer, versions, options, path)[0]


def first_deploy_reviews(
    axon: Axon, deployer: Deployer, options: CompileOptions, path: str | None = None
) -> list[dict[str, Any]]:
    """The ``SeldonDeployment``s the first deploy would apply, for review before any model is trained: one
    predictor labelled ``first`` in which every backend model serves its trainer's ``<MODEL_PATH>/latest``
    (the deploy step puts the selected version's folder name there)."""
    version = GraphVersion.uniform(deployer, REVIEW_VERSION, label=REVIEW_LABEL)
    return seldon_deployments(axon, deployer, [version], options, path=path)


def first_deploy_review(
    axon: Axon, deployer: Deployer, options: CompileOptions, path: str | None = None
) -> dict[str, Any]:
    """The main ``SeldonDeployment`` of :func:`first_deploy_reviews`."""
    return first_deploy_reviews(axon, deployer, options, path)[0]


def uses_graph_nodes(axon: Axon, deployer: Deployer, path: str | None = None) -> bool:
    """Whether the deployer's graphs run the SDK's graph node (so its image must be built)."""
    where = path if path is not None else deployer_path(axon, deployer)
    plan = Planner(axon, deployer, where).plan(1)
    return any(isinstance(n, GraphNode) for r in plan.routes for n in container_nodes(r.graph))
