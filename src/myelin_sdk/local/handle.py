"""``axon.run_local()``: run an axon in the background of a notebook or script, and talk to it.

    run = axon.run_local(artifacts={"rec-source": "examples"}, workdir="build")   # str or Path
    run.wait(until="deployed", timeout=600)   # True; False after the timeout; raises RunFailed (below)
    run.status()["sensors"]
    run.predict([3, 4])           # the router's answer: {"data": {...}, "meta": {...}}
    run.feedback(request, response, reward=1.0)
    run.stop()

``wait("deployed")`` raises :class:`~myelin_sdk.local.outcome.RunFailed` as soon as no deploy can happen any
more (a sensor on the way to the deployer failed and nothing else leads there): ``str(error)`` says why and
ends with the failed task's log tail; ``error.failures`` lists the sensor runs. ``wait("idle")`` returns True
once nothing runs, failures or not: they are in ``run.failures``. ``predict`` and ``feedback`` raise
:class:`PredictionError` with the model's own message (``unknown user id 99999 ...``) and the HTTP status.

The handle starts the same :class:`~myelin_sdk.local.engine.Engine` as ``myelin run``; its log lines go to
``log`` (default: a list kept in ``run.lines``).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import MyelinError
from ..spec import Axon
from .engine import Engine, RunOptions, Until
from .outcome import Failure, RunFailed

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
        """Sensors, task executions, metrics, endpoints and deployments, as ``myelin status`` shows them."""
        return self.engine.snapshot()

    def endpoint(self, deployer: str | None = None) -> str | None:
        """The router's URL (of ``deployer``, or the first one), or None before the first deploy."""
        endpoints = self.engine.deployments.endpoints() if self.engine.deployments else {}
        if deployer is not None:
            return endpoints.get(deployer)
        return next(iter(endpoints.values()), None)

    @property
    def failures(self) -> list[Failure]:
        """The sensor runs of this session that failed (sensor, task, log, exit code)."""
        return list(self.engine.failures)

    def wait(self, until: Until = "idle", timeout: float | None = None) -> bool:
        """Block until the run is idle or has deployed; False when ``timeout`` passed first.

        Raises :class:`RunFailed` at once when ``until="deployed"`` can no longer happen (see the module).
        """
        return self.engine.wait(until, timeout)

    def _post(self, path: str, body: Any) -> Any:
        url = self.endpoint()
        if url is None:
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

    def predict(self, ndarray: Any) -> Any:
        """``POST /predict`` with ``{"data": {"ndarray": ndarray}}``."""
        return self._post("/predict", {"data": {"ndarray": ndarray}})

    def feedback(self, request: Any, response: Any, reward: float) -> Any:
        """``POST /send-feedback`` with a reward for an earlier answer."""
        return self._post("/send-feedback", {"request": request, "response": response, "reward": reward})

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
