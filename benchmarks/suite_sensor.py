"""Sensor reaction: from "a metric crosses the alert's threshold" to "the retrain task's process has started".

    python benchmarks/suite_sensor.py --json out.json           # 10 rounds a backend
    python benchmarks/suite_sensor.py --quick --json out.json   # 3 rounds per backend

What a user runs: ``myelin run axon.yaml --plain --port 0 --alert-interval N`` as a subprocess (the same
console script), on a tiny Axon written to the scratch folder -- a sensor with the retrain Alert of the demo's
PostDeploymentDecisionMaker, ``{{bench_accuracy}} < 0.9``, whose one task writes ``time.time()`` as its first
statement (``python -S -c``: the runner's own Python, without site, so the stamp is as close to the process's
start as a Python task gets). The benchmark itself is the monitoring job: it PUTs ``bench_accuracy`` to the
run's Pushgateway (text exposition format, as ``prometheus_client.push_to_gateway`` does), once with (a) the
embedded metric store (the default) and once with (b) a real Prometheus scraping a real Pushgateway every
second (``--prometheus URL --pushgateway URL``; the binaries of tests/support/prometheus_binaries.py, on
127.0.0.1).

One round: push 0.95 (above), wait until the engine records the alert ``resolved`` (its state DB), sleep a
random fraction of the alert interval after that evaluation (stratified: the rounds of a backend fall one in
each 1/n of the engine's poll loop, in random order), push 0.5 (below) and take the time the push was
accepted; the round's figure is the task's stamp minus that time. A first, unmeasured round of each runner
fires the alert from a known quiet state. With Prometheus, whose scrape interval equals the alert interval,
the lag from a scrape to the engine's next query is set by when the runner started (it drifts by only a
query's duration per poll), so its rounds are spread over several runners (2 rounds each), started at
stratified random phases of the scrapes (one in each 1/n of the scrape interval). The run's
SQLite state gives the breakdown of each round: ``detect`` (push -> the alert event the engine records),
``dispatch`` (event -> the task run begins) and ``spawn`` (task run begins -> the task's first statement);
with Prometheus, ``detect`` is split into ``scrape`` (push -> the first scraped sample below the threshold,
read back from Prometheus as a range query, so without polling it during the round) and ``poll`` (that
scrape -> the engine's query that saw it).

Figures: the real Prometheus at ``--alert-interval 1`` (figure) against the embedded store at the default
``--alert-interval 5`` (baseline). The embedded store wakes the alert loop on every push, so its reaction is
the engine's dispatch and the task's start, whatever the interval; with Prometheus a push is seen at the next
scrape and then at the engine's next query, so scrape interval + alert interval bound it. Prometheus's own
rule-evaluation interval plays no part: the engine evaluates the alert's PromQL itself, as an instant query
every alert interval.

Every process is started here and stopped here (the runner with SIGTERM, as Ctrl-C would; Prometheus and the
Pushgateway by process group); the suite then checks that no process of their sessions is left and fails
otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from figures import ROOT, Context, Figure, progress, suite_main

sys.path.insert(0, str(ROOT / "tests"))  # the tests' way to find and start Prometheus (no pytest in them)
from support.prometheus_binaries import FetchError, NotAvailable, find_binaries
from support.servers import NotReady, scrape_config, start_ready, stop_group

SUITE = "sensor"
AXON = "sensor-bench"
METRIC = "bench_accuracy"
PUBLISHED = f"{METRIC}_{AXON}".replace("-", "__")  # the original client's rule (myelin_sdk.contract)
JOB = "sensor-bench-monitor"
ABOVE, BELOW, THRESHOLD = 0.95, 0.5, 0.9
INTERVAL = 1.0  # --alert-interval of the main figures (s)
DEFAULT_INTERVAL = 5.0  # myelin run's default --alert-interval (s)
SCRAPE = 1.0  # Prometheus's scrape interval (s)
WAIT = 60.0  # the longest any one step may take before the suite gives up (s)
SEED = 16

AXON_YAML = """\
# Written by benchmarks/suite_sensor.py: the retrain Alert of the demo's PostDeploymentDecisionMaker.
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata:
  name: {axon}
