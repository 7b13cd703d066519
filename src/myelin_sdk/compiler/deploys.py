"""A sensor's ``deployer`` step -> three steps of the sensor's workflow: select, apply, commit.

1. ``<deployer>-select`` (a ``script`` step with the shared volume): the stdlib script of
   :mod:`myelin_sdk.runtime.deploy` picks each backend model's version (best by the trainer's
   ``lossMetric``, else newest), puts it in front of the versions served before, and prints the
   SeldonDeployment for them;
2. ``<deployer>-apply`` (a ``resource`` step): ``kubectl apply`` of that manifest; it succeeds when Seldon
   reports the deployment ``Available`` and fails when it reports ``Failed``;
3. ``<deployer>-commit``: records the served versions on the shared volume (``deployments/<name>.json``), so
   the next deploy knows which version was serving before — only once the apply succeeded.

The SeldonDeployments themselves come from :func:`~myelin_sdk.compiler.seldon.seldon_deployments`, rendered
here once per number of served versions with sentinel version names that the script replaces, so the
manifest a deploy applies is exactly what the compiler made (see ``myelin compile --review``).

A deployer with several predict routes has one SeldonDeployment per route: the select step prints the main
one (``/predict``) as its result and writes each other route's to an output parameter ``sdep-<route>``;
an apply step per route (``<deployer>-apply-<route>``) applies it, and commit runs once all are Available.
Promote and rollback re-render all of them. A deployer whose graphs use the SDK's graph node first builds
its image (:mod:`.seldon.node_image`: ``<deployer>-graph-node-src``, ``<deployer>-graph-node-build``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from hera.workflows import Step, Steps
from hera.workflows import models as m

from .. import contract
from ..config import CompileOptions
from ..names import dns_label
from ..runtime import deploy_script
from ..spec import Axon, Deployer
from .seldon import (
    GraphVersion,
    first_deploy_review,
    first_deploy_reviews,
    graph_node_build_templates,
    seldon_deployments,
    uses_graph_nodes,
)
from .storage import VOLUME_NAME, store_volume
from .workflows import ENTRYPOINT, axon_workflow_template

#: Sentinels the deploy script replaces: version i (0 = newest) of backend j, and version i's label.
VERSION_SENTINEL = "@@myelin-version-{i}-{j}@@"
LABEL_SENTINEL = "zzmyelinlabel{i}zz"
#: The WorkflowTemplates every deployer gets besides its deploy step: ``<deployment>-promote``, ``-rollback``.
OPERATIONS = ("promote", "rollback")
#: How long the apply step waits for Seldon to report the deployment Available (seconds).
APPLY_TIMEOUT = 900


@dataclass(frozen=True)
class DeployStep:
    """A deployer step of a sensor: where it is in the Axon, and the names of its workflow steps."""

    index: int
    deployer: Deployer
    path: str
    #: The name suffixes of the routes besides the main one (one SeldonDeployment each).
    routes: tuple[str, ...] = ()
    #: Whether the graphs use the SDK's graph node (its image is built before the deploy).
    graph_node: bool = False

    @property
    def prefix(self) -> str:
        return dns_label(self.deployer.name or "deployer", max_length=40)

    def with_plan(self, config: dict[str, Any]) -> DeployStep:
        """This step with what :func:`deploy_config` found: the extra routes, whether it builds the node."""
        routes = tuple(r["name"] for r in config.get("routes", []))
        return replace(self, routes=routes, graph_node=bool(config.get("graph_node")))


def served_count(axon: Axon, deployer: Deployer) -> int:
    """How many versions the rollout serves at most: the highest destination (or shadow) index + 1; without
    a rollout, 2 for the legacy ``deploymentType: canary`` (on the deployer or a deploy task), else 1."""
    if not deployer.rollout_spec:
        types = [deployer.deployment_type]
        for model in deployer.models:
            for backend in model.backend_models:
                spec = axon.task(backend.deployer).deploy
                types.append(spec.deployment_type if spec is not None else None)
        return 2 if any((t or "").lower() == "canary" for t in types) else 1
    step = deployer.rollout_spec[0]
    indices = [d.destination_index for d in step.destinations]
    if step.shadow is not None:
        indices.append(step.shadow.destination_index)
    return max(indices) + 1


def _backends(axon: Axon, deployer: Deployer) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for model in deployer.models:
        for backend in model.backend_models:
            trainer = axon.task(backend.trainer)
            train = trainer.train
            models_dir = contract.models_dir(trainer.name)
            out.setdefault(
                backend.name,
                {
                    "name": backend.name,
                    "models": models_dir,
                    "metric": train.loss_metric if train is not None else None,
                    "greater": bool(train is not None and train.loss_metric_selector == "greater"),
                },
            )
    return list(out.values())


def deploy_config(axon: Axon, step: DeployStep, options: CompileOptions) -> dict[str, Any]:
    """The configuration the deploy script runs with (raises MyelinError when the graph cannot map)."""
    backends = _backends(axon, step.deployer)
    per_count: dict[str, list[dict[str, Any]]] = {}
    for count in range(1, served_count(axon, step.deployer) + 1):
        versions = [
            GraphVersion(
                {b["name"]: VERSION_SENTINEL.format(i=i, j=j) for j, b in enumerate(backends)},
                label=LABEL_SENTINEL.format(i=i),
            )
            for i in range(count)
        ]
        per_count[str(count)] = seldon_deployments(axon, step.deployer, versions, options, path=step.path)
    name = per_count["1"][0]["metadata"]["name"]
    config: dict[str, Any] = {
        "store": contract.STORE_MOUNT,
        "state": f"deployments/{name}.json",
        "backends": backends,
        "templates": {count: docs[0] for count, docs in per_count.items()},
        "version_sentinel": VERSION_SENTINEL,
        "label_sentinel": LABEL_SENTINEL,
    }
    first = per_count["1"]
    if len(first) > 1:  # one SeldonDeployment per route: the others' templates, and where the script writes
        config["routes"] = [
            {
                "name": _route_name(doc),
                "file": f"/tmp/myelin-sdep-{_route_name(doc)}.json",
                "templates": {count: docs[k] for count, docs in per_count.items()},
            }
            for k, doc in enumerate(first)
            if k > 0
        ]
    if uses_graph_nodes(axon, step.deployer, path=step.path):
        config["graph_node"] = True
    return config


def _route_name(doc: dict[str, Any]) -> str:
    name: str = doc["metadata"]["labels"]["myelin.io/route"]
    return name


def review(axon: Axon, step: DeployStep, options: CompileOptions) -> dict[str, Any]:
    """The (main) SeldonDeployment a first deploy applies, with ``latest`` for the version, for review."""
    return first_deploy_review(axon, step.deployer, options, path=step.path)


def reviews(axon: Axon, step: DeployStep, options: CompileOptions) -> list[dict[str, Any]]:
    """Every SeldonDeployment (one per predict route) a first deploy applies, for review."""
    return first_deploy_reviews(axon, step.deployer, options, path=step.path)


def _script(
    name: str, source: str, options: CompileOptions, outputs: list[tuple[str, str]] | None = None
) -> m.Template:
    """A script step on the shared volume; ``outputs``: (parameter, file) pairs it writes."""
    mount = m.VolumeMount(name=VOLUME_NAME, mount_path=contract.STORE_MOUNT)
    return m.Template(
        name=name,
        script=m.ScriptTemplate(
            image=options.python_image, command=["python"], source=source, volume_mounts=[mount]
        ),
        outputs=m.Outputs(
            parameters=[m.Parameter(name=k, value_from=m.ValueFrom(path=f)) for k, f in outputs]
        )
        if outputs
        else None,
    )


def _apply(name: str) -> m.Template:
    return m.Template(
        name=name,
        # a deployment that never becomes Available (an image that does not pull) ends the run
        active_deadline_seconds=str(APPLY_TIMEOUT),  # IntOrString; the schema types it as a string
        inputs=m.Inputs(parameters=[m.Parameter(name="manifest")]),
        resource=m.ResourceTemplate(
            action="apply",
            manifest="{{inputs.parameters.manifest}}",
            success_condition="status.state == Available",
            failure_condition="status.state == Failed",
        ),
    )


def deploy_templates(
    axon: Axon, step: DeployStep, options: CompileOptions, mode: str = "deploy"
) -> list[m.Template]:
    """The select, apply and commit templates of one deployer step (``mode``: deploy, promote, rollback)."""
    config = deploy_config(axon, step, options)
    if mode != "deploy":  # promote and rollback re-render the recorded versions: no selection
        config["backends"] = [{"name": b["name"], "models": b["models"]} for b in config["backends"]]
    compact = json.dumps(config, sort_keys=True, separators=(",", ":"))
    state = json.dumps({"store": config["store"], "state": config["state"]}, sort_keys=True)
    p = step.prefix
    routes = config.get("routes", [])
    outputs = [(f"sdep-{r['name']}", r["file"]) for r in routes]
    builds = graph_node_build_templates(p, options) if config.get("graph_node") and mode == "deploy" else []
    return [
        *builds,
        _script(f"{p}-select", deploy_script(["--config", compact, "--mode", mode]), options, outputs),
        _apply(f"{p}-apply"),
        *(_apply(apply_name(step, r["name"])) for r in routes),
        _script(f"{p}-commit", deploy_script(["--config", state, "--commit"]), options),
    ]


def apply_name(step: DeployStep, route: str) -> str:
    """The apply step (and template) of a route besides the main one: ``<deployer>-apply-<route>``, a
    DNS-1123 label (at most 63 characters)."""
    return dns_label(step.prefix, "apply", route)


def deploy_steps(step: DeployStep, mode: str = "deploy") -> list[tuple[str, dict[str, str]]]:
    """The workflow steps in order, as (template name, arguments); each runs in its own step group: the
    graph node's build (deploy only, when used), select, an apply per route, commit."""
    p = step.prefix
    builds: list[tuple[str, dict[str, str]]] = [(f"{p}-graph-node-src", {}), (f"{p}-graph-node-build", {})]
    return [
        *(builds if step.graph_node and mode == "deploy" else []),
        (f"{p}-select", {}),
        (f"{p}-apply", {"manifest": f"{{{{steps.{p}-select.outputs.result}}}}"}),
        *(
            (apply_name(step, r), {"manifest": f"{{{{steps.{p}-select.outputs.parameters.sdep-{r}}}}}"})
            for r in step.routes
        ),
        (f"{p}-commit", {}),
    ]


def operation_template(axon: Axon, step: DeployStep, mode: str, options: CompileOptions) -> dict[str, Any]:
    """A WorkflowTemplate that promotes (the newest version takes all traffic) or rolls back (the version
    served before takes over) one deployer: ``argo submit --from workflowtemplate/<name>``."""
    name = dns_label(deployment_name(axon, step, options), mode)
    store = store_volume(axon)
    with (
        axon_workflow_template(
            axon,
            name,
            options,
            original=step.deployer.name or "deployer",
            volumes=[store] if store else [],
            deployer=step.prefix,
        ) as wt,
        Steps(name=ENTRYPOINT),
    ):
        for template, arguments in deploy_steps(step, mode):
            Step(name=template, template=template, arguments=arguments or None)
    wt.templates.extend(deploy_templates(axon, step, options, mode))
    manifest: dict[str, Any] = wt.to_dict()
    return manifest


def deployment_name(axon: Axon, step: DeployStep, options: CompileOptions) -> str:
    """The SeldonDeployment's name."""
    name: str = review(axon, step, options)["metadata"]["name"]
    return name
