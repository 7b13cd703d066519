"""A local HTTP server playing the Kubernetes API server's documented REST contract, for the client tests.

No Kubernetes API server can run here; these tests check the client against a local server playing the
documented API contract (https://kubernetes.io/docs/reference/using-api/api-concepts/):

- discovery: ``/api``, ``/apis``, ``/api/v1`` and ``/apis/<group>/<version>`` resource lists (which CRDs
  exist is configurable; a group version with no resources answers 404);
- GET / POST / PUT / DELETE on objects, LIST with an equality ``labelSelector`` on namespaced collections,
  and across every namespace on the cluster-wide path (``/apis/argoproj.io/v1alpha1/workflows``);
- 201 on create, 409 ``AlreadyExists`` on creating an existing name, ``resourceVersion`` bumped on every write
  and required on PUT (422 when missing, 409 ``Conflict`` when stale);
- server-side apply (https://kubernetes.io/docs/reference/using-api/server-side-apply/): ``PATCH`` with
  ``Content-Type: application/apply-patch+yaml`` and a required ``fieldManager``; creates the object when
  absent (201; the ``create`` right is needed too), else merges it (200). Managed fields are kept per manager
  in ``metadata.managedFields`` (operation ``Apply`` for applies, ``Update`` for POST and PUT, whose manager
  is ``fieldManager`` or the User-Agent's product), as FieldsV1 sets; every list is atomic and every map
  granular, as for a custom resource without merge markers. A field owned by another manager that the apply
  sets to another value is a 409 ``Conflict`` whose causes name it (``FieldManagerConflict``, the manager,
  the field), unless ``force=true``, which takes it over; a field set to the live value becomes shared;
  fields the applier owned and now omits are removed unless another manager owns them; an apply that changes
  nothing writes nothing (no new ``resourceVersion``). ``managedFields`` in an apply body is a 400, other
  patch types a 415;
- ``dryRun=All``: validated and answered, never persisted;
- 403 ``Forbidden`` for configured (verb, resource) pairs; 404 ``namespaces "x" not found`` on writes into an
  unknown namespace; every error body a ``Status`` object;
- server-side defaults on PersistentVolumeClaims (``volumeMode``, ``storageClassName``), as a real server
  adds;
- ``GET /api/v1/namespaces/<ns>/pods/<pod>/log?container=&tailLines=`` answering ``text/plain`` (from
  ``server.logs``; 400 ``BadRequest`` for a container the pod does not have, as the kubelet's answer);
  with ``follow=true`` a chunked ``text/plain`` stream: the log so far, then each chunk a test puts in
  ``server.follow[(namespace, pod, container)]`` (a queue) as it arrives, ending at ``None`` (the container
  ended) — without a queue the stream ends after the log so far, as for a finished pod;
- objects put in place by a test with :meth:`FakeAPIServer.add` (as controllers would: Workflows with
  ``status.phase``, Sensors with ``status.conditions``, SeldonDeployments with ``status.state``, pods), and a
  ``before`` hook run before each request is answered, to change them after N polls.

Every request is recorded (method, path, query, body) in ``server.requests``.
"""

from __future__ import annotations

import copy
import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

# (group, version) -> [(plural, kind, namespaced)]
CORE = {
    ("", "v1"): [
        ("namespaces", "Namespace", False),
        ("serviceaccounts", "ServiceAccount", True),
        ("persistentvolumeclaims", "PersistentVolumeClaim", True),
        ("pods", "Pod", True),
    ],
    ("rbac.authorization.k8s.io", "v1"): [("roles", "Role", True), ("rolebindings", "RoleBinding", True)],
    ("networking.k8s.io", "v1"): [("networkpolicies", "NetworkPolicy", True)],
}
ARGO_WORKFLOWS = {
    ("argoproj.io", "v1alpha1"): [
        ("workflows", "Workflow", True),
        ("workflowtemplates", "WorkflowTemplate", True),
    ]
}
ARGO_EVENTS = {
    ("argoproj.io", "v1alpha1"): [("eventsources", "EventSource", True), ("sensors", "Sensor", True)]
}
PROMETHEUS_OPERATOR = {
    ("monitoring.coreos.com", "v1"): [("prometheusrules", "PrometheusRule", True)],
    ("monitoring.coreos.com", "v1alpha1"): [("alertmanagerconfigs", "AlertmanagerConfig", True)],
}
SELDON_CORE = {("machinelearning.seldon.io", "v1"): [("seldondeployments", "SeldonDeployment", True)]}
INSTALLS = {
    "argo-workflows": ARGO_WORKFLOWS,
    "argo-events": ARGO_EVENTS,
    "prometheus-operator": PROMETHEUS_OPERATOR,
    "seldon-core": SELDON_CORE,
}


