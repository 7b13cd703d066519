"""Executing model graphs on the local router: each request on a route runs its DAG (:mod:`.graphs`).

The :class:`~myelin_sdk.local.router.Router` executes a route's :class:`~.graphs.Graph` per request with the
contract of :mod:`myelin_sdk.runtime.graph` (the same as the SDK's graph node on a cluster)::

    status, headers, body = execute(router, graphs["/predict"], request_body, "application/json")

A prediction picks one version for the whole graph (the rollout's weights) and, per model, one backend
(``routingStrategy``). Then each model is called once, in dependency order (the models whose dependencies
all answered at once, each in a thread, as Seldon's executor calls a combiner's children):

* a model without ``dependencies`` gets the route's request (a Seldon class: the body unchanged; a custom
  server: the message in the multipart field ``json`` at the entry's ``path``, default ``/predict``);
* a model with ``dependencies`` gets the features object ``{dep: answer, ..., "INPUT": request}``
  (:func:`~myelin_sdk.runtime.graph.features`; ``INPUT`` with ``includeInput``) — ``jsonData`` for a Seldon
  class (:func:`~myelin_sdk.runtime.graph.seldon_body`), the form field for a custom server;
* an external model (``fullPath``) is called at that URL as a custom server; nothing is deployed for it.

A model feeding several others is called once. The route answers with its final model's answer, with
``meta.requestPath[<model>] = <version>`` for every model called (an external one: its URL) and
``meta.routing[<model>] = <backend index>`` for models with several backends, and the header
``X-Myelin-Version``. A model's error answer (status >= 400) ends the graph and is passed on unchanged.

A feedback route (``/send-feedback``, ``/api/v1.0/feedback``) delivers the message to every model its dag
lists: a Seldon class at ``/api/v1.0/feedback`` (the backend ``meta.routing`` names, else all of the
version's backends of that model), a custom server at the entry's ``path`` (default ``/send-feedback``),
an external model at its URL. The version is the one ``response.meta.requestPath`` names, when live.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..runtime.graph import custom_body, features, seldon_body
from .graphs import Graph, Step

if TYPE_CHECKING:
    from .router import Router
    from .routes import Backend, Route, _Table

__all__ = ["execute"]

SELDON_PATHS = {"predict": "/api/v1.0/predictions", "feedback": "/api/v1.0/feedback"}
CUSTOM_PATHS = {"predict": "/predict", "feedback": "/send-feedback"}
VERSION_HEADER = "X-Myelin-Version"
Answer = tuple[int, dict[str, str], bytes]
_Outcome = tuple[Answer, "dict[str, Any] | None"]  # a model's answer, and it as a message (None: stop)
log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- executing


def _error(status: int, info: str, reason: str) -> Answer:
    body = {"status": {"code": status, "info": info, "reason": reason, "status": "FAILURE"}}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _call(router: Router, backend: Backend, path: str, body: bytes, content_type: str, kind: str) -> Answer:
    path = urllib.parse.urlsplit(backend.url).path.rstrip("/") + path
    try:
        return router._pool(backend).post(
            path, body, {"Content-Type": content_type}, idempotent=kind == "predict"
        )
    except (OSError, http.client.HTTPException) as exc:
        log.warning("backend %s did not answer: %s", backend.url, exc)
        return _error(502, f"model server {backend.url} did not answer: {exc}", "MYELIN_BACKEND_ERROR")


def _call_external(url: str, body: bytes, content_type: str, timeout: float) -> Answer:
    parsed = urllib.parse.urlsplit(url)
    kind = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
    assert parsed.hostname is not None
    connection = kind(parsed.hostname, parsed.port, timeout=timeout)
    target = parsed.path or "/"
    if parsed.query:
        target += "?" + parsed.query
    try:
        connection.request("POST", target, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, {"Content-Type": response.getheader("Content-Type", "")}, response.read()
    except (OSError, http.client.HTTPException) as exc:
        return _error(502, f"external model {url} did not answer: {exc}", "MYELIN_BACKEND_ERROR")
    finally:
        connection.close()


def _message(body: bytes, what: str) -> dict[str, Any] | Answer:
    try:
        document = json.loads(body)
    except ValueError:
        return _error(400, f"{what} is not JSON", "MYELIN_BAD_REQUEST")
    if not isinstance(document, dict):
        return _error(400, f"{what} is not a JSON object", "MYELIN_BAD_REQUEST")
    return document


def _send(
    router: Router,
    route: Route,
    picks: Mapping[str, list[int]],
    step: Step,
    kind: str,
    body: bytes,
    content_type: str,
    message: Mapping[str, Any] | None,
) -> list[Answer]:
    """Call one step's model (each picked backend): the Seldon body or the custom form, as it serves."""
    if step.full_path is not None:
        assert message is not None
        form, form_type = custom_body(message)
        return [_call_external(step.full_path, form, form_type, router.timeout)]
    answers = []
    for index in picks[step.model]:
        backend = _group(route, step.model)[index]
        if backend.protocol == "custom":
            assert message is not None
            form, form_type = custom_body(message)
            path = step.path or CUSTOM_PATHS[kind]
            answers.append(_call(router, backend, path, form, form_type, kind))
        else:
            answers.append(_call(router, backend, SELDON_PATHS[kind], body, content_type, kind))
    return answers


