"""Lint and compile are linear in the size of the axon (issue #17): name indexes, bounded did-you-mean.

A 3,000-task axon with 3,000 misspelt references used to cost N² did-you-mean work (2,000 → 141 s), and
compile had two N² lookups (``Axon.task(name)``, ``wiring.watched_tasks`` per task).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest

from myelin_sdk import MyelinError
from myelin_sdk.compiler import compile_axon
from myelin_sdk.lint import lint_axon
from myelin_sdk.spec import Axon


def big_axon(n: int, bad: bool) -> Axon:
    """``n`` container tasks; sensors of 10 steps each naming every task (misspelt when ``bad``), each with a
    Lifecycle trigger on a task (so compile's watched-task lookup is exercised)."""
    tasks = [
        {"name": f"task-{i:05d}", "container": {"image": "busybox", "command": ["true"]}} for i in range(n)
    ]
    sensors: list[dict[str, Any]] = []
    for s in range(n // 10):
        names = [f"task-{i:05d}" for i in range(s * 10, s * 10 + 10)]
        steps = [
            {"resourceExecutor": {"task": (name.replace("task", "tsak") if bad else name)}} for name in names
        ]
        trigger = {"name": "t", "type": "Lifecycle", "condition": "Failed", "task": names[0]}
        sensors.append({"name": f"s-{s:05d}", "tasks": steps, "triggers": [trigger]})
    return Axon.model_validate({"name": "big", "tasks": tasks, "sensors": sensors})


def lint_and_compile(axon: Axon) -> float:
    start = time.perf_counter()
    lint_axon(axon)
    with contextlib.suppress(MyelinError):
        compile_axon(axon)
    return time.perf_counter() - start


def test_three_thousand_bad_references_lint_and_compile_in_bounded_time() -> None:
    axon = big_axon(3000, bad=True)
    elapsed = lint_and_compile(axon)
    errors = [d for d in lint_axon(axon) if d.severity == "error"]
    assert len([d for d in errors if "no task named 'tsak-" in d.message]) == 3000
    # the hint survives the bounds, for every one of them (not only for the first names of the axon)
    hints = {d.message.split("'")[1]: d.message for d in errors if "no task named" in d.message}
    assert hints["tsak-00000"].endswith("did you mean 'task-00000'?")
    assert hints["tsak-02345"].endswith("did you mean 'task-02345'?")
    assert elapsed < 30


@pytest.mark.parametrize("bad", [True, False], ids=["bad-references", "valid"])
def test_lint_and_compile_grow_linearly(bad: bool) -> None:
    small, large = big_axon(750, bad), big_axon(3000, bad)
    lint_and_compile(big_axon(50, bad))  # warm up imports
    # best of a few runs: other processes on the machine only ever add time
    t_small = min(lint_and_compile(small) for _ in range(3 if bad else 2))
    t_large = min(lint_and_compile(large) for _ in range(3 if bad else 2))
    # linear work gives a ratio of ~4, quadratic ~16: allow noise, refuse quadratic
    assert t_large / t_small < 10, (t_small, t_large)


def test_axon_task_lookup_is_indexed_and_follows_changes() -> None:
    axon = big_axon(200, bad=False)
    assert axon.task("task-00150").name == "task-00150"
    moved = axon.tasks.pop(150)
    with pytest.raises(KeyError):
        axon.task("task-00150")
    axon.tasks.append(moved)
    assert axon.task("task-00150") is moved
    axon.tasks[0] = axon.tasks[0].model_copy(update={"name": "renamed"})
    assert axon.task("renamed").name == "renamed"
    with pytest.raises(KeyError):
        axon.task("task-00000")
    axon.tasks = list(axon.tasks)  # a new list: a new index
    assert axon.task("task-00001").name == "task-00001"
