"""The nodes of a planned Seldon graph, before rendering (version-independent).

* :class:`Unit`: a ``MODEL`` node run by a backend model's own container (a Seldon Python class);
* :class:`GraphNode`: a node run by the SDK's graph node (:mod:`myelin_sdk.runtime.graph_node`) — a
  ``COMBINER`` for a model with dependencies, a ``MODEL`` forwarding to a custom or external server, or the
  identity ``MODEL`` that hands a combiner the route's input; its model's own server, when deployed, is a
  :class:`Sidecar` container in the same pod;
* :class:`ABTest`: a ``RANDOM_ABTEST`` node routing between a model's backend models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from ...names import dns_label
from ...spec import BackendModel, Task

__all__ = [
    "CUSTOM_PORT",
    "SELDON_SIDECAR_PORTS",
    "ABTest",
    "GraphNode",
    "Node",
    "Sidecar",
    "Unit",
    "abtest_chain",
    "container_nodes",
    "is_custom_server",
    "node_names",
]

#: The port a custom (Dockerfile-built) server listens on: the original examples' convention (Flask, 5000).
CUSTOM_PORT = 5000
#: The ports of a Seldon-class server running beside a graph node (which has the operator's 9000, 9500,
#: 6000): HTTP, gRPC and metrics, given to its wrapper through the ``PREDICTIVE_UNIT_*`` environment
#: (``PREDICTIVE_UNIT_SERVICE_PORT``: the REST port of the seldon-core 0.x wrappers of 2019 s2i images).
SELDON_SIDECAR_PORTS = {
    "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": 9001,
    "PREDICTIVE_UNIT_SERVICE_PORT": 9001,
    "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": 9501,
    "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": 6001,
}


def is_custom_server(task: Task) -> bool:
    """Whether a deploy task runs its own HTTP app rather than a Seldon class. The compiler cannot read the
    Dockerfile, so the rule is the original convention: built from a ``dockerfile`` (not ``s2i``, not a
    prebuilt ``image``) -> a custom server on port :data:`CUSTOM_PORT`."""
    build = task.body.image_build
    return build is not None and build.dockerfile is not None


@dataclass(frozen=True)
class Unit:
    """A ``MODEL`` node run by a backend model's own container (a Seldon Python class)."""

    name: str
    model: str
    backend: BackendModel
    task: Task
    endpoint: str

    @property
    def children(self) -> tuple[Node, ...]:
        return ()


@dataclass(frozen=True)
class Sidecar:
    """A backend model's own server, in the pod of the graph node that calls it on localhost."""

    backend: BackendModel
    task: Task
    custom: bool

    @property
    def port(self) -> int:
        return CUSTOM_PORT if self.custom else SELDON_SIDECAR_PORTS["PREDICTIVE_UNIT_HTTP_SERVICE_PORT"]

    def url(self, path: str) -> str:
        return f"http://localhost:{self.port}{path}"


@dataclass(frozen=True)
class GraphNode:
    """A node run by the SDK's graph node: ``mode`` combine (a ``COMBINER``), forward or identity."""

    name: str
    model: str
    mode: str
    target: str = ""
    protocol: str = "seldon"
    names: tuple[str, ...] = ()
    feedback: str | None = None
    sidecar: Sidecar | None = None
    children: tuple[Node, ...] = ()
    endpoint: str = "REST"

    @property
    def combiner(self) -> bool:
        return self.mode == "combine"

    @property
    def container(self) -> str:
        """The sidecar's container name (the graph node's container is named after the node)."""
        return dns_label(self.name, "server")


@dataclass(frozen=True)
class ABTest:
    """A ``RANDOM_ABTEST`` node: child 0 with probability ``ratio_a``, else child 1."""

    name: str
    ratio_a: float
    children: tuple[Node, Node]


Node: TypeAlias = "Unit | GraphNode | ABTest"


def abtest_chain(names: list[str], model: str, units: Sequence[tuple[Node, int]]) -> Node:
    """Nested ``RANDOM_ABTEST`` nodes giving every unit exactly its weight's share of the traffic; their
    names are made unique against ``names`` (and added to it)."""
    if len(units) == 1:
        return units[0][0]
    nested = len(units) > 2

    def build(level: int) -> Node:
        rest = units[level:]
        if len(rest) == 1:
            return rest[0][0]
        total = sum(w for _, w in rest)
        base = dns_label(model, "router", str(level + 1)) if nested else dns_label(model, "router")
        return ABTest(unique(names, base), rest[0][1] / total, (rest[0][0], build(level + 1)))

    return build(0)


def unique(names: list[str], base: str) -> str:
    """``base``, or ``base-2``, ``base-3``, ... when taken; recorded in ``names``."""
    name, k = base, 1
    while name in names:
        k += 1
        name = dns_label(base, str(k))
    names.append(name)
    return name


def container_nodes(node: Node) -> list[Unit | GraphNode]:
    """The nodes that run a container, depth first, parents before children."""
    own: list[Unit | GraphNode] = [] if isinstance(node, ABTest) else [node]
    return [*own, *(u for child in node.children for u in container_nodes(child))]


def node_names(node: Node) -> list[str]:
    return [node.name, *(n for child in node.children for n in node_names(child))]
