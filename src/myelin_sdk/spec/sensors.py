"""Sensors: when to run which tasks.

A sensor runs its ``tasks`` in order when any of its ``triggers`` fires (no triggers: once, when the axon is
installed), and only if all its ``conditions`` hold::

    Sensor("DeploymentDecisionMaker",
           triggers=[Lifecycle(train, "Succeeded")],
           conditions=[Metric("{{recommender_train_rmse}} < 0.95")],
           tasks=[Deployer(...)])

Triggers: :class:`Lifecycle` (a task ended), :class:`Alert` (a PromQL condition on published metrics),
:class:`Rest` (an HTTP call), :class:`Calendar` (a schedule or interval). Conditions: :class:`Metric`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from ._base import Ref, Registered, SpecModel, exactly_one
from .deployers import Deployer
from .tasks import EnvVar, Task


def _check_metric_condition(text: str) -> str:
    from .expressions import parse_metric_condition

    parse_metric_condition(text)
    return text


def _check_alert_condition(text: str) -> str:
    from .expressions import parse_alert_condition

    parse_alert_condition(text)
    return text


#: A Prometheus duration (``30s``, ``5m``, ``1h30m``), the format of an Alert's ``for``.
PROMETHEUS_DURATION = re.compile(
    r"^(?!$)(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)


class Lifecycle(SpecModel):
    """Fires when ``task`` ends in ``condition`` (``Succeeded`` or ``Failed``).

    >>> Lifecycle("TrainMyelinRecommender", "Succeeded").name
    'TrainMyelinRecommender-Succeeded'
    """

    type: Literal["Lifecycle"] = "Lifecycle"
    name: str = ""
    task: Ref
    condition: Literal["Succeeded", "Failed"] = "Succeeded"

    def __init__(self, task: Any = None, condition: str | None = None, /, **data: Any) -> None:
        if task is not None:
            data["task"] = task
        if condition is not None:
            data["condition"] = condition
        super().__init__(**data)

    @model_validator(mode="after")
    def _default_name(self) -> Lifecycle:
        if not self.name:
            self.name = f"{self.task}-{self.condition}"
        return self


class Alert(SpecModel):
    """Fires while a PromQL ``condition`` over published metrics holds: ``"{{accuracy}} < 0.9"``."""

    type: Literal["Alert"] = "Alert"
    name: str = "alert"
    condition: str = Field(min_length=1)
    for_: str | None = Field(
        default=None,
        alias="for",
        description="how long it must hold, e.g. '1m'",
    )

    def __init__(self, condition: str | None = None, /, **data: Any) -> None:
        if condition is not None:
            data["condition"] = condition
        super().__init__(**data)

    @field_validator("condition")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _check_alert_condition(value)


class Rest(SpecModel):
    """Fires on an HTTP POST to the sensor's endpoint."""

    type: Literal["Rest"] = "Rest"
    name: str = "rest"

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        super().__init__(**data)


class Calendar(SpecModel):
    """Fires on a cron ``schedule`` (``"0 3 * * *"``) or every ``interval`` (``"1h"``)."""

    type: Literal["Calendar"] = "Calendar"
    name: str = "calendar"
    schedule: str | None = None
    interval: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?(ms|s|m|h)$")
    timezone: str | None = None

    @model_validator(mode="after")
    def _when(self) -> Calendar:
        if (self.schedule is None) == (self.interval is None):
            raise ValueError("a Calendar trigger needs exactly one of schedule or interval")
        if self.schedule is not None and len(self.schedule.split()) != 5:
            raise ValueError(f"schedule {self.schedule!r} is not a 5-field cron expression")
        return self


Trigger = Annotated[Union[Lifecycle, Alert, Rest, Calendar], Field(discriminator="type")]  # noqa: UP007


class Metric(SpecModel):
    """Run the sensor's tasks only if a metric condition holds: ``Metric("{{train_rmse}} < 0.95")``.

    Evaluated like an Argo Rollouts analysis: ``count`` measurements ``interval`` apart; the gate fails
    once more than ``failureLimit`` measurements fail. ``name`` labels the gate in messages and manifests;
    ``task`` (the original form: ``{name: trainAccuracy, type: Metric, condition: ..., task: Train}``)
    names the task whose published metrics the condition reads: only that task's series are measured.
    """

    type: Literal["Metric"] = "Metric"
    name: str | None = Field(default=None, min_length=1)
    condition: str = Field(min_length=1)
    task: Ref | None = None
    interval: str = Field(default="10s", pattern=r"^\d+(\.\d+)?(ms|s|m|h)$")
    count: int = Field(default=1, ge=1)
    failure_limit: int = Field(default=0, ge=0)

    def __init__(self, condition: str | None = None, /, **data: Any) -> None:
        if condition is not None:
            data["condition"] = condition
        super().__init__(**data)

    @field_validator("condition")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _check_metric_condition(value)


class TaskCall(SpecModel):
    """``{task: Name}`` inside a ``resourceExecutor`` or ``trainer`` step."""

    task: Ref


class SensorStep(SpecModel):
    """One entry of a sensor's ``tasks``: a ``resourceExecutor``, a ``trainer`` or a ``deployer``.

    ``env`` (original reference docs: "the env to be added to the task execution runtime") is kept in the
    model; compiling or running it is not supported yet.
    """

    resource_executor: TaskCall | None = None
    trainer: TaskCall | None = None
    deployer: Deployer | None = None
    env: list[EnvVar] = []

    @model_validator(mode="after")
    def _one(self) -> SensorStep:
        exactly_one(self, ("resource_executor", "trainer", "deployer"), "a sensor step")
        return self

    @property
    def kind(self) -> Literal["resourceExecutor", "trainer", "deployer"]:
        if self.resource_executor is not None:
            return "resourceExecutor"
        return "trainer" if self.trainer is not None else "deployer"

    @property
    def task(self) -> str | None:
        """The task a resourceExecutor or trainer step runs (None for a deployer)."""
        call = self.resource_executor or self.trainer
        return call.task if call else None


def _step(item: Any) -> Any:
    """Let ``Sensor(tasks=[prep, train, deployer])`` take tasks and deployers directly."""
    if isinstance(item, Task):
        key = "trainer" if item.kind == "train" else "resourceExecutor"
        return {key: {"task": item.name}}
    if isinstance(item, Deployer):
        return SensorStep(deployer=item)
    return item


class SensorParameter(SpecModel):
    """A parameter of a sensor's execution (original reference docs; kept in the model, not supported yet)."""

    name: str = Field(min_length=1)
    value: str | None = None


class Sensor(Registered):
    """Runs ``tasks`` in order when any trigger fires and every condition holds."""

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        super().__init__(name, **data)

    name: str = Field(min_length=1)
    triggers: list[Trigger] = []
    conditions: list[Metric] = []
    tasks: list[SensorStep] = []
    parameters: list[SensorParameter] = []

    @field_validator("tasks", mode="before")
    @classmethod
    def _steps(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        # the reference docs' form, a list of lists (SensorTask[][]): the steps run in the order listed
        flat = [s for item in value for s in (item if isinstance(item, list) else [item])]
        return [_step(v) for v in flat]
