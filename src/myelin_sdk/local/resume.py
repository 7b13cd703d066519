"""What a resumed run finds left by the runner before it: process groups still running, task runs that were
running, and Lifecycle events never recorded because the runner died first::

    reap_previous(state, log=print)        # ends the groups, marks their task runs "interrupted"
    for task, phase, code in lost_lifecycle_events(state):
        engine.emit("lifecycle", f"{task}:{phase}", {"task": task, "exitCode": code}, targets)

The engine then serves afresh, goes on with the sensor runs that were running and dispatches the events not
handled yet (:meth:`.Engine.start` with ``--resume``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from .executor import reap_group
from .state import FAILED, RUNNING, SUCCEEDED, State, TaskRun

__all__ = ["lost_lifecycle_events", "reap_previous"]


def reap_previous(state: State, log: Callable[[str], None]) -> None:
    """End what the previous runner left running and mark its running task runs ``interrupted``.

    Its watchdogs end its groups; a group whose watchdog died too is ended here, each group checked by its
    leader's start time (a reused pid is never signalled).
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
        state.finish_task_run(task_run.id, "interrupted", None)


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
