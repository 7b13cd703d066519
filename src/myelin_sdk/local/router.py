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

The routes (:class:`~.routes.Route`, :class:`~.routes.Backend`) are :mod:`.routes`; the paths the router
serves, its status codes and answers are :mod:`.router_http`; every route of ``graphs`` (path ->
:class:`.graphs.Graph`) is executed by :mod:`.graph_router`.

Backend connections are kept alive: each backend has a pool (:mod:`.pool`) of idle ``http.client``
connections, reused across requests (thread-safe). A kept-alive connection that the model server dropped
is retried once on a fresh connection when nothing of the request reached the server, or when the request
is a prediction (idempotent) and the server closed the connection without answering. :meth:`Router.stats`
gives, per version, the traffic weight, request/error/feedback counts, and the p50/p95 latency of recent
predictions. A backend whose model server died is marked down (:meth:`Router.mark_down`, by the deployments'
health checks, :mod:`.supervisor`): it gets no traffic until it is routed again.
"""

from __future__ import annotations

import random
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence

from .graph_router import VERSION_HEADER
from .graphs import Graph, default_graphs
from .pool import Pool
from .router_http import _Handler, _Server
from .routes import (
    _TOLERANCE,
    Backend,
    Route,
    VersionStats,
    _all_backends,
    _Counters,
    _cumulative,
    _percentile,
    _Table,
    _weighted,
    _without,
)

__all__ = ["FEEDBACK_PATHS", "PREDICT_PATHS", "VERSION_HEADER", "Router"]

PREDICT_PATHS = ("/predict", "/api/v1.0/predictions")
FEEDBACK_PATHS = ("/send-feedback", "/api/v1.0/feedback")


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
