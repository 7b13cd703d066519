"""The local router's HTTP side: the stdlib ``ThreadingHTTPServer`` and request handler of a ``Router``.

:meth:`.router.Router.start` binds a :class:`_Server` (which keeps a reference to its router) with
:class:`_Handler`. Paths (the Seldon Core v1 protocol, DESIGN §5): every route of ``graphs`` (path ->
:class:`.graphs.Graph`, a DAG over the models of a version, which :mod:`.graph_router` executes); by
default the two routes of one model:

| request | answer |
|---|---|
| ``POST /predict``, ``POST /api/v1.0/predictions`` | the chosen backend's ``/api/v1.0/predictions`` |
| ``POST /send-feedback``, ``POST /api/v1.0/feedback`` | the backend's ``/api/v1.0/feedback`` |
| ``POST <another route>`` (a deployer's ``routes``) | its DAG's final answer |
| ``GET /health`` | 200 with the live versions (``down``: routed servers marked down), 503 when none |
| no version deployed | 503, a Seldon-style JSON ``status`` |
| a backend that does not answer | 502, a Seldon-style JSON ``status`` |
| any other path | 404 (405 for a known path with another method) |

Status codes and bodies of the backend pass through unchanged (a 400 from the model stays a 400). A
successful prediction gets ``meta.requestPath[<model name>] = <version>`` for each model called (the Seldon
executor's convention), ``meta.routing[<model name>] = <backend index>`` for a model with several backends
(the executor's convention for router nodes), and the header ``X-Myelin-Version``. Feedback goes where its
``response.meta.requestPath`` says, when that version is live — to the backend ``meta.routing`` names, or
to all of the model's backends without it, as Seldon's routers do — else to a weighted choice. A malformed
request body (``Content-Length``) is a 4xx answer (:mod:`.request_body`).
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .graph_router import execute
from .request_body import BodyError, read_body

if TYPE_CHECKING:
    from .router import Router

log = logging.getLogger(__name__)


def _error(status: int, info: str, reason: str) -> tuple[int, dict[str, str], bytes]:
    """A Seldon-style error answer (``{"status": {"code", "info", "reason", "status"}}``)."""
    body = {"status": {"code": status, "info": info, "reason": reason, "status": "FAILURE"}}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    router: Router


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle on, a kept-alive client waits ~40 ms for the body
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = read_body(self.headers, self.rfile)
        except BodyError as exc:  # the unread body must not be taken for the next request
            self.close_connection = True
            self._send(*_error(exc.status, exc.message, "BAD_REQUEST"), close=True)
            return
        content_type = self.headers.get("Content-Type", "application/json")
        router = self.server.router
        graph = router.graphs.get(path)
        if graph is not None:
            self._send(*execute(router, graph, body, content_type))
        elif path == "/health":
            self._send(*_error(405, "use GET /health", "METHOD_NOT_ALLOWED"), allow="GET")
        else:
            routes = ", ".join(router.graphs)
            self._send(*_error(404, f"no such path: {path} (routes: {routes})", "NOT_FOUND"))

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/health":
            router = self.server.router
            routes, down = router.routes, router.down
            body: dict[str, Any] = {
                "status": "ok" if routes else "no version deployed" if not down else "no live model server",
                "versions": {r.version: r.weight for r in routes},
            }
            if down:  # routed model servers that do not answer (restarting): they get no traffic
                body["down"] = sorted(down)
            self._send(
                200 if routes else 503, {"Content-Type": "application/json"}, json.dumps(body).encode()
            )
        elif path in self.server.router.graphs:
            self._send(*_error(405, f"use POST {path}", "METHOD_NOT_ALLOWED"), allow="POST")
        else:
            self._send(*_error(404, f"no such path: {path}", "NOT_FOUND"))

    def _send(
        self,
        status: int,
        headers: dict[str, str],
        body: bytes,
        allow: str | None = None,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if allow:
            self.send_header("Allow", allow)
        if close:
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)
