"""Server-side apply of a bundle, then pruning of what the axon no longer declares.

For each manifest, in bundle order: a GET (to tell created, configured and unchanged apart, and for
``myelin diff``), then a server-side apply: ``PATCH`` with ``Content-Type: application/apply-patch+yaml`` and
``fieldManager=myelin`` (https://kubernetes.io/docs/reference/using-api/server-side-apply/). The API server
merges the fields myelin sets into the live object, keeps the fields other managers set (an autoscaler's
replicas, an operator's annotations), removes those myelin set before and no longer does, and answers 409
Conflict when myelin would change a field another manager owns, unless ``force=true``
(``--force-conflicts``). An unchanged bundle changes nothing. A ``Workflow`` annotated
``myelin.io/create-once`` is only ever created (a POST; 409 AlreadyExists: skipped). In a server dry run every
write carries ``dryRun=All``. Objects written by myelin before server-side apply are moved to the field
manager ``myelin`` once (:meth:`Applier.migrate`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic, MyelinError
from .labels import AXON_LABEL, CREATE_ONCE, FIELD_MANAGER, PART_OF
from .report import ApplyReport
from .transport import HttpError, Resource, Transport, group_version

if TYPE_CHECKING:
    from ..compiler.bundle import Bundle, Manifest

#: The content type of a server-side apply (a JSON body is valid YAML).
APPLY_PATCH = "application/apply-patch+yaml"

#: The annotation that myelin before server-side apply set on every object (a hash of it as compiled, to
#: notice removed fields); no longer sent: managed fields do that now. It marks the objects to migrate.
APPLIED_HASH = "myelin.io/applied-hash"
#: The field manager the API server recorded for those objects: myelin created and replaced them (POST,
#: PUT) through the Python client without a ``fieldManager``, so the server named it after the User-Agent
#: (``OpenAPI-Generator/<version>/python``).
LEGACY_MANAGER = "OpenAPI-Generator"

#: The kinds the compiler can emit that pruning looks for (apiVersion, kind). Never Workflows (runs are
#: history) and never PersistentVolumeClaims (they hold the models and data; delete them on purpose).
PRUNABLE: tuple[tuple[str, str], ...] = (
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("argoproj.io/v1alpha1", "WorkflowTemplate"),
    ("argoproj.io/v1alpha1", "EventSource"),
    ("networking.k8s.io/v1", "NetworkPolicy"),  # the webhook's (compiler.network)
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
    "NetworkPolicy": "networkpolicies",
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


def selector(axon: str) -> str:
    """The label selector of every object of ``axon``."""
    return f"{PART_OF}=myelin,{AXON_LABEL}={axon}"


def missing_message(api_version: str, kind: str) -> str:
    """What to tell when the cluster does not serve ``kind``."""
    group, _ = group_version(api_version)
    plural = PLURALS.get(kind, kind.lower() + "s")
    product = PRODUCTS.get((group, plural)) or PRODUCTS.get((group, ""))
    crd = f"{plural}.{group}" if group else plural
    if product is None:
        return f"the cluster does not serve {kind} ({api_version}): the `{crd}` resource was not found"
    return f"{product} is not installed in this cluster: the `{crd}` CRD was not found — see docs/install.md"


@dataclass(frozen=True)
class Conflict:
    """Fields of one object that other field managers own with other values (the 409 of an apply)."""

    kind: str
    name: str
    namespace: str | None
    #: ``(".spec.template", '"kubectl-edit" using argoproj.io/v1alpha1')``: each field and its manager, as
    #: the API server names them in the causes of its answer
    fields: tuple[tuple[str, str], ...]
    #: the server's message, for a 409 without such causes
    message: str = ""

    def format(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        head = f"conflict: {self.kind} {self.name}{where}"
        if not self.fields:
            return f"{head}: {self.message}"
        by_manager: dict[str, list[str]] = {}
        for field, manager in self.fields:
            by_manager.setdefault(manager, []).append(field)
        one = len(self.fields) == 1
        value = "set to another value by" if one else "set to other values by"
        owned = "; ".join(
            f"{', '.join(fields)} {value if i == 0 else 'by'} {manager}"
            for i, (manager, fields) in enumerate(by_manager.items())
        )
        return f"{head}: {owned} — pass --force-conflicts to take {'it' if one else 'them'} over"


class ApplyConflictError(MyelinError):
    """An apply met conflicts: one line per object. ``report`` holds what was applied meanwhile (the other
    objects; nothing was pruned)."""

    def __init__(
        self, conflicts: list[Conflict], report: ApplyReport | None = None, source: str | None = None
    ) -> None:
        super().__init__([Diagnostic("", c.format()) for c in conflicts], source)
        self.conflicts = conflicts
        self.report = report

    def with_source(self, source: str) -> MyelinError:
        return self if self.source else ApplyConflictError(self.conflicts, self.report, source)


def conflict_of(exc: HttpError, kind: str, name: str, namespace: str | None) -> Conflict:
    """The conflict a 409 answer to an apply describes: each cause ``{"reason": "FieldManagerConflict",
    "message": 'conflict with "m" using v1', "field": ".spec.x"}`` (``reason`` is how the API server
    serialises a cause's type; ``type`` is read too, and a message that repeats the field is cut)."""
    causes = (exc.body.get("details") or {}).get("causes") or []
    fields = []
    for cause in causes:
        if (
            not isinstance(cause, dict)
            or (cause.get("reason") or cause.get("type")) != "FieldManagerConflict"
        ):
            continue
        field = str(cause.get("field") or "?")
        manager = str(cause.get("message") or "").removeprefix("conflict with ").removesuffix(f": {field}")
        fields.append((field, manager.strip() or "another manager"))
    return Conflict(kind, name, namespace, tuple(fields), exc.message)


@dataclass
class Outcome:
    """What an apply did (or, in a dry run, would do) to one object: the object before and after."""

    resource: Resource
    name: str
    namespace: str | None
    action: str
    live: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    note: str = ""


class Applier:
    """One apply of one bundle."""

    def __init__(
        self,
        transport: Transport,
        namespace: str | None,
        default_namespace: str,
        dry_run: str | None,
        force: bool = False,
    ) -> None:
        self.transport = transport
        self.namespace = namespace  # overrides the manifests' own
        self.default_namespace = default_namespace  # for manifests without one
        self.dry_run = dry_run
        self.force = force  # take over the fields other managers own (force=true)

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
        content_type: str | None = None,
    ) -> dict[str, Any]:
        query = list(query or [])
        if self.dry_run == "server" and method in ("POST", "PUT", "PATCH", "DELETE"):
            query.append(("dryRun", "All"))
        try:
            return self.transport.request(
                method, resource.path(namespace, name), query, body, content_type=content_type
            )
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
            and verb in ("create", "update", "patch")
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

    def _fail(self, exc: HttpError, verb: str, resource: Resource, name: str) -> MyelinError:
        return MyelinError(
            f"cannot {verb} {resource.kind} {name} ({exc.status}"
            f"{' ' + exc.reason if exc.reason else ''}): {exc.message}"
        )

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
        """Apply every object, then prune; :class:`ApplyConflictError` (after the other objects were
        applied, before any pruning) when some conflicted."""
        outcomes, conflicts, namespaces = self.apply_objects(bundle)
        report = ApplyReport(bundle.axon, dry_run=self.dry_run)
        for o in outcomes:
            report.add(o.resource.kind, o.name, o.action, o.namespace, o.note)
        if conflicts:
            raise ApplyConflictError(conflicts, report)
        for resource, namespace, item in self.prunable(bundle, outcomes, namespaces):
            name = item["metadata"]["name"]
            if self.dry_run is None:
                try:
                    self._call("delete", "DELETE", resource, namespace, name)
                except HttpError as exc:
                    if exc.status != 404:  # gone meanwhile is fine
                        raise self._fail(exc, "delete", resource, name) from None
            report.add(resource.kind, name, "pruned", namespace)
        return report

    def apply_objects(self, bundle: Bundle) -> tuple[list[Outcome], list[Conflict], set[str]]:
        """Apply each object in bundle order: what was done, the conflicts met, the namespaces applied to."""
        outcomes: list[Outcome] = []
        conflicts: list[Conflict] = []
        namespaces: set[str] = set()
        for manifest, resource in self.resolve(bundle):
            desired = self.desired(manifest, resource)
            namespace = desired["metadata"].get("namespace")
            if namespace:
                namespaces.add(namespace)
            outcome = self.apply_one(desired, resource, namespace, desired["metadata"]["name"])
            (conflicts if isinstance(outcome, Conflict) else outcomes).append(outcome)  # type: ignore[arg-type]
        return outcomes, conflicts, namespaces or {self.namespace or self.default_namespace}

    def desired(self, manifest: Manifest, resource: Resource) -> Manifest:
        """The manifest as sent: namespace set (or removed, for a cluster-scoped kind)."""
        body = copy.deepcopy(manifest)
        metadata = body.setdefault("metadata", {})
        if resource.namespaced:
            metadata["namespace"] = self.namespace or metadata.get("namespace") or self.default_namespace
        else:
            metadata.pop("namespace", None)
        return body

    def apply_one(
        self, desired: Manifest, resource: Resource, namespace: str | None, name: str
    ) -> Outcome | Conflict:
        live = self.get(resource, namespace, name)
        if create_once(desired):
            if live is not None:
                return Outcome(resource, name, namespace, "skipped", live, live, "create-once, exists")
            try:
                created = self._call("create", "POST", resource, namespace, body=desired)
            except HttpError as exc:
                if exc.status == 409 and exc.reason == "AlreadyExists":  # created meanwhile
                    return Outcome(resource, name, namespace, "skipped", None, None, "create-once, exists")
                raise self._fail(exc, "create", resource, name) from None
            return Outcome(resource, name, namespace, "created", None, created)
        force = self.force
        if live is not None and legacy(live):
            if self.dry_run:
                force = True  # as after the migration: the fields old myelin set are myelin's
            else:
                live = self.migrate(resource, namespace, name, live)
        verb = "create" if live is None else "patch"
        query = [("fieldManager", FIELD_MANAGER)] + ([("force", "true")] if force else [])
        try:
            result = self._call(
                verb, "PATCH", resource, namespace, name, json.dumps(desired), query, APPLY_PATCH
            )
        except HttpError as exc:
            if exc.status == 409:
                return conflict_of(exc, resource.kind, name, namespace)
            raise self._fail(exc, verb, resource, name) from None
        if live is None:
            action = "created"
        else:
            action = "unchanged" if _comparable(live) == _comparable(result) else "configured"
        return Outcome(resource, name, namespace, action, live, result)

    def migrate(
        self, resource: Resource, namespace: str | None, name: str, live: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Make the fields that myelin set before server-side apply (as the manager ``OpenAPI-Generator``,
        operation ``Update``) myelin's applied fields, as kubectl does when it moves an object from
        client-side to server-side apply: one PUT of ``metadata.managedFields``
        (https://kubernetes.io/docs/reference/using-api/server-side-apply/#upgrading-from-client-side-apply-to-server-side-apply).
        Without it, changing any of those fields would conflict with that old manager. Changed meanwhile
        (409): the object as it now is, unmigrated."""
        entries = live["metadata"].get("managedFields") or []
        old = [
            e
            for e in entries
            if is_legacy(e) or (e.get("manager"), e.get("operation")) == (FIELD_MANAGER, "Apply")
        ]
        fields: dict[str, Any] = {}
        for entry in old:
            fields = _union(fields, entry.get("fieldsV1") or {})
        mine = {
            "manager": FIELD_MANAGER,
            "operation": "Apply",
            "apiVersion": live.get("apiVersion", ""),
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
            **({"time": old[-1]["time"]} if old and old[-1].get("time") else {}),
        }
        body = copy.deepcopy(live)
        body["metadata"]["managedFields"] = [e for e in entries if e not in old] + [mine]
        try:
            return self._call("update", "PUT", resource, namespace, name, body=body)
        except HttpError as exc:
            if exc.status == 409:
                return self.get(resource, namespace, name)
            raise self._fail(exc, "update", resource, name) from None

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return self._call("get", "GET", resource, namespace, name)
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise self._fail(exc, "get", resource, name) from None

    # --- prune -----------------------------------------------------------------------------------------

    def prunable(
        self, bundle: Bundle, outcomes: list[Outcome], namespaces: set[str]
    ) -> list[tuple[Resource, str | None, dict[str, Any]]]:
        """The live objects of the axon, of the kinds it may prune, that the bundle no longer holds."""
        applied = {(o.resource.kind, o.namespace, o.name) for o in outcomes}
        kinds = list(PRUNABLE)
        kinds += [(m["apiVersion"], m["kind"]) for m in bundle if (m["apiVersion"], m["kind"]) not in kinds]
        out = []
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
                    if (kind, namespace, item["metadata"]["name"]) not in applied:
                        out.append((resource, namespace, item))
        return out


def create_once(manifest: Manifest) -> bool:
    annotations = manifest.get("metadata", {}).get("annotations") or {}
    return bool(manifest.get("kind") == "Workflow" and annotations.get(CREATE_ONCE) == "true")


def is_legacy(entry: dict[str, Any]) -> bool:
    return (entry.get("manager"), entry.get("operation")) == (LEGACY_MANAGER, "Update")


def legacy(live: dict[str, Any]) -> bool:
    """Written by myelin before server-side apply, and not migrated yet (see :meth:`Applier.migrate`)."""
    metadata = live.get("metadata") or {}
    return APPLIED_HASH in (metadata.get("annotations") or {}) and any(
        is_legacy(e) for e in metadata.get("managedFields") or []
    )


def _union(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The union of two FieldsV1 sets."""
    out = copy.deepcopy(a)
    for key, value in b.items():
        out[key] = _union(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without what changes when nothing does: ``resourceVersion`` (which a dry run does not bump
    either) and the times of the managed fields entries."""
    obj = copy.deepcopy(obj)
    metadata = obj.get("metadata") or {}
    metadata.pop("resourceVersion", None)
    for entry in metadata.get("managedFields") or []:
        entry.pop("time", None)
    return obj
