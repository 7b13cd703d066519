"""The local canary router: one HTTP port in front of the model servers of every deployed version.

The cluster splits traffic between a SeldonDeployment's predictors (one a version, ``traffic`` weights that
sum to 100) and, inside a predictor, between a model's backend models (``RANDOM_ABTEST`` nodes from the
Axon's ``routingStrategy``). Locally the :class:`Router` does both::

    router = Router(model_name="RecommenderModel")
    router.start()                                     # http://127.0.0.1:<port>, stdlib ThreadingHTTPServer
    router.set_routes([Route("v7", "http://127.0.0.1:9101", 10),    # canary
                       Route("v6", "http://127.0.0.1:9102", 90)])   # stable
    # later: promote v7, then stop v6's model server once nothing is in flight on it
    router.set_routes([Route("v7", "http://127.0.0.1:9101", 100)])
    router.wait_idle("v6", timeout=30)
    router.stop()

Paths (the Seldon Core v1 protocol, DESIGN §5): every route of ``graphs`` (path ->
:class:`.graph_router.Graph`, a DAG over the models of a version, which :mod:`.graph_router` executes); by
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
to all of the model's backends without it, as Seldon's routers do — else to a weighted choice. A version
serving a graph names its models' backends in ``Route(..., models={model: backends})``.

Backend connections are kept alive: each backend has a pool (:mod:`.pool`) of idle ``http.client``
connections, reused across requests (thread-safe). A kept-alive connection that the model server dropped
is retried once on a fresh connection when nothing of the request reached the server, or when the request
is a prediction (idempotent) and the server closed the connection without answering. :meth:`Router.stats`
gives, per version, the traffic weight, request/error/feedback counts, and the p50/p95 latency of recent
predictions. A backend whose model server died is marked down (:meth:`Router.mark_down`, by the deployments'
health checks, :mod:`.supervisor`): it gets no traffic until it is routed again. A malformed request body
(``Content-Length``) is a 4xx answer (:mod:`.request_body`).
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import random
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .graph_router import VERSION_HEADER, Graph, default_graphs, execute
from .pool import Pool
from .request_body import BodyError, read_body

__all__ = ["FEEDBACK_PATHS", "PREDICT_PATHS", "VERSION_HEADER", "Backend", "Route", "Router", "VersionStats"]

log = logging.getLogger(__name__)

PREDICT_PATHS = ("/predict", "/api/v1.0/predictions")
FEEDBACK_PATHS = ("/send-feedback", "/api/v1.0/feedback")
_TOLERANCE = 1e-6
#: Predictions whose latency :meth:`Router.stats` summarises (the most recent, per version).
LATENCY_WINDOW = 1000


@dataclass(frozen=True)
class Backend:
    """One model server of a version and its share (percent) of that version's traffic.

    >>> Backend("http://127.0.0.1:9101", 70, name="BackendSVD")
    Backend(url='http://127.0.0.1:9101', weight=70, name='BackendSVD', protocol='seldon')
    """

    url: str
    weight: float = 100
    name: str = ""
    protocol: str = "seldon"  # or "custom": a Dockerfile-built server (:mod:`.graph_router`)

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme != "http" or not parsed.hostname or parsed.port is None:
            raise ValueError(f"a backend url must be http://host:port, got {self.url!r}")
        if not 0 <= self.weight <= 100:
            raise ValueError(f"backend weight must be between 0 and 100, got {self.weight}")


@dataclass(frozen=True, init=False)
class Route:
    """A deployed version, its share (percent) of all traffic, and the backend(s) that serve it.

    A version served by one model server takes its url; a version whose model routes between backend
    models (the Axon's ``routingStrategy``) takes :class:`Backend` objects whose weights sum to 100:

    >>> Route("v7", "http://127.0.0.1:9101", 10).backends[0].url
    'http://127.0.0.1:9101'
    >>> ab = Route("v6", [Backend("http://127.0.0.1:9102", 70, "SVD"),
    ...                   Backend("http://127.0.0.1:9103", 30, "Baseline")], 90)
    >>> [b.name for b in ab.backends]
    ['SVD', 'Baseline']
    """

    version: str
    backends: tuple[Backend, ...]
    weight: float
    models: Mapping[str, tuple[Backend, ...]]  # every model of a graph -> its backends (default: the one)

    def __init__(
        self,
        version: str,
        backends: str | Backend | Iterable[Backend],
        weight: float = 100,
        models: Mapping[str, Iterable[Backend]] | None = None,
    ) -> None:
        if isinstance(backends, str):
            items: tuple[Backend, ...] = (Backend(backends),)
        elif isinstance(backends, Backend):
            items = (backends,)
        else:
            items = tuple(backends)
        if not version:
            raise ValueError("a route needs a version name")
        if not items:
            raise ValueError(f"version {version!r} needs at least one backend")
        if not all(isinstance(b, Backend) for b in items):
            raise TypeError(f"backends of version {version!r} must be Backend objects or one url")
        if not 0 <= weight <= 100:
            raise ValueError(f"version {version!r}: weight must be between 0 and 100, got {weight}")
        graph = {name: tuple(group) for name, group in (models or {}).items()}
        for group in [items, *graph.values()]:
            total = sum(b.weight for b in group)
            if not group or abs(total - 100) > _TOLERANCE:
                raise ValueError(f"version {version!r}: backend weights must sum to 100, got {total:g}")
        object.__setattr__(self, "models", graph)
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "backends", items)
        object.__setattr__(self, "weight", weight)


@dataclass(frozen=True)
class VersionStats:
    """Counters of one version since the router started (a snapshot, for a live view)."""

    version: str
    weight: float | None  # None: no longer routed
    requests: int = 0  # predictions forwarded
    errors: int = 0  # predictions answered with a status >= 400 (backend errors and unreachable backends)
    feedback: int = 0  # feedback messages forwarded
    in_flight: int = 0
    seconds: float = 0.0  # total time of the forwarded predictions
    p50: float | None = None  # median latency (s) of the last LATENCY_WINDOW predictions (None: none yet)
    p95: float | None = None  # their 95th percentile (nearest rank)


@dataclass
class _Counters:
    requests: int = 0
    errors: int = 0
    feedback: int = 0
    in_flight: int = 0
    seconds: float = 0.0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))


def _percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted values (``None`` when there are none).

    >>> _percentile([1.0, 2.0, 3.0, 4.0], 0.5), _percentile([1.0, 2.0, 3.0, 4.0], 0.95)
    (2.0, 4.0)
    """
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered) - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class _Table:
    """An immutable routing table: swapped whole, so a request sees one consistent set of routes."""

    routes: tuple[Route, ...] = ()
    by_version: dict[str, Route] = field(default_factory=dict)
    cumulative: tuple[float, ...] = ()


