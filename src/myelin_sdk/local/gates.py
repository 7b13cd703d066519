"""Metric gates in process: the same decision as the cluster's gate step (``myelin_sdk.runtime.gate``).

``count`` measurements ``interval`` apart; a measurement fails when the condition does not hold (or a metric
has no value yet); the gate fails as soon as failures exceed ``failureLimit``, and passes when all ``count``
measurements are taken without that — like an Argo Rollouts analysis::

    verdict = run_gate(lambda: metrics.holds(condition), interval_s=10, count=3, failure_limit=1, stop=stop)
    verdict.passed, verdict.reason
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    reason: str
    measurements: list[bool]


def run_gate(
    holds: Callable[[], bool],
    *,
    interval_s: float,
    count: int,
    failure_limit: int,
    stop: threading.Event,
    what: str = "the condition",
) -> GateVerdict:
    """Decide a gate; ``stop`` cuts the waits short (the verdict is then a failure)."""
    measurements: list[bool] = []
    failures = 0
    for index in range(count):
        if index and stop.wait(interval_s):
            return GateVerdict(False, "stopped", measurements)
        ok = holds()
        measurements.append(ok)
        if not ok:
            failures += 1
            if failures > failure_limit:
                return GateVerdict(
                    False,
                    f"{what} did not hold: {failures} failed measurement(s) exceed the failure limit "
                    f"{failure_limit} after {len(measurements)} of {count}",
                    measurements,
                )
    return GateVerdict(
        True,
        f"{what} held in {count - failures} of {count} measurement(s) (limit {failure_limit})",
        measurements,
    )