class Text(str):
    """An answer sent as ``text/plain`` (a pod's log), not JSON."""


@dataclass
class Stream:
    """A ``follow=true`` log answer: ``text`` at once, then the chunks of ``more`` until ``None``."""

    text: str
    more: queue.Queue[str | None] | None

    def chunks(self) -> Iterator[str]:
        if self.text:
            yield self.text
        while self.more is not None:
            chunk = self.more.get(timeout=30)
            if chunk is None:
                return
            yield chunk


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    content_type: str = ""

    @property
    def write(self) -> bool:
        return self.method in ("POST", "PUT", "DELETE", "PATCH")


@dataclass
class FakeAPIServer:
    installed: tuple[str, ...] = tuple(INSTALLS)
    namespaces: set[str] = field(default_factory=lambda: {"default", "ml"})
    forbidden: set[tuple[str, str]] = field(default_factory=set)  # (verb, plural), e.g. ("create", "sensors")
    requests: list[Request] = field(default_factory=list)
    objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(
        default_factory=dict
    )  # group, plural, ns, name
    resource_version: int = 100
    #: (namespace, pod, container) -> the container's log
    logs: dict[tuple[str, str, str], str] = field(default_factory=dict)
    #: (namespace, pod, container) -> what a ``follow=true`` stream sends after the log (None: the end)
    follow: dict[tuple[str, str, str], queue.Queue[str | None]] = field(default_factory=dict)
    #: called with (server, request) before each request is answered, under the server's lock
    before: Callable[[FakeAPIServer, Request], None] | None = None
    #: answer every request with this status (401: expired credentials, 500: a broken API server)
    refuse_all: int | None = None

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.resources: dict[tuple[str, str], list[tuple[str, str, bool]]] = {}
        for install in [CORE, *(INSTALLS[name] for name in self.installed)]:
            for gv, items in install.items():
                self.resources.setdefault(gv, []).extend(items)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._agent = ""

    # --- lifecycle and helpers for tests ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FakeAPIServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def kubeconfig(self, directory: Path, namespace: str | None = None) -> Path:
        """A kubeconfig pointing at this server over plain HTTP, without credentials."""
        context: dict[str, Any] = {"cluster": "fake", "user": "fake"}
        if namespace:
            context["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {}}],
            "contexts": [{"name": "fake", "context": context}],
            "current-context": "fake",
        }
        path = directory / "kubeconfig"
        path.write_text(json.dumps(config))
        return path

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.write]

    def stored(self, plural: str, name: str, namespace: str = "ml") -> dict[str, Any] | None:
        for (_, p, ns, n), obj in self.objects.items():
            if (p, ns, n) == (plural, namespace, name):
                return obj
        return None

    def add(self, obj: dict[str, Any], namespace: str = "ml", created: str = "2024-01-01T00:00:00Z") -> None:
        """Store ``obj`` as a controller would have created it (its kind must be served)."""
        group, _, version = obj["apiVersion"].rpartition("/")
        plural = next(p for p, k, _ in self.resources[(group, version)] if k == obj["kind"])
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        md.setdefault("namespace", namespace)
        md.setdefault("uid", f"uid-{md['name']}")
        md.setdefault("creationTimestamp", created)
        with self.lock:
            self.resource_version += 1
            md["resourceVersion"] = str(self.resource_version)
            self.objects[(group, plural, md["namespace"], md["name"])] = obj

    def edit(
        self,
        plural: str,
        name: str,
        change: Callable[[dict[str, Any]], None],
        manager: str = "kubectl-edit",
        namespace: str = "ml",
    ) -> dict[str, Any]:
        """What ``kubectl edit`` does: a PUT of the stored object changed by ``change``, as ``manager``."""
        key = next(k for k in self.objects if (k[1], k[2], k[3]) == (plural, namespace, name))
        obj = copy.deepcopy(self.objects[key])
        change(obj)
        path = f"{collection_path(obj, namespace)}/{name}"
        code, answer = self.handle("PUT", path, {"fieldManager": [manager]}, obj)
        assert code == 200, answer
        return dict(answer)

    def apply_as(
        self, manager: str, obj: dict[str, Any], namespace: str = "ml", force: bool = False
    ) -> tuple[int, Any]:
        """A server-side apply of ``obj`` by another field manager (an operator, ``kubectl apply``)."""
        path = f"{collection_path(obj, namespace)}/{obj['metadata']['name']}"
        query = {"fieldManager": [manager], **({"force": ["true"]} if force else {})}
        return self.handle("PATCH", path, query, obj, content_type=APPLY_PATCH)

    def managers(self, plural: str, name: str, namespace: str = "ml") -> dict[str, set[str]]:
        """``{manager/operation: {".spec.x", ...}}`` of a stored object."""
        obj = self.stored(plural, name, namespace) or {}
        return {
            f"{e['manager']}/{e['operation']}": {path_string(p) for p in paths_of(e.get("fieldsV1") or {})}
            for e in obj.get("metadata", {}).get("managedFields") or []
        }

    # --- the API ---------------------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        content_type: str = "application/json",
        user_agent: str = "",
    ) -> tuple[int, Any]:
        with self.lock:
            request = Request(method, path, query, copy.deepcopy(body), content_type)
            self.requests.append(request)
            if self.before is not None:
                self.before(self, request)
            if self.refuse_all is not None:
                reasons = {401: "Unauthorized", 403: "Forbidden", 500: "InternalError"}
                return _status(self.refuse_all, reasons.get(self.refuse_all, "Error"), "refused by the test")
            self._agent = user_agent
            return self._route(method, path, query, body, content_type)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, content_type: str = ""
    ) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts == ["api"] and method == "GET":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if parts == ["apis"] and method == "GET":
            groups: dict[str, list[str]] = {}
            for group, version in self.resources:
                if group:
                    groups.setdefault(group, []).append(version)
            return 200, {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs]}
                    for g, vs in groups.items()
                ],
            }
        if parts[:1] == ["api"]:
            group, rest = "", parts[1:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, rest = parts[1], parts[2:]
        else:
            return _status(404, "NotFound", "the server could not find the requested resource")
        version, rest = rest[0], rest[1:]
        resources = self.resources.get((group, version))
        if not resources:
            return _status(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return 200, {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": [
                    {
                        "name": p,
                        "singularName": k.lower(),
                        "namespaced": ns,
                        "kind": k,
                        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                    }
                    for p, k, ns in resources
                ],
            }
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        known = {p: (k, ns) for p, k, ns in resources}
        if (group, rest[0], len(rest)) == ("", "pods", 3) and rest[2] == "log" and method == "GET":
            return self._log(namespace, rest[1], query)
        if rest[0] not in known or len(rest) > 2:
            return _status(404, "NotFound", "the server could not find the requested resource")
        plural, name = rest[0], (rest[1] if len(rest) == 2 else None)
        kind, namespaced = known[plural]
        qualified = f"{plural}.{group}" if group else plural
        verb = {
            "GET": "get" if name else "list",
            "POST": "create",
            "PUT": "update",
            "DELETE": "delete",
            "PATCH": "patch",
        }[method]
        key = (group, plural, namespace, name or "")
        if verb == "patch" and key not in self.objects and ("patch", plural) not in self.forbidden:
            verb = "create"  # an apply that creates needs the create right too
        if (verb, plural) in self.forbidden:
            where = f' in the namespace "{namespace}"' if namespace else ""
            return _status(
                403,
                "Forbidden",
                f"{qualified}{'' if name is None else f' {name!r}'} is forbidden: "
                f'User "system:anonymous" cannot {verb} resource "{plural}" in API group "{group}"{where}',
                {"group": group, "kind": plural, **({"name": name} if name else {})},
            )
        dry_run = query.get("dryRun") == ["All"]
        if verb in ("create", "update", "patch") and namespace not in self.namespaces:
            return _status(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )
        not_found = _status(
            404, "NotFound", f'{qualified} "{name}" not found', {"name": name, "group": group, "kind": plural}
        )
        if verb == "list":
            wanted = dict(s.split("=", 1) for s in query.get("labelSelector", [""])[0].split(",") if s)
            items = [
                o
                for (g, p, ns, _), o in sorted(self.objects.items())
                if (g, p) == (group, plural)
                and (ns == namespace or (namespaced and not namespace))  # no namespace: every namespace
                and all((o["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
            ]
            return 200, {
                "kind": f"{kind}List",
                "apiVersion": f"{group}/{version}" if group else version,
                "metadata": {"resourceVersion": str(self.resource_version)},
                "items": items,
            }
        if verb == "get":
            return (200, self.objects[key]) if key in self.objects else not_found
        if verb == "delete":
            if key not in self.objects:
                return not_found
            if not dry_run:
                del self.objects[key]
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "details": {"name": name}}
        if method == "PATCH":
            return self._apply(group, version, plural, kind, namespace, str(name), query, body, content_type)
        obj = copy.deepcopy(body)
        md = obj.setdefault("metadata", {})
        if verb == "create":
            name = md.get("name")
            key = (group, plural, namespace, name)
            if key in self.objects:
                return _status(
                    409,
                    "AlreadyExists",
                    f'{qualified} "{name}" already exists',
                    {"name": name, "group": group, "kind": plural},
                )
            md["uid"] = f"uid-{name}"
            md["creationTimestamp"] = "2024-01-01T00:00:00Z"
            md["managedFields"] = record_update(None, obj, self._manager(query), obj["apiVersion"])
            _defaults(kind, obj)
            code = 201
        else:
            if key not in self.objects:
                return not_found
            live = self.objects[key]
            if not md.get("resourceVersion"):
                return _status(
                    422,
                    "Invalid",
                    f'{kind} "{name}" is invalid: metadata.resourceVersion: '
                    "Invalid value: 0x0: must be specified for an update",
                )
            if md["resourceVersion"] != live["metadata"]["resourceVersion"]:
                return _status(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {qualified} "{name}": the object '
                    "has been modified; please apply your changes to the latest version and try again",
                )
            md["uid"] = live["metadata"]["uid"]
            md["creationTimestamp"] = live["metadata"]["creationTimestamp"]
            md["managedFields"] = record_update(live, obj, self._manager(query), obj["apiVersion"])
            code = 200
        md["namespace"] = namespace
        if dry_run:
            md["resourceVersion"] = md.get("resourceVersion", "")
            return code, obj
        self.resource_version += 1
        md["resourceVersion"] = str(self.resource_version)
        self.objects[key] = obj
        return code, obj

    def _manager(self, query: dict[str, list[str]]) -> str:
        """The field manager of a POST or PUT: ``fieldManager``, else the User-Agent's product."""
        return query.get("fieldManager", [""])[0] or self._agent.split("/", 1)[0][:128] or "unknown"

    def _apply(
        self,
        group: str,
        version: str,
        plural: str,
        kind: str,
        namespace: str,
        name: str,
        query: dict[str, list[str]],
        body: Any,
        content_type: str,
    ) -> tuple[int, Any]:
        if content_type.split(";")[0].strip() != APPLY_PATCH:
            return _status(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                f"{APPLY_PATCH} (this server plays apply only)",
            )
        manager = query.get("fieldManager", [""])[0]
        if not manager:
            return _status(
                400,
                "BadRequest",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply '
                "patch",
            )
        if not isinstance(body, dict):
            return _status(400, "BadRequest", "error decoding YAML: the apply body is not an object")
        api_version = f"{group}/{version}" if group else version
        md = body.get("metadata") or {}
        if (body.get("apiVersion"), body.get("kind")) != (api_version, kind):
            return _status(400, "BadRequest", f"apiVersion and kind must be {api_version} {kind}")
        if md.get("name") != name:
            return _status(400, "BadRequest", "the name of the object does not match the name on the URL")
        if md.get("managedFields") is not None:
            return _status(400, "BadRequest", "metadata.managedFields must be nil")
        key = (group, plural, namespace, name)
        live = self.objects.get(key)
        merged, conflicts = apply_patch(live, body, manager, query.get("force") == ["true"])
        if conflicts:
            if len(conflicts) == 1:
                message = f"Apply failed with 1 conflict: conflict with {conflicts[0][0]}: {conflicts[0][1]}"
            else:
                lines = []
                for who in sorted({m for m, _ in conflicts}):
                    lines.append(f"conflicts with {who}:")
                    lines += [f"- {f}" for m, f in conflicts if m == who]
                message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
            causes = [
                {"reason": "FieldManagerConflict", "message": f"conflict with {m}", "field": f}
                for m, f in conflicts
            ]
            return _status(409, "Conflict", message, {"causes": causes})
        md = merged["metadata"]
        md["namespace"] = namespace
        md["name"] = name
        if live is None:
            md["uid"] = f"uid-{name}"
            md["creationTimestamp"] = "2024-01-01T00:00:00Z"
            _defaults(kind, merged)
            code = 201
        else:
            code = 200
            if merged == live:  # nothing changed: nothing is written
                return code, merged
        if query.get("dryRun") == ["All"]:  # not stored: the live version stays (a new object has none)
            if live is None:
                md.pop("resourceVersion", None)
            else:
                md["resourceVersion"] = live["metadata"]["resourceVersion"]
            return code, _ordered(merged)
        self.resource_version += 1
        md["resourceVersion"] = str(self.resource_version)
        self.objects[key] = merged = _ordered(merged)
        return code, merged

    def _log(self, namespace: str, pod: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if ("", "pods", namespace, pod) not in self.objects:
            return _status(404, "NotFound", f'pods "{pod}" not found', {"name": pod, "kind": "pods"})
        container = query.get("container", ["main"])[0]
        if (namespace, pod, container) not in self.logs:
            return _status(400, "BadRequest", f"container {container} is not valid for pod {pod}")
        lines = self.logs[(namespace, pod, container)].splitlines(keepends=True)
        if "tailLines" in query:
            lines = lines[len(lines) - int(query["tailLines"][0]) :] if int(query["tailLines"][0]) else []
        if query.get("follow") == ["true"]:
            return 200, Stream("".join(lines), self.follow.get((namespace, pod, container)))
        return 200, Text("".join(lines))


def _defaults(kind: str, obj: dict[str, Any]) -> None:
    """What a real server adds on create."""
    if kind == "PersistentVolumeClaim":
        obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        obj["spec"].setdefault("storageClassName", "standard")
        obj["status"] = {"phase": "Pending"}


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> tuple[int, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return code, body


def _handler(server: FakeAPIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            content_type = self.headers.get("Content-Type") or ""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:  # an apply body may be YAML
                body = yaml.safe_load(raw)
            code, answer = server.handle(
                self.command,
                url.path,
                parse_qs(url.query),
                body,
                content_type=content_type,
                user_agent=self.headers.get("User-Agent") or "",
            )
            if isinstance(answer, Stream):  # outside the server's lock: other requests go on
                self.protocol_version = "HTTP/1.1"
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in answer.chunks():
                    data = chunk.encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.close_connection = True
                return
            text = isinstance(answer, Text)
            data = answer.encode() if text else json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain" if text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# --- server-side apply (https://kubernetes.io/docs/reference/using-api/server-side-apply/) -----------------

APPLY_PATCH = "application/apply-patch+yaml"
#: What is never a managed field: identity and bookkeeping (the API server strips these before computing
#: sets), and ``status`` (served by a status subresource, never changed through the main resource here).
_UNMANAGED_META = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "selfLink",
    "managedFields",
)

FieldPath = tuple[str, ...]


def _managed_part(obj: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "status")}
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k not in _UNMANAGED_META}
        if not out["metadata"]:
            del out["metadata"]
    return out


def leaves(obj: Any, prefix: FieldPath = ()) -> dict[FieldPath, Any]:
    """The fields of ``obj`` as the set of its leaves: scalars, lists (atomic: owned whole, as every list of a
    custom resource without merge markers) and empty maps; maps are granular (each key its own field)."""
    if isinstance(obj, dict) and obj:
        out: dict[FieldPath, Any] = {}
        for key, value in obj.items():
            out.update(leaves(value, (*prefix, key)))
        return out
    return {prefix: obj} if prefix else {}


def field_set(obj: dict[str, Any]) -> dict[FieldPath, Any]:
    return leaves(_managed_part(obj))


def fields_v1(paths: Iterable[FieldPath]) -> dict[str, Any]:
    """``{"f:spec": {"f:x": {}}}``: the FieldsV1 form of a set of paths."""
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return root


def paths_of(fields: dict[str, Any], prefix: FieldPath = ()) -> set[FieldPath]:
    """The leaves of a FieldsV1 set (the ``.`` member markers and list keys are not used here)."""
    out: set[FieldPath] = set()
    for key, child in fields.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        out |= paths_of(child, path) if child else {path}
    return out


def path_string(path: FieldPath) -> str:
    return "." + ".".join(path)


def _related(a: FieldPath, b: FieldPath) -> bool:
    """``a`` and ``b`` are the same field or one holds the other."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


_MISSING = object()


def _get(obj: Any, path: FieldPath) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def _set(obj: dict[str, Any], path: FieldPath, value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(obj.get(key), dict):
            obj[key] = {}
        obj = obj[key]
    obj[path[-1]] = copy.deepcopy(value)


def _remove(obj: dict[str, Any], path: FieldPath) -> None:
    """Delete the field at ``path``, then the maps it leaves empty (below the top level)."""
    parents = []
    node: Any = obj
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        parents.append((node, key))
        node = node[key]
    if isinstance(node, dict):
        node.pop(path[-1], None)
        for parent, key in reversed(parents[1:]):
            if parent[key] == {}:
                del parent[key]


def manager_of(entry: dict[str, Any]) -> str:
    """How a conflict names a manager: ``"name"``, and for an Update ``"name" using apiVersion`` (as the
    API server's printManager does; the time is not part of a manager's identity)."""
    text = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        text += f" with subresource {json.dumps(entry['subresource'])}"
    if entry.get("operation") == "Update":
        text += f" using {entry.get('apiVersion', '')}"
    return text


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entries(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    return copy.deepcopy((obj or {}).get("metadata", {}).get("managedFields") or [])


def _entry(manager: str, operation: str, api_version: str, paths: Iterable[FieldPath]) -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": _now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1(paths),
    }


def record_update(
    old: dict[str, Any] | None, new: dict[str, Any], manager: str, api_version: str
) -> list[dict[str, Any]]:
    """The managed fields after a create (POST) or an update (PUT) by ``manager``: the fields it added or
    changed become its own (operation ``Update``) and leave every other manager; removed fields leave all.
    The entries it starts from are those of the body, or the live ones when the body has none (so that a
    client unaware of managed fields cannot erase them)."""
    before, after = field_set(old or {}), field_set(new)
    changed = {p for p, v in after.items() if before.get(p, _MISSING) != v}
    removed = set(before) - set(after)
    entries, mine = [], set(changed)
    for entry in _entries(new) or _entries(old):
        paths = paths_of(entry.get("fieldsV1") or {})
        if entry.get("manager") == manager and entry.get("operation") == "Update":
            mine |= paths - removed
            continue
        kept = {p for p in paths if not any(_related(p, c) for c in changed | removed)}
        if kept != paths:
            entry["fieldsV1"] = fields_v1(kept)
        if kept:
            entries.append(entry)
    if mine:
        entries.append(_entry(manager, "Update", api_version, mine))
    return entries


def apply_patch(
    live: dict[str, Any] | None, config: dict[str, Any], manager: str, force: bool
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The object after ``manager`` applies ``config`` to ``live`` (None: absent), and the conflicts
    ``[(manager, .path)]`` that stopped it (then the object is ``live``), per the documented rules:

    - a field ``config`` sets to a value other than the live one, owned by another manager, is a conflict,
      unless ``force``: then it changes and leaves the other manager's set;
    - a field set to the live value is shared with its other owners;
    - a field the applier owned before and ``config`` omits is removed, unless another manager owns it;
    - the applier's entry (operation ``Apply``) holds exactly what ``config`` sets; an entry left with no
      field is dropped."""
    applied = field_set(config)
    current = field_set(live or {})
    entries = _entries(live)
    mine: set[FieldPath] = set()
    others: list[tuple[dict[str, Any], set[FieldPath]]] = []
    for entry in entries:
        paths = paths_of(entry.get("fieldsV1") or {})
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            mine = paths
        else:
            others.append((entry, paths))
    before = _managed_part(live or {})
    # an empty map merges into the live one (it removes nothing); any other leaf replaces what is there
    changed = {
        p
        for p, v in applied.items()
        if _get(before, p) != v and not (v == {} and isinstance(_get(before, p), dict))
    }
    conflicts = [
        (manager_of(entry), path_string(q))
        for entry, paths in others
        for q in sorted(paths)
        if any(_related(q, p) for p in changed)
    ]
    if conflicts and not force:
        return copy.deepcopy(live or {}), conflicts
    merged = copy.deepcopy(live) if live is not None else {}
    for path in applied:  # in the order of the body
        if path in changed:
            _set(merged, path, applied[path])
    for key in ("apiVersion", "kind"):
        merged[key] = config[key]
    kept_others = []
    for entry, paths in others:
        if force:
            paths = {q for q in paths if not any(_related(q, p) for p in changed)}
        if paths:
            kept_others.append((entry, paths))
    owned_by_others = set().union(*(paths for _, paths in kept_others)) if kept_others else set()
    # what the applier still sets, or another manager owns, stays (an empty map sets nothing below it)
    kept = owned_by_others | {p for p, v in applied.items() if v != {}}
    for path in sorted(mine - set(applied), key=len, reverse=True):
        if path in current and not any(_related(path, q) for q in kept):
            _remove(merged, path)
    mine_entry = _entry(manager, "Apply", config["apiVersion"], applied)
    unchanged_fields = _managed_part(merged) == _managed_part(live or {}) and set(applied) == mine
    new_entries: list[dict[str, Any]] = []
    placed = False
    for entry in entries:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            if unchanged_fields:
                mine_entry["time"] = entry.get("time")
            if applied:
                new_entries.append(mine_entry)  # where it was: an unchanged apply leaves the list as it was
            placed = True
            continue
        match = next((paths for e, paths in kept_others if e is entry), None)
        if match is None:
            continue
        if match != paths_of(entry.get("fieldsV1") or {}):
            entry["fieldsV1"] = fields_v1(match)
        new_entries.append(entry)
    if applied and not placed:
        new_entries.append(mine_entry)
    merged.setdefault("metadata", {})["managedFields"] = new_entries
    return merged, []


#: The order in which the API server writes an object's fields (its Go types' order).
_TOP = ("apiVersion", "kind", "metadata", "spec")
_META = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "labels",
    "annotations",
)


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    out = {k: obj[k] for k in _TOP if k in obj} | obj
    metadata = out.get("metadata") or {}
    out["metadata"] = {k: metadata[k] for k in _META if k in metadata} | metadata
    return out


DEMO = Path(__file__).resolve().parents[2] / "examples" / "recommender_demo" / "recommender-demo.yaml"


def collection_path(manifest: dict[str, Any], namespace: str = "ml") -> str:
    """The REST collection of a manifest of the demo (kinds known to this server)."""
    group, _, version = manifest["apiVersion"].rpartition("/")
    plural = next(
        p
        for install in (CORE, *INSTALLS.values())
        for p, k, _ in install.get((group, version), [])
        if k == manifest["kind"]
    )
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    return f"{base}/namespaces/{namespace}/{plural}"


# --- objects as the controllers would have made them ------------------------------------------------------


def axon_labels(axon: str = "ml-rec", **extra: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/part-of": "myelin",
        "app.kubernetes.io/managed-by": "myelin-sdk",
        "myelin.io/axon": axon,
        **{f"myelin.io/{k}": v for k, v in extra.items()},
    }


def workflow(
    name: str, phase: str | None, axon: str = "ml-rec", template: str | None = None, **status: str
) -> dict[str, Any]:
    """An Argo Workflow started from ``template`` (by a Sensor when ``sensor=`` is given in ``status``)."""
    sensor = status.pop("sensor", None)
    labels = axon_labels(axon, **({"sensor": sensor} if sensor else {}))
    obj: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "labels": labels},
        "spec": {"workflowTemplateRef": {"name": template}} if template else {},
    }
    if phase is not None:
        obj["status"] = {"phase": phase, **status}
    return obj


