"""Create-or-replace of a bundle, then pruning of what the axon no longer declares.

For each manifest, in bundle order: GET; absent -> POST; present -> PUT with the fetched
``metadata.resourceVersion``, unless the live object already holds everything we set (then nothing is sent:
re-submitting an unchanged axon changes nothing). A ``Workflow`` annotated ``myelin.io/create-once`` is only
ever created. Every write carries ``dryRun=All`` in a server dry run.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from ..compiler.bundle import Bundle, Manifest
from ..compiler.meta import AXON_LABEL, PART_OF
from ..compiler.sensors import CREATE_ONCE
from ..errors import Diagnostic, MyelinError
from .report import ApplyReport
from .transport import HttpError, Resource, Transport, group_version

#: Set on every applied object: a hash of the manifest as compiled, so that a field removed from the axon
#: is noticed even though the live object still has it.
APPLIED_HASH = "myelin.io/applied-hash"

#: The kinds the compiler can emit that pruning looks for (apiVersion, kind). Never Workflows (runs are
#: history) and never PersistentVolumeClaims (they hold the models and data; delete them on purpose).
PRUNABLE: tuple[tuple[str, str], ...] = (
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("argoproj.io/v1alpha1", "WorkflowTemplate"),
    ("argoproj.io/v1alpha1", "EventSource"),
    ("argoproj.io/v1alpha1", "Sensor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"),
)
NEVER_PRUNED = frozenset({"Workflow", "PersistentVolumeClaim"})

#: Plural names of the kinds we know, for the message when their CRD is missing (discovery cannot say).
PLURALS = {
    "Workflow": "workflows",
    "WorkflowTemplate": "workflowtemplates",
    "EventSource": "eventsources",
    "Sensor": "sensors",
    "AnalysisRun": "analysisruns",
    "SeldonDeployment": "seldondeployments",
    "PrometheusRule": "prometheusrules",
    "AlertmanagerConfig": "alertmanagerconfigs",
}
PRODUCTS = {
    ("argoproj.io", "workflows"): "Argo Workflows",
    ("argoproj.io", "workflowtemplates"): "Argo Workflows",
    ("argoproj.io", "eventsources"): "Argo Events",
    ("argoproj.io", "sensors"): "Argo Events",
    ("argoproj.io", "analysisruns"): "Argo Rollouts",
    ("machinelearning.seldon.io", ""): "Seldon Core v1",
    ("monitoring.coreos.com", ""): "prometheus-operator",
}


def missing_message(api_version: str, kind: str) -> str:
    """What to tell when the cluster does not serve ``kind``."""
    group, _ = group_version(api_version)
    plural = PLURALS.get(kind, kind.lower() + "s")
    product = PRODUCTS.get((group, plural)) or PRODUCTS.get((group, ""))
    crd = f"{plural}.{group}" if group else plural
    if product is None:
        return f"the cluster does not serve {kind} ({api_version}): the `{crd}` resource was not found"
    return f"{product} is not installed in this cluster: the `{crd}` CRD was not found — see docs/install.md"


def selector(axon: str) -> str:
    return f"{PART_OF}=myelin,{AXON_LABEL}={axon}"


class Applier:
    """One apply of one bundle."""

    def __init__(
        self, transport: Transport, namespace: str | None, default_namespace: str, dry_run: str | None
    ) -> None:
        self.transport = transport
        self.namespace = namespace  # overrides the manifests' own
        self.default_namespace = default_namespace  # for manifests without one
        self.dry_run = dry_run

    # --- requests with their errors made readable ------------------------------------------------------

    def _call(
        self,
        verb: str,
        method: str,
        resource: Resource,
        namespace: str | None,
        name: str | None = None,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        query = list(query or [])
        if self.dry_run == "server" and method in ("POST", "PUT", "DELETE"):
            query.append(("dryRun", "All"))
        try:
            return self.transport.request(method, resource.path(namespace, name), query, body)
        except HttpError as exc:
            raise self._error(exc, verb, resource, namespace, name) from None

    def _error(
        self, exc: HttpError, verb: str, resource: Resource, namespace: str | None, name: str | None
    ) -> Exception:
        where = f" in namespace {namespace}" if namespace and resource.namespaced else ""
        if exc.status in (401, 403):
            word = "unauthorized" if exc.status == 401 else "forbidden"
            return MyelinError(
                f"{word}: cannot {verb} {resource.qualified}{where} ({exc.status}): {exc.message}"
            )
        details = exc.body.get("details") or {}
        if (
            exc.status == 404
            and namespace
            and verb in ("create", "update")
            and (details.get("kind") == "namespaces" or f'namespaces "{namespace}" not found' in exc.message)
        ):
            return MyelinError(
                f"namespace '{namespace}' does not exist: create it with kubectl create namespace {namespace}"
            )
        if exc.status in (404, 409):
            return exc  # the caller decides
        what = f"{resource.kind} {name}" if name else resource.qualified
        reason = f" {exc.reason}" if exc.reason else ""
        return MyelinError(f"cannot {verb} {what}{where} ({exc.status}{reason}): {exc.message}")

    # --- apply -----------------------------------------------------------------------------------------

    def resolve(self, bundle: Bundle) -> list[tuple[Manifest, Resource]]:
        """Every manifest with its resource; all missing CRDs at once, before anything is written."""
        out, missing = [], []
        for manifest in bundle:
            resource = self.transport.resource(manifest["apiVersion"], manifest["kind"])
            if resource is None:
                message = missing_message(manifest["apiVersion"], manifest["kind"])
                if message not in missing:
                    missing.append(message)
            else:
                out.append((manifest, resource))
        if missing:
            raise MyelinError([Diagnostic("", m) for m in missing])
        return out

    def apply(self, bundle: Bundle) -> ApplyReport:
        report = ApplyReport(bundle.axon, dry_run=self.dry_run)
        applied: set[tuple[str, str | None, str]] = set()
        namespaces: set[str] = set()
        for manifest, resource in self.resolve(bundle):
            desired = self.desired(manifest, resource)
            namespace = desired["metadata"].get("namespace")
            name = desired["metadata"]["name"]
            action = self.apply_one(desired, resource, namespace, name)
            report.add(
                resource.kind,
                name,
                action,
                namespace,
                "create-once, exists" if action == "skipped" else "",
            )
            applied.add((resource.kind, namespace, name))
            if namespace:
                namespaces.add(namespace)
        self.prune(bundle, applied, namespaces or {self.namespace or self.default_namespace}, report)
        return report

    def desired(self, manifest: Manifest, resource: Resource) -> Manifest:
        """The manifest as sent: namespace set (or removed, for a cluster-scoped kind), hash annotated."""
        body = copy.deepcopy(manifest)
        metadata = body.setdefault("metadata", {})
        if resource.namespaced:
            metadata["namespace"] = self.namespace or metadata.get("namespace") or self.default_namespace
        else:
            metadata.pop("namespace", None)
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
        metadata.setdefault("annotations", {})[APPLIED_HASH] = digest
        return body

    def apply_one(self, desired: Manifest, resource: Resource, namespace: str | None, name: str) -> str:
        live = self.get(resource, namespace, name)
        if live is None:
            try:
                self._call("create", "POST", resource, namespace, body=desired)
                return "created"
            except HttpError as exc:
                if exc.status != 409:
                    raise self._fail(exc, "create", resource, name) from None
            live = self.get(resource, namespace, name)  # created meanwhile: replace it
            if live is None:
                raise MyelinError(f"{resource.kind} {name} was reported to exist but cannot be read back")
        if create_once(desired):
            return "skipped"
        if unchanged(live, desired):
            return "unchanged"
        for attempt in (1, 2):
            body = copy.deepcopy(desired)
            if resource.kind == "PersistentVolumeClaim":  # most of a claim's spec is immutable
                body["spec"] = {**live.get("spec", {}), **body.get("spec", {})}
            body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
            try:
                self._call("update", "PUT", resource, namespace, name, body=body)
                return "replaced"
            except HttpError as exc:
                if exc.status != 409 or attempt == 2:
                    raise self._fail(exc, "update", resource, name) from None
            live = self.get(resource, namespace, name)  # changed meanwhile: once more on the new version
            if live is None:
                raise MyelinError(f"{resource.kind} {name} was deleted while being replaced")
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return self._call("get", "GET", resource, namespace, name)
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise self._fail(exc, "get", resource, name) from None

    def _fail(self, exc: HttpError, verb: str, resource: Resource, name: str) -> MyelinError:
        return MyelinError(
            f"cannot {verb} {resource.kind} {name} ({exc.status}"
            f"{' ' + exc.reason if exc.reason else ''}): {exc.message}"
        )

    # --- prune -----------------------------------------------------------------------------------------

    def prune(
        self,
        bundle: Bundle,
        applied: set[tuple[str, str | None, str]],
        namespaces: set[str],
        report: ApplyReport,
    ) -> None:
        kinds = list(PRUNABLE)
        kinds += [(m["apiVersion"], m["kind"]) for m in bundle if (m["apiVersion"], m["kind"]) not in kinds]
        for api_version, kind in kinds:
            resource = self.transport.resource(api_version, kind)
            if resource is None or kind in NEVER_PRUNED:
                continue
            for namespace in sorted(namespaces) if resource.namespaced else [None]:
                query = [("labelSelector", selector(bundle.axon))]
                try:
                    listing = self._call("list", "GET", resource, namespace, query=query)
                except HttpError as exc:
                    raise self._fail(exc, "list", resource, "") from None
                for item in listing.get("items", []):
                    name = item["metadata"]["name"]
                    if (kind, namespace, name) in applied:
                        continue
                    if self.dry_run is None:
                        try:
                            self._call("delete", "DELETE", resource, namespace, name)
                        except HttpError as exc:
                            if exc.status != 404:  # gone meanwhile is fine
                                raise self._fail(exc, "delete", resource, name) from None
                    report.add(kind, name, "pruned", namespace)


def create_once(manifest: Manifest) -> bool:
    annotations = manifest.get("metadata", {}).get("annotations") or {}
    return bool(manifest.get("kind") == "Workflow" and annotations.get(CREATE_ONCE) == "true")


def unchanged(live: dict[str, Any], desired: Manifest) -> bool:
    """The live object holds everything we set: our labels and annotations (the applied hash among them, so
    a removed field counts as a change) and every other top-level field; the server's defaults and its
    bookkeeping (status, managedFields, resourceVersion) do not count."""
    live_md, want_md = live.get("metadata", {}), desired.get("metadata", {})
    for key in ("labels", "annotations"):
        if not contains(live_md.get(key) or {}, want_md.get(key) or {}):
            return False
    return all(
        key in live and contains(live[key], value)
        for key, value in desired.items()
        if key not in ("apiVersion", "kind", "metadata", "status")
    )


def contains(live: Any, want: Any) -> bool:
    """``want`` is ``live`` but for keys the server added (defaults): dicts by key, lists item by item."""
    if isinstance(want, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(live, list)
            and len(live) == len(want)
            and all(contains(a, b) for a, b in zip(live, want, strict=True))
        )
    return bool(live == want)
