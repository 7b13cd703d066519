"""What ``myelin run`` shows: log lines, and on a terminal a live table (rich) under them, redrawn from the
engine's snapshot twice a second. Piped (CI, ``make demo | tee``) or with ``--plain``: the log lines only::

    view = View(live=sys.stdout.isatty())
    engine = Engine(axon, options, log=view.line)
    with view.showing(engine):
        engine.wait("deployed")

The table (:func:`render`, also usable on a snapshot dict of ``GET /status``) shows each sensor with its
running run and run count; serving environments being built (installer, elapsed) or built; the last task
runs with their sensor run, step and elapsed time; the metrics under the names the task published
(``recommender_train_rmse``, without the ``_<axon>`` suffix of :func:`myelin_sdk.contract.metric_name`);
and each endpoint with its served versions: traffic share, requests, errors and p50/p95 latency from the
router. :func:`stored_snapshot` gives the same shape for a run that no longer runs (``myelin status --local``,
a stopped ``LocalRun``), read from its state.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .. import contract

if TYPE_CHECKING:
    from rich.table import Table

    from .engine import Engine
    from .state import State

#: Task runs shown (the most recent).
TASK_ROWS = 6


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
        try:
            snap = self.engine.snapshot()
        except Exception:
            return ""
        return render(snap)


def user_metric(key: str, axon: str) -> str:
    """A published series' name as the task wrote it: without the ``_<axon>`` suffix (labels kept).

    >>> user_metric('recommender_train_rmse_ml__rec{task="train"}', "ml-rec")
    'recommender_train_rmse{task="train"}'
    """
    name, brace, labels = key.partition("{")
    suffix = contract.metric_name("", axon)
    if name.endswith(suffix) and len(name) > len(suffix):
        name = name[: -len(suffix)]
    return f"{name}{brace}{labels}"


def seconds(value: float | None) -> str:
    """``12.3 s``, ``4m05s``, ``1h02m``.

    >>> seconds(12.34), seconds(245), seconds(3725), seconds(None)
    ('12.3 s', '4m05s', '1h02m', '-')
    """
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f} s"
    whole = int(value)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _build_line(build: Mapping[str, Any]) -> str:
    state, installer = build.get("state"), build.get("installer", "?")
    elapsed = seconds(build.get("seconds"))
    if state == "building":
        return f"building with {installer} … {elapsed} (log {build.get('log')})"
    if state == "waiting":
        return f"waiting for another build … {elapsed}"
    if state == "built":
        return f"built with {installer} in {elapsed}"
    if state == "failed":
        return f"build with {installer} failed after {elapsed} (log {build.get('log')})"
    return str(state)


def _version_line(served: Mapping[str, Any], counts: Mapping[str, Any]) -> str:
    """``50% · 120 req, 0 err · p50 3.1 ms, p95 7.9 ms`` of one served version."""
    parts = [f"{served.get('traffic', counts.get('weight', 0)):g}%"]
    if counts:
        parts.append(f"{counts.get('requests', 0)} req, {counts.get('errors', 0)} err")
        if counts.get("feedback"):
            parts.append(f"{counts['feedback']} feedback")
        parts.append(f"p50 {_ms(counts.get('p50Ms'))}, p95 {_ms(counts.get('p95Ms'))}")
    return " · ".join(parts)


_TRIAL_STYLE = {"running": "yellow", "failed": "red", "pruned": "dim"}


def trial_line(trial: Mapping[str, Any]) -> str:
    """One hpTuning trial: state, budget, loss and parameters.

    >>> trial_line({"state": "pruned", "budget": 1.3333, "loss": 0.25, "params": {"x": 0.123456, "k": "a"}})
    'pruned · budget 1.333 · loss 0.25 · x=0.1235, k=a'
    """

    def short(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    budget = "-" if trial.get("budget") is None else short(float(trial["budget"]))
    loss = "-" if trial.get("loss") is None else short(float(trial["loss"]))
    params = ", ".join(f"{k}={short(v)}" for k, v in trial.get("params", {}).items())
    return f"{trial['state']} · budget {budget} · loss {loss} · {params}"


def stored_snapshot(state: State, run: str, axon: str, sensors: Sequence[str] = ()) -> dict[str, Any]:
    """The snapshot of a run that does not run (any more), from its state: ``sensors`` (the axon's, in
    order) and those that ran, the last 20 task runs, what each deployer serves. Metrics, endpoints and
    traffic live in the runner: empty here."""
    from .snapshot import task_rows

    summary = state.sensor_summary()
    return {
        "run": run,
        "axon": axon,
        "sensors": [
            {
                "name": name,
                "state": "idle",
                "runs": summary.get(name, (0, None))[0],
                "last": summary.get(name, (0, None))[1],
                "run": None,
            }
            for name in dict.fromkeys([*sensors, *(r.sensor for r in state.sensor_runs()), *summary])
        ],
        "tasks": task_rows(state),
        "metrics": {},
        "traffic": {},
        "builds": [],
        "endpoints": {},
        "deployments": {name: d.served for name, d in state.current_deployments().items()},
    }


def render(snap: Mapping[str, Any], tasks: int = TASK_ROWS) -> Table:
    """The live table of a snapshot (:meth:`.Engine.snapshot`); ``tasks``: how many task runs (the last)."""
    from rich.table import Table
    from rich.text import Text

    status = f" ({snap['status']})" if snap.get("status") else ""
    table = Table(title=f"axon {snap['axon']} — run {snap['run']}{status}", expand=False)
    table.add_column("what")
    table.add_column("name")
    table.add_column("state")

    def row(*cells: str, style: str = "") -> None:
        table.add_row(*(Text(cell) for cell in cells), style=style or None)  # names, URLs: not markup

    for s in snap.get("sensors", []):
        now = f"running run {s['run']}" if s.get("state") == "running" and s.get("run") else s["state"]
        row("sensor", s["name"], f"{now} ({s['runs']} runs, last {s.get('last') or '-'})")
    for build in snap.get("builds", []):
        style = "yellow" if build.get("state") in ("building", "waiting") else ""
        row("env", build.get("what", "serving env"), _build_line(build), style=style)
    for t in snap.get("tasks", [])[-tasks:] if tasks else []:
        where = f"run {t['run']} step {t['step']}" if t.get("run") is not None else ""
        state = " · ".join(p for p in (t["status"], seconds(t.get("seconds")), where) if p)
        row("task", t["task"], state, style="red" if t["status"] == "failed" else "")
    for trial in snap.get("trials", []):
        row(
            "  trial",
            f"{trial['task']} #{trial['trial']}",
            trial_line(trial),
            style=_TRIAL_STYLE.get(trial["state"], ""),
        )
    axon = str(snap.get("axon", ""))
    for name, value in sorted((user_metric(k, axon), v) for k, v in snap.get("metrics", {}).items()):
        row("metric", name, f"{value:.4g}")
    traffic = snap.get("traffic", {})
    for name, url in snap.get("endpoints", {}).items():
        served = snap.get("deployments", {}).get(name, [])
        split = ", ".join(f"{v['label']} {v['traffic']}%" for v in served)
        row("endpoint", name, f"{url}/predict  [{split}]")
        paths = snap.get("routes", {}).get(name, [])
        for path in paths if set(paths) - {"/predict", "/send-feedback"} else []:  # a model graph's routes
            row("  route", path, f"{url}{path}")
        for version in served:
            counts = traffic.get(name, {}).get(version["label"]) or {}
            row("  version", version["label"], _version_line(version, counts))
    for name, served in snap.get("deployments", {}).items():
        if name not in snap.get("endpoints", {}):  # recorded, not served now (a stopped run)
            split = ", ".join(f"{v['label']} {v['traffic']}%" for v in served)
            row("deployer", name, f"not serving now; last served [{split}]")
    return table
