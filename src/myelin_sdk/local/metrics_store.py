"""The embedded metrics store: a Pushgateway look-alike on 127.0.0.1 that keeps the latest samples in SQLite.

Tasks push to it exactly as to a real Prometheus Pushgateway (``prometheus_client.push_to_gateway``,
``pushadd_to_gateway``, ``delete_from_gateway`` and ``myelin_sdk.runtime.publish_metric`` all work)::

    store = MetricStore(Path("run/state.db"), axon="ml-rec")
    server = PushgatewayServer(store)          # binds 127.0.0.1 on a free port and serves in a thread
    # PUT/POST/DELETE http://127.0.0.1:<port>/metrics/job/<job>{/<label>/<value>}
    store.series(["rmse_ml__rec"])     # -> [Series("rmse_ml__rec", {"instance": "", "job": ...}, 0.91)]
    server.close(); store.close()

Semantics follow the real Pushgateway (1.5, checked against the Debian binary): ``PUT`` replaces the whole
group (job + grouping labels), ``POST`` replaces only the metric families of the same name in the group,
``DELETE`` removes the group; ``<label>@base64/<value>`` decodes a URL-safe base64 value (``=`` is the empty
string).  Grouping labels override labels of the same name in the body, and ``instance=""`` is added when
missing.  Replies: 200 for a push, 202 for a delete, 400 with a plain-text message for a bad path or body.
The body is the text exposition format, parsed by ``prometheus_client.parser``; type consistency across
groups (which the real Pushgateway checks) is not checked, and a counter's samples get the ``_total`` name
``prometheus_client``'s parser gives them.  ``GET /metrics`` shows the stored series in the text format
and ``GET /-/healthy`` (and ``/-/ready``) answers ``OK``.

Rows live in the table ``metric_samples`` of the SQLite file (WAL mode; other tables of the file are left
alone), scoped by axon, so values survive a restart of the runner.  NaN is stored as NULL.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .request_body import BodyError, read_body

__all__ = ["Family", "MetricStore", "PushError", "PushgatewayServer", "Series", "parse_body", "parse_group"]

#: The largest push the embedded Pushgateway reads (bytes).
MAX_BODY = 16 * 1024 * 1024
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS metric_samples (
    axon TEXT NOT NULL,
    job TEXT NOT NULL,
    grouping TEXT NOT NULL,
    family TEXT NOT NULL,
    type TEXT NOT NULL,
    help TEXT NOT NULL,
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    value REAL,
    pushed_at REAL NOT NULL,
    PRIMARY KEY (axon, job, grouping, name, labels)
);
CREATE INDEX IF NOT EXISTS metric_samples_name ON metric_samples (axon, name);
"""


class PushError(ValueError):
    """A push the store refuses (bad path or body); the server answers 400 with this message."""


@dataclass(frozen=True)
class Series:
    """One series: a sample name, its full label set (job, grouping and sample labels) and latest value."""

    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Family:
    """A parsed metric family of a push: ``samples`` are (sample name, sample labels, value)."""

    name: str
    type: str
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def _b64decode(text: str) -> str:
    if text in ("", "="):
        return ""
    raw = text.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise PushError(f"invalid base64 encoding {text!r}: {exc}") from exc


