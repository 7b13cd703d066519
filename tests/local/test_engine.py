"""The event loop's semantics with real subprocesses, the real embedded metric store and real HTTP: start
sensors, Lifecycle (Succeeded and Failed), Rest, Calendar and Alert triggers, Metric gates, the environment
contract, and a sensor that is already running. Serving is covered by test_end_to_end.py."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from myelin_sdk import (
    Alert,
    Axon,
    Calendar,
    ContainerTask,
    Lifecycle,
    Metric,
    MyelinError,
    Parameter,
    Rest,
    Sensor,
)
from myelin_sdk.local import LocalRun, RunOptions, run_local

from support.processes import until


def _count(name: str) -> list[str]:
    """A task command that appends a line to ``<name>.log`` in the task's folder."""
    return ["python", "-c", f"open('{name}.log', 'a').write('ran\\n')"]


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _start(axon: Axon, tmp_path: Path, **options: object) -> LocalRun:
    (tmp_path / "pipeline.py").write_text("# the tasks run in this folder\n")
    return run_local(
        axon,
        RunOptions(workdir=tmp_path, port=0, alert_interval=0.2, **options),  # type: ignore[arg-type]
        source=tmp_path / "pipeline.py",
    )


def test_lifecycle_succeeded_and_failed_start_the_sensors_that_wait_for_them(tmp_path: Path) -> None:
    with Axon("life") as axon:
        ok = ContainerTask("Ok", command=_count("ok"))
        bad = ContainerTask(
            "Bad", command=["python", "-c", "print('boom: the last words'); raise SystemExit(3)"]
        )
        after_ok = ContainerTask("AfterOk", command=_count("after-ok"))
        after_bad = ContainerTask("AfterBad", command=_count("after-bad"))
        Sensor("Start", tasks=[ok, bad])
        Sensor("OnOk", triggers=[Lifecycle(ok, "Succeeded")], tasks=[after_ok])
        Sensor("OnBad", triggers=[Lifecycle(bad, "Failed")], tasks=[after_bad])
    run = _start(axon, tmp_path)
    try:
        assert run.wait("idle", timeout=30)
    finally:
        run.stop()
    assert _lines(tmp_path / "ok.log") == 1
    assert _lines(tmp_path / "after-ok.log") == 1
    assert _lines(tmp_path / "after-bad.log") == 1
    log = "\n".join(run.lines)
    assert "task Bad failed with exit status 3" in log
    assert "boom: the last words" in log  # the log's tail is shown
    assert "sensor Start (run 1) failed" in log


def test_tasks_get_the_runtime_contract_and_the_axon_parameters(tmp_path: Path) -> None:
    dump = "import json, os; json.dump(dict(os.environ), open('env.json', 'w'))"
    with Axon("env-check") as axon:
        Parameter("greeting", value="hello")
        task = ContainerTask(
            "DumpEnv",
            command=["python", "-c", dump],
            env=[{"name": "GREETING", "value": "{{workflow.parameters.greeting}} world"}],
        )
        Sensor("Start", tasks=[task])
    run = _start(axon, tmp_path)
    try:
        assert run.wait("idle", timeout=30)
    finally:
        run.stop()
    env = json.loads((tmp_path / "env.json").read_text())
    store = Path(env["DATA_PATH"]).parent
    assert store.name == "store" and store.parent.parent.name == "runs"
    assert env["MODEL_PATH"] == str(store / "models" / "dump-env")
    assert (env["AXON_NAME"], env["TASK_NAME"], env["TASK_ID"]) == (
        "env-check",
        "DumpEnv",
        "env-check-dump-env",
    )
    assert env["NAMESPACE"] == "local"
    assert env["PUSHGATEWAY_URL"].startswith("http://127.0.0.1:")
    assert env["GREETING"] == "hello world"


def test_rest_trigger_on_the_control_endpoint_and_a_running_sensor_is_not_started_twice(
    tmp_path: Path,
) -> None:
    slow = ["python", "-c", "import time; open('slow.log', 'a').write('ran\\n'); time.sleep(1.5)"]
    with Axon("rest") as axon:
        task = ContainerTask("Slow", command=slow)
        Sensor("Manual", triggers=[Rest("go")], tasks=[task])
    run = _start(axon, tmp_path)
    try:
        assert run.trigger("Manual")["sensor"] == "Manual"
        assert until(lambda: (tmp_path / "slow.log").exists())
        run.trigger("Manual")  # while the first run is still going: recorded, not started
        assert run.wait("idle", timeout=30)
        with pytest.raises(urllib.error.HTTPError) as err:
            run.trigger("Manul")
        assert err.value.code == 404
        assert "did you mean 'Manual'" in json.loads(err.value.read())["error"]
        status = run.status()
    finally:
        run.stop()
    assert _lines(tmp_path / "slow.log") == 1
    assert [s["runs"] for s in status["sensors"]] == [1]
    assert any("sensor Manual is already running — not started again" in line for line in run.lines)


def test_calendar_interval_fires_repeatedly(tmp_path: Path) -> None:
    with Axon("cal") as axon:
        task = ContainerTask("Tick", command=_count("tick"))
        Sensor("Every", triggers=[Calendar(interval="300ms")], tasks=[task])
    run = _start(axon, tmp_path)
    try:
        assert until(lambda: _lines(tmp_path / "tick.log") >= 3, timeout=20)
    finally:
        run.stop()


