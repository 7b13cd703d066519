"""Deployers -> Seldon Core v1 ``SeldonDeployment``\\ s (``machinelearning.seldon.io/v1``), one per predict
route of the deployer.

A deploy step selects the best trained version of every backend model and applies the manifests built here
for the versions of the graph that serve: ``versions[0]`` is the newest (just selected), ``versions[1]`` the
one that served before it, and so on; ``rolloutSpec`` ``destinationIndex`` indexes this list::

    new = GraphVersion({"BackendRecommender": "20190706-1200"}, label="v7")
    old = GraphVersion({"BackendRecommender": "20190705-0900"}, label="v6")
    manifests = seldon_deployments(axon, deployer, [new, old], CompileOptions(namespace="ml"))
    # rolloutSpec 0:50, 1:50 -> predictors "v7" (traffic 50) and "v6" (traffic 50), in every route's SDep

The functions are pure and deterministic (same input, same dicts). The tests check every document against the
upstream CRD (strict), replay the operator's admission checks and evaluate the graphs with the executor's
routing rules. The modules: :mod:`.versions` (served versions, names), :mod:`.plan` (rollout, routes),
:mod:`.graph` (a route's DAG -> graph nodes), :mod:`.nodes`, :mod:`.render` (the documents) and
:mod:`.node_image` (the SDK graph node's image build).

Mapping
-------

| Axon | SeldonDeployment |
|---|---|
| deployer ``name`` (default ``deployer``) | ``metadata.name`` ``<axon>-<deployer>`` (DNS-1123, at most 63) |
| predict route ``/predict`` | that SeldonDeployment, served at ``/api/v1.0/predictions`` |
| another predict route ``/predict1`` | its own SeldonDeployment ``<axon>-<deployer>-predict1``; with |
| | several routes each has the annotation and label ``myelin.io/route`` |
| route ``/send-feedback`` | ``/api/v1.0/feedback`` of the ``/predict`` SeldonDeployment |
| one version of the graph (:class:`GraphVersion`) | one predictor (in every route's SeldonDeployment) |
| ``rolloutSpec[0].destinations[]`` | predictors, ``traffic`` = the destination's ``weight`` |
| ``rolloutSpec[0].shadow`` | a predictor with ``shadow: true`` |
| no ``rolloutSpec`` | ``0:100``; legacy ``deploymentType: canary``: ``0:50, 1:50`` |
| Seldon-class model, no dependencies | a ``MODEL`` node (its container) |
| model with n >= 2 backend models | a chain of ``RANDOM_ABTEST`` nodes giving backend k ``w_k / 100`` |
| model with ``dependencies`` | a graph-node ``COMBINER`` named after the model, children = its |
| | dependencies (+ ``<model>-input`` with ``includeInput``); the model's |
| | own server is a second container of its pod; with several backends, |
| | one COMBINER per backend under ``RANDOM_ABTEST`` nodes |
| custom (``dockerfile``-built) server | a graph-node ``MODEL`` forwarding to it (port 5000, field json) |
| external model (``fullPath``) | a graph-node ``MODEL`` (or ``COMBINER``) calling ``fullPath`` |
| backend model (trainer, deploy task) | a container: the deploy task's image, the runtime ``env`` with |
| | ``MODEL_PATH`` = ``<store>/models/<trainer>/<version>/``, ``resources``, |
| | ``nodeSelector``, the store at ``/axon-store`` |
| deploy task ``endpointType`` | ``endpoint.type`` of its node (default ``REST``); ``spec.protocol: seldon`` |

Traffic. The weights of ``rolloutSpec[0].destinations`` whose ``destinationIndex`` has a version are scaled
to sum to exactly 100 (largest remainders), so the weight of a version that does not exist yet goes to the
ones that do. Predictors are named after the version label, so the serving one keeps its pods.

Graph semantics, from the Seldon Core 1.x executor: ``RANDOM_ABTEST`` is run by the executor itself (no
container, no ``type``); a ``COMBINER``'s children all get the request, then its ``aggregate`` gets their
answers; feedback follows ``meta.routing`` and reaches every ``MODEL`` node on the way, never a combiner.

What cannot map raises an ``UnsupportedError`` naming the field (lint reports the same): more than one
rollout or routing step, a rollout ``match``; gRPC deploy tasks behind a graph node or next to REST ones; an
external model not called with Multipart; a feedback route naming a model with dependencies or one not
in the ``/predict`` graph; a DAG without exactly one final model, or with a cycle; a Seldon class called at a
path other than ``/predict`` (``/send-feedback``); an axon without a shared volume.

The served versions are recorded, newest first, in the annotation ``myelin.io/versions`` (JSON).
"""

from __future__ import annotations

from .node_image import GRAPH_NODE_REPOSITORY, graph_node_build_templates, graph_node_image
from .render import (
    first_deploy_review,
    first_deploy_reviews,
    seldon_deployment,
    seldon_deployments,
    uses_graph_nodes,
)
from .versions import (
    API_VERSION,
    FEEDBACK_PATHS,
    KIND,
    PREDICT_PATHS,
    PROTOCOL,
    REVIEW_LABEL,
    REVIEW_VERSION,
    ROUTE_ANNOTATION,
    VERSIONS_ANNOTATION,
    GraphVersion,
    deployer_path,
    route_suffix,
    served_versions,
)

__all__ = [
    "API_VERSION",
    "FEEDBACK_PATHS",
    "GRAPH_NODE_REPOSITORY",
    "KIND",
    "PREDICT_PATHS",
    "PROTOCOL",
    "REVIEW_LABEL",
    "REVIEW_VERSION",
    "ROUTE_ANNOTATION",
    "VERSIONS_ANNOTATION",
    "GraphVersion",
    "deployer_path",
    "first_deploy_review",
    "first_deploy_reviews",
    "graph_node_build_templates",
    "graph_node_image",
    "route_suffix",
    "seldon_deployment",
    "seldon_deployments",
    "served_versions",
    "uses_graph_nodes",
]
