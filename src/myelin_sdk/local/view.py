"""What ``myelin run`` shows: log lines, and on a terminal a live table of sensors, tasks, metrics and
endpoints (rich) under them. Piped (CI, ``make demo | tee``) or with ``--plain``: the log lines only."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Engine


class View:
    def __init__(self, live: bool) -> None:
        self.live = live
        self._live: Any = None
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        """One log line, whole: lines of concurrent sensors never interleave."""
        with self._lock:
            if self._live is not None:
                self._live.console.print(text, markup=False, highlight=False)
            else:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()

    @contextmanager
    def showing(self, engine: Engine) -> Iterator[None]:
        if not self.live:
            yield
            return
        from rich.live import Live

        with Live(_Table(engine), refresh_per_second=2, transient=True, redirect_stdout=False) as live:
            self._live = live
            try:
                yield
            finally:
                self._live = None


class _Table:
    """Renders the engine's snapshot each time rich refreshes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __rich__(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        try:
            snap = self.engine.snapshot()
        except Exception:
            return ""
        table = Table(title=f"axon {snap['axon']} — run {snap['run']}", expand=False)

        def row(*cells: str) -> None:
            table.add_row(*(Text(cell) for cell in cells))  # names and URLs are not rich markup

        table.add_column("what")
        table.add_column("name")
        table.add_column("state")
        for s in snap["sensors"]:
            row("sensor", s["name"], f"{s['state']} ({s['runs']} runs, last {s['last'] or '-'})")
        for t in snap["tasks"][-5:]:
            row("task", t["task"], t["status"])
        for name, value in sorted(snap["metrics"].items()):
            row("metric", name, f"{value:.4g}")
        for name, url in snap["endpoints"].items():
            served = ", ".join(f"{v['label']} {v['traffic']}%" for v in snap["deployments"].get(name, []))
            row("endpoint", name, f"{url}/predict  [{served}]")
        return table
