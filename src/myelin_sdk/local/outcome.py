"""When the outcome a local run waits for can no longer happen, and why: the fail-fast rule of ``--until``.

A deploy can still happen while a sensor that leads to a deployer is running or will fire on its own. A
sensor *leads to a deploy* when it has a deployer step, or runs a task whose Lifecycle event (Succeeded or
Failed) starts such a sensor. Calendar triggers fire on their own; Rest calls and Alerts need something
outside the runner to change, so once a sensor on the way to the deploy has failed or was skipped by its
Metric gate they do not keep the wait alive::

    >>> from myelin_sdk import Axon, ContainerTask, Lifecycle, Sensor
    >>> with Axon("a") as axon:
    ...     prep, other = ContainerTask("Prep", command=["true"]), ContainerTask("Other", command=["true"])
    ...     _ = Sensor("Start", tasks=[prep]), Sensor("Lonely", tasks=[other])
    >>> sorted(leads_to_deploy(axon))      # no deployer: nothing leads to a deploy
    []
    >>> f = Failure("Start", 1, "step 0 failed", task="Prep", log="")
    >>> print(blocked_reason(axon, set(), [f]))
    the axon has no deployer: nothing can be deployed
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..spec import Axon, Calendar, Lifecycle

__all__ = ["Failure", "RunFailed", "blocked_reason", "leads_to_deploy"]


@dataclass(frozen=True)
class Failure:
    """A sensor run that ended without doing its work: ``failed`` (a step failed) or ``skipped`` (a gate)."""

    sensor: str
    run_id: int
    message: str
    task: str | None = None
    log: str | None = None
    exit_code: int | None = None
    status: str = "failed"

    def describe(self) -> str:
        what = f"sensor {self.sensor} (run {self.run_id}) {self.status}"
        if self.task:
            code = "" if self.exit_code is None else f" with exit status {self.exit_code}"
            return f"{what}: task {self.task} failed{code}"
        return f"{what}: {self.message}" if self.message else what

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the failed task's log ('' without one)."""
        if not self.log:
            return ""
        from .executor import tail

        return tail(Path(self.log), lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "sensor": self.sensor,
            "run": self.run_id,
            "status": self.status,
            "message": self.message,
            "task": self.task,
            "exitCode": self.exit_code,
            "log": self.log,
        }


class RunFailed(RuntimeError):
    """What a run was waiting for can no longer happen (``run.wait`` raises it; ``myelin run`` exits 1).

    ``reason`` says why in one line; ``failures`` are the sensor runs that ended it, the first with a task
    log has its tail in ``str(error)``.
    """

    def __init__(self, reason: str, failures: Sequence[Failure] = ()) -> None:
        self.reason = reason
        self.failures = list(failures)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = self.reason
        for failure in self.failures:
            lines = failure.log_tail()
            if lines:
                return f"{text}\nlast lines of {failure.log}:\n{lines}"
        return text


def leads_to_deploy(axon: Axon) -> set[str]:
    """The sensors that deploy, or start (through Lifecycle events, transitively) a sensor that deploys."""
    leads = {s.name for s in axon.sensors if any(step.deployer is not None for step in s.tasks)}
    changed = True
    while changed:
        changed = False
        watched = {
            str(t.task)
            for s in axon.sensors
            if s.name in leads
            for t in s.triggers
            if isinstance(t, Lifecycle)
        }
        for sensor in axon.sensors:
            if sensor.name not in leads and any(step.task in watched for step in sensor.tasks):
                leads.add(sensor.name)
                changed = True
    return leads


def blocked_reason(axon: Axon, active: Iterable[str], ended: Sequence[Failure]) -> str | None:
    """Why no deploy can happen any more (None while one still can).

    ``active``: the sensors running now; ``ended``: the failed and skipped sensor runs of this session.
    """
    leads = leads_to_deploy(axon)
    if not leads:
        return "the axon has no deployer: nothing can be deployed"
    if leads & set(active):
        return None
    timed = sorted(s.name for s in axon.sensors if s.name in leads and _fires_alone(s.triggers))
    if timed:
        return None
    on_path = [f for f in ended if f.sensor in leads]
    if not on_path:
        return None  # nothing broke: a Rest call or an Alert may still start the way to the deploy
    waiting = sorted(
        s.name
        for s in axon.sensors
        if s.name in leads and any(not isinstance(t, Lifecycle) for t in s.triggers)
    )
    tail = f" ({', '.join(waiting)}: started only by a Rest call or an Alert)" if waiting else ""
    return (
        f"no deploy can happen any more: {on_path[-1].describe()}; "
        f"nothing else that leads to a deploy is running{tail}"
    )


def _fires_alone(triggers: Iterable[object]) -> bool:
    return any(isinstance(t, Calendar) for t in triggers)
