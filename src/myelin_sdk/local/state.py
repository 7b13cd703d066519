"""The state of a local run, in SQLite under its work dir: what ran, what is running, what is served.

Everything the engine decides is written here *before* it acts on it, so a runner killed at any point
(``kill -9`` included) can be resumed with ``myelin run --resume``: finished task executions are not run
again, a sensor run goes on at the first step that did not succeed, and the versions that were served are
served again::

    state = State.open(Path(".myelin/runs/20261127-031500-ab12/state.db"))
    run_id = state.begin_sensor_run("TrainOnStart", event_id=None)
    state.sensor_runs(status="running")

Tables: ``run`` (one row: the axon, its source, ports, the runner's pid and start time), ``events`` (every
trigger that fired, handled or not), ``sensor_runs``, ``task_runs``, ``deployments`` (the served versions and
their traffic, newest first), ``processes`` (the process group of every task and model server, with its
leader's start time, so a resumed runner reaps what a dead one left — ``psutil`` checks the identity).
The embedded metrics store keeps its samples in the same file, in its own table.
One connection, serialised by a lock; WAL journal, so a crash of the process loses no committed row.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

SCHEMA = """
CREATE TABLE IF NOT EXISTS run (
    id TEXT PRIMARY KEY, axon TEXT NOT NULL, source TEXT NOT NULL, created REAL NOT NULL,
    status TEXT NOT NULL, pid INTEGER, router_url TEXT, control_url TEXT, metrics_url TEXT, updated REAL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}', handled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sensor_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sensor TEXT NOT NULL, event_id INTEGER, status TEXT NOT NULL,
    started REAL NOT NULL, finished REAL, message TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS task_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sensor_run_id INTEGER NOT NULL, step INTEGER NOT NULL,
    task TEXT NOT NULL, status TEXT NOT NULL, exit_code INTEGER, pid INTEGER, started REAL NOT NULL,
    finished REAL, log TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT, deployer TEXT NOT NULL, sensor_run_id INTEGER,
    served TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS processes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, name TEXT NOT NULL, pid INTEGER NOT NULL,
    created REAL, task_run_id INTEGER, started REAL NOT NULL, ended REAL
);
"""
#: Columns added after the first release, for state files written before them: (table, column, type).
_ADDED = (("run", "pid_created", "REAL"),)

#: Statuses of sensor runs and task runs.
RUNNING, SUCCEEDED, FAILED, SKIPPED = "running", "succeeded", "failed", "skipped"


@dataclass(frozen=True)
class ProcessRecord:
    """The process group of a task (``kind`` task) or a model server (``server``): its leader ``pid``, which
    is the group id, and the leader's start time ``created`` (its identity); ``ended`` once it stopped."""

    id: int
    kind: str
    name: str
    pid: int
    created: float | None
    task_run_id: int | None
    started: float
    ended: float | None


@dataclass(frozen=True)
class TaskRun:
    """One execution of a task as a step of a sensor run."""

    id: int
    sensor_run_id: int
    step: int
    task: str
    status: str
    exit_code: int | None
    pid: int | None
    started: float
    finished: float | None
    log: str


@dataclass(frozen=True)
class SensorRun:
    """One run of a sensor's steps, started by an event (or by the start of the run)."""

    id: int
    sensor: str
    event_id: int | None
    status: str
    started: float
    finished: float | None
    message: str


@dataclass(frozen=True)
class Event:
    """A trigger that fired: ``kind`` (start, lifecycle, alert, rest, calendar) and ``name``."""

    id: int
    at: float
    kind: str
    name: str
    detail: dict[str, Any]
    handled: bool


@dataclass(frozen=True)
class Deployment:
    """What a deployer serves after a deploy step: ``served`` newest first, each with its traffic share."""

    id: int
    deployer: str
    sensor_run_id: int | None
    served: list[dict[str, Any]]
    at: float


