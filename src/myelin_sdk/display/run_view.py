"""A local run as the live view of ``myelin run`` shows it (:func:`myelin_sdk.local.view.render`), in a
notebook cell (HTML) or as text, with the run's last log lines; and a cell that follows the run::

    run = axon.run_local(...)
    run                                    # its status now: tasks, sensors, served versions, endpoint, log
    run.watch(until="deployed", timeout=600)   # the same, redrawn every second until then
    run.display()                          # a cell that keeps redrawing while the run runs; returns at once

In Jupyter the cell is one IPython display (``display(..., display_id=True)``) updated in place; on a
terminal (plain Python or the IPython shell) ``watch`` redraws a rich live table, and piped it prints the
final status once. IPython is optional: it is only used when a notebook kernel is running.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..local.engine import Until
    from ..local.handle import LocalRun

#: Log lines shown under the table.
LOG_LINES = 8
#: Task runs shown in the table.
TASK_ROWS = 10

_HTML_FORMAT = (
    '<pre style="white-space:pre;overflow-x:auto;line-height:normal;'
    "font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace\">{code}</pre>"
)


def renderable(run: LocalRun) -> Any:
    """The table of the run's snapshot and, under it, its last log lines."""
    from rich.console import Group
    from rich.text import Text

    from ..local.view import render

    try:
        snap = run.status()
    except Exception as exc:  # a display must never raise: say what is missing
        return Text(f"local run of axon {run.engine.axon.name}: no status ({exc})")
    parts: list[Any] = [render(snap, tasks=TASK_ROWS)]
    lines = run.lines[-LOG_LINES:]
    if lines:
        parts.append(Text("last log lines:", style="bold"))
        parts += [Text("  " + line, no_wrap=True, overflow="ellipsis") for line in lines]
    return Group(*parts)


def run_text(run: LocalRun, width: int = 120) -> str:
    """The status as plain text (no colour)."""
    from rich.console import Console

    console = Console(width=width, color_system=None, file=io.StringIO(), record=True, force_jupyter=False)
    console.print(renderable(run))
    return console.export_text().rstrip("\n")


def run_html(run: LocalRun) -> str:
    """The status as HTML, with the live view's colours."""
    from rich.console import Console

    console = Console(
        width=140,
        file=io.StringIO(),
        record=True,
        force_terminal=True,
        force_jupyter=False,  # else rich, in a kernel, publishes what it prints as an output of its own
        color_system="truecolor",
    )
    console.print(renderable(run))
    return console.export_html(inline_styles=True, code_format=_HTML_FORMAT)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell that is not the terminal one)."""
    if "IPython" not in sys.modules:  # no kernel runs without it; do not import it for nothing
        return False
    from IPython.core.interactiveshell import InteractiveShell

    if not InteractiveShell.initialized():
        return False
    return "Terminal" not in type(InteractiveShell.instance()).__name__


class _Live:
    def __init__(self, run: LocalRun) -> None:
        self.run = run

    def __rich__(self) -> Any:
        return renderable(self.run)


def watch(run: LocalRun, until: Until, timeout: float | None, every: float) -> bool:
    """Wait like :meth:`LocalRun.wait`, showing the status every ``every`` seconds (see the module)."""
    deadline = None if timeout is None else time.monotonic() + timeout

    def wait_a_while() -> bool | None:
        """True reached, False timed out, None: not yet."""
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return False
        if run.wait(until, every if left is None else min(every, left)):
            return True
        return None

    if in_notebook():
        from IPython.display import display

        handle = display(run, display_id=True)  # type: ignore[no-untyped-call]
        try:
            while (reached := wait_a_while()) is None:
                handle.update(run)
            return reached
        finally:
            handle.update(run)  # the last state, also when the run failed
    if sys.stdout.isatty():
        from rich.live import Live

        with Live(_Live(run), refresh_per_second=max(0.1, 1 / every)):  # print() goes above it
            while (reached := wait_a_while()) is None:
                pass
            return reached
    try:
        while (reached := wait_a_while()) is None:
            pass
        return reached
    finally:
        print(run_text(run))


def show(run: LocalRun, every: float) -> threading.Thread | None:
    """Display the status; in a notebook, keep updating it every ``every`` s from a thread while the run runs
    (the thread is returned); elsewhere print it once."""
    if not in_notebook():
        print(run_text(run))
        return None
    from IPython.display import display

    handle = display(run, display_id=True)  # type: ignore[no-untyped-call]
    stopped = run.engine.stop_event

    def refresh() -> None:
        while not stopped.wait(every):
            handle.update(run)
        deadline = time.monotonic() + 60
        while run.engine.state is not None and time.monotonic() < deadline:  # stopping: show where it ends
            handle.update(run)
            time.sleep(every)
        handle.update(run)

    thread = threading.Thread(target=refresh, name=f"display {run.engine.axon.name}", daemon=True)
    thread.start()
    return thread
