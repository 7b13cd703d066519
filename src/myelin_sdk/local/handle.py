"""``axon.run_local()``: run an axon in the background of a notebook or script, and talk to it.

    run = axon.run_local(artifacts={"rec-source": "examples"}, workdir="build")   # str or Path
    run.wait(until="deployed", timeout=600)   # True; False after the timeout; raises RunFailed (below)
    run.status()["sensors"]
    run.predict([3, 4])           # the router's answer: {"data": {...}, "meta": {...}}
    run.routes()                  # {"/predict": "http://127.0.0.1:9000/predict", "/predict1": ...}
    run.predict([3, 4], route="/predict1")   # another route of the deployer (a model graph)
    run.feedback(request, response, reward=1.0)
    run.stop()

``wait("deployed")`` raises :class:`~myelin_sdk.local.outcome.RunFailed` as soon as no deploy can happen any
more (a sensor on the way to the deployer failed and nothing else leads there): ``str(error)`` says why and
ends with the failed task's log tail; ``error.failures`` lists the sensor runs. ``wait("idle")`` returns True
once nothing runs, failures or not: they are in ``run.failures``. ``predict`` and ``feedback`` raise
:class:`PredictionError` with the model's own message (``unknown user id 99999 ...``) and the HTTP status.

The handle starts the same :class:`~myelin_sdk.local.engine.Engine` as ``myelin run``; its log lines go to
``log`` (default: a list kept in ``run.lines``). ``run.logs("Train")`` is the text a task printed (its latest
execution; ``run=4``: in sensor run 4). In Jupyter, ``run`` shows its live status (the table of ``myelin run``
and the last log lines), ``run.watch(until="deployed")`` redraws it in the cell until then, and
``run.display()`` keeps redrawing it while the run runs (:mod:`myelin_sdk.display.run_view`).
"""

from __future__ import annotations

import difflib
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import MyelinError
from ..spec import Axon
from .engine import Engine, RunOptions, Until
from .outcome import Failure, RunFailed
from .state import State

__all__ = ["LocalRun", "PredictionError", "RunFailed", "run_local"]


class PredictionError(MyelinError):
    """The endpoint refused a request: ``status`` is the HTTP status, the message is the model's own."""

    exit_code = 1

    def __init__(self, path: str, status: int, message: str) -> None:
        self.path, self.status, self.message = path, status, message
        super().__init__(f"{path}: HTTP {status}: {message}")

    def with_source(self, source: str) -> PredictionError:
        return self


