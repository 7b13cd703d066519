"""Acting on an axon in the cluster: ``myelin delete``, ``myelin logs [-f]`` and ``myelin submit --watch``.

for chunk in follow_log(transport, "ml", "ml-rec-train-x1"):  # until the pod ends
    print(chunk, end="")
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import MyelinError
from .apply import selector
from .inspect import KINDS, SELDON, WORKFLOWS, NotFoundError, Reader, name_of, newest_first, require_some
from .labels import TASK_LABEL
from .transport import HttpError, Transport

#: Deletion order: first what starts new work (Sensors, EventSources), then runs, then the rest; the claim
#: (the axon's data and models) last.
DELETE_ORDER = (
    "Sensor",
    "EventSource",
    "NetworkPolicy",
    "Workflow",
    "SeldonDeployment",
    "WorkflowTemplate",
    "PrometheusRule",
    "AlertmanagerConfig",
    "RoleBinding",
    "Role",
    "ServiceAccount",
    "PersistentVolumeClaim",
)


# --- myelin delete ------------------------------------------------------------------------------------


def deletable(transport: Transport, namespace: str, axon: str, keep_data: bool) -> list[dict[str, Any]]:
    """The objects ``delete`` would remove, in deletion order (CRDs not installed are skipped)."""
    reader = Reader(transport, namespace)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for api_version, kind in KINDS:
        if keep_data and kind == "PersistentVolumeClaim":
            continue
        by_kind[kind] = reader.list(api_version, kind, selector(axon)) or []
    objects = [obj for kind in DELETE_ORDER for obj in by_kind.get(kind, [])]
    require_some(bool(objects), axon, namespace)
    return objects


def delete_objects(
    transport: Transport, namespace: str, objects: list[dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], str]]:
    """DELETE each object (``propagationPolicy=Background``: a Workflow's pods go with it); yields each with
    ``deleted`` or ``already gone``."""
    for obj in objects:
        resource = transport.resource(obj["apiVersion"], obj["kind"])
        assert resource is not None  # it was listed
        name = name_of(obj)
        try:
            transport.request("DELETE", resource.path(namespace, name), [("propagationPolicy", "Background")])
        except HttpError as exc:
            if exc.status == 404:
                yield obj, "already gone"
                continue
            if exc.status in (401, 403):
                word = "unauthorized" if exc.status == 401 else "forbidden"
                raise MyelinError(
                    f"{word}: cannot delete {resource.qualified} in namespace {namespace} ({exc.status}): "
                    f"{exc.message}"
                ) from None
            raise MyelinError(f"cannot delete {obj['kind']} {name} ({exc.status}): {exc.message}") from None
        yield obj, "deleted"


# --- myelin logs --------------------------------------------------------------------------------------


@dataclass
class PodLog:
    pod: str
    task: str | None
    phase: str
    text: str | None  # None: the log cannot be read (see error)
    error: str | None = None


def pod_logs(
    transport: Transport,
    namespace: str,
    axon: str,
    task: str | None = None,
    tail: int | None = None,
    container: str = "main",
    read: bool = True,
) -> Iterator[PodLog]:
    """The ``main`` container log of every pod of ``axon`` (of its task ``task``), newest pod first
    (``read=False``: the pods only, ``text`` left ``None``)."""
    from ..names import dns_label

    label_selector = selector(axon)
    if task:
        label_selector += f",{TASK_LABEL}={dns_label(task)}"
    pods = Reader(transport, namespace).list("v1", "Pod", label_selector) or []
    if not pods:
        which = f" of task '{task}'" if task else ""
        raise NotFoundError(f"axon '{axon}' has no pods{which} in namespace {namespace}")
    pods.sort(key=lambda p: (p["metadata"].get("creationTimestamp") or "", name_of(p)), reverse=True)
    resource = transport.resource("v1", "Pod")
    assert resource is not None
    for pod in pods:
        name = name_of(pod)
        query = [("container", container)] + ([("tailLines", str(tail))] if tail is not None else [])
        entry = PodLog(
            name,
            (pod["metadata"].get("labels") or {}).get(TASK_LABEL),
            str((pod.get("status") or {}).get("phase") or "Unknown"),
            None,
        )
        if not read:
            yield entry
            continue
        try:
            entry.text = transport.request_text(
                "GET", resource.path(namespace, name) + "/log", query, accept="text/plain"
            )
        except HttpError as exc:
            if exc.status in (401, 403):
                raise MyelinError(
                    f"forbidden: cannot get pods/log in namespace {namespace} ({exc.status}): {exc.message}"
                ) from None
            entry.error = exc.message
        yield entry


def follow_log(
    transport: Transport, namespace: str, pod: str, tail: int | None = None, container: str = "main"
) -> Iterator[str]:
    """The log of ``pod`` as the kubelet streams it (``follow=true``): text chunks as they are written,
    ending when the container ends (or the caller stops iterating: Ctrl-C)."""
    import codecs

    import urllib3
    from kubernetes.client.exceptions import ApiException

    from .transport import TIMEOUT

    resource = transport.resource("v1", "Pod")
    assert resource is not None
    path = resource.path(namespace, pod) + "/log"
    query = [("container", container), ("follow", "true")]
    query += [("tailLines", str(tail))] if tail is not None else []
    api = transport.api_client
    unreachable = f"cannot reach the cluster at {transport.host}"
    try:
        params = api.param_serialize(
            "GET",
            path,
            query_params=query,
            header_params={"Accept": "text/plain"},
            auth_settings=["BearerToken"],
        )
        response = api.call_api(*params, _request_timeout=(TIMEOUT[0], None))  # no read timeout: follow
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise MyelinError(f"{unreachable}: {exc}") from None
    except ApiException as exc:
        raise MyelinError(f"cannot follow the log of pod {pod} ({exc.status}): {exc.reason}") from None
    raw = response.response  # urllib3's response, not yet read
    try:
        if not 200 <= response.status <= 299:
            text = raw.data.decode("utf-8", "replace")
            try:
                body = json.loads(text)
            except ValueError:
                body = {}
            error = HttpError(response.status, body if isinstance(body, dict) else {}, text)
            word = "forbidden: cannot get" if response.status in (401, 403) else "cannot follow"
            raise MyelinError(
                f"{word} the log of pod {pod} in namespace {namespace} ({error.status}): {error.message}"
            )
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        try:
            for chunk in raw.stream(2**14, decode_content=True):
                text = decoder.decode(chunk)
                if text:
                    yield text
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise MyelinError(f"{unreachable}: the log of pod {pod} broke off: {exc}") from None
        tail_text = decoder.decode(b"", final=True)
        if tail_text:
            yield tail_text
    finally:
        raw.release_conn()


# --- myelin submit --watch ----------------------------------------------------------------------------

#: Seconds between two polls of ``--watch`` (tests make it small).
POLL_SECONDS = 2.0
FAILED_PHASES = ("Failed", "Error")


@dataclass
class WatchResult:
    ok: bool
    message: str


def workflow_phases(transport: Transport, namespace: str, axon: str) -> dict[str, str]:
    """``{workflow: phase}`` of the axon's runs now (``{}`` when Argo Workflows is absent)."""
    items = Reader(transport, namespace).list(WORKFLOWS, "Workflow", selector(axon)) or []
    return {name_of(w): str((w.get("status") or {}).get("phase") or "Pending") for w in items}


def watch(
    transport: Transport,
    namespace: str,
    axon: str,
    timeout: float,
    echo: Callable[[str], None],
    before: dict[str, str] | None = None,
    poll: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> WatchResult:
    """Poll until the axon's first SeldonDeployment is ``Available`` (ok) or one of its Workflows fails
    (not ok), printing each phase change through ``echo``. ``before``: the runs' phases before the submit;
    a run that had already failed then is history, not a failure of this submit."""
    reader = Reader(transport, namespace)
    if transport.resource(SELDON, "SeldonDeployment") is None:
        reader.list(SELDON, "SeldonDeployment", "")
        raise MyelinError(f"--watch waits for the axon's SeldonDeployment: {reader.missing[0]}")
    interval = POLL_SECONDS if poll is None else poll
    deadline = clock() + timeout
    seen: dict[str, str] = {}
    old_failures = {n for n, phase in (before or {}).items() if phase in FAILED_PHASES}
    while True:
        workflows = newest_first(reader.list(WORKFLOWS, "Workflow", selector(axon)) or [])
        for w in reversed(workflows):  # oldest first, as they happened
            name = name_of(w)
            status = w.get("status") or {}
            phase = str(status.get("phase") or "Pending")
            if seen.get(name) != phase:
                seen[name] = phase
                echo(f"Workflow {name}: {phase}")
            if phase in FAILED_PHASES and name not in old_failures:
                message = status.get("message") or "no message"
                return WatchResult(False, f"Workflow {name} {phase.lower()}: {message}")
        sdeps = reader.list(SELDON, "SeldonDeployment", selector(axon)) or []
        sdeps.sort(key=lambda d: (d["metadata"].get("creationTimestamp") or "", name_of(d)))
        for d in sdeps:
            key = f"SeldonDeployment/{name_of(d)}"
            state = str((d.get("status") or {}).get("state") or "Creating")
            if seen.get(key) != state:
                seen[key] = state
                echo(f"SeldonDeployment {name_of(d)}: {state}")
        if sdeps and (sdeps[0].get("status") or {}).get("state") == "Available":
            return WatchResult(True, f"SeldonDeployment {name_of(sdeps[0])} is Available")
        if clock() >= deadline:
            waiting = "its first SeldonDeployment to be Available" if sdeps else "a SeldonDeployment"
            return WatchResult(False, f"timed out after {timeout:g} s waiting for {waiting}")
        sleep(interval)
