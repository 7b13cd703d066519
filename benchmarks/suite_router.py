"""Router vs direct seldon-core: what the local canary router adds in front of a real model server.

    python benchmarks/suite_router.py --json out.json           # ~2,000 requests at c=1, ~10 s a side at c=16
    python benchmarks/suite_router.py --quick --json out.json   # ~300 requests, ~2 s a side

What ``myelin run`` serves, with its real parts: the tiny Doubler model (tests/local/fixtures/doubler) in
seldon-core 1.17.1's microservice (:class:`~myelin_sdk.local.model_server.ModelServer`, 127.0.0.1), in a
serving environment built by :func:`~myelin_sdk.local.envs.ensure_env` (uv; cached in the user's cache dir,
so only the first run pays for it), and :class:`~myelin_sdk.local.router.Router` in front of it. A client in
its own process (its own GIL, as callers are outside the runner) sends ``{"data": {"ndarray": [[1, 2]]}}``
(a) straight to the model server's ``/api/v1.0/predictions`` -- the baseline -- and (b) to the router's
``/predict``, over kept-alive connections: one connection sequentially (c=1), then 16 threads with one
connection each (c=16). So that drift of a shared, noisy machine falls on both sides alike, the c=1
requests interleave direct and router one by one, and the c=16 blocks alternate (D R R D D R ...).
Every answer is checked (200 and ``[[2, 4]]``); anything else, connection errors included, is a failure,
counted in the notes (it must be 0; the suite fails otherwise).
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from figures import ROOT, Context, Figure, p95, progress, suite_main

sys.path.insert(0, str(ROOT / "tests"))  # the client threads' harness, shared with runner.py
from support.load import threads_for

SUITE = "router"
HOST = "127.0.0.1"
DOUBLER = ROOT / "tests" / "local" / "fixtures" / "doubler"
DIRECT_PATH = "/api/v1.0/predictions"
ROUTER_PATH = "/predict"
REQUEST = json.dumps({"data": {"ndarray": [[1, 2]]}}).encode()
EXPECTED = [[2, 4]]
HEADERS = {"Content-Type": "application/json"}
CONCURRENCY = 16
WARMUP = 50  # unmeasured requests per side before the first block (connections, Flask's first calls)


# ------------------------------------------------------------------------- the client (its own process)


def _post(connection: http.client.HTTPConnection, path: str) -> bool:
    """One prediction on a kept-alive connection; ``True`` when answered 200 with the doubled input."""
    connection.request("POST", path, body=REQUEST, headers=HEADERS)
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        return False
    try:
        return bool(json.loads(answer)["data"]["ndarray"] == EXPECTED)
    except (ValueError, KeyError, TypeError):
        return False


def _attempt(connection: http.client.HTTPConnection, path: str) -> tuple[bool, http.client.HTTPConnection]:
    """``_post`` that counts a connection error as a failure and reconnects after it."""
    try:
        return _post(connection, path), connection
    except (OSError, http.client.HTTPException):
        connection.close()
        return False, http.client.HTTPConnection(connection.host, connection.port, timeout=30)


def warm_client(port: int, path: str, n: int) -> int:
    """``n`` unmeasured sequential predictions and ``CONCURRENCY`` parallel ones; the failures."""
    failures = 0
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    for _ in range(n):
        ok, connection = _attempt(connection, path)
        failures += not ok
    connection.close()
    _, _, _, parallel_failures = throughput_client(port, path, CONCURRENCY, 0.2)
    return failures + parallel_failures


def latency_client(
    targets: dict[str, tuple[int, str]], n: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """``n`` sequential predictions a side, one kept-alive connection a side, the sides interleaved request
    by request (A B B A ...: each goes first equally often): seconds each, and failures, per side."""
    sides = list(targets)
    connections = {
        side: http.client.HTTPConnection(HOST, port, timeout=30) for side, (port, _) in targets.items()
    }
    samples: dict[str, list[float]] = {side: [] for side in sides}
    failures = dict.fromkeys(sides, 0)
    for side in sides:  # opens the connections outside the measurement
        ok, connections[side] = _attempt(connections[side], targets[side][1])
        failures[side] += not ok
    for i in range(n):
        for side in sides if i % 2 == 0 else reversed(sides):
            path = targets[side][1]
            began = time.perf_counter()
            ok, connections[side] = _attempt(connections[side], path)
            samples[side].append(time.perf_counter() - began)
            failures[side] += not ok
    for connection in connections.values():
        connection.close()
    return samples, failures


def throughput_client(
    port: int, path: str, threads: int, seconds: float
) -> tuple[int, float, list[float], int]:
    """``threads`` clients, one kept-alive connection each, for ``seconds``: (answered, elapsed, latencies,
    failures). All connections are open before the clock starts."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = [0] * threads

    def work(i: int, ready: Callable[[], float]) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        ok, connection = _attempt(connection, path)
        failures[i] += not ok
        deadline = ready()
        mine = latencies[i]
        while True:
            began = time.perf_counter()
            if began >= deadline:
                break
            ok, connection = _attempt(connection, path)
            mine.append(time.perf_counter() - began)
            failures[i] += not ok
        connection.close()

    elapsed = threads_for(threads, seconds, work)
    merged = [x for mine in latencies for x in mine]
    return len(merged), elapsed, merged, sum(failures)


# ------------------------------------------------------------------------------------------ the servers