def sensor(name: str, conditions: list[tuple[str, str, str]], axon: str = "ml-rec") -> dict[str, Any]:
    """An Argo Events Sensor with ``status.conditions`` of (type, status, message)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": name, "labels": axon_labels(axon, sensor=name)},
        "spec": {},
        "status": {
            "conditions": [
                {
                    "type": t,
                    "status": s,
                    **({"message": m} if m else {}),
                    "lastTransitionTime": "2024-01-01T00:00:00Z",
                }
                for t, s, m in conditions
            ]
        },
    }


def seldon_deployment(
    name: str,
    state: str | None,
    predictors: list[tuple[str, int | None]],
    versions: list[dict[str, Any]] | None = None,
    axon: str = "ml-rec",
) -> dict[str, Any]:
    """A SeldonDeployment as a deploy step applies it: predictors (name, traffic; None for a shadow), the
    ``myelin.io/versions`` annotation, and the operator's ``status.state``."""
    obj: dict[str, Any] = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {
            "name": name,
            "labels": axon_labels(axon, deployer="deployer"),
            "annotations": {"myelin.io/versions": json.dumps(versions or [], separators=(",", ":"))},
        },
        "spec": {
            "protocol": "seldon",
            "predictors": [
                {"name": p, **({"shadow": True} if t is None else {"traffic": t}), "graph": {}}
                for p, t in predictors
            ],
        },
    }
    if state is not None:
        obj["status"] = {"state": state}
    return obj


