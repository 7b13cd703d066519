"""Metric gate (myelin_sdk.runtime.gate) against a real Prometheus and Pushgateway.

Measurement timing uses fake ``sleep``/``clock``, so a "10s" interval costs nothing;
the only real waiting is Prometheus scraping a newly pushed value (about a second).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from myelin_sdk.runtime import gate, gate_script_source
from myelin_sdk.runtime.gate import (
    PrometheusQueryError,
    PrometheusUnavailable,
    Verdict,
    main,
    parse_duration,
    query,
    run_gate,
)
from myelin_sdk.spec.expressions import parse_metric_condition, published_metric_name

from support.prometheus import Server, free_port, push, wait_for

CONDITION = "{{recommender_train_rmse}} < 0.95"


class FakeTime:
    """A fake clock whose ``sleep`` advances it, records the waits and runs an optional hook."""

    def __init__(self, on_sleep: Callable[[float], None] | None = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(seconds)


def set_value(prometheus: Server, pushgateway: Server, job: str, metric: str, value: float) -> None:
    """Push ``value`` and wait until Prometheus has scraped it."""
    push(pushgateway.url, job, metric, value)
    wait_for(prometheus.url, f"{metric} == {value!r}")


def gate_for(axon: str) -> tuple[str, str]:
    """``(published metric name, PromQL)`` of :data:`CONDITION` for ``axon``."""
    return published_metric_name("recommender_train_rmse", axon), parse_metric_condition(CONDITION).to_promql(
        axon
    )


@pytest.fixture
def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


# ------------------------------------------------------------------- real series


@pytest.mark.parametrize(("value", "passed"), [(0.9, True), (1.2, False)])
def test_gate_passes_below_and_fails_above_threshold(
    prometheus: Server, pushgateway: Server, value: float, passed: bool
) -> None:
    metric, promql = gate_for("ml-rec")
    assert (metric, promql) == ("recommender_train_rmse_ml__rec", "recommender_train_rmse_ml__rec < 0.95")
    set_value(prometheus, pushgateway, "train-ml-rec", metric, value)

    verdict = run_gate(prometheus.url, promql, interval_s=0.0, count=1)

    assert verdict.passed is passed
    [measurement] = verdict.measurements
    assert measurement.ok is passed
    assert measurement.value == (repr(value) if passed else None)
    assert measurement.error is None
    assert ("succeeded" if passed else "exceed the failure limit 0") in verdict.reason


def test_query_returns_series_with_pushed_labels(prometheus: Server, pushgateway: Server) -> None:
    metric, _ = gate_for("q-labels")
    set_value(prometheus, pushgateway, "job-labels", metric, 0.5)
    [series] = query(prometheus.url, metric)
    assert series["metric"]["__name__"] == metric
    assert series["metric"]["job"] == "job-labels"  # honor_labels keeps the pushed job
    assert series["value"][1] == "0.5"
    assert query(prometheus.url, f"{metric} > 1") == []


@pytest.mark.parametrize(
    ("values", "count", "failure_limit", "passed", "measured"),
    [
        ([0.9, 1.2, 0.9], 3, 1, True, [True, False, True]),  # one failure tolerated
        ([0.9, 1.2, 0.9], 3, 0, False, [True, False]),  # stops at the first failure
        ([1.2, 1.2, 0.9, 0.9], 4, 1, False, [False, False]),  # stops once failures > limit
    ],
    ids=["tolerated", "limit-0", "early-stop"],
)
def test_count_and_failure_limit_follow_a_changing_series(
    prometheus: Server,
    pushgateway: Server,
    values: list[float],
    count: int,
    failure_limit: int,
    passed: bool,
    measured: list[bool],
) -> None:
    metric, promql = gate_for("ml-flip")
    upcoming: Iterator[float] = iter(values)
    set_value(prometheus, pushgateway, "flip", metric, next(upcoming))
    fake = FakeTime(on_sleep=lambda _: set_value(prometheus, pushgateway, "flip", metric, next(upcoming)))

    verdict = run_gate(
        prometheus.url,
        promql,
        interval_s=10.0,
        count=count,
        failure_limit=failure_limit,
        sleep=fake.sleep,
        clock=fake.clock,
    )

    assert verdict.passed is passed
    assert [m.ok for m in verdict.measurements] == measured
    assert fake.sleeps == [10.0] * (len(measured) - 1)  # no sleep after the last measurement
    assert [m.at for m in verdict.measurements] == [1000.0 + 10.0 * i for i in range(len(measured))]


def test_all_measurements_pass_without_stopping(prometheus: Server, pushgateway: Server) -> None:
    metric, promql = gate_for("ml-steady")
    set_value(prometheus, pushgateway, "steady", metric, 0.25)
    fake = FakeTime()
    verdict = run_gate(prometheus.url, promql, interval_s=30.0, count=5, sleep=fake.sleep, clock=fake.clock)
    assert verdict.passed
    assert [m.value for m in verdict.measurements] == ["0.25"] * 5
    assert fake.sleeps == [30.0] * 4


def test_interval_counts_from_the_start_of_the_previous_measurement(
    prometheus: Server, pushgateway: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    metric, promql = gate_for("ml-slowq")
    set_value(prometheus, pushgateway, "slowq", metric, 0.25)
    fake = FakeTime()
    real_query = gate.query

    def slow_query(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:  # a query that "takes" 1.5 s
        fake.now += 1.5
        return real_query(*args, **kwargs)

    monkeypatch.setattr(gate, "query", slow_query)
    verdict = run_gate(prometheus.url, promql, interval_s=10.0, count=2, sleep=fake.sleep, clock=fake.clock)
    assert verdict.passed
    assert fake.sleeps == [8.5]


def test_missing_series_fails_the_gate(prometheus: Server) -> None:
    verdict = run_gate(prometheus.url, "never_pushed_metric_x < 1", interval_s=0.0, count=3, failure_limit=3)
    assert verdict.passed  # 3 failures do not exceed a limit of 3
    assert [m.ok for m in verdict.measurements] == [False] * 3
    assert not run_gate(prometheus.url, "never_pushed_metric_x < 1", interval_s=0.0).passed


# ---------------------------------------------------------------------- errors


def test_unreachable_prometheus_raises_after_retries(closed_url: str) -> None:
    fake = FakeTime()
    with pytest.raises(PrometheusUnavailable) as info:
        run_gate(closed_url, "up", retries=2, retry_wait_s=0.01, sleep=fake.sleep, clock=fake.clock)
    message = str(info.value)
    assert closed_url in message
    assert "after 3 attempts (1 + 2 retries, 0.01s apart)" in message
    assert "Connection refused" in message
    assert fake.sleeps == [0.01, 0.01]


def test_unreachable_prometheus_with_real_sleep_is_quick(closed_url: str) -> None:
    with pytest.raises(PrometheusUnavailable, match=r"after 4 attempts"):
        run_gate(closed_url, "up", retries=3, retry_wait_s=0.01)


def test_not_a_prometheus_is_unavailable(pushgateway: Server) -> None:
    with pytest.raises(PrometheusUnavailable, match=r"answered HTTP 404") as info:
        query(pushgateway.url, "up")
    assert pushgateway.url in str(info.value)
    assert not isinstance(info.value, PrometheusQueryError)


def test_rejected_query_is_not_retried(prometheus: Server) -> None:
    fake = FakeTime()
    with pytest.raises(PrometheusQueryError, match=r"rejected query 'rate\(': bad_data: .*parse error"):
        run_gate(prometheus.url, "rate(", retries=3, sleep=fake.sleep, clock=fake.clock)
    assert fake.sleeps == []


def test_non_vector_result_is_rejected(prometheus: Server) -> None:
    with pytest.raises(PrometheusQueryError, match=r"returned a matrix, expected an instant vector"):
        query(prometheus.url, "up[1m]")


@pytest.mark.parametrize(
    "kwargs",
    [{"count": 0}, {"failure_limit": -1}, {"retries": -1}, {"interval_s": -1.0}],
)
def test_invalid_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        run_gate("http://127.0.0.1:1", "up", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"), [("10s", 10.0), ("1m", 60.0), ("500ms", 0.5), ("1h", 3600.0), ("1.5s", 1.5)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "s", "-1s", "1d", "1 sec"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


# ------------------------------------------------------------------------- CLI


def test_main_exit_codes_and_last_line(
    prometheus: Server, pushgateway: Server, closed_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    metric, promql = gate_for("ml-cli")
    set_value(prometheus, pushgateway, "cli", metric, 0.5)
    args = ["--prometheus", prometheus.url, "--interval", "0s", "--count", "2"]

    assert main([*args, "--query", promql]) == 0
    out, err = capsys.readouterr()
    *before, last = out.splitlines()
    assert last == "passed" and err == ""
    verdict = json.loads(before[-1])
    assert verdict["passed"] is True and len(verdict["measurements"]) == 2

    assert main([*args, "--query", f"{metric} > 0.95"]) == 1
    out, _ = capsys.readouterr()
    assert out.splitlines()[-1] == "failed"
    assert json.loads(out.splitlines()[-2])["passed"] is False

    assert (
        main(["--prometheus", closed_url, "--query", promql, "--retries", "1", "--retry-wait", "10ms"]) == 3
    )
    out, err = capsys.readouterr()
    assert out == ""
    assert closed_url in err and "after 2 attempts" in err


def test_main_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--prometheus", "http://x", "--query", "up", "--interval", "ten"])
    assert info.value.code == 2
    assert "invalid duration 'ten'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--prometheus", "http://x", "--query", "up", "--count", "0"])


def test_verdict_json_is_one_line() -> None:
    verdict = Verdict(passed=True, measurements=[gate.Measurement(True, "1", None, 2.0)], reason="r")
    text = verdict.to_json()
    assert "\n" not in text
    assert json.loads(text) == {
        "passed": True,
        "measurements": [{"ok": True, "value": "1", "error": None, "at": 2.0}],
        "reason": "r",
    }


# --------------------------------------------------------------- inline script


def test_gate_source_is_the_module_and_imports_only_stdlib() -> None:
    source = gate_script_source()
    assert source == Path(gate.__file__).read_text(encoding="utf-8")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in gate.py"
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


def run_inline(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the inlined gate source with an isolated interpreter and no site-packages."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "-", *args],
        input=gate_script_source(),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_inline_script_runs_isolated(prometheus: Server, pushgateway: Server, closed_url: str) -> None:
    metric, promql = gate_for("ml-inline")
    set_value(prometheus, pushgateway, "inline", metric, 0.75)
    args = ("--prometheus", prometheus.url, "--interval", "10ms", "--count", "2")

    ok = run_inline(*args, "--query", promql)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1] == "passed"
    assert json.loads(ok.stdout.splitlines()[-2])["measurements"][0]["value"] == "0.75"

    bad = run_inline(*args, "--query", f"{metric} > 0.95")
    assert bad.returncode == 1, bad.stderr
    assert bad.stdout.splitlines()[-1] == "failed"

    down = run_inline("--prometheus", closed_url, "--query", promql, "--retries", "0")
    assert down.returncode == 3
    assert closed_url in down.stderr and "after 1 attempt (" in down.stderr

    via_c = subprocess.run(
        [sys.executable, "-I", "-S", "-c", gate_script_source(), *args, "--query", promql],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert via_c.returncode == 0, via_c.stderr
    assert via_c.stdout.splitlines()[-1] == "passed"
