"""The connection to a Kubernetes API server: kubeconfig, HTTP through the official client, discovery.

The official ``kubernetes`` client is the transport (its configuration loaders, authentication and TLS); the
requests themselves are plain REST calls on the documented paths, so that any resource, built in or a CRD,
is served the same way. ``kubernetes`` is imported only here, and only when connecting.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import MyelinError

#: (connect, read) timeouts of every request, in seconds.
TIMEOUT = (10.0, 60.0)
_IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class HttpError(MyelinError):
    """A non-2xx answer of the API server, with its ``Status`` object (``{}`` when the body was not one).

    Callers map it to a message naming the verb and resource; one that escapes them still prints as a one-line
    user-facing error (it is a :class:`MyelinError`), never as a traceback.
    """

    def __init__(self, status: int, body: dict[str, Any], text: str) -> None:
        self.status = status
        self.body = body
        self.message = str(body.get("message") or text.strip() or f"HTTP {status}")
        self.reason = str(body.get("reason") or "")
        super().__init__(f"the cluster answered {status} {self.reason}: {self.message}".replace("  ", " "))


@dataclass(frozen=True)
class Resource:
    """A discovered API resource: ``sensors`` in ``argoproj.io/v1alpha1``, namespaced or not."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def qualified(self) -> str:
        """``sensors.argoproj.io`` (``serviceaccounts`` for the core group), as RBAC and CRDs name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return f"{base}/{quote(name, safe='')}" if name else base


def group_version(api_version: str) -> tuple[str, str]:
    """``argoproj.io/v1alpha1`` -> ``("argoproj.io", "v1alpha1")``; ``v1`` -> ``("", "v1")``."""
    group, _, version = api_version.rpartition("/")
    return group, version


class Transport:
    """JSON requests to one API server, with discovery cached per group version."""

    def __init__(self, api_client: Any, host: str) -> None:
        self.api_client = api_client
        self.host = host
        self._discovered: dict[str, dict[str, Resource] | None] = {}

    def request(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        """The decoded JSON answer; :class:`HttpError` on a non-2xx status, :class:`MyelinError` when the
        server cannot be reached. ``body`` is sent as JSON (a ``str`` as it is), with ``content_type``
        (default ``application/json``; a server-side apply sends ``application/apply-patch+yaml``)."""
        return _decode(self.request_text(method, path, query, body, content_type=content_type))

    def request_text(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        accept: str = "application/json",
        content_type: str | None = None,
    ) -> str:
        """The answer as text (a pod's log is ``text/plain``); errors as :meth:`request`."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        try:
            params = self.api_client.param_serialize(
                method,
                path,
                query_params=query or None,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self.api_client.call_api(*params, _request_timeout=TIMEOUT)
            raw: bytes = response.read() or b""
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise MyelinError(f"cannot reach the cluster at {self.host}: {_reason(exc)}") from None
        except ApiException as exc:  # status 0: TLS and other failures before an answer
            if exc.status:
                raise HttpError(int(exc.status), _decode(exc.body or ""), str(exc.body or "")) from None
            raise MyelinError(f"cannot reach the cluster at {self.host}: {exc.reason}") from None
        text = raw.decode("utf-8", "replace")
        if not 200 <= response.status <= 299:
            raise HttpError(response.status, _decode(text), text)
        return text

    def discover(self, api_version: str) -> dict[str, Resource] | None:
        """The resources of ``api_version`` by kind, or ``None`` when the cluster does not serve it."""
        if api_version not in self._discovered:
            group, version = group_version(api_version)
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                listing = self.request("GET", path)
            except HttpError as exc:
                if exc.status == 401:
                    raise MyelinError(
                        f"the cluster at {self.host} refused the credentials (401 Unauthorized): log in "
                        "again, or check --context and --kubeconfig"
                    ) from None
                if exc.status == 403:
                    raise MyelinError(
                        f"forbidden: cannot discover {path} at {self.host} (403): {exc.message}"
                    ) from None
                if exc.status != 404:
                    raise MyelinError(
                        f"the cluster at {self.host} answered {exc.status} for GET {path}: {exc.message}"
                    ) from None
                self._discovered[api_version] = None
            else:
                self._discovered[api_version] = {
                    r["kind"]: Resource(group, version, r["name"], r["kind"], bool(r.get("namespaced")))
                    for r in listing.get("resources", [])
                    if "/" not in r["name"]  # not sub-resources such as workflows/status
                }
        return self._discovered[api_version]

    def resource(self, api_version: str, kind: str) -> Resource | None:
        """The resource serving ``kind`` in ``api_version``, or ``None`` when it is not installed."""
        resources = self.discover(api_version)
        return None if resources is None else resources.get(kind)


def _decode(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    # urllib3 prefixes "<urllib3.connection.HTTPConnection object at 0x...>: "
    return re.sub(r"<[^>]*>: ", "", str(reason))


def connect_transport(context: str | None, kubeconfig: str | None) -> tuple[Transport, str]:
    """A transport from the kubeconfig (``kubeconfig``, else ``$KUBECONFIG``, else ``~/.kube/config``), or
    the in-cluster service account when there is no kubeconfig; with the context's default namespace."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    files = [p for p in path.split(os.pathsep) if p]
    exists = any(Path(p).expanduser().is_file() for p in files)
    namespace = "default"
    if not exists and not kubeconfig and os.environ.get("KUBERNETES_SERVICE_HOST") and context is None:
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except ConfigException as exc:
            raise MyelinError(f"cannot load the in-cluster configuration: {exc}") from None
        if _IN_CLUSTER_NAMESPACE.is_file():
            namespace = _IN_CLUSTER_NAMESPACE.read_text().strip() or namespace
    elif not exists:
        raise MyelinError(
            f"no kubeconfig: {path} does not exist — pass --kubeconfig FILE, set KUBECONFIG, "
            "or run inside a cluster"
        )
    else:
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context, client_configuration=configuration, persist_config=False
            )
            contexts, active = config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError, ValueError) as exc:
            raise MyelinError(f"cannot load the kubeconfig {path}: {exc}") from None
        chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
        namespace = ((chosen or {}).get("context") or {}).get("namespace") or namespace
    host = str(configuration.host)
    return Transport(client.ApiClient(configuration), host), namespace
