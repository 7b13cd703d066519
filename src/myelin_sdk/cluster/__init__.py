"""Side effects on a cluster: submit a compiled axon through the Kubernetes API.

>>> cluster = connect(context="kind-ml")                                   # doctest: +SKIP
>>> report = cluster.apply(axon.compile(CompileOptions(namespace="ml")), namespace="ml")  # doctest: +SKIP
>>> print(report.format())                                                 # doctest: +SKIP

Or in one call, what ``myelin submit`` and ``Axon.submit()`` do: ``submit(axon, namespace="ml")``.
Every failure a user can meet (no kubeconfig, an unreachable server, a missing CRD or namespace, a refused
verb) is a :class:`~myelin_sdk.errors.MyelinError` with one readable line, never a client traceback.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..errors import MyelinError
from .apply import APPLIED_HASH, PRUNABLE, Applier, missing_message, selector
from .fetch import MAX_BYTES, fetch_text, is_url, load_axon_url
from .report import ApplyReport, Change
from .transport import HttpError, Resource, Transport

if TYPE_CHECKING:
    from ..compiler.bundle import Bundle
    from ..config import CompileOptions
    from ..spec import Axon

__all__ = [
    "APPLIED_HASH",
    "MAX_BYTES",
    "PRUNABLE",
    "ApplyReport",
    "Change",
    "Cluster",
    "HttpError",
    "Resource",
    "Transport",
    "connect",
    "fetch_text",
    "is_url",
    "load_axon_url",
    "missing_message",
    "plan",
    "selector",
    "submit",
]

DRY_RUN_MODES = (None, "server", "client")


class Cluster:
    """A connected API server (see :func:`connect`)."""

    def __init__(self, transport: Transport, default_namespace: str = "default") -> None:
        self.transport = transport
        #: The namespace of the kubeconfig context (or of the in-cluster service account).
        self.default_namespace = default_namespace

    @property
    def host(self) -> str:
        return self.transport.host

    def apply(self, bundle: Bundle, namespace: str | None = None, dry_run: str | None = None) -> ApplyReport:
        """Create or replace every object of ``bundle`` in order, then prune the axon's objects that the
        bundle no longer holds. ``namespace`` overrides the manifests' own (else theirs, else the context's).
        ``dry_run="server"``: every write is sent with ``dryRun=All`` and nothing is pruned."""
        if dry_run not in (None, "server"):
            raise MyelinError(f"Cluster.apply: dry_run must be None or 'server', not {dry_run!r}")
        return Applier(self.transport, namespace, self.default_namespace, dry_run).apply(bundle)


def connect(context: str | None = None, kubeconfig: str | None = None) -> Cluster:
    """Load the kubeconfig (``kubeconfig``, ``$KUBECONFIG``, ``~/.kube/config``) or the in-cluster config.
    Nothing is requested yet: an unreachable server is reported by the first request."""
    from .transport import connect_transport

    transport, namespace = connect_transport(context, kubeconfig)
    return Cluster(transport, namespace)


def plan(bundle: Bundle) -> ApplyReport:
    """What a submit would send, without any cluster (``--dry-run=client``)."""
    report = ApplyReport(bundle.axon, dry_run="client")
    for m in bundle:
        report.add(m["kind"], m["metadata"]["name"], "planned", m["metadata"].get("namespace"))
    return report


def submit(
    axon: Axon,
    options: CompileOptions | None = None,
    *,
    namespace: str | None = None,
    context: str | None = None,
    kubeconfig: str | None = None,
    dry_run: str | None = None,
) -> ApplyReport:
    """Compile ``axon`` and apply it: what ``Axon.submit()`` calls. ``namespace`` is also compiled in (when
    ``options`` sets none) so that URLs between objects name it; ``dry_run`` is None, "server" or "client"."""
    from ..config import CompileOptions

    if dry_run not in DRY_RUN_MODES:
        raise MyelinError(f"dry_run must be one of None, 'server', 'client', not {dry_run!r}")
    options = options or CompileOptions.from_env()
    if namespace and options.namespace and namespace != options.namespace:
        # the bundle names its namespace inside (RoleBinding subjects, webhook URLs): it must be the same
        raise MyelinError(
            f"namespace {namespace!r} differs from the compile option namespace {options.namespace!r}: the "
            "manifests name their namespace inside (RoleBinding, webhook URLs); give one namespace"
        )
    if namespace and not options.namespace:
        options = dataclasses.replace(options, namespace=namespace)
    bundle = axon.compile(options)
    if dry_run == "client":
        return plan(bundle)
    return connect(context, kubeconfig).apply(
        bundle, namespace=namespace or options.namespace, dry_run=dry_run
    )