def parse_group(path: str) -> tuple[str, dict[str, str]]:
    """Parse ``/metrics/job/<job>{/<label>/<value>}`` into (job, grouping labels).

    >>> parse_group("/metrics/job/train/model_version@base64/Y2FuYXJ5")
    ('train', {'model_version': 'canary'})
    """
    raw = urllib.parse.urlsplit(path).path
    if not raw.startswith("/metrics/"):
        raise PushError(f"unknown path {raw!r}: expected /metrics/job/<job>{{/<label>/<value>}}")
    parts = raw[len("/metrics/") :].split("/")
    if len(parts) % 2 and parts[-1] == "":  # a trailing slash
        parts.pop()
    if len(parts) % 2:
        raise PushError(f"odd number of components in the grouping key path {raw!r}")
    labels: dict[str, str] = {}
    for key, value in zip(parts[::2], parts[1::2], strict=True):
        name = urllib.parse.unquote(key)
        text = urllib.parse.unquote(value)
        if name.endswith("@base64"):
            name = name[: -len("@base64")]
            text = _b64decode(text)
        if not _LABEL_NAME_RE.fullmatch(name) or name.startswith("__"):
            raise PushError(f"improper label name {name!r} in the grouping key")
        if name in labels:
            raise PushError(f"label {name!r} appears twice in the grouping key")
        labels[name] = text
    if next(iter(labels), None) != "job":
        raise PushError(f"the grouping key path {raw!r} must start with job/<job>")
    job = labels.pop("job")
    if not job:
        raise PushError("the job name is required (/metrics/job/<job>)")
    return job, labels