def _group(route: Route, model: str) -> tuple[Backend, ...]:
    """The backends of ``model`` in a version (a version without ``models``: its one model's)."""
    return route.models[model] if route.models else route.backends


def _needs_message(route: Route, step: Step) -> bool:
    if step.full_path is not None or step.include_input:
        return True
    return any(b.protocol == "custom" for b in _group(route, step.model))


def _pick(router: Router, route: Route, graph: Graph) -> dict[str, list[int]]:
    """One backend per model (its ``routingStrategy`` weights); called under the router's lock."""
    return {
        s.model: [router._pick_backend_locked(_group(route, s.model))]
        for s in graph.steps
        if s.full_path is None
    }


def _predict(router: Router, graph: Graph, body: bytes, content_type: str) -> Answer:
    picks: dict[str, list[int]] = {}

    def choose(table: _Table) -> tuple[Route, list[int]] | None:
        picked = router._pick_locked(table)
        if picked is None:
            return None
        picks.update(_pick(router, picked[0], graph))
        return picked[0], []

    chosen = router._acquire(choose)
    if chosen is None:
        return _error(503, "no model version is deployed", "MYELIN_NO_VERSION")
    route = chosen[0]
    began = time.monotonic()
    status = 502
    try:
        status, headers, payload = _run(router, graph, route, picks, body, content_type)
        headers[VERSION_HEADER] = route.version
        return status, headers, payload
    finally:
        router._release(route.version, kind="predict", status=status, seconds=time.monotonic() - began)


def _run(
    router: Router, graph: Graph, route: Route, picks: dict[str, list[int]], body: bytes, content_type: str
) -> Answer:
    request: dict[str, Any] | None = None
    if any(_needs_message(route, s) for s in graph.steps):
        parsed = _message(body, "the request")
        if not isinstance(parsed, dict):
            return parsed
        request = parsed
    answers: dict[str, dict[str, Any]] = {}
    status, headers = 500, dict[str, str]()

    def call(step: Step) -> _Outcome:  # reads answers, written only between waves
        final = step.model == graph.final
        return _step(router, route, picks, step, body, content_type, request, answers, final)

    pending = list(graph.steps)
    while pending:  # in waves: the models whose dependencies all answered, called at once
        ready = [s for s in pending if all(d in answers for d in s.dependencies)]
        if not ready:
            return _error(500, f"route {graph.path}: the dependencies form a cycle", "MYELIN_GRAPH_ERROR")
        for step, (answer, message) in zip(ready, _wave(ready, call), strict=True):
            if message is None:  # an error ends the graph; a final answer that is no JSON object passes on
                return answer
            answers[step.model] = message
            if step.model == graph.final:
                status, headers = answer[0], dict(answer[1])
        pending = [s for s in pending if s not in ready]
    final = answers[graph.final]
    meta = final.get("meta")
    if not isinstance(meta, dict):
        meta = final["meta"] = {}
    request_path = meta.get("requestPath")
    if not isinstance(request_path, dict):
        request_path = meta["requestPath"] = {}
    for step in graph.steps:
        request_path[step.model] = step.full_path or route.version
        if step.full_path is None and len(_group(route, step.model)) > 1:
            routing = meta.get("routing")
            if not isinstance(routing, dict):
                routing = meta["routing"] = {}
            routing[step.model] = picks[step.model][0]
    return status, headers, json.dumps(final, separators=(",", ":")).encode()


