"""Reading a request body on the local runner's HTTP servers (router, control endpoint, metrics store) without
trusting ``Content-Length``: a missing one is an empty body, a malformed, negative or too large one is a 4xx
answer (never an uncaught exception that drops the connection)::

    try:
        body = read_body(handler.headers, handler.rfile, limit=MAX_BODY)
    except BodyError as exc:
        handler.close_connection = True          # the unread body must not be parsed as the next request
        reply(exc.status, exc.message)

A chunked body (``Transfer-Encoding``) is refused with 411: none of these servers' clients sends one.
"""

from __future__ import annotations

from email.message import Message
from io import BufferedIOBase

__all__ = ["MAX_BODY", "BodyError", "read_body"]

#: The largest body accepted by default (bytes): 64 MiB.
MAX_BODY = 64 * 1024 * 1024


class BodyError(Exception):
    """A request body that cannot be read: ``status`` (400, 411 or 413) and a short ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def content_length(headers: Message, limit: int = MAX_BODY) -> int:
    """The body length ``headers`` announce, 0 without one; :class:`BodyError` when it is unusable.

    >>> content_length(Message())
    0
    >>> m = Message(); m["Content-Length"] = "-1"
    >>> content_length(m)
    Traceback (most recent call last):
    ...
    myelin_sdk.local.request_body.BodyError: Content-Length must be a non-negative integer, got '-1'
    """
    if headers.get("Transfer-Encoding"):
        raise BodyError(411, "a chunked body is not accepted: send Content-Length")
    values = headers.get_all("Content-Length") or []
    if not values:
        return 0
    if len(set(values)) > 1:
        raise BodyError(400, "more than one Content-Length")
    raw = values[0].strip()
    if not raw.isdigit() or not raw.isascii() or len(raw) > 20:
        raise BodyError(400, f"Content-Length must be a non-negative integer, got {raw[:40]!r}")
    length = int(raw)
    if length > limit:
        raise BodyError(413, f"the body is too large: {length} bytes (at most {limit})")
    return length


def read_body(headers: Message, rfile: BufferedIOBase, limit: int = MAX_BODY) -> bytes:
    """The request body (see :func:`content_length`); a body shorter than announced is a 400."""
    length = content_length(headers, limit)
    if length == 0:
        return b""
    data = rfile.read(length)
    if len(data) != length:
        raise BodyError(400, f"the body ended after {len(data)} of {length} bytes")
    return data
