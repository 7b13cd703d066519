"""A real HTTP server standing in for a model's own server (test support): it records every POST and
answers what the test says; and the parser of the multipart form field ``json`` that Myelin's custom
servers read."""

from __future__ import annotations

import json
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Target", "form_json"]


class Target:
    """A real HTTP server recording every POST (path, content type, body) and answering ``reply``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.reply: tuple[int, bytes] = (200, b'{"data": {"ndarray": [42]}}')
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                target.requests.append((self.path, self.headers["Content-Type"], body))
                status, answer = target.reply
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def form_json(content_type: str, body: bytes) -> Any:
    """The ``json`` field of a multipart/form-data body, parsed by the standard library's MIME parser."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    assert message.is_multipart()
    (part,) = message.iter_parts()
    assert part.get_param("name", header="content-disposition") == "json"
    return json.loads(part.get_payload(decode=True))
