"""``myelin run --prometheus URL --pushgateway URL``: tasks push to the real Pushgateway, and the Metric gate
and a PromQL Alert (which the embedded store refuses) are evaluated by the real Prometheus (Debian packages,
started by the session fixtures of tests/support/prometheus.py)."""

from __future__ import annotations

import time
from pathlib import Path

from myelin_sdk import Alert, Axon, ContainerTask, Lifecycle, Metric, Sensor
from myelin_sdk.local import RunOptions, run_local


def test_gate_and_promql_alert_on_the_real_prometheus(tmp_path: Path, prometheus, pushgateway) -> None:
    push = "from myelin_sdk.runtime import publish_metric; publish_metric('quality', 0.5)"
    with Axon("prom-local") as axon:
        pusher = ContainerTask("Push", command=["python", "-c", push])
        after = ContainerTask("After", command=["python", "-c", "open('after.log', 'w')"])
        alerted = ContainerTask("Alerted", command=["python", "-c", "open('alerted.log', 'w')"])
        Sensor("Start", tasks=[pusher])
        # the first scrape of a new series takes a few seconds: up to 20 measurements, one must hold
        gate = Metric("{{quality}} < 0.9", interval="1s", count=20, failure_limit=19)
        Sensor("Gated", triggers=[Lifecycle(pusher)], conditions=[gate], tasks=[after])
        Sensor("OnAlert", triggers=[Alert("max_over_time({{quality}}[1m]) < 0.9")], tasks=[alerted])
    (tmp_path / "pipeline.py").write_text("")
    options = RunOptions(
        workdir=tmp_path,
        port=0,
        alert_interval=0.5,
        prometheus_url=prometheus.url,
        pushgateway_url=pushgateway.url,
    )
    run = run_local(axon, options, source=tmp_path / "pipeline.py")
    try:
        deadline = time.monotonic() + 60
        while not ((tmp_path / "after.log").exists() and (tmp_path / "alerted.log").exists()):
            assert time.monotonic() < deadline, "\n".join(run.lines)
            time.sleep(0.2)
        assert run.status()["metrics"]["quality_prom__local"] == 0.5
    finally:
        run.stop()
    assert any("metrics: PrometheusMetrics" in line for line in run.lines)