class State:
    """The SQLite state of one local run. Thread-safe; every write commits at once."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self._lock = threading.RLock()
        self.path = path

    @classmethod
    def open(cls, path: Path) -> State:
        """Open (creating if needed) the state database at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        for table, column, kind in _ADDED:
            if column not in {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        return cls(db, path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    # ------------------------------------------------------------------ the run

    def init_run(self, run_id: str, axon: str, source: str) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO run (id, axon, source, created, status, updated) VALUES (?,?,?,?,?,?)",
                (run_id, axon, source, now, RUNNING, now),
            )

    def update_run(self, **fields: Any) -> None:
        """Set columns of the run row (status, pid, router_url, control_url, metrics_url); with ``pid``,
        the start time of that process too (``pid_created``: the runner's identity)."""
        allowed = {"status", "pid", "router_url", "control_url", "metrics_url"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown run fields: {sorted(unknown)}")
        if fields.get("pid") is not None:
            fields["pid_created"] = _created(int(fields["pid"]))
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._tx() as db:
            db.execute(f"UPDATE run SET {sets}, updated = ?", (*fields.values(), time.time()))

    def run(self) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM run")
        return dict(rows[0]) if rows else None

    def runner_alive(self) -> bool:
        """Whether the process recorded as the run's runner is still that process (pid and start time)."""
        info = self.run() or {}
        pid, created = info.get("pid"), info.get("pid_created")
        if not pid:
            return False
        now = _created(int(pid))
        return now is not None and (created is None or abs(now - float(created)) < _SAME_START)

    # ------------------------------------------------------------------ events

    def add_event(self, kind: str, name: str, detail: dict[str, Any] | None = None) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO events (at, kind, name, detail) VALUES (?,?,?,?)",
                (time.time(), kind, name, json.dumps(detail or {}, sort_keys=True)),
            )
            return int(cursor.lastrowid or 0)

    def mark_handled(self, event_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE events SET handled = 1 WHERE id = ?", (event_id,))

    def events(self, *, unhandled: bool = False) -> list[Event]:
        sql = "SELECT * FROM events" + (" WHERE handled = 0" if unhandled else "") + " ORDER BY id"
        return [
            Event(r["id"], r["at"], r["kind"], r["name"], json.loads(r["detail"]), bool(r["handled"]))
            for r in self._rows(sql)
        ]

    # ------------------------------------------------------------------ sensor runs

    def begin_sensor_run(self, sensor: str, event_id: int | None) -> int:
        """Record that ``sensor`` starts for ``event_id``, and mark the event handled, in one transaction."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO sensor_runs (sensor, event_id, status, started) VALUES (?,?,?,?)",
                (sensor, event_id, RUNNING, time.time()),
            )
            if event_id is not None:
                db.execute("UPDATE events SET handled = 1 WHERE id = ?", (event_id,))
            return int(cursor.lastrowid or 0)

    def finish_sensor_run(self, run_id: int, status: str, message: str = "") -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE sensor_runs SET status = ?, finished = ?, message = ? WHERE id = ?",
                (status, time.time(), message, run_id),
            )

    def sensor_runs(self, *, sensor: str | None = None, status: str | None = None) -> list[SensorRun]:
        sql, args = "SELECT * FROM sensor_runs WHERE 1=1", list[Any]()
        if sensor is not None:
            sql, args = sql + " AND sensor = ?", [*args, sensor]
        if status is not None:
            sql, args = sql + " AND status = ?", [*args, status]
        return [SensorRun(**dict(r)) for r in self._rows(sql + " ORDER BY id", *args)]

    def sensor_summary(self) -> dict[str, tuple[int, str]]:
        """Sensor -> (its number of runs, the last one's status), counted in SQL: a live view asks often."""
        rows = self._rows(
            "SELECT sensor, COUNT(*) AS runs, (SELECT status FROM sensor_runs AS last WHERE last.sensor = "
            "s.sensor ORDER BY id DESC LIMIT 1) AS status FROM sensor_runs AS s GROUP BY sensor"
        )
        return {r["sensor"]: (int(r["runs"]), r["status"]) for r in rows}

    # ------------------------------------------------------------------ task runs

    def begin_task_run(self, sensor_run_id: int, step: int, task: str, log: str) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO task_runs (sensor_run_id, step, task, status, started, log) "
                "VALUES (?,?,?,?,?,?)",
                (sensor_run_id, step, task, RUNNING, time.time(), log),
            )
            return int(cursor.lastrowid or 0)

    def set_task_pid(self, task_run_id: int, pid: int) -> None:
        """Record the task's process (the leader of its group), with its start time, in one transaction."""
        created = _created(pid)
        with self._tx() as db:
            db.execute("UPDATE task_runs SET pid = ? WHERE id = ?", (pid, task_run_id))
            if created is not None:  # else it has ended already: nothing to reap
                (task,) = db.execute("SELECT task FROM task_runs WHERE id = ?", (task_run_id,)).fetchone()
                db.execute(
                    "INSERT INTO processes (kind, name, pid, created, task_run_id, started) "
                    "VALUES (?,?,?,?,?,?)",
                    ("task", task, pid, created, task_run_id, time.time()),
                )

    def finish_task_run(self, task_run_id: int, status: str, exit_code: int | None) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE task_runs SET status = ?, exit_code = ?, finished = ? WHERE id = ?",
                (status, exit_code, now, task_run_id),
            )
            db.execute(
                "UPDATE processes SET ended = ? WHERE task_run_id = ? AND ended IS NULL", (now, task_run_id)
            )

    def task_runs(
        self, *, sensor_run_id: int | None = None, status: str | None = None, last: int | None = None
    ) -> list[TaskRun]:
        """Task runs, oldest first; ``last``: only the newest ``last`` of them."""
        sql, args = "SELECT * FROM task_runs WHERE 1=1", list[Any]()
        if sensor_run_id is not None:
            sql, args = sql + " AND sensor_run_id = ?", [*args, sensor_run_id]
        if status is not None:
            sql, args = sql + " AND status = ?", [*args, status]
        if last is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT {int(last)})"
        return [TaskRun(**dict(r)) for r in self._rows(sql + " ORDER BY id", *args)]

    def done_steps(self, sensor_run_id: int) -> set[int]:
        """The steps of a sensor run that succeeded (a resumed run skips them)."""
        rows = self._rows(
            "SELECT step FROM task_runs WHERE sensor_run_id = ? AND status = ?", sensor_run_id, SUCCEEDED
        )
        return {int(r["step"]) for r in rows}

    # ------------------------------------------------------------------ deployments

    def record_deployment(
        self, deployer: str, sensor_run_id: int | None, served: list[dict[str, Any]]
    ) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO deployments (deployer, sensor_run_id, served, at) VALUES (?,?,?,?)",
                (deployer, sensor_run_id, json.dumps(served, sort_keys=True), time.time()),
            )
            return int(cursor.lastrowid or 0)

    # ------------------------------------------------------------------ process groups

    def record_process(self, kind: str, name: str, pid: int, created: float | None) -> int:
        """Record a process group the runner started (``kind``: ``server``; tasks: :meth:`set_task_pid`)."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO processes (kind, name, pid, created, started) VALUES (?,?,?,?,?)",
                (kind, name, pid, created, time.time()),
            )
            return int(cursor.lastrowid or 0)

    def process_ended(self, pid: int) -> None:
        """The process group led by ``pid`` was stopped (a no-op once the state is closed)."""
        sql = "UPDATE processes SET ended = ? WHERE pid = ? AND ended IS NULL"
        with contextlib.suppress(sqlite3.ProgrammingError), self._tx() as db:
            db.execute(sql, (time.time(), pid))

    def live_processes(self) -> list[ProcessRecord]:
        """Process groups recorded and not known to have ended, oldest first."""
        rows = self._rows("SELECT * FROM processes WHERE ended IS NULL ORDER BY id")
        return [ProcessRecord(**dict(r)) for r in rows]

    # ------------------------------------------------------------------ deployments (what is served)

    def current_deployments(self) -> dict[str, Deployment]:
        """What each deployer serves now: its newest deployment."""
        newest = "SELECT MAX(id) FROM deployments GROUP BY deployer"
        rows = self._rows(f"SELECT * FROM deployments WHERE id IN ({newest}) ORDER BY id")
        return {r["deployer"]: _deployment(r) for r in rows}

    def current_deployment(self, deployer: str) -> Deployment | None:
        rows = self._rows("SELECT * FROM deployments WHERE deployer = ? ORDER BY id DESC LIMIT 1", deployer)
        return _deployment(rows[0]) if rows else None


_SAME_START = 0.05  # two start times of one process (``/proc`` counts in clock ticks)


def _created(pid: int) -> float | None:
    """The start time of process ``pid``, ``None`` when there is none."""
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _deployment(row: sqlite3.Row) -> Deployment:
    return Deployment(row["id"], row["deployer"], row["sensor_run_id"], json.loads(row["served"]), row["at"])
