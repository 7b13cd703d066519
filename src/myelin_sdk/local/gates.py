"""A sensor's ``Metric`` conditions, decided locally by the cluster gate's rule (:mod:`.runtime.gate`):
``count`` measurements ``interval`` apart, at most ``failureLimit`` failures::

    if gates_pass(sensor, "ml-rec", holds=metrics.holds, sleep=stop_event.wait, log=print):
        ...  # run the sensor's steps

A condition with ``task`` reads only the series that task pushed (its job ``TASK_ID``), as on a cluster;
``sleep`` returning early (a stop) cuts the waits short.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .. import contract
from ..runtime.gate import Measurement, decide
from ..spec import Sensor
from ..spec.expressions import MetricCondition, parse_metric_condition
from .triggers import duration_seconds

__all__ = ["gates_pass"]


def gates_pass(
    sensor: Sensor,
    axon_name: str,
    *,
    holds: Callable[[MetricCondition], object],
    sleep: Callable[[float], object],
    log: Callable[[str], None],
) -> bool:
    """True when every Metric condition of ``sensor`` passed (``holds``: the run's metrics backend's);
    each verdict is logged."""
    for condition in sensor.conditions:
        parsed = parse_metric_condition(condition.condition)
        if condition.task:  # only the series that task pushed (its job), as the cluster gate reads
            job = contract.task_id(axon_name, condition.task)
            parsed = MetricCondition(parsed.text, parsed.tree, job=job)
        label = repr(condition.condition)
        if condition.name:
            label = f"{condition.name} ({label})"

        def measure(parsed: MetricCondition = parsed) -> Measurement:
            return Measurement(ok=bool(holds(parsed)), value=None, error=None, at=time.time())

        verdict = decide(
            measure,
            what=f"condition {label}",
            interval_s=duration_seconds(condition.interval),
            count=condition.count,
            failure_limit=condition.failure_limit,
            sleep=sleep,
        )
        log(f"sensor {sensor.name}: gate {'passed' if verdict.passed else 'failed'} — {verdict.reason}")
        if not verdict.passed:
            return False
    return True
