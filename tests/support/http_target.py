"""Real HTTP servers on loopback for tests (test support): :class:`Loopback` (a threading server and its
URL, over https with a TLS context) with :class:`QuietHandler` (no log lines, :meth:`~QuietHandler.answer`);
:class:`Target`, a server standing in for a model's own server: it records every POST and answers what the
test says; and the parser of the multipart form field ``json`` that Myelin's custom servers read."""

from __future__ import annotations

import json
import ssl
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Loopback", "QuietHandler", "Target", "form_json"]


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing, with :meth:`answer` to send a whole response."""

    def answer(self, status: int, body: bytes, content_type: str | None = "application/json") -> None:
        """Send ``status`` and ``body`` (with a Content-Type header unless ``content_type`` is None)."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Loopback:
    """A :class:`~http.server.ThreadingHTTPServer` on 127.0.0.1 (a free port) serving ``handler`` in a daemon
    thread, at ``url``; over https when given a server-side ``tls`` context."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "http" if tls is None else "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Target(Loopback):
    """A real HTTP server recording every POST (path, content type, body) and answering ``reply``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.reply: tuple[int, bytes] = (200, b'{"data": {"ndarray": [42]}}')
        target = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                target.requests.append((self.path, self.headers["Content-Type"], body))
                self.answer(*target.reply, content_type=None)

        super().__init__(Handler)


def form_json(content_type: str, body: bytes) -> Any:
    """The ``json`` field of a multipart/form-data body, parsed by the standard library's MIME parser."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    assert message.is_multipart()
    (part,) = message.iter_parts()
    assert part.get_param("name", header="content-disposition") == "json"
    return json.loads(part.get_payload(decode=True))
