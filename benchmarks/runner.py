"""Local runner benchmark: the hot paths of ``myelin run`` on one machine.

    python benchmarks/runner.py            # full run (about a minute on 2 cores)
    python benchmarks/runner.py --quick    # smaller N, shorter throughput windows

Measures, with the standard library and the SDK only (everything on 127.0.0.1), the runner's own costs
(``make bench`` measures the cold start of every command, and the router in front of the real seldon-core
microservice):

1. Router overhead: a tiny ThreadingHTTPServer "model server" (its own process) answering
   ``POST /api/v1.0/predictions``; sequential POSTs straight to it against POSTs through
   :class:`myelin_sdk.local.router.Router` (``/predict``), and requests/s with 4 client threads. The client
   runs in its own process too, so client, router and model server do not share a GIL (as with
   ``myelin run``: the router lives in the runner, the model servers and the callers outside it).
2. Embedded metric store: ``publish_metric`` to :class:`myelin_sdk.local.metrics_embedded.EmbeddedMetrics`
   and the time until ``holds()`` sees the value, and the cost of one ``holds()``.
3. State store: one ``begin_task_run`` + ``finish_task_run`` pair of :class:`myelin_sdk.local.state.State`
   (the bookkeeping of every step).

Prints a Markdown table on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import math
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the client threads' harness
from support.load import threads_for

HOST = "127.0.0.1"
BACKEND_PATH = "/api/v1.0/predictions"
REQUEST = json.dumps({"data": {"names": ["user", "item"], "ndarray": [[1, 2]]}}).encode()
ANSWER = json.dumps({"data": {"names": ["rating"], "ndarray": [[3.5]]}, "meta": {}}).encode()


@dataclass
class Row:
    what: str
    n: str
    median: str
    p95: str
    note: str = ""


def progress(message: str) -> None:
    print(f"[runner-bench] {message}", file=sys.stderr, flush=True)


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.3f} ms" if value < 1 else f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def timing_row(what: str, samples: list[float], note: str = "") -> Row:
    return Row(what, str(len(samples)), ms(statistics.median(samples)), ms(p95(samples)), note)


# --------------------------------------------------------------------------------------- 2. router


class _BackendHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm holds the body until
    # the client's delayed ACK (about 40 ms on Linux) on a keep-alive connection. Real model servers
    # (gunicorn, uvicorn) set TCP_NODELAY, so the stand-in does too.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body = (200, ANSWER) if self.path == BACKEND_PATH else (404, b"{}")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _BackendServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def backend_main(ports: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """The stand-in model server (a child process): a fixed JSON answer to every prediction."""
    server = _BackendServer((HOST, 0), _BackendHandler)
    ports.put(server.server_address[1])
    server.serve_forever()


def _post(connection: http.client.HTTPConnection, path: str) -> None:
    connection.request("POST", path, body=REQUEST, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"POST {path} answered {response.status}")


def latency_client(port: int, path: str, n: int, keep_alive: bool) -> list[float]:
    """Sequential POSTs (after 50 unmeasured ones); seconds each. Runs in the client process."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    for _ in range(50):
        _post(connection, path)
    samples = []
    for _ in range(n):
        if not keep_alive:
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=30)
        began = time.perf_counter()
        _post(connection, path)
        samples.append(time.perf_counter() - began)
    connection.close()
    return samples


def throughput_client(port: int, path: str, threads: int, seconds: float) -> tuple[int, float]:
    """Requests answered by ``threads`` keep-alive clients in ``seconds``: (count, elapsed)."""
    counts = [0] * threads

    def work(i: int, ready: Callable[[], float]) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        _post(connection, path)
        deadline = ready()
        while time.perf_counter() < deadline:
            _post(connection, path)
            counts[i] += 1
        connection.close()

    elapsed = threads_for(threads, seconds, work)
    return sum(counts), elapsed


def bench_router(n: int, threads: int, seconds: float) -> list[Row]:
    from myelin_sdk.local.router import Router
    from myelin_sdk.local.routes import Route

    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    backend = context.Process(target=backend_main, args=(ports,), daemon=True)
    backend.start()
    router = Router("BenchModel", port=0)
    try:
        backend_port = ports.get(timeout=30)
        router.start()
        router.set_routes([Route("v1", f"http://{HOST}:{backend_port}", 100)])
        rows = []
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as client:
            targets = {
                "direct to the model server": (backend_port, BACKEND_PATH),
                "through the Router (/predict)": (router.port, "/predict"),
            }
            medians = {}
            for label, (port, path) in targets.items():
                for keep_alive in (True, False):
                    mode = "keep-alive" if keep_alive else "new connection each"
                    progress(f"router: {label}, {mode}, {n} sequential POSTs")
                    samples = client.submit(latency_client, port, path, n, keep_alive).result(timeout=600)
                    medians[label, keep_alive] = statistics.median(samples)
                    rows.append(timing_row(f"POST latency {label} ({mode})", samples))
            for keep_alive in (True, False):
                extra = (
                    medians["through the Router (/predict)", keep_alive]
                    - medians["direct to the model server", keep_alive]
                )
                mode = "keep-alive" if keep_alive else "new connection each"
                rows.append(Row(f"Router overhead, median ({mode})", "", ms(extra), "", "difference"))
            for label, (port, path) in targets.items():
                progress(f"router: {label}, {threads} client threads for {seconds:g} s")
                count, elapsed = client.submit(throughput_client, port, path, threads, seconds).result(
                    timeout=600
                )
                rows.append(
                    Row(
                        f"throughput {label}, {threads} client threads, keep-alive",
                        f"{count} in {elapsed:.1f} s",
                        "",
                        "",
                        f"{count / elapsed:,.0f} requests/s",
                    )
                )
        stats = router.stats()["v1"]
        if stats.errors:
            raise RuntimeError(f"the router counted {stats.errors} errors")
        return rows
    finally:
        router.stop()
        backend.terminate()
        backend.join(timeout=10)


