"""What a resumed run finds left by the runner before it: process groups still running, task runs that were
running, and Lifecycle events never recorded because the runner died first::

    reap_previous(state, log=print)        # ends the groups, marks their task runs "interrupted" — or, for a
                                           # task that ended by itself, records the exit status its
                                           # watchdog kept (:func:`.watchdog.exit_path`): not run again
    for task, phase, code in lost_lifecycle_events(state):
        engine.emit("lifecycle", f"{task}:{phase}", {"task": task, "exitCode": code}, targets)

The engine then serves afresh, goes on with the sensor runs that were running and dispatches the events not
handled yet (:meth:`.Engine.start` with ``--resume``).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from .executor import reap_group
from .state import FAILED, RUNNING, SUCCEEDED, State, TaskRun
from .watchdog import exit_path

__all__ = ["lost_lifecycle_events", "reap_previous"]


def kept_exit(task_run: TaskRun) -> int | None:
    """The exit status the task run's watchdog kept (its task ended while the runner could not see it),
    None without one (or one of another process)."""
    if not task_run.log or task_run.pid is None:
        return None
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        kept = json.loads(Path(exit_path(task_run.log)).read_text(encoding="utf-8"))
        if kept["pid"] == task_run.pid and isinstance(kept["exitCode"], int):
            return int(kept["exitCode"])
    return None


def _keeps(keeps: Callable[[TaskRun, int], bool], task_run: TaskRun, code: int) -> bool:
    try:
        return keeps(task_run, code)
    except (KeyError, ValueError):  # not a task of the axon (any more): run it again
        return False


def reap_previous(
    state: State,
    log: Callable[[str], None],
    keeps: Callable[[TaskRun, int], bool] = lambda task_run, code: True,
) -> None:
    """End what the previous runner left running and mark its running task runs ``interrupted``.

    Its watchdogs end its groups; a group whose watchdog died too is ended here, each group checked by its
    leader's start time (a reused pid is never signalled). A task run whose task ended by itself before
    the runner could record it keeps that exit status (succeeded or failed, its sensor run failed with
    it), so it is not run again — when ``keeps(task_run, code)`` accepts it (the engine's settles a train
    execution's version folder there, as the runner would have; one it cannot settle runs again).
    """
    for record in state.live_processes():
        left = reap_group(record.pid, record.created)
        if left:
            log(
                f"stopped {record.kind} {record.name} left running by the previous runner "
                f"(process group {record.pid}, {left} process{'es' if left > 1 else ''})"
            )
        state.process_ended(record.pid)
    for task_run in state.task_runs(status=RUNNING):
        code = kept_exit(task_run)  # None for a deploy step: no process of its own
        if code is not None and not _keeps(keeps, task_run, code):
            code = None
        if code is None:
            state.finish_task_run(task_run.id, "interrupted", None)
            continue
        state.finish_task_run(task_run.id, SUCCEEDED if code == 0 else FAILED, code)
        log(f"task {task_run.task} ended with exit status {code} while no runner watched: not run again")
        if code != 0:
            message = f"step {task_run.step} failed (task {task_run.task}, exit status {code})"
            state.finish_sensor_run(task_run.sensor_run_id, FAILED, message)


def lost_lifecycle_events(state: State) -> list[tuple[str, str, int | None]]:
    """(task, ``Succeeded``/``Failed``, exit code) of each finished task execution without its Lifecycle
    event — a task that ended just before its runner died — in order (each execution has one event)."""
    emitted = Counter(e.detail.get("task") for e in state.events() if e.kind == "lifecycle")
    finished: dict[str, list[TaskRun]] = {}
    for task_run in state.task_runs():
        if task_run.status in (SUCCEEDED, FAILED) and not task_run.task.startswith("deployer:"):
            finished.setdefault(task_run.task, []).append(task_run)
    return [
        (task, "Succeeded" if task_run.status == SUCCEEDED else "Failed", task_run.exit_code)
        for task, runs in finished.items()
        for task_run in runs[emitted[task] :]
    ]
