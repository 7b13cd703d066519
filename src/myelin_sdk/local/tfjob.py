"""A train task's ``tfJobSpec`` under ``myelin run``: one process per replica with ``TF_CONFIG``, as a TFJob.

Every replica (``Chief``/``Master``, ``PS``, ``Worker``, ``Evaluator`` × ``replicas``) runs the task's command
with the task's environment and ``TF_CONFIG`` — the Kubeflow TFJob contract: the cluster spec (every
replica type but the evaluator, lower case, ``127.0.0.1:<port>`` addresses the runner picked free), the
replica's ``task`` (type and index) and ``environment: cloud``::

    replicas = tf_replicas(task.train.tf_job_spec, "spec.tasks[0].train.tfJobSpec")
    # [Replica("ps", 0), Replica("worker", 0), Replica("worker", 1)]
    job = TFJobRun(replicas, command, cwd=folder, env=env, log=logs / "7-train.log", started=track)
    code = job.wait(stop)            # None when stopped

The job succeeds when the chief (or master; without one, worker 0) exits 0 and the other workers ended
too; the parameter servers and evaluators are stopped then. Any replica that exits non-zero fails the job at
once: the others are stopped and the task's log ends with that replica's last lines. Each replica logs to
its own file beside the task's (``<log>.worker-1.log``); the chief's (or worker 0's) is the task's log.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Diagnostic, MyelinError
from .executor import TaskProcess, kill_group, tail

__all__ = ["REPLICA_TYPES", "Replica", "TFJobRun", "tf_config", "tf_replicas"]

#: TFJob replica types, as the spec spells them -> the TF_CONFIG task type.
REPLICA_TYPES = {
    "Chief": "chief",
    "Master": "master",
    "PS": "ps",
    "Worker": "worker",
    "Evaluator": "evaluator",
}
#: Replicas that serve others and never end by themselves: stopped when the job is done.
_SERVING = ("ps", "evaluator")


@dataclass(frozen=True)
class Replica:
    type: str  # chief, master, ps, worker, evaluator
    index: int

    @property
    def name(self) -> str:
        return f"{self.type}-{self.index}"


def _raw(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, exclude_none=True)
    return value


def tf_replicas(tf_job_spec: Any, where: str) -> list[Replica]:
    """The replicas of a ``tfJobSpec`` (``where``: its field path), chief first. Raises MyelinError."""
    spec = _raw(tf_job_spec) or {}
    specs = spec.get("tfReplicaSpecs") if isinstance(spec, Mapping) else None
    if not isinstance(specs, Mapping) or not specs:
        raise MyelinError(
            [Diagnostic(f"{where}.tfReplicaSpecs", "expected the replicas (PS, Worker, Chief)")]
        )
    problems, out = [], []
    for kind, body in specs.items():
        path = f"{where}.tfReplicaSpecs.{kind}"
        if kind not in REPLICA_TYPES:
            problems.append(Diagnostic(path, f"expected one of {', '.join(REPLICA_TYPES)}, got {kind!r}"))
            continue
        body = _raw(body) or {}
        count = body.get("replicas", 1) if isinstance(body, Mapping) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            problems.append(Diagnostic(f"{path}.replicas", f"expected a count >= 0, got {count!r}"))
            continue
        out += [Replica(REPLICA_TYPES[kind], i) for i in range(count)]
    leaders = [r for r in out if r.type in ("chief", "master")]
    if len(leaders) > 1:
        problems.append(Diagnostic(f"{where}.tfReplicaSpecs", "at most one Chief (or Master) replica"))
    if not problems and not leaders and not any(r.type == "worker" for r in out):
        problems.append(Diagnostic(f"{where}.tfReplicaSpecs", "expected a Chief or at least one Worker"))
    if problems:
        raise MyelinError(problems)
    order = ["chief", "master", "worker", "ps", "evaluator"]
    return sorted(out, key=lambda r: (order.index(r.type), r.index))


def leader(replicas: list[Replica]) -> Replica:
    """The replica whose success is the job's: the chief (or master), else worker 0."""
    return next((r for r in replicas if r.type in ("chief", "master")), Replica("worker", 0))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tf_config(replicas: list[Replica], ports: Mapping[Replica, int], me: Replica) -> str:
    """``TF_CONFIG`` of replica ``me``.

    >>> r = [Replica("worker", 0), Replica("ps", 0)]
    >>> tf_config(r, {r[0]: 2222, r[1]: 2223}, r[0])
    '{"cluster": {"worker": ["127.0.0.1:2222"], "ps": ["127.0.0.1:2223"]}, "task": {"type": "worker", \
"index": 0}, "environment": "cloud"}'
    """
    cluster: dict[str, list[str]] = {}
    for replica in replicas:
        if replica.type != "evaluator":  # not part of the training cluster (as the TFJob operator does)
            cluster.setdefault(replica.type, []).append(f"127.0.0.1:{ports[replica]}")
    return json.dumps(
        {"cluster": cluster, "task": {"type": me.type, "index": me.index}, "environment": "cloud"}
    )


def stop_all(processes: list[TaskProcess], grace: float = 5.0) -> None:
    """SIGTERM the groups of the replicas still running, all at once; reap them; SIGKILL what is left after
    ``grace`` seconds."""
    live = [p for p in processes if p.popen.poll() is None]
    for process in live:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in live:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
    for process in live:
        if process.popen.poll() is None:
            kill_group(process.pid, grace=0)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=5)


class TFJobRun:
    """The replicas' processes of one execution (see the module docstring)."""

    def __init__(
        self,
        replicas: list[Replica],
        command: list[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log: Path,
        started: Callable[[TaskProcess], None] = lambda _: None,
        ended: Callable[[TaskProcess], None] = lambda _: None,
    ) -> None:
        self.replicas = replicas
        self.leader = leader(replicas)
        self.log = log
        self._ended = ended
        ports = {r: free_port() for r in replicas}
        self.logs = {
            r: log if r == self.leader else log.with_name(f"{log.stem}.{r.name}.log") for r in replicas
        }
        self.processes: dict[Replica, TaskProcess] = {}
        for replica in replicas:
            replica_env = {**env, "TF_CONFIG": tf_config(replicas, ports, replica)}
            process = TaskProcess.start(command, cwd=cwd, env=replica_env, log=self.logs[replica])
            self.processes[replica] = process
            started(process)

    def wait(self, stop: threading.Event, poll: float = 0.1) -> int | None:
        """The job's exit status (0: the leader and every worker succeeded); None when ``stop`` came first."""
        try:
            return self._wait(stop, poll)
        finally:
            stop_all(list(self.processes.values()))
            for process in self.processes.values():
                self._ended(process)

    def _wait(self, stop: threading.Event, poll: float) -> int | None:
        must_end = [r for r in self.replicas if r.type not in _SERVING]
        while True:
            if stop.wait(poll):
                return None
            codes = {r: p.popen.poll() for r, p in self.processes.items()}
            failed = next((r for r, code in codes.items() if code not in (None, 0)), None)
            if failed is not None:
                code = codes[failed]
                assert code is not None
                self._note(f"# replica {failed.name} failed with exit status {code}; its last lines:")
                if failed != self.leader:
                    self._note(tail(self.logs[failed]))
                return code
            if all(codes[r] == 0 for r in must_end):
                stopping = [r.name for r in self.replicas if codes[r] is None]
                if stopping:
                    self._note(f"# {self.leader.name} succeeded: stopping {', '.join(stopping)}")
                return 0

    def _note(self, text: str) -> None:
        with self.log.open("a", encoding="utf-8") as out:
            out.write(text + "\n")
