"""Side effects on a cluster: submit a compiled axon through the Kubernetes API.

>>> cluster = connect(context="kind-ml")                                   # doctest: +SKIP
>>> report = cluster.apply(axon.compile(CompileOptions(namespace="ml")), namespace="ml")  # doctest: +SKIP
>>> print(report.format())                                                 # doctest: +SKIP

Or in one call, what ``myelin submit`` and ``Axon.submit()`` do: ``submit(axon, namespace="ml")``. Objects are
sent by server-side apply with the field manager ``myelin``; a field another manager owns with another value
is an :class:`ApplyConflictError` unless ``force_conflicts=True``. ``cluster.diff(bundle)`` is what
``myelin diff`` prints. This package imports neither the compiler nor hera (the read-only commands start at
once); the compiler is imported by :func:`submit` only.
Every failure a user can meet (no kubeconfig, an unreachable server, a missing CRD or namespace, a refused
verb) is a :class:`~myelin_sdk.errors.MyelinError` with one readable line, never a client traceback.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..errors import MyelinError
from .apply import (
    APPLIED_HASH,
    APPLY_PATCH,
    PRUNABLE,
    Applier,
    ApplyConflictError,
    Conflict,
    missing_message,
    selector,
)
from .diff import BundleDiff, ObjectDiff
from .fetch import MAX_BYTES, fetch_text, is_url, load_axon_url
from .labels import FIELD_MANAGER
from .report import ApplyReport, Change
from .transport import HttpError, Resource, Transport

if TYPE_CHECKING:
    from ..compiler.bundle import Bundle
    from ..config import CompileOptions
    from ..spec import Axon

__all__ = [
    "APPLIED_HASH",
    "APPLY_PATCH",
    "FIELD_MANAGER",
    "MAX_BYTES",
    "PRUNABLE",
    "ApplyConflictError",
    "ApplyReport",
    "BundleDiff",
    "Change",
    "Cluster",
    "Conflict",
    "HttpError",
    "ObjectDiff",
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

    def apply(
        self,
        bundle: Bundle,
        namespace: str | None = None,
        dry_run: str | None = None,
        force_conflicts: bool = False,
    ) -> ApplyReport:
        """Server-side apply every object of ``bundle`` in order (field manager ``myelin``), then prune the
        axon's objects that the bundle no longer holds. ``namespace`` overrides the manifests' own (else
        theirs, else the context's). ``dry_run="server"``: every write is sent with ``dryRun=All`` and
        nothing is pruned. A field that another manager owns with another value is a conflict: every other
        object is applied, nothing is pruned, and :class:`ApplyConflictError` names each field and manager;
        ``force_conflicts=True`` takes such fields over instead."""
        if dry_run not in (None, "server"):
            raise MyelinError(f"Cluster.apply: dry_run must be None or 'server', not {dry_run!r}")
        applier = Applier(self.transport, namespace, self.default_namespace, dry_run, force_conflicts)
        return applier.apply(bundle)

    def diff(self, bundle: Bundle, namespace: str | None = None, force_conflicts: bool = False) -> BundleDiff:
        """What :meth:`apply` would change: each object applied in a server dry run, compared with the live
        one; the objects it would prune as removed. Writes nothing. Conflicts raise as for :meth:`apply`."""
        applier = Applier(self.transport, namespace, self.default_namespace, "server", force_conflicts)
        outcomes, conflicts, namespaces = applier.apply_objects(bundle)
        if conflicts:
            raise ApplyConflictError(conflicts)
        diff = BundleDiff(bundle.axon)
        for o in outcomes:
            version = (o.result or o.live or {}).get("apiVersion", "")
            diff.objects.append(ObjectDiff(version, o.resource.kind, o.name, o.namespace, o.live, o.result))
        for resource, ns, item in applier.prunable(bundle, outcomes, namespaces):
            name = item["metadata"]["name"]
            diff.objects.append(ObjectDiff(item.get("apiVersion", ""), resource.kind, name, ns, item, None))
        return diff


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
    force_conflicts: bool = False,
) -> ApplyReport:
    """Compile ``axon`` and apply it: what ``Axon.submit()`` calls. ``namespace`` is also compiled in (when
    ``options`` sets none) so that URLs between objects name it; ``dry_run`` is None, "server" or "client";
    ``force_conflicts`` takes over the fields other field managers own (see :meth:`Cluster.apply`)."""
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
        bundle, namespace=namespace or options.namespace, dry_run=dry_run, force_conflicts=force_conflicts
    )