def _push_task(value: float) -> list[str]:
    code = f"from myelin_sdk.runtime import publish_metric; publish_metric('quality', {value})"
    return ["python", "-c", code]


def test_metric_gate_passes_or_skips_the_sensor(tmp_path: Path) -> None:
    with Axon("gates") as axon:
        good = ContainerTask("Good", command=_push_task(0.97))
        after = ContainerTask("After", command=_count("after"))
        never = ContainerTask("Never", command=_count("never"))
        Sensor("Start", tasks=[good])
        Sensor("Pass", triggers=[Lifecycle(good)], conditions=[Metric("{{quality}} > 0.95")], tasks=[after])
        Sensor(
            "Block",
            triggers=[Lifecycle(good)],
            conditions=[Metric("{{quality}} > 0.99", interval="100ms", count=3, failure_limit=1)],
            tasks=[never],
        )
    run = _start(axon, tmp_path)
    try:
        assert until(
            lambda: (
                not run.engine.busy()
                and len(run.status()["sensors"]) == 3
                and all(s["runs"] == 1 and s["state"] == "idle" for s in run.status()["sensors"])
            )
        )
        sensors = {s["name"]: s["last"] for s in run.status()["sensors"]}
    finally:
        run.stop()
    assert sensors == {"Start": "succeeded", "Pass": "succeeded", "Block": "skipped"}
    assert _lines(tmp_path / "after.log") == 1
    assert not (tmp_path / "never.log").exists()
    assert any("2 failed measurement(s) exceed the failure limit 1" in line for line in run.lines)


def test_alert_fires_once_while_it_holds_and_again_after_it_resolved(tmp_path: Path) -> None:
    with Axon("alerts") as axon:
        low = ContainerTask("Low", command=_push_task(0.5))
        retrain = ContainerTask("Retrain", command=_count("retrain"))
        Sensor("Start", tasks=[low])
        Sensor("OnLow", triggers=[Alert("{{quality}} < 0.9", name="QualityLow")], tasks=[retrain])
    run = _start(axon, tmp_path)
    try:
        assert until(lambda: _lines(tmp_path / "retrain.log") == 1)
        time.sleep(1.0)  # five more evaluations while it still holds
        assert _lines(tmp_path / "retrain.log") == 1
        url = run.engine.metrics.pushgateway_url
        from myelin_sdk.runtime import publish_metric

        publish_metric("quality", 0.95, pushgateway_url=url, axon="alerts", job="alerts-low")
        assert until(lambda: any(e == "resolved" for e in _event_kinds(run)))
        publish_metric("quality", 0.4, pushgateway_url=url, axon="alerts", job="alerts-low")
        assert until(lambda: _lines(tmp_path / "retrain.log") == 2)
    finally:
        run.stop()


def _event_kinds(run: LocalRun) -> list[str]:
    assert run.engine.state is not None
    return [e.kind for e in run.engine.state.events()]


def test_a_promql_alert_needs_prometheus_and_leaves_no_run_folder(tmp_path: Path) -> None:
    with Axon("promql") as axon:
        task = ContainerTask("T", command=_count("t"))
        Sensor("S", triggers=[Alert("avg_over_time({{quality}}[5m]) < 0.2")], tasks=[task])
    with pytest.raises(MyelinError) as err:
        _start(axon, tmp_path)
    message = str(err.value)
    assert "spec.sensors[0].triggers[0].condition" in message
    assert "--prometheus" in message
    assert not list((tmp_path / ".myelin" / "runs").glob("*"))


def test_unsupported_parts_are_refused_before_anything_runs(tmp_path: Path) -> None:
    with Axon("bad") as axon:
        task = ContainerTask("NoCommand", image="busybox")
        Sensor("S", tasks=[task])
    with pytest.raises(MyelinError) as err:
        _start(axon, tmp_path, artifacts={"nope": tmp_path})
    message = str(err.value)
    assert "--artifact nope=...: the axon has no artifact 'nope'" in message
    with pytest.raises(MyelinError) as err:
        _start(axon, tmp_path)
    assert "task 'NoCommand' has no command to run locally" in str(err.value)
    assert not list((tmp_path / ".myelin" / "runs").glob("*"))


def test_a_taken_port_is_refused_before_anything_runs(tmp_path: Path) -> None:
    import socket

    from myelin_sdk import BackendModel, Deployer, DeployTask, Model, TrainTask

    with Axon("ported") as axon:
        train = TrainTask("Train", command=_count("train"))
        serve = DeployTask("Serve", command=["true"])
        deployer = Deployer(
            models=[Model("M", backend_models=[BackendModel("B", trainer=train, deployer=serve)])]
        )
        Sensor("Start", tasks=[train, deployer])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MyelinError, match=rf"--port {port}: cannot listen there .* pass another --port"):
            run_local(axon, RunOptions(workdir=tmp_path, port=port))
    assert not (tmp_path / "train.log").exists()
    assert not list((tmp_path / ".myelin" / "runs").glob("*"))
