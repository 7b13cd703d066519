"""The control endpoint of a local run, on 127.0.0.1 only: Rest triggers and the run's status.

    POST /trigger/<sensor>   fire the sensor's Rest trigger: 202 {"event": 7, "sensor": "Retrain"}
    GET  /status             the engine's snapshot (sensors, tasks, metrics, endpoints, deployments)
    GET  /healthz            200 "ok"

A sensor without a Rest trigger answers 404 (with the sensors that have one), so a typo is not silently
accepted. The cluster equivalent is the webhook EventSource of the Rest trigger. The server only knows an
:class:`~.events.EventSink` (the engine), never the engine itself::

    control = ControlServer(engine, rest_sensors=["Retrain"])
    control.start(); print(control.url); control.stop()
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from ..errors import did_you_mean
from .events import EventSink
from .request_body import BodyError, read_body

#: The largest request body the control endpoint reads (it needs none).
MAX_BODY = 1024 * 1024


class ControlServer:
    """Serves the control endpoint of ``sink`` on a loopback port (0: a free one)."""

    def __init__(self, sink: EventSink, rest_sensors: Iterable[str], port: int = 0) -> None:
        self.sink = sink
        attributes = {"sink": sink, "rest_sensors": list(rest_sensors)}
        handler = type("Handler", (_Handler,), attributes)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="control", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    sink: EventSink
    rest_sensors: list[str]
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body, indent=1, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/status":
            self._reply(200, self.sink.snapshot())
        elif self.path == "/healthz":
            self._reply(200, "ok")
        else:
            self._reply(404, {"error": f"no {self.path}: try GET /status or POST /trigger/<sensor>"})

    def do_POST(self) -> None:
        try:
            read_body(self.headers, self.rfile, MAX_BODY)
        except BodyError as exc:  # the unread body must not be taken for the next request
            self.close_connection = True
            self._reply(exc.status, {"error": exc.message})
            return
        if not self.path.startswith("/trigger/"):
            self._reply(404, {"error": f"no {self.path}: POST /trigger/<sensor>"})
            return
        name = unquote(self.path[len("/trigger/") :]).strip("/")
        rest = self.rest_sensors
        if name not in rest:
            self._reply(
                404,
                {
                    "error": f"no sensor {name!r} with a Rest trigger{did_you_mean(name, rest)}",
                    "sensors": rest,
                },
            )
            return
        event = self.sink.emit("rest", name, {"sensor": name}, [name])
        self._reply(202, {"event": event, "sensor": name})
