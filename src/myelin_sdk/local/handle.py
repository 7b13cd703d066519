"""``axon.run_local()``: run an axon in the background of a notebook or script, and talk to it.

    run = axon.run_local(artifacts={"rec-source": "examples"})
    run.wait(until="deployed", timeout=600)
    run.status()["sensors"]
    run.predict([3, 4])           # the router's answer: {"data": {...}, "meta": {...}}
    run.feedback(request, response, reward=1.0)
    run.stop()

The handle starts the same :class:`~myelin_sdk.local.engine.Engine` as ``myelin run``; its log lines go to
``log`` (default: a list kept in ``run.lines``).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import MyelinError
from ..spec import Axon
from .engine import Engine, RunOptions, Until


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

    def wait(self, until: Until = "idle", timeout: float | None = None) -> bool:
        """Block until the run is idle or has deployed; False when ``timeout`` passed first."""
        return self.engine.wait(until, timeout)

    def _post(self, path: str, body: Any) -> Any:
        url = self.endpoint()
        if url is None:
            raise MyelinError("nothing is deployed yet: wait(until='deployed') first")
        request = urllib.request.Request(
            url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

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
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

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
) -> LocalRun:
    """Start ``axon`` locally and return at once with a :class:`LocalRun` handle."""
    options = options or RunOptions()
    if artifacts:
        options.artifacts.update({k: Path(v) for k, v in artifacts.items()})
    lines: list[str] = []
    engine = Engine(axon, options, source=source, log=log or lines.append)
    engine.start()
    return LocalRun(engine, lines)