def parse_body(body: bytes) -> list[Family]:
    """Parse a push body in the text exposition format with ``prometheus_client.parser``."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = body.decode()
        families = [
            Family(
                family.name,
                family.type,
                family.documentation,
                [(s.name, dict(s.labels), float(s.value)) for s in family.samples],
            )
            for family in text_string_to_metric_families(text)
        ]
    except (ValueError, TypeError, IndexError, KeyError) as exc:  # the parser's errors are not uniform
        raise PushError(f"text format parsing error: {exc}") from exc
    for family in families:
        for name, labels, _ in family.samples:
            bad = [label for label in labels if not _LABEL_NAME_RE.fullmatch(label)]
            if bad:
                raise PushError(f"improper label name {bad[0]!r} in sample {name!r}")
    return families


def _key(labels: dict[str, str]) -> str:
    return json.dumps(sorted(labels.items()), separators=(",", ":"))


class MetricStore:
    """The latest samples of one axon's pushes, in the table ``metric_samples`` of a SQLite file.

    Thread-safe (one connection behind a lock); every write is one transaction.
    """

    def __init__(self, db_path: Path, axon: str) -> None:
        self.db_path = Path(db_path)
        self.axon = axon
        self._lock = threading.Lock()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.db_path, timeout=30.0, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()

    def push(self, job: str, grouping: dict[str, str], families: list[Family], *, replace_all: bool) -> None:
        """Store ``families`` in the group: ``replace_all`` drops the whole group first (PUT), otherwise only
        the families of the same names (POST)."""
        group = _key(grouping)
        now = time.time()
        rows = []
        for family in families:
            for name, sample_labels, value in family.samples:
                labels = {"instance": "", **sample_labels, "job": job, **grouping}
                stored = None if value != value else value  # NaN -> NULL
                row = (self.axon, job, group, family.name, family.type, family.help, name, _key(labels))
                rows.append((*row, stored, now))
        with self._lock, self._transaction():
            where = "axon = ? AND job = ? AND grouping = ?"
            if replace_all:
                self._db.execute(f"DELETE FROM metric_samples WHERE {where}", (self.axon, job, group))
            else:
                self._db.executemany(
                    f"DELETE FROM metric_samples WHERE {where} AND family = ?",
                    [(self.axon, job, group, family.name) for family in families],
                )
            self._db.executemany("INSERT OR REPLACE INTO metric_samples VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    def delete(self, job: str, grouping: dict[str, str]) -> None:
        """Delete the group (job + grouping labels)."""
        with self._lock, self._transaction():
            self._db.execute(
                "DELETE FROM metric_samples WHERE axon = ? AND job = ? AND grouping = ?",
                (self.axon, job, _key(grouping)),
            )

    def series(self, names: Iterable[str] | None = None) -> list[Series]:
        """The stored series of sample names ``names`` (all when ``None``), sorted by name and labels."""
        query = "SELECT name, labels, value FROM metric_samples WHERE axon = ?"
        params: list[str] = [self.axon]
        if names is not None:
            wanted = sorted(set(names))
            query += f" AND name IN ({','.join('?' * len(wanted))})"
            params += wanted
        with self._lock:
            rows = self._db.execute(query + " ORDER BY name, labels", params).fetchall()
        return [
            Series(name, dict(json.loads(labels)), float("nan") if value is None else float(value))
            for name, labels, value in rows
        ]

    def pushed(self, job: str, since: float) -> list[tuple[str, float, float]]:
        """(sample name, push time, value) of every series of ``job`` pushed at or after ``since`` (Unix
        time), oldest push first; NaN values are left out."""
        with self._lock:
            rows = self._db.execute(
                "SELECT name, pushed_at, value FROM metric_samples WHERE axon = ? AND job = ?"
                " AND pushed_at >= ? AND value IS NOT NULL ORDER BY pushed_at, name",
                (self.axon, job, since),
            ).fetchall()
        return [(str(name), float(at), float(value)) for name, at, value in rows]

    def exposition(self) -> bytes:
        """All stored series in the text exposition format (for ``GET /metrics``)."""
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.metrics_core import Metric

        with self._lock:
            rows = self._db.execute(
                "SELECT family, type, help, name, labels, value FROM metric_samples WHERE axon = ? "
                "ORDER BY family, name, labels",
                (self.axon,),
            ).fetchall()
        families: dict[str, Metric] = {}
        for family, typ, help_text, name, labels, value in rows:
            metric = families.setdefault(family, Metric(family, help_text, typ))
            sample_value = float("nan") if value is None else float(value)
            metric.add_sample(name, dict(json.loads(labels)), sample_value)

        class _Collector:
            def collect(self) -> Iterator[Metric]:
                return iter(families.values())

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector())
        return generate_latest(registry)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if kind is not None else "COMMIT")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request log lines on stderr."""

    def _reply(self, status: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes | None:
        """The request body; None once a 4xx answered a malformed one (the connection then closes)."""
        try:
            return read_body(self.headers, self.rfile, MAX_BODY)
        except BodyError as exc:
            self.close_connection = True
            self._reply(exc.status, f"{exc.message}\n".encode())
            return None

    def _push(self, replace_all: bool) -> None:
        body = self._body()
        if body is None:
            return
        try:
            job, grouping = parse_group(self.path)
            content_type = self.headers.get("Content-Type") or ""
            if "protobuf" in content_type:
                raise PushError("the embedded store accepts the text exposition format only, not protobuf")
            families = parse_body(body)
        except PushError as exc:
            self._reply(400, f"{exc}\n".encode())
            return
        self.server.store.push(job, grouping, families, replace_all=replace_all)
        self._reply(200)
        self.server.on_change()

    def do_PUT(self) -> None:
        self._push(replace_all=True)

    def do_POST(self) -> None:
        self._push(replace_all=False)

    def do_DELETE(self) -> None:
        if self._body() is None:
            return
        try:
            job, grouping = parse_group(self.path)
        except PushError as exc:
            self._reply(400, f"{exc}\n".encode())
            return
        self.server.store.delete(job, grouping)
        self._reply(202)
        self.server.on_change()

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/-/healthy", "/-/ready"):
            self._reply(200, b"OK")
        elif path == "/metrics":
            self._reply(200, self.server.store.exposition(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._reply(404, b"404 page not found\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # tasks may push at once; the default 5 drops connections for 1 s
    store: MetricStore
    on_change: Callable[[], None]


class PushgatewayServer:
    """Serve ``store`` with the Pushgateway protocol on ``host:port`` (0: a free port) in a daemon thread;
    ``on_change`` is called after each push or delete has been stored and answered."""

    def __init__(
        self,
        store: MetricStore,
        host: str = "127.0.0.1",
        port: int = 0,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.store = store
        self._server.on_change = on_change or (lambda: None)
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="myelin-metrics",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
