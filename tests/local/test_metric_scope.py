"""A Metric condition's ``task`` scopes the gate to that task's series, also under ``myelin run``: two tasks
push the same metric, and the gate reads only the named task's — in the embedded store and in a real
Prometheus with its Pushgateway (started by the session fixtures of tests/support/prometheus.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from myelin_sdk import Axon, ContainerTask, Lifecycle, Metric, Sensor
from myelin_sdk.local import RunOptions, run_local


def _push(value: float) -> list[str]:
    return [
        "python",
        "-c",
        f"from myelin_sdk.runtime import publish_metric; publish_metric('quality', {value})",
    ]


def _mark(name: str) -> list[str]:
    return ["python", "-c", f"open('{name}.log', 'w')"]


@pytest.mark.parametrize("backend", ["embedded", "prometheus"])
def test_the_gate_reads_only_the_named_tasks_series(tmp_path: Path, backend: str, request) -> None:  # type: ignore[no-untyped-def]
    with Axon("scope-local") as axon:
        good = ContainerTask("Good", command=_push(0.5))
        bad = ContainerTask("Bad", command=_push(1.5))
        seen = ContainerTask("Seen", command=_mark("seen"))
        scoped = ContainerTask("Scoped", command=_mark("scoped"))
        unscoped = ContainerTask("Unscoped", command=_mark("unscoped"))
        Sensor("Start", tasks=[good, bad])
        # first: wait until Bad's series is scraped (the gate scoped to Bad holds)
        Sensor(
            "SeenBad",
            triggers=[Lifecycle(bad)],
            conditions=[
                Metric(
                    "{{quality}} > 1", name="bad-high", task=bad, interval="1s", count=30, failure_limit=29
                )
            ],
            tasks=[seen],
        )
        # then the same condition scoped to Good fails, while unscoped it holds (Bad's series is > 1)
        Sensor(
            "GoodGate",
            triggers=[Lifecycle(seen)],
            conditions=[
                Metric(
                    "{{quality}} > 1", name="good-high", task=good, interval="1s", count=2, failure_limit=1
                )
            ],
            tasks=[scoped],
        )
        Sensor(
            "AnyGate", triggers=[Lifecycle(seen)], conditions=[Metric("{{quality}} > 1")], tasks=[unscoped]
        )
    (tmp_path / "pipeline.py").write_text("")
    options = RunOptions(workdir=tmp_path, port=0)
    if backend == "prometheus":
        options.prometheus_url = request.getfixturevalue("prometheus").url
        options.pushgateway_url = request.getfixturevalue("pushgateway").url
    run = run_local(axon, options, source=tmp_path / "pipeline.py")
    try:
        deadline = time.monotonic() + 90
        while not (
            (tmp_path / "unscoped.log").exists()
            and any("sensor GoodGate: gate failed" in line for line in run.lines)
        ):
            assert time.monotonic() < deadline, "\n".join(run.lines)
            time.sleep(0.2)
    finally:
        run.stop()
    assert not (tmp_path / "scoped.log").exists()
    assert any("good-high" in line and "sensor GoodGate: gate failed" in line for line in run.lines)