# ---------------------------------------------------------------------------------------- 3. metrics


def bench_metrics(n: int, holds_n: int, directory: Path) -> list[Row]:
    from myelin_sdk.local.metrics_embedded import EmbeddedMetrics
    from myelin_sdk.runtime import publish_metric
    from myelin_sdk.spec.expressions import parse_metric_condition

    axon, metric = "bench-axon", "bench_loss"
    condition = parse_metric_condition(f"{{{{{metric}}}}} < 1")
    push, visible, holds_times, first_call = [], [], [], 0
    with EmbeddedMetrics(axon, directory / "metrics.db") as store:
        url = store.pushgateway_url
        progress(f"metrics: {n} publish_metric -> holds() round trips")
        for i in range(n + 10):  # the first 10 warm up
            publish_metric(metric, 5.0, axon=axon, job="bench", pushgateway_url=url)
            if store.holds(condition):
                raise RuntimeError("the condition holds before the value below 1 was pushed")
            began = time.perf_counter()
            publish_metric(metric, 0.5, axon=axon, job="bench", pushgateway_url=url)
            returned = time.perf_counter()
            polls = 0
            while not store.holds(condition):
                polls += 1
                if polls > 100_000:
                    raise RuntimeError("holds() never saw the pushed value")
            seen = time.perf_counter()
            if i >= 10:
                first_call += polls == 0
                push.append(returned - began)
                visible.append(seen - returned)
        progress(f"metrics: {holds_n} holds() calls")
        for _ in range(holds_n):
            began = time.perf_counter()
            store.holds(condition)
            holds_times.append(time.perf_counter() - began)
    return [
        timing_row("publish_metric to the embedded store (call returns)", push, "one HTTP PUT, SQLite write"),
        timing_row(
            "publish_metric returned -> holds({{m}} < 1) True",
            visible,
            f"visible at the first holds() call in {first_call} of {n}",
        ),
        timing_row("holds({{m}} < 1), one call", holds_times, "SQLite read + evaluation"),
    ]


# ------------------------------------------------------------------------------------------ 4. state


def bench_state(n: int, directory: Path) -> list[Row]:
    from myelin_sdk.local.state import State

    state = State.open(directory / "state.db")
    try:
        state.init_run("bench", "bench-axon", "bench")
        sensor_run = state.begin_sensor_run("bench-sensor", None)
        progress(f"state: {n} begin_task_run + finish_task_run pairs")
        samples = []
        for i in range(n + 20):  # the first 20 warm up
            began = time.perf_counter()
            task_run = state.begin_task_run(sensor_run, i, "train", f"logs/{i}.log")
            state.finish_task_run(task_run, "succeeded", 0)
            if i >= 20:
                samples.append(time.perf_counter() - began)
    finally:
        state.close()
    return [timing_row("State begin_task_run + finish_task_run", samples, "2 committed transactions, WAL")]


# ---------------------------------------------------------------------------------------------- main


def table(rows: list[Row]) -> str:
    lines = ["| what | N | median | p95 | throughput / note |", "|---|---|---|---|---|"]
    lines += [f"| {r.what} | {r.n} | {r.median} | {r.p95} | {r.note} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller N and 1 s throughput windows")
    args = parser.parse_args(argv)
    quick = args.quick
    requests, seconds = (200, 1.0) if quick else (2000, 5.0)
    metric_n, holds_n, state_n = (50, 200, 200) if quick else (200, 1000, 1000)

    progress(f"python {platform.python_version()}, {os.cpu_count()} cores, quick={quick}")
    rows = bench_router(
        requests,
        threads=4,
        seconds=seconds,
    )
    with tempfile.TemporaryDirectory(prefix="myelin-runner-bench-") as tmp:
        rows += bench_metrics(metric_n, holds_n, Path(tmp))
        rows += bench_state(state_n, Path(tmp))
    flags = "--quick" if quick else ""
    print(
        f"python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} cores{f' ({flags})' if flags else ''}\n"
    )
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