def pod(name: str, task: str, created: str, phase: str = "Succeeded", axon: str = "ml-rec") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": axon_labels(axon, task=task), "creationTimestamp": created},
        "spec": {"containers": [{"name": "wait"}, {"name": "main"}]},
        "status": {"phase": phase},
    }


def serve_in(namespace: str, tmp_path: Path, monkeypatch: Any, **config: Any) -> FakeAPIServer:
    """Start a server and point ``KUBECONFIG`` at it, with ``namespace`` as the context's namespace."""
    server = FakeAPIServer(**config).start()
    monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig(tmp_path, namespace=namespace)))
    return server


def serve_demo(namespace: str, tmp_path: Path, monkeypatch: Any) -> FakeAPIServer:
    """A server (see :func:`serve_in`) into which the recommender demo was submitted, its requests cleared."""
    from myelin_sdk.cluster import connect
    from myelin_sdk.compiler import CompileOptions, compile_axon
    from myelin_sdk.loader import load_path

    server = serve_in(namespace, tmp_path, monkeypatch)
    connect().apply(compile_axon(load_path(DEMO), CompileOptions(namespace=namespace)), namespace=namespace)
    server.requests.clear()
    return server


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """``myelin ARGV`` in process: (exit status, stdout, stderr); a traceback on stderr fails the test."""
    from myelin_sdk.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err
