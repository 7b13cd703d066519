"""The route model of the local router: the deployed versions, their backends, and their counters.

A :class:`Route` is a deployed version, its share (percent) of all traffic, and the :class:`Backend` (s)
that serve it (a model with a ``routingStrategy`` splits its version's traffic between backend models); a
version serving a graph names its models' backends in ``Route(..., models={model: backends})``. The
:class:`~.router.Router` keeps the routes as one immutable table (:class:`_Table`, swapped whole), picks a
version and a backend by weight (:func:`_weighted`), leaves out the backends marked down (:func:`_without`)
and counts each version's traffic (:class:`VersionStats`, a snapshot)::

    router.set_routes([Route("v7", "http://127.0.0.1:9101", 10),                     # canary
                       Route("v6", [Backend("http://127.0.0.1:9102", 70, "SVD"),
                                    Backend("http://127.0.0.1:9103", 30, "Baseline")], 90)])
    router.stats()["v7"]      # VersionStats(version='v7', weight=10, requests=..., p50=..., ...)
"""

from __future__ import annotations

import bisect
import math
import random
import urllib.parse
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["LATENCY_WINDOW", "Backend", "Route", "VersionStats"]

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