def serving_python() -> Path:
    """The Doubler's serving environment (built once with uv, then cached); a clear error without it."""
    from myelin_sdk.local.envs import ServingError, ensure_env
    from myelin_sdk.local.options import default_env_cache

    progress("serving environment of the Doubler (seldon-core 1.17.1): building or reusing")
    try:
        return ensure_env(
            DOUBLER / "requirements.txt", default_env_cache(), progress=lambda s: progress(str(s))
        )
    except ServingError as exc:
        raise SystemExit(
            "suite_router: cannot build the seldon-core 1.17.1 serving environment (the first build "
            f"downloads packages, so it needs the network or a warm uv cache):\n{exc}"
        ) from exc


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _order(blocks: int) -> list[str]:
    """D R R D D R R D ...: each side goes first equally often, so drift falls on both alike."""
    return [
        side for i in range(blocks) for side in (("direct", "router") if i % 2 == 0 else ("router", "direct"))
    ]


# ------------------------------------------------------------------------------------------ the suite


def run(ctx: Context) -> list[Figure]:
    from myelin_sdk.local.model_server import ModelServer
    from myelin_sdk.local.router import Router
    from myelin_sdk.local.routes import Route

    python = serving_python()
    server = ModelServer(
        python,
        DOUBLER,
        env={"MODEL_VERSION": "v1", "FEEDBACK_FILE": os.devnull},
        log_path=ctx.scratch / "doubler.log",
    )
    progress("starting the seldon-core model server")
    server.start(timeout=120)
    progress(f"model server ready in {server.ready_seconds:.1f} s at {server.url}")
    server_pid = server.pid
    router = Router("Doubler")
    spawn = multiprocessing.get_context("spawn")
    try:
        router.start()
        router.set_routes([Route("v1", server.url, 100)])
        targets = {"direct": (server.http_port, DIRECT_PATH), "router": (router.port, ROUTER_PATH)}
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as client:
            figures = _measure(ctx, client, targets)
        stats = router.stats()["v1"]
        if stats.errors:
            raise RuntimeError(f"the router counted {stats.errors} errors")
    finally:
        router.stop()
        server.stop()
    if server_pid is not None and _alive(server_pid):
        raise RuntimeError(f"the model server's process group {server_pid} outlived stop()")
    return figures


def _measure(
    ctx: Context, client: concurrent.futures.ProcessPoolExecutor, targets: dict[str, tuple[int, str]]
) -> list[Figure]:
    def call(function: Any, *args: Any) -> Any:
        return client.submit(function, *args).result(timeout=600)

    failures = {"direct": 0, "router": 0}
    for side, (port, path) in targets.items():
        progress(f"warm-up: {WARMUP} + {CONCURRENCY} parallel requests, {side}")
        failures[side] += call(warm_client, port, path, WARMUP)

    # c=1: sequential latency on one kept-alive connection a side, direct and router interleaved
    total, blocks = (300, 3) if ctx.quick else (2000, 8)
    per_block = total // blocks
    latency: dict[str, list[float]] = {"direct": [], "router": []}
    progress(f"c=1: {per_block * blocks} requests a side in {blocks} blocks, direct and router interleaved")
    for _ in range(blocks):
        samples, failed = call(latency_client, targets, per_block)
        for side in latency:
            latency[side] += samples[side]
            failures[side] += failed[side]

    # c=16: throughput and latency, 16 threads with one kept-alive connection each
    seconds, rounds = (1.0, 2) if ctx.quick else (2.0, 5)
    counts = {"direct": 0, "router": 0}
    elapsed = {"direct": 0.0, "router": 0.0}
    rates: dict[str, list[float]] = {"direct": [], "router": []}
    loaded: dict[str, list[float]] = {"direct": [], "router": []}
    progress(f"c={CONCURRENCY}: {seconds * rounds:g} s a side, {rounds} alternating blocks of {seconds:g} s")
    for side in _order(rounds):
        port, path = targets[side]
        count, took, samples, failed = call(throughput_client, port, path, CONCURRENCY, seconds)
        counts[side] += count
        elapsed[side] += took
        rates[side].append(count / took)
        loaded[side] += samples
        failures[side] += failed

    failed_note = f"failures: router {failures['router']}, direct {failures['direct']}"
    if any(failures.values()):
        raise RuntimeError(f"failed predictions ({failed_note}); see the model server's log")
    direct_label = "direct to seldon-core"
    overhead = statistics.median(latency["router"]) - statistics.median(latency["direct"])
    throughput = {side: counts[side] / elapsed[side] for side in counts}
    return [
        Figure.timed(
            SUITE,
            "predict latency c=1 (router)",
            latency["router"],
            f"{direct_label}, c=1",
            latency["direct"],
            note=f"p50/p95 over {len(latency['router'])} sequential keep-alive requests a side, interleaved; "
            f"router adds {overhead * 1000:.2f} ms at the median; {failed_note}",
            overhead_ms=overhead * 1000,
            blocks=blocks,
            failures=failures,
        ),
        Figure(
            suite=SUITE,
            what=f"throughput c={CONCURRENCY} (router)",
            value=throughput["router"],
            unit="req/s",
            baseline=f"{direct_label}, c={CONCURRENCY}",
            baseline_value=throughput["direct"],
            better="higher",
            samples=rounds,
            note=f"{counts['router']} vs {counts['direct']} requests in {elapsed['router']:.1f} / "
            f"{elapsed['direct']:.1f} s, {CONCURRENCY} threads with one kept-alive connection each; "
            f"{failed_note}",
            extra={"block_rates": rates, "requests": counts, "seconds": elapsed, "failures": failures},
        ),
        Figure.timed(
            SUITE,
            f"predict latency c={CONCURRENCY} (router)",
            loaded["router"],
            f"{direct_label}, c={CONCURRENCY}",
            loaded["direct"],
            note=f"per-request latency under {CONCURRENCY} concurrent clients; "
            f"p95 {p95(loaded['router']) * 1000:.1f} vs {p95(loaded['direct']) * 1000:.1f} ms; {failed_note}",
            failures=failures,
        ),
    ]


if __name__ == "__main__":
    sys.exit(suite_main(run))