def _cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    out, total = [], 0.0
    for weight in weights:
        total += weight
        out.append(total)
    return tuple(out)


def _weighted(rng: random.Random, cumulative: Sequence[float]) -> int:
    """Index of a weighted choice; zero weights are never chosen."""
    point = rng.random() * cumulative[-1]
    index = bisect.bisect_right(cumulative, point)
    return min(index, len(cumulative) - 1)


class Router:
    """A weighted HTTP router between deployed versions, bound to ``host`` (loopback) on ``port`` (0: free).

    ``model_name`` is the key of ``meta.requestPath``; ``rng`` makes choices reproducible in tests;
    ``timeout`` bounds each forwarded call (seconds).
    """

    def __init__(
        self,
        model_name: str = "model",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rng: random.Random | None = None,
        timeout: float = 60.0,
        graphs: Mapping[str, Graph] | None = None,
    ) -> None:
        self.model_name = model_name
        # route path -> its DAG (:mod:`.graph_router`); by default /predict and /send-feedback of one model
        self.graphs = dict(graphs) if graphs else default_graphs(model_name)
        self.host = host
        self.port = port
        self.timeout = timeout
        self._rng = rng or random.Random()
        self._table = _Table()
        self._desired: tuple[Route, ...] = ()  # as set; the table leaves out the down backends
        self._down: set[str] = set()
        self._counters: dict[str, _Counters] = {}
        self._pools: dict[str, Pool] = {}  # backend url -> its kept-alive connections
        self._cond = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        if self._server is None:
            raise RuntimeError("the router has not been started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bind and serve in a background thread (idempotent)."""
        if self._server is not None:
            return
        server = _Server((self.host, self.port), _Handler)
        server.router = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=f"router-{self.port}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting requests and close the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._cond:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    def __enter__(self) -> Router:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ routes

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes now in force (without the versions that need a backend marked down)."""
        return self._table.routes

    def set_routes(self, routes: Sequence[Route]) -> None:
        """Replace all routes at once. Weights must sum to 100 (or ``routes`` be empty); versions unique.

        Requests already in flight finish on the backend they started on; new ones see the new routes.
        Backends marked down (:meth:`mark_down`) get no traffic while they stay down.
        """
        routes = tuple(routes)
        versions = [r.version for r in routes]
        if len(set(versions)) != len(versions):
            raise ValueError(f"a version may be routed once, got {versions}")
        if routes:
            total = sum(r.weight for r in routes)
            if abs(total - 100) > _TOLERANCE:
                raise ValueError(f"route weights must sum to 100, got {total:g} ({versions})")
        with self._cond:
            self._desired = routes
            self._down &= {b.url for r in routes for b in _all_backends(r)}
            gone = self._rebuild_locked()
        for pool in gone:  # requests still in flight there close their connection when done
            pool.close()

    @property
    def down(self) -> frozenset[str]:
        """Urls of the backends marked down (routed, but given no traffic)."""
        with self._cond:
            return frozenset(self._down)

    def mark_down(self, url: str) -> None:
        """Give backend ``url`` no more traffic (its model server died): a version that needs it is left out
        and the others share its traffic; another backend of the same model takes its share. New requests
        see this at once; :meth:`mark_up` or the next :meth:`set_routes` without ``url`` ends it."""
        with self._cond:
            if url in self._down:
                return
            self._down.add(url)
            gone = self._rebuild_locked()
        for pool in gone:
            pool.close()

    def mark_up(self, url: str) -> None:
        """Route to backend ``url`` again."""
        with self._cond:
            if url not in self._down:
                return
            self._down.discard(url)
            gone = self._rebuild_locked()
        for pool in gone:
            pool.close()

    def _rebuild_locked(self) -> list[Pool]:
        """Swap in the table of the desired routes without the down backends; the pools no longer used."""
        routes = _without(self._desired, self._down)
        self._table = _Table(
            routes=routes,
            by_version={r.version: r for r in routes},
            cumulative=_cumulative([r.weight for r in routes]),
        )
        for route in self._desired:
            self._counters.setdefault(route.version, _Counters())
        live = {b.url for r in routes for b in _all_backends(r)}
        gone = [self._pools.pop(url) for url in list(self._pools) if url not in live]
        self._cond.notify_all()
        return gone

    def wait_idle(self, version: str, timeout: float | None = None) -> bool:
        """Wait until no request is in flight on ``version``; ``False`` if ``timeout`` passed first.

        After :meth:`set_routes` without ``version``, no new request starts on it, so ``True`` means its
        model server can stop without dropping a request.
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight(version) == 0, timeout)

    def _in_flight(self, version: str) -> int:
        counters = self._counters.get(version)
        return counters.in_flight if counters else 0

    def pick(self) -> tuple[Route, int] | None:
        """A weighted choice of (version, backend index), without sending anything; ``None`` with no route."""
        with self._cond:
            return self._pick_locked(self._table)

    def _pick_locked(self, table: _Table) -> tuple[Route, int] | None:
        if not table.routes or table.cumulative[-1] <= 0:
            return None
        route = table.routes[_weighted(self._rng, table.cumulative)]
        return route, self._pick_backend_locked(route.backends)

    def _pick_backend_locked(self, backends: Sequence[Backend]) -> int:
        if len(backends) == 1:
            return 0
        return _weighted(self._rng, _cumulative([b.weight for b in backends]))

    def stats(self) -> dict[str, VersionStats]:
        """Counters per version seen since start (``weight`` is ``None`` for versions no longer routed)."""
        with self._cond:
            live = self._table.by_version
            counters = {version: (c, sorted(c.latencies)) for version, c in self._counters.items()}
            return {
                version: VersionStats(
                    version=version,
                    weight=live[version].weight if version in live else None,
                    requests=c.requests,
                    errors=c.errors,
                    feedback=c.feedback,
                    in_flight=c.in_flight,
                    seconds=c.seconds,
                    p50=_percentile(ordered, 0.5),
                    p95=_percentile(ordered, 0.95),
                )
                for version, (c, ordered) in counters.items()
            }

    # ------------------------------------------------------------------ forwarding

    def _acquire(
        self, choose: Callable[[_Table], tuple[Route, list[int]] | None]
    ) -> tuple[Route, list[int]] | None:
        """Choose under the lock and count the request in flight on the chosen version."""
        with self._cond:
            chosen: tuple[Route, list[int]] | None = choose(self._table)
            if chosen is not None:
                self._counters.setdefault(chosen[0].version, _Counters()).in_flight += 1
            return chosen

    def _release(self, version: str, *, kind: str, status: int, seconds: float) -> None:
        with self._cond:
            counters = self._counters.setdefault(version, _Counters())
            counters.in_flight -= 1
            if kind == "predict":
                counters.requests += 1
                counters.seconds += seconds
                counters.latencies.append(seconds)
                if status >= 400:
                    counters.errors += 1
            else:
                counters.feedback += 1
            self._cond.notify_all()

    def _pool(self, backend: Backend) -> Pool:
        """The backend's pool; a backend no longer routed gets a closed one (nothing is kept for it)."""
        with self._cond:
            pool = self._pools.get(backend.url)
            if pool is None:
                parsed = urllib.parse.urlsplit(backend.url)
                assert parsed.hostname is not None and parsed.port is not None
                pool = Pool(parsed.hostname, parsed.port, self.timeout)
                if any(backend.url == b.url for r in self._table.routes for b in _all_backends(r)):
                    self._pools[backend.url] = pool
                else:
                    pool.closed = True
            return pool


