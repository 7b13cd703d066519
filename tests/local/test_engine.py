"""The event loop's semantics with real subprocesses, the real embedded metric store and real HTTP: start
sensors, Lifecycle (Succeeded and Failed), Rest, Calendar and Alert triggers, Metric gates, the environment
contract, and a sensor that is already running. Serving is covered by test_end_to_end.py."""

from __future__ import annotations

import json
import pickle
import time
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
    TrainTask,
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
    assert env["DATA_PATH"] == f"{store}/data/"  # both paths end in `/`: original code joins with `+`
    assert env["MODEL_PATH"] == env["MYELIN_MODEL_ROOT"] == f"{store}/models/dump-env/"  # not a train task
    assert (env["AXON_NAME"], env["TASK_NAME"], env["TASK_ID"]) == (
        "env-check",
        "DumpEnv",
        "env-check-dump-env",
    )
    assert env["NAMESPACE"] == "local"
    assert env["PUSHGATEWAY_URL"].startswith("http://127.0.0.1:")
    assert env["GREETING"] == "hello world"


#: A train task in the original Myelin conventions: no SDK, `+`-joined MODEL_PATH, its loss POSTed to the
#: Pushgateway under job TASK_ID as the original client names it; each run's loss comes from ``losses.txt``.
ORIGINAL_TRAIN = """
import os, pickle, sys, urllib.request
with open("runs.txt", "a+") as runs:
    runs.seek(0); n = len(runs.read().splitlines()); runs.write("x\\n")
loss = [0.8, 0.9, 0.1, 0.7][n]
model_path = os.environ["MODEL_PATH"]
pickle.dump({"run": n}, open(model_path + "m.pkl", "wb"))
name = "rmse_" + os.environ["AXON_NAME"].replace("-", "__")
url = os.environ["PUSHGATEWAY_URL"] + "/metrics/job/" + os.environ["TASK_ID"]
urllib.request.urlopen(urllib.request.Request(url, data=f"{name} {loss}\\n".encode(), method="POST"))
if n == 2:
    sys.exit("the third run fails after publishing a great loss")
if n == 3:
    os.remove(model_path + "m.pkl")  # the fourth leaves MODEL_PATH empty
"""


def test_each_train_execution_gets_its_own_version_folder_registered_with_its_metrics(
    tmp_path: Path,
) -> None:
    from myelin_sdk.runtime.deploy import select_version
    from myelin_sdk.runtime.registry import best_version, versions

    with Axon("orig-ml") as axon:
        train = TrainTask(
            "Train", image="python:3.11-slim", command=["python", "-c", ORIGINAL_TRAIN], loss_metric="rmse"
        )
        Sensor("Again", triggers=[Rest("go")], tasks=[train])
    run = _start(axon, tmp_path)
    try:
        for _ in range(4):
            run.trigger("Again")
            assert run.wait("idle", timeout=30)
        assert run.engine.run_dir is not None
        root = run.engine.run_dir.store / "models" / "train"
    finally:
        run.stop()
    found = versions(root)  # newest first
    assert [v.metrics for v in found] == [{"rmse": 0.9}, {"rmse": 0.8}]  # the failed and the empty run: none
    for number, version in zip((1, 0), found, strict=True):
        assert sorted(p.name for p in version.path.iterdir()) == ["m.pkl", "metrics.json"]
        assert pickle.loads((version.path / "m.pkl").read_bytes()) == {"run": number}
    folders = sorted(p.name for p in root.iterdir())
    assert len(folders) == 3 and folders[:2] == sorted(v.name for v in found)  # names sort by time
    assert not (root / folders[2] / "metrics.json").exists()  # the failed run's folder: never registered
    assert select_version(root, "rmse", greater=False) == found[1].name  # `best`: the lower loss, not newest
    best = best_version("rmse", root=root)
    assert best is not None and best.name == found[1].name
    assert any(f"task Train: registered model version {found[0].path}" in line for line in run.lines)


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
        with pytest.raises(MyelinError) as err:  # the control endpoint's own message, not "HTTP Error 404"
            run.trigger("Manul")
        expected = "trigger Manul: no sensor 'Manul' with a Rest trigger — did you mean 'Manual'?"
        assert str(err.value) == expected
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


def test_a_push_to_the_embedded_store_starts_an_alert_sensor_without_waiting_for_the_interval(
    tmp_path: Path,
) -> None:
    """Alerts are evaluated every minute here: only the wake-up on a push can start Retrain in time."""
    with Axon("pushed") as axon:
        retrain = ContainerTask("Retrain", command=_count("retrain"))
        Sensor("OnLow", triggers=[Alert("{{quality}} < 0.9", name="QualityLow")], tasks=[retrain])
    (tmp_path / "pipeline.py").write_text("# the tasks run in this folder\n")
    run = run_local(
        axon, RunOptions(workdir=tmp_path, port=0, alert_interval=60), source=tmp_path / "pipeline.py"
    )
    try:
        from myelin_sdk.runtime import publish_metric

        url = run.engine.metrics.pushgateway_url
        publish_metric("quality", 0.95, pushgateway_url=url, axon="pushed", job="j")
        time.sleep(0.3)
        assert _lines(tmp_path / "retrain.log") == 0
        publish_metric("quality", 0.4, pushgateway_url=url, axon="pushed", job="j")
        assert until(lambda: _lines(tmp_path / "retrain.log") == 1, timeout=20)
        assert "alert" in _event_kinds(run)
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
    assert "task 'NoCommand' only names the image 'busybox', which a local run cannot use" in str(err.value)
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