def _wave(steps: list[Step], call: Callable[[Step], _Outcome]) -> list[_Outcome]:
    """``call`` each step at once (a thread each beyond the first, as Seldon's executor calls a combiner's
    children concurrently); the outcomes in order."""
    outcomes: list[_Outcome | None] = [None] * len(steps)

    def run(index: int) -> None:
        outcomes[index] = call(steps[index])

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(1, len(steps))]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        thread.join()
    return [
        o if o is not None else (_error(500, "a model call failed", "MYELIN_ERROR"), None) for o in outcomes
    ]


def _step(
    router: Router,
    route: Route,
    picks: Mapping[str, list[int]],
    step: Step,
    body: bytes,
    content_type: str,
    request: dict[str, Any] | None,
    answers: Mapping[str, dict[str, Any]],
    final: bool = False,
) -> _Outcome:
    """Call one model of a prediction: (its answer, the answer as a message — None to end the graph)."""
    step_body, step_type, message = body, content_type or "application/json", request
    if step.dependencies:
        seldon = step.full_path is None and any(
            _group(route, step.model)[i].protocol != "custom" for i in picks[step.model]
        )
        try:
            message = features([(d, answers[d]) for d in step.dependencies], request, step.include_input)
            if seldon:
                step_body, step_type = seldon_body(message), "application/json"
        except ValueError as exc:
            error = _error(502, f"model {step.model}: cannot build its input: {exc}", "MYELIN_GRAPH_ERROR")
            return error, None
    (answer,) = _send(router, route, picks, step, "predict", step_body, step_type, message)
    if not 200 <= answer[0] < 300:
        return answer, None
    parsed = _message(answer[2], f"the answer of model {step.model}")
    if isinstance(parsed, dict):
        return answer, parsed
    if final:
        return answer, None  # passes on as it is
    return _error(502, f"the answer of model {step.model} is not a JSON object", "MYELIN_GRAPH_ERROR"), None


def _answered_by(body: bytes, graph: Graph) -> tuple[list[str], dict[str, int]]:
    """(the versions, {model: backend index}) named by a feedback's ``response.meta`` (the graph's models
    first; an external model's entry is its URL, which no version is named)."""
    try:
        meta = json.loads(body)["response"]["meta"]
    except (ValueError, KeyError, TypeError):
        return [], {}
    if not isinstance(meta, dict):
        return [], {}
    path, routing = meta.get("requestPath"), meta.get("routing")
    versions = [path[m] for m in graph.models if isinstance(path, dict) and isinstance(path.get(m), str)]
    if isinstance(path, dict):
        versions += [v for v in path.values() if isinstance(v, str)]
    indexes = {
        model: index
        for model, index in (routing.items() if isinstance(routing, dict) else [])
        if isinstance(index, int) and not isinstance(index, bool)
    }
    return versions, indexes


def _feedback(router: Router, graph: Graph, body: bytes, content_type: str) -> Answer:
    named, routing = _answered_by(body, graph)
    picks: dict[str, list[int]] = {}

    def choose(table: _Table) -> tuple[Route, list[int]] | None:
        candidates = [v for v in named if v in table.by_version]
        route = table.by_version[candidates[0]] if candidates else None
        if route is None:
            picked = router._pick_locked(table)
            if picked is None:
                return None
            route = picked[0]
        for step in graph.steps:
            if step.full_path is None:
                count = len(_group(route, step.model))
                index = routing.get(step.model)
                picks[step.model] = (
                    [index] if index is not None and 0 <= index < count else list(range(count))
                )
        return route, []

    chosen = router._acquire(choose)
    if chosen is None:
        return _error(503, "no model version is deployed", "MYELIN_NO_VERSION")
    route = chosen[0]
    status = 502
    try:
        message: dict[str, Any] | None = None
        if any(_needs_message(route, s) for s in graph.steps):
            parsed = _message(body, "the feedback")
            if not isinstance(parsed, dict):
                status = parsed[0]
                return parsed
            message = parsed
        results: list[Answer] = []
        for step in graph.steps:
            results += _send(router, route, picks, step, "feedback", body, content_type, message)
        failed = [r for r in results if not 200 <= r[0] < 300]
        status, headers, payload = failed[0] if failed else results[-1]
        headers = dict(headers)
        headers[VERSION_HEADER] = route.version
        return status, headers, payload
    finally:
        router._release(route.version, kind="feedback", status=status, seconds=0.0)


def execute(router: Router, graph: Graph, body: bytes, content_type: str) -> Answer:
    """Answer a request on ``graph``'s route: (status, headers, body)."""
    if graph.kind == "feedback":
        return _feedback(router, graph, body, content_type)
    return _predict(router, graph, body, content_type)