spec:
  tasks:
    - name: Retrain
      container:
        image: python:3.12-slim
        command: [python, -S, -c, {stamp}]
  sensors:
    - name: RetrainOnAlert
      triggers:
        - type: Alert
          name: BenchAccuracyLow
          condition: "{{{{{metric}}}}} < {threshold}"
      tasks:
        - resourceExecutor: {{task: Retrain}}
"""


class BenchError(RuntimeError):
    """Something the benchmark needs did not happen in time (the message ends with the runner's log)."""


# ------------------------------------------------------------------------------------------ small helpers


def push(pushgateway_url: str, value: float) -> float:
    """PUT ``bench_accuracy`` (its whole group) to the Pushgateway; the time the push was accepted."""
    body = f"# TYPE {PUBLISHED} gauge\n{PUBLISHED} {value!r}\n".encode()
    request = urllib.request.Request(
        f"{pushgateway_url}/metrics/job/{urllib.parse.quote(JOB, safe='')}",
        data=body,
        method="PUT",
        headers={"Content-Type": "text/plain; version=0.0.4"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        if response.status not in (200, 202):
            raise BenchError(f"the Pushgateway answered HTTP {response.status} to a push")
    return time.time()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def wait_until(what: str, check: Callable[[], Any], log: Path | None = None, timeout: float = WAIT) -> Any:
    """Poll ``check`` every 20 ms until it returns something truthy; :class:`BenchError` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.02)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise BenchError(f"{what}: not within {timeout:g} s{tail}")


def session_members(sid: int) -> list[int]:
    """The live processes (not zombies) of session ``sid``."""
    import psutil  # the runner's own dependency

    found = []
    for pid in psutil.pids():
        try:
            if os.getsid(pid) == sid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                found.append(pid)
        except (OSError, psutil.Error):
            continue
    return found


# ------------------------------------------------------------------------------- Prometheus + Pushgateway


@dataclass
class Servers:
    """A real Pushgateway and a Prometheus scraping it every ``SCRAPE`` seconds, on 127.0.0.1."""

    prometheus_url: str
    pushgateway_url: str
    processes: list[subprocess.Popen[bytes]]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": promql} | ({"time": f"{at:.3f}"} if at is not None else {})
        payload = get_json(f"{self.prometheus_url}/api/v1/query?{urllib.parse.urlencode(params)}")
        result: list[dict[str, Any]] = payload["data"]["result"]
        return result

    def first_scrape_below(self, since: float, until: float) -> float | None:
        """When Prometheus first scraped a value below the threshold after ``since`` (the alert resolved:
        every sample since was above), from a range query at ``until`` made after the round, so that the
        round itself is not disturbed by queries."""
        window = max(1, int(until - since) + 2)
        found = [
            float(stamp)
            for series in self.query(f"{PUBLISHED}[{window}s]", at=until)
            for stamp, value in series.get("values", [])
            if float(stamp) > since and float(value) < THRESHOLD
        ]
        return min(found) if found else None


def find_prometheus() -> tuple[str, str] | str:
    """``(prometheus, pushgateway)`` as the tests find them (PATH, or Debian's packages fetched into
    .cache/prometheus); a string saying why not when they cannot be had."""
    try:
        return find_binaries()
    except (NotAvailable, FetchError) as exc:
        return str(exc)


@contextlib.contextmanager
def prometheus_servers(binaries: tuple[str, str], workdir: Path) -> Iterator[Servers]:
    """Start the Pushgateway (pushes kept in memory) and Prometheus (a fresh TSDB); stop both at the end."""
    prometheus, pushgateway = binaries
    workdir.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        gateway = start_ready(
            pushgateway,
            lambda port: [f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
            workdir,
            ready_timeout=30,
        )
        processes.append(gateway.process)
        config = scrape_config(workdir, gateway, interval=SCRAPE)
        data = Path(tempfile.mkdtemp(prefix="tsdb-", dir=workdir))
        server = start_ready(
            prometheus,
            lambda port: [
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            workdir,
            ready_timeout=30,
        )
        processes.append(server.process)
        yield Servers(server.url, gateway.url, processes)
    except NotReady as exc:
        raise BenchError(str(exc)) from exc
    finally:
        for process in reversed(processes):
            stop_group(process)


# ------------------------------------------------------------------------------------------- the runner


@dataclass
class Round:
    """One measured reaction (Unix times) and its breakdown."""

    pushed: float
    event: float
    task_run: float
    started: float
    scraped: float | None = None

    @property
    def reaction(self) -> float:
        return self.started - self.pushed

    def parts(self) -> dict[str, float]:
        out = {
            "detect": self.event - self.pushed,
            "dispatch": self.task_run - self.event,
            "spawn": self.started - self.task_run,
        }
        if self.scraped is not None:
            out["scrape"] = self.scraped - self.pushed
            out["poll"] = self.event - self.scraped
        return out


@dataclass
class Runner:
    """``myelin run`` on the bench axon, in a session of its own, with its log and its state DB."""

    folder: Path
    interval: float
    servers: Servers | None = None
    process: subprocess.Popen[bytes] | None = None
    state_db: Path | None = None
    pushgateway_url: str = ""
    rounds: list[Round] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.folder / "runner.log"

    @property
    def stamps(self) -> Path:
        return self.folder / "started.txt"

    def start(self, scrape_phase: float = 0.0) -> None:
        """Start ``myelin run``; with Prometheus, ``scrape_phase`` (a fraction of the scrape interval) after
        a scrape, so that the engine's poll loop starts at that phase of Prometheus's scrapes."""
        self.folder.mkdir(parents=True, exist_ok=True)
        servers = self.servers
        if servers is not None:  # the Pushgateway keeps the last push: start quiet, not firing
            push(servers.pushgateway_url, ABOVE)
            wait_until(
                "Prometheus's scrape of the value above", lambda: servers.query(f"{PUBLISHED} > {THRESHOLD}")
            )
            scraped = servers.query(f"timestamp({PUBLISHED})")
            last = float(scraped[0]["value"][1]) if scraped else time.time()
            time.sleep(max(0.0, last + scrape_phase * SCRAPE - time.time()))
        stamp = f"import time; open({str(self.stamps)!r}, 'a').write(repr(time.time()) + '\\n')"
        axon = self.folder / "axon.yaml"
        axon.write_text(
            AXON_YAML.format(axon=AXON, stamp=json.dumps(stamp), metric=METRIC, threshold=THRESHOLD)
        )
        myelin = Path(sys.executable).parent / "myelin"  # the console script of this environment
        if not myelin.exists():
            found = shutil.which("myelin")
            if found is None:
                raise BenchError("no `myelin` console script beside this Python or on PATH: pip install -e .")
            myelin = Path(found)
        command = [str(myelin), "run", str(axon), "--workdir", str(self.folder), "--port", "0", "--plain"]
        command += ["--alert-interval", f"{self.interval:g}", "--timeout", "900"]  # the timeout: a safety net
        if self.servers is not None:
            command += ["--prometheus", self.servers.prometheus_url]
            command += ["--pushgateway", self.servers.pushgateway_url]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.folder,
                start_new_session=True,
            )
        runs = self.folder / ".myelin" / "runs"
        self.state_db = wait_until(
            "the run's state DB", lambda: next(runs.glob("*/state.db"), None), self.log
        )
        control, self.pushgateway_url = wait_until("the run's endpoints", self._endpoints, self.log)
        wait_until("the control endpoint", lambda: self._healthy(control), self.log)

    def _endpoints(self) -> tuple[str, str] | None:
        self._alive()
        with contextlib.suppress(sqlite3.Error):
            row = self._one("SELECT control_url, metrics_url FROM run")
            if row and row[0] and row[1]:
                return str(row[0]), str(row[1]).rstrip("/")
        return None

    def _alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
            raise BenchError(f"myelin run exited with status {self.process.returncode}:\n{tail}")

    @staticmethod
    def _healthy(url: str) -> bool:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def _one(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        assert self.state_db is not None
        with contextlib.closing(sqlite3.connect(self.state_db, timeout=5)) as db:
            row: tuple[Any, ...] | None = db.execute(sql, args).fetchone()
            return row

    def _last_event(self, kind: str) -> tuple[int, float]:
        row = self._one("SELECT id, at FROM events WHERE kind = ? ORDER BY id DESC LIMIT 1", kind)
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    def _stamps(self) -> list[float]:
        try:
            return [float(line) for line in self.stamps.read_text().split()]
        except FileNotFoundError:
            return []

    def _fire(self) -> tuple[float, tuple[int, float]]:
        """Push the value below the threshold; wait for the task's stamp and the sensor run's end."""
        seen = len(self._stamps())
        before = self._last_event("alert")[0]
        pushed = push(self.pushgateway_url, BELOW)

        def stamped() -> bool:
            self._alive()
            return len(self._stamps()) > seen

        wait_until("the retrain task's start after the push below the threshold", stamped, self.log)
        event = wait_until(
            "the alert event", lambda: (e := self._last_event("alert"))[0] > before and e, self.log
        )
        wait_until(
            "the end of the sensor run",
            lambda: self._one("SELECT count(*) FROM sensor_runs WHERE status = 'running'") == (0,),
            self.log,
        )
        return pushed, event

    def _resolve(self) -> float:
        """Push the value above the threshold; wait until the engine records the alert resolved: its time."""
        before = self._last_event("resolved")[0]
        push(self.pushgateway_url, ABOVE)

        def resolved() -> float | None:
            self._alive()
            last = self._last_event("resolved")
            return last[1] if last[0] > before else None

        at: float = wait_until(
            "the alert's 'resolved' after the push above the threshold", resolved, self.log
        )
        return at

    def measure(self, phases: list[float]) -> list[Round]:
        """An unmeasured first firing, then one measured round per phase (a fraction of the alert interval:
        when, after the engine's evaluation that resolved the alert, the value below is pushed)."""
        self._fire()
        rounds = len(phases)
        for number, phase in enumerate(phases):
            resolved_at = self._resolve()
            time.sleep(max(0.0, resolved_at + phase * self.interval - time.time()))
            pushed, (event_id, event_at) = self._fire()
            row = self._one(
                "SELECT t.started FROM task_runs t JOIN sensor_runs s ON t.sensor_run_id = s.id "
                "WHERE s.event_id = ?",
                event_id,
            )
            if row is None:
                raise BenchError(f"no task run for alert event {event_id}")
            started = max(s for s in self._stamps())
            scraped = None
            if self.servers is not None:
                scraped = self.servers.first_scrape_below(resolved_at, event_at + 0.001)
            measured = Round(pushed, event_at, float(row[0]), started, scraped)
            self.rounds.append(measured)
            progress(f"  round {number + 1}/{rounds}: {measured.reaction * 1000:.0f} ms")
        return self.rounds

    def stop(self) -> list[int]:
        """SIGTERM the runner (Ctrl-C's path); wait; the pids of its session still alive afterwards."""
        if self.process is None:
            return []
        sid = self.process.pid
        stop_group(self.process, grace=30)
        deadline = time.monotonic() + 5  # a task's watchdog polls every 0.2 s
        left = session_members(sid)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = session_members(sid)
        return left


@contextlib.contextmanager
def running(
    folder: Path, interval: float, servers: Servers | None = None, scrape_phase: float = 0.0
) -> Iterator[Runner]:
    runner = Runner(folder, interval, servers)
    try:
        runner.start(scrape_phase)
        yield runner
    finally:
        left = runner.stop()
        if left:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            raise BenchError(f"myelin run left processes behind after it stopped: {left}")


# ------------------------------------------------------------------------------------------------ figures


def _medians(rounds: list[Round]) -> dict[str, float]:
    keys = rounds[0].parts().keys()
    return {key: round(statistics.median([r.parts()[key] for r in rounds]), 4) for key in keys}


def _breakdown(rounds: list[Round]) -> str:
    """``detect 1002 ms, dispatch 0 ms, ...``; under a millisecond reads ``<1 ms`` (the push is timed when
    its answer arrives, so the engine may record its event a fraction of a millisecond "before" it)."""

    def ms(value: float) -> str:
        return "<1 ms" if value < 0.0005 else f"{value * 1000:.0f} ms"

    return ", ".join(f"{key} {ms(value)}" for key, value in _medians(rounds).items())


def _stratified(n: int, rng: random.Random) -> list[float]:
    """``n`` fractions in [0, 1), one in each ``1/n``, in random order."""
    out = [(k + rng.random()) / n for k in range(n)]
    rng.shuffle(out)
    return out


def measure(
    folder: Path,
    interval: float,
    rounds: int,
    rng: random.Random,
    servers: Servers | None = None,
    runners: int = 1,
) -> list[Round]:
    """``rounds`` measured rounds over ``runners`` runners started one after the other (each its own run).

    The pushes fall at stratified random phases of the engine's poll loop (one in each ``1/rounds`` of the
    interval, in random order), so that even 3 rounds cover the loop evenly; with Prometheus, the runners
    start at stratified random phases of its scrapes in the same way."""
    phases, scrape_phases = _stratified(rounds, rng), _stratified(runners, rng)
    out: list[Round] = []
    for index in range(runners):
        share = rounds // runners + (1 if index < rounds % runners else 0)
        where = folder / f"runner-{index + 1}"
        with running(where, interval, servers, scrape_phases[index]) as runner:
            out += runner.measure(phases[:share])
        phases = phases[share:]
    progress(f"  breakdown (medians): {_breakdown(out)}")
    return out


def _extra(rounds: list[Round], interval: float) -> dict[str, Any]:
    return {
        "alert_interval": interval,
        "breakdown": _medians(rounds),
        "reactions": [round(r.reaction, 4) for r in rounds],
    }


def run(ctx: Context) -> list[Figure]:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # run the clean-ups on a SIGTERM too
    rounds = ctx.runs(10, 3)
    rng = random.Random(SEED)
    binaries = find_prometheus()
    scope = "push below the threshold -> the retrain task's first statement, under myelin run"
    baseline_label = f"embedded store, default --alert-interval {DEFAULT_INTERVAL:g}"
    figures: list[Figure] = []
    with contextlib.ExitStack() as stack:
        servers = None
        if isinstance(binaries, tuple):
            # started first: Prometheus applies a new scrape target on its 5 s discovery tick, which passes
            # while the embedded rounds run (the two servers idle meanwhile)
            progress(f"starting a real Pushgateway and Prometheus (scrape interval {SCRAPE:g} s)")
            servers = stack.enter_context(prometheus_servers(binaries, ctx.scratch / "prometheus"))
        else:
            progress(f"no Prometheus: {binaries}")

        progress(f"{baseline_label}: {rounds} rounds")
        embedded = measure(ctx.scratch / "embedded", DEFAULT_INTERVAL, rounds, rng)
        baseline = [r.reaction for r in embedded]

        if servers is not None:
            ready = servers
            wait_until(
                "Prometheus's first scrape of the Pushgateway",
                lambda: ready.query('up{job="pushgateway"} == 1'),
                timeout=30,
            )
            # with equal scrape and poll intervals, the lag from a scrape to the engine's next query is fixed
            # by when the runner started (it drifts only by a query's duration per poll): a few runners, each
            # started at a random phase of the scrapes, sample that lag as users would meet it
            runners = (rounds + 1) // 2
            progress(
                f"real Prometheus, --alert-interval {INTERVAL:g}: {rounds} rounds over {runners} runners"
            )
            real = measure(ctx.scratch / "prometheus-run", INTERVAL, rounds, rng, servers, runners)
            figures.append(
                Figure.timed(
                    SUITE,
                    f"sensor reaction, real Prometheus (scrape {SCRAPE:g} s, --alert-interval {INTERVAL:g})",
                    [r.reaction for r in real],
                    baseline_label,
                    baseline,
                    note=f"{scope}; bounded by scrape {SCRAPE:g} s + alert poll {INTERVAL:g} s; medians: "
                    f"{_breakdown(real)}; the embedded store (woken by the push): {_breakdown(embedded)}",
                    **_extra(real, INTERVAL),
                    scrape_interval=SCRAPE,
                    runners=runners,
                    baseline_breakdown=_medians(embedded),
                )
            )
        else:
            figures.append(
                Figure.timed(
                    SUITE,
                    f"sensor reaction, {baseline_label}",
                    baseline,
                    note=f"{scope}; no real Prometheus here ({binaries}); medians: {_breakdown(embedded)}",
                    **_extra(embedded, DEFAULT_INTERVAL),
                )
            )

    if servers is not None:
        left = [pid for process in servers.processes for pid in session_members(process.pid)]
        if left:
            raise BenchError(f"Prometheus or the Pushgateway left processes behind: {left}")
    return figures


if __name__ == "__main__":
    sys.exit(suite_main(run))