def _error_message(body: bytes) -> str:
    """The message of a Seldon-style error body (``{"status": {"info": ...}}``), else the body's text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text or "(no message)"
    status = data.get("status") if isinstance(data, dict) else None
    if isinstance(status, dict):
        for key in ("info", "reason"):
            if status.get(key):
                return str(status[key])
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return text


class LocalRun:
    """A running local run (see the module docstring)."""

    def __init__(self, engine: Engine, lines: list[str] | None = None) -> None:
        self.engine = engine
        #: The run's log lines, when no ``log`` callback was given.
        self.lines: list[str] = lines if lines is not None else []

    def status(self) -> dict[str, Any]:
        """Sensors, task executions, metrics, endpoints and deployments, as ``myelin status`` shows them.

        Once stopped: what the run's state recorded (:func:`~myelin_sdk.local.view.stored_snapshot`)."""
        if self.engine.state is not None:
            stopping = self.engine.stop_event.is_set()
            return self.engine.snapshot() | {"status": "stopping" if stopping else "running"}
        from .view import stored_snapshot

        with self._state() as state:
            run = self.engine.run_dir.root.name if self.engine.run_dir else "?"
            status = (state.run() or {}).get("status")
            names = [s.name for s in self.engine.axon.sensors]
            return stored_snapshot(state, run, self.engine.axon.name, names) | {"status": status}

    @contextmanager
    def _state(self) -> Iterator[State]:
        """The run's state: the engine's while it runs, else opened from its folder for the moment."""
        if self.engine.state is not None:
            yield self.engine.state
            return
        if self.engine.run_dir is None:
            raise MyelinError("the run has not started: it has no state yet")
        state = State.open(self.engine.run_dir.state_db)
        try:
            yield state
        finally:
            state.close()

    def logs(self, task: str, run: int | None = None) -> str:
        """What ``task`` printed (stdout and stderr) in its latest execution, or in sensor run ``run``."""
        names = [t.name for t in self.engine.axon.tasks]
        if task not in names:
            close = difflib.get_close_matches(task, names, n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise MyelinError(
                f"run.logs({task!r}): axon {self.engine.axon.name} has no task of that name{hint} "
                f"(tasks: {', '.join(names)})"
            )
        with self._state() as state:
            executions = [t for t in state.task_runs() if t.task == task]
        if not executions:
            raise MyelinError(f"run.logs({task!r}): task {task} has not run yet")
        if run is not None:
            chosen = [t for t in executions if t.sensor_run_id == run]
            if not chosen:
                runs = ", ".join(str(t.sensor_run_id) for t in executions)
                raise MyelinError(
                    f"run.logs({task!r}, run={run}): task {task} ran in sensor runs {runs} only"
                )
            executions = chosen
        path = Path(executions[-1].log)
        return path.read_text(errors="replace") if path.is_file() else ""

    def watch(self, until: Until = "deployed", timeout: float | None = None, every: float = 1.0) -> bool:
        """:meth:`wait`, showing the live status meanwhile: in Jupyter one output redrawn every ``every``
        seconds, on a terminal a live table, piped the final status once."""
        from ..display.run_view import watch

        return watch(self, until, timeout, every)

    def display(self, every: float = 1.0) -> None:
        """Show the live status; in Jupyter it keeps redrawing (every ``every`` s) until the run stops."""
        from ..display.run_view import show

        show(self, every)

    def __repr__(self) -> str:
        from ..display.run_view import run_text

        return run_text(self)

    def _repr_html_(self) -> str:
        from ..display.run_view import run_html

        return run_html(self)

    def endpoint(self, deployer: str | None = None) -> str | None:
        """The router's URL (of ``deployer``, or the first one), or None before the first deploy."""
        endpoints = self.engine.deployments.endpoints() if self.engine.deployments else {}
        if deployer is not None:
            return endpoints.get(deployer)
        return next(iter(endpoints.values()), None)

    def routes(self, deployer: str | None = None) -> dict[str, str]:
        """Every route of ``deployer`` (or the first one) and its URL: ``{"/predict1": "http://...", ...}``
        (``{}`` before the first deploy)."""
        deployments = self.engine.deployments
        url = self.endpoint(deployer)
        if deployments is None or url is None:
            return {}
        paths = deployments.routes()
        name = deployer if deployer is not None else next(iter(paths), "")
        return {path: url + path for path in paths.get(name, [])}

    @property
    def failures(self) -> list[Failure]:
        """The sensor runs of this session that failed (sensor, task, log, exit code)."""
        return list(self.engine.failures)

    def wait(self, until: Until = "idle", timeout: float | None = None) -> bool:
        """Block until the run is idle or has deployed; False when ``timeout`` passed first.

        Raises :class:`RunFailed` at once when ``until="deployed"`` can no longer happen (see the module).
        """
        return self.engine.wait(until, timeout)

    def _post(self, path: str, body: Any, deployer: str | None = None) -> Any:
        url = self.endpoint(deployer)
        path = path if path.startswith("/") else f"/{path}"
        if url is None:
            if deployer is not None and self.endpoint() is not None:
                raise MyelinError(
                    f"deployer {deployer!r} serves nothing (serving: {', '.join(self._served())})"
                )
            raise MyelinError("nothing is deployed yet: wait(until='deployed') first")
        request = urllib.request.Request(
            url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                body = exc.read()
            raise PredictionError(path, exc.code, _error_message(body)) from None

    def _served(self) -> list[str]:
        return list(self.engine.deployments.endpoints()) if self.engine.deployments else []

    def predict(self, ndarray: Any, route: str = "/predict", deployer: str | None = None) -> Any:
        """``POST <route>`` (default ``/predict``; see :meth:`routes`) of ``deployer`` (default: the first)
        with ``{"data": {"ndarray": ndarray}}``."""
        return self._post(route, {"data": {"ndarray": ndarray}}, deployer)

    def feedback(
        self,
        request: Any,
        response: Any,
        reward: float,
        route: str = "/send-feedback",
        deployer: str | None = None,
    ) -> Any:
        """``POST <route>`` (default ``/send-feedback``) with a reward for an earlier answer."""
        body = {"request": request, "response": response, "reward": reward}
        return self._post(route, body, deployer)

    def trigger(self, sensor: str) -> Any:
        """Fire a sensor's Rest trigger."""
        assert self.engine.control is not None
        request = urllib.request.Request(
            self.engine.control.url + f"/trigger/{sensor}", data=b"{}", method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                body = exc.read()
            raise MyelinError(f"trigger {sensor}: {_error_message(body)}") from None

    def stop(self) -> None:
        """Stop every task, model server and listener of the run (it can be resumed later)."""
        self.engine.stop()

    def __enter__(self) -> LocalRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_local(
    axon: Axon,
    options: RunOptions | None = None,
    *,
    artifacts: dict[str, str | Path] | None = None,
    source: Path | None = None,
    log: Callable[[str], None] | None = None,
    workdir: str | Path | None = None,
) -> LocalRun:
    """Start ``axon`` locally and return at once with a :class:`LocalRun` handle.

    ``workdir`` (str or Path) and the ``artifacts`` folders are resolved from the current directory.
    """
    options = options or RunOptions()
    if workdir is not None:
        options.workdir = Path(workdir).expanduser().resolve()
    if artifacts:
        options.artifacts.update({k: Path(v).expanduser().resolve() for k, v in artifacts.items()})
    lines: list[str] = []
    engine = Engine(axon, options, source=source, log=log or lines.append)
    engine.start()
    return LocalRun(engine, lines)