# ---------------------------------------------------------------------------------- fail fast

TOY = Path(__file__).parent / "toy"
OFFLINE_PREP = (
    "import sys; print('downloading the data'); sys.exit('prep: cannot download the data (offline)')\n"
)


def _toy(
    tmp_path: Path, *, prep: str | None = None, replace: dict[str, str] | None = None
) -> tuple[Axon, Path]:
    """The toy axon (train on start, gated deploy, retrain on an Alert) on a local copy of its code."""
    import shutil

    code = tmp_path / "code"
    shutil.copytree(TOY, code, ignore=shutil.ignore_patterns("axon.yaml", "__pycache__"))
    if prep is not None:
        (code / "prep.py").write_text(prep)
    text = (TOY / "axon.yaml").read_text()
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    return Axon.from_yaml(text), code


def test_wait_deployed_raises_at_once_when_the_only_way_to_a_deploy_failed(tmp_path: Path) -> None:
    from myelin_sdk.local import RunFailed

    axon, code = _toy(tmp_path, prep=OFFLINE_PREP)
    run = run_local(axon, RunOptions(workdir=tmp_path, port=0, artifacts={"code": code}))
    began = time.monotonic()
    try:
        with pytest.raises(RunFailed) as err:
            run.wait("deployed", timeout=120)
        assert time.monotonic() - began < 15  # not the timeout: the Retrain Alert does not keep it waiting
        blocked = run.status()["deployBlocked"]
    finally:
        run.stop()
    message = str(err.value)
    assert message.startswith("no deploy can happen any more: sensor TrainOnStart (run 1) failed: task Prep")
    assert "(Retrain: started only by a Rest call or an Alert)" in message
    assert "prep: cannot download the data (offline)" in message  # the failed task's log tail
    assert blocked == err.value.reason
    [failure] = err.value.failures
    assert (failure.task, failure.exit_code) == ("Prep", 1)
    assert [f.sensor for f in run.failures] == ["TrainOnStart"]


def test_a_gate_that_skips_the_only_deploy_ends_the_wait(tmp_path: Path) -> None:
    from myelin_sdk.local import RunFailed

    axon, code = _toy(tmp_path, replace={"{{toy_train_loss}} < 0.5": "{{toy_train_loss}} < 0.01"})
    run = run_local(axon, RunOptions(workdir=tmp_path, port=0, artifacts={"code": code}))
    try:
        with pytest.raises(RunFailed, match=r"sensor Deploy \(run 2\) skipped: a condition did not hold"):
            run.wait("deployed", timeout=120)
        assert run.failures == []  # skipped is not failed
    finally:
        run.stop()


def test_nothing_failed_keeps_the_wait_for_a_rest_triggered_deploy(tmp_path: Path) -> None:
    """No failure: the user may still fire the Rest trigger, so the wait runs to its timeout."""
    axon, code = _toy(
        tmp_path,
        replace={"  - name: TrainOnStart\n": "  - name: TrainOnStart\n      triggers: [{type: Rest}]\n"},
    )
    run = run_local(axon, RunOptions(workdir=tmp_path, port=0, artifacts={"code": code}))
    try:
        assert run.wait("deployed", timeout=1.0) is False
        assert run.status()["deployBlocked"] is None
    finally:
        run.stop()


def test_an_axon_without_a_deployer_cannot_reach_deployed(tmp_path: Path) -> None:
    from myelin_sdk.local import RunFailed

    with Axon("no-deploy") as axon:
        Sensor("Start", tasks=[ContainerTask("Ok", command=_count("ok"))])
    run = _start(axon, tmp_path)
    try:
        with pytest.raises(RunFailed, match="the axon has no deployer"):
            run.wait("deployed", timeout=30)
    finally:
        run.stop()


def test_run_local_takes_a_str_workdir_resolved_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Axon("str-workdir") as axon:
        Sensor("Start", tasks=[ContainerTask("Ok", command=_count("ok"))])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.py").write_text("")
    run = axon.run_local(workdir="build", port=0)
    try:
        assert run.wait("idle", timeout=30)
    finally:
        run.stop()
    assert run.engine.options.workdir == tmp_path / "build"
    assert list((tmp_path / "build" / ".myelin" / "runs").glob("*/state.db"))