def _error(status: int, info: str, reason: str) -> tuple[int, dict[str, str], bytes]:
    """A Seldon-style error answer (``{"status": {"code", "info", "reason", "status"}}``)."""
    body = {"status": {"code": status, "info": info, "reason": reason, "status": "FAILURE"}}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _all_backends(route: Route) -> list[Backend]:
    return [*route.backends, *(b for group in route.models.values() for b in group)]


def _live_group(group: Sequence[Backend], down: set[str]) -> tuple[Backend, ...]:
    """The backends of ``group`` that are not down, their weights scaled to sum to 100 (empty: none)."""
    live = [b for b in group if b.url not in down]
    if len(live) == len(group):
        return tuple(group)
    total = sum(b.weight for b in live)
    if not live:
        return ()
    return tuple(
        Backend(b.url, b.weight * 100 / total if total else 100 / len(live), b.name, b.protocol) for b in live
    )


def _without(routes: Sequence[Route], down: set[str]) -> tuple[Route, ...]:
    """``routes`` without the backends in ``down``: a version left without a backend for one of its models
    is left out, the remaining versions share all traffic in proportion (equally when all had 0).

    >>> a, b = Route("v2", "http://127.0.0.1:1", 10), Route("v1", "http://127.0.0.1:2", 90)
    >>> [(r.version, r.weight) for r in _without([a, b], {"http://127.0.0.1:2"})]
    [('v2', 100.0)]
    """
    if not down:
        return tuple(routes)
    kept = []
    for route in routes:
        backends = _live_group(route.backends, down)
        models = {name: _live_group(group, down) for name, group in route.models.items()}
        if backends and all(models.values()):
            kept.append((route, backends, models))
    total = sum(route.weight for route, _, _ in kept)
    return tuple(
        Route(
            route.version,
            backends,
            route.weight * 100 / total if total else 100 / len(kept),
            models=models,
        )
        for route, backends, models in kept
    )


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
