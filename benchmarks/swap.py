"""Swap under load: predictions through the local router while a new canary version is swapped in.

    python benchmarks/swap.py                                # 10,000 requests, 16 at a time
    python benchmarks/swap.py --requests 2000 --json out.json --python ENV/bin/python  # a built env

What ``myelin run`` does at a deploy, with its real parts: version v1 of the tiny Doubler model
(tests/local/fixtures/doubler) runs in seldon-core 1.17.1's wrapper (:class:`ModelServer`, 127.0.0.1) behind
:class:`~myelin_sdk.local.router.Router`. A client process (its own GIL, as callers are outside the runner)
sends ``--requests`` predictions, ``--concurrency`` at a time over kept-alive connections. After a tenth of
them, v2's model server starts, becomes a 50 % canary next to v1, is promoted to 100 %, and v1's server is
stopped once nothing is in flight on it (what :class:`~myelin_sdk.local.deployments.Deployments` does).

Prints a Markdown table of latency before, during and after the swap (by each request's start) and the
failed requests (anything but a 200 with the doubled answer, connection errors included); ``--json``
writes the same numbers. Exit status 1 when a request failed.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOUBLER = ROOT / "tests" / "local" / "fixtures" / "doubler"


# ------------------------------------------------------------------------------------------ the client


def client(url: str, total: int, concurrency: int) -> list[tuple[float, float, int, str]]:
    """Send ``total`` predictions, ``concurrency`` at a time: (start, seconds, status, version) each."""
    host, port = url.removeprefix("http://").split(":")
    numbers = itertools.count()
    lock = threading.Lock()
    records: list[tuple[float, float, int, str]] = []

    def work() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        while True:
            with lock:
                n = next(numbers)
            if n >= total:
                break
            body = json.dumps({"data": {"ndarray": [[n]]}}).encode()
            began, status, version = time.time(), 0, ""
            try:
                connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
                status, version = response.status, response.getheader("X-Myelin-Version") or ""
                if status == 200 and json.loads(answer)["data"]["ndarray"] != [[2 * n]]:
                    status = -2  # a wrong answer counts as a failure
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                status = -1
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=30)
            with lock:
                records.append((began, time.time() - began, status, version))
        connection.close()

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return records


# ------------------------------------------------------------------------------------------ the swap


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(records: list[list[Any]], swap: tuple[float, float]) -> list[dict[str, Any]]:
    """Requests, failures, requests/s and latency (ms) per phase, by each request's start time."""
    phases = {
        "before": [r for r in records if r[0] < swap[0]],
        "during": [r for r in records if swap[0] <= r[0] <= swap[1]],
        "after": [r for r in records if r[0] > swap[1]],
    }
    rows = []
    for phase, chosen in phases.items():
        latencies = [r[1] * 1000 for r in chosen]
        span = (max(r[0] + r[1] for r in chosen) - min(r[0] for r in chosen)) if chosen else 0.0
        versions: dict[str, int] = {}
        for r in chosen:
            versions[r[3]] = versions.get(r[3], 0) + 1
        rows.append(
            {
                "phase": phase,
                "requests": len(chosen),
                "failed": sum(1 for r in chosen if r[2] != 200),
                "per_second": len(chosen) / span if span else 0.0,
                "p50_ms": _percentile(latencies, 0.50),
                "p95_ms": _percentile(latencies, 0.95),
                "p99_ms": _percentile(latencies, 0.99),
                "max_ms": max(latencies, default=float("nan")),
                "versions": versions,
            }
        )
    return rows


def run(python: Path, total: int, concurrency: int, logs: Path) -> dict[str, Any]:
    from myelin_sdk.local.model_server import ModelServer
    from myelin_sdk.local.router import Router
    from myelin_sdk.local.routes import Route

    def server(version: str) -> ModelServer:
        env = {"MODEL_VERSION": version, "FEEDBACK_FILE": os.devnull}
        made = ModelServer(python, DOUBLER, env=env, log_path=logs / f"{version}.log")
        made.start(timeout=120)
        return made

    v1 = server("v1")
    v2: ModelServer | None = None
    with Router("Doubler") as router:
        router.set_routes([Route("v1", v1.url, 100)])
        out = logs / "client.json"
        command = [sys.executable, __file__, "--client", router.url, "--requests", str(total)]
        load = subprocess.Popen([*command, "--concurrency", str(concurrency), "--json", str(out)])
        try:
            while sum(s.requests for s in router.stats().values()) < total // 10 and load.poll() is None:
                time.sleep(0.01)
            began = time.time()
            v2 = server("v2")  # starts while v1 answers
            router.set_routes([Route("v2", v2.url, 50), Route("v1", v1.url, 50)])  # the canary
            time.sleep(2.0)
            router.set_routes([Route("v2", v2.url, 100)])  # promoted
            router.wait_idle("v1", timeout=30)
            v1.stop()
            ended = time.time()
            load.wait(timeout=600)
        finally:
            if load.poll() is None:
                load.kill()
            v1.stop()
            if v2 is not None:
                v2.stop()
    records = json.loads(out.read_text())
    return {
        "requests": len(records),
        "concurrency": concurrency,
        "swap_seconds": ended - began,
        "phases": summarize(records, (began, ended)),
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['requests']} predictions, {result['concurrency']} at a time; the swap (v2 starts, "
        f"50 % canary, promoted, v1 stopped) took {result['swap_seconds']:.1f} s",
        "",
        "| phase | requests | failed | req/s | p50 ms | p95 ms | p99 ms | max ms | answered by |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in result["phases"]:
        versions = ", ".join(f"{v} {n}" for v, n in sorted(p["versions"].items()))
        lines.append(
            f"| {p['phase']} | {p['requests']} | {p['failed']} | {p['per_second']:.0f} | {p['p50_ms']:.1f} | "
            f"{p['p95_ms']:.1f} | {p['p99_ms']:.1f} | {p['max_ms']:.1f} | {versions} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--python", type=Path, help="a seldon-core 1.17.1 env's python (default: build one)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--client", help=argparse.SUPPRESS)  # internal: be the client process
    args = parser.parse_args(argv)
    if args.client:
        records = client(args.client, args.requests, args.concurrency)
        args.json.write_text(json.dumps(records))
        return 0
    python = args.python
    if python is None:
        from myelin_sdk.local.envs import ensure_env
        from myelin_sdk.local.options import default_env_cache

        print("building (or reusing) the seldon-core environment ...", file=sys.stderr)
        python = ensure_env(DOUBLER / "requirements.txt", default_env_cache())
    with tempfile.TemporaryDirectory(prefix="myelin-swap-") as logs:
        result = run(python, args.requests, args.concurrency, Path(logs))
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 1 if any(p["failed"] for p in result["phases"]) else 0


if __name__ == "__main__":
    sys.exit(main())
