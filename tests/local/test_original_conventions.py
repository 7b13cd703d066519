"""Code written for the original Myelin runs unchanged under ``myelin run`` (issue 11, DESIGN §4).

The original client (``import myelin.metric``, ``myelin.admin``) is served by the SDK's compatible modules
on the ``PYTHONPATH`` of everything the runner starts: checked in real subprocesses against a real
Pushgateway and a real store layout, then inside a real run. The end-to-end test runs an axon written in
the original conventions (fixtures/original/) with real processes and the real seldon-core 1.17.1 server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from myelin_sdk import Axon, compat
from myelin_sdk.local import RunOptions, run_local
from myelin_sdk.local.workspace import compat_path

from support.prometheus import Server

ORIGINAL = Path(__file__).parent / "fixtures" / "original"
AXON = "orig-conv"

#: A stand-in for the original ``myelin`` package installed in the environment: it fails at import like
#: the original does outside its cluster. The compatible package must win over it.
_STAND_IN = "raise KeyError('MYELIN_NAMESPACE')  # the original client outside its cluster\n"


def _python(code: str, env: dict[str, str], cwd: Path | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _original_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A task's environment as ``myelin run`` gives it, with a failing stand-in ``myelin`` installed."""
    site = tmp_path / "site"
    (site / "myelin").mkdir(parents=True, exist_ok=True)
    (site / "myelin" / "__init__.py").write_text(_STAND_IN)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUSHGATEWAY", "MYELIN", "DATA_PATH"))}
    env.update(
        PYTHONPATH=f"{compat_path()}{os.pathsep}{site}",
        AXON_NAME=AXON,
        TASK_NAME="TrainOrig",
        TASK_ID=f"{AXON}-train-orig-{tmp_path.name[-6:]}".lower().replace("_", "-"),
        NAMESPACE="local",
        MYELIN_NAMESPACE="local",
        PUSHGATEWAY_NAMESPACE="local",
    )
    env.update(extra)
    return env


def _gateway_samples(url: str, job: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, labels without job/instance) -> value of the group(s) of ``job`` on a Pushgateway."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.labels.get("job") != job
                or sample.name.startswith("push_")
                or sample.name.endswith("_created")
            ):
                continue
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k not in ("job", "instance")))
            samples[(sample.name, labels)] = sample.value
    return samples


# ------------------------------------------------------------------ the compatible client, in subprocesses


def test_the_compat_folder_is_only_on_the_path_of_what_the_runner_starts() -> None:
    assert compat.path() == compat_path()
    assert (compat_path() / "myelin" / "metric.py").is_file()
    assert str(compat_path()) not in sys.path
    result = subprocess.run([sys.executable, "-c", "import myelin.metric"], capture_output=True, check=False)
    assert result.returncode != 0  # the SDK's own environment does not get a `myelin` package


def test_the_original_metric_api_reaches_the_pushgateway(tmp_path: Path, pushgateway: Server) -> None:
    env = _original_env(tmp_path, PUSHGATEWAY_URL=pushgateway.url)
    out = _python(
        "import myelin.metric\n"
        "from myelin import metric\n"
        "myelin.metric.publish_result(0.9, 'test_accuracy')\n"
        "client = metric.MetricClient()\n"
        "res = client.post_update('deploy_accuracy', 0.25)\n"
        "print(res.status_code)\n"
        "client.post_increment('predictions')\n"
        "client.post_increment('predictions', 2)\n"
        "print(client.process_id)\n",
        env,
    )
    status, process_id = out.split()
    assert status == "200"
    assert _gateway_samples(pushgateway.url, env["TASK_ID"]) == {
        ("test_accuracy_orig__conv", ()): 0.9,
        ("deploy_accuracy_orig__conv", ()): 0.25,
        ("predictions_orig__conv_total", (("uuid", process_id),)): 3.0,
    }


def test_the_originals_hpo_results_reach_the_pushgateway_as_the_loss_metric(
    tmp_path: Path, pushgateway: Server
) -> None:
    env = _original_env(tmp_path, PUSHGATEWAY_URL=pushgateway.url, LOSS_METRIC="rmse")
    _python(  # the original's three ways of reporting a trial: its later and older post_hpo_result, hpo's
        "import myelin.metric, myelin.hpo\n"
        "myelin.metric.post_hpo_result('0_0_1', {'C': 1}, 3, 'mae', 0.5, {}, {}, {'loss value': 0.5},"
        " {'extra': 2.0})\n"
        "myelin.metric.post_hpo_result('0_0_1', {'C': 1}, 3, 0.25, {'loss value': 0.25})\n"
        "myelin.hpo.publish_result('r2', 0.75, {}, {}, {})\n",
        env,
    )
    assert _gateway_samples(pushgateway.url, env["TASK_ID"]) == {
        ("mae_orig__conv", ()): 0.5,
        ("extra_orig__conv", ()): 2.0,
        ("rmse_orig__conv", ()): 0.25,  # the older form: LOSS_METRIC
        ("r2_orig__conv", ()): 0.75,
    }


def test_the_original_client_names_what_is_missing_instead_of_a_key_error(tmp_path: Path) -> None:
    env = _original_env(tmp_path)
    for name in ("PUSHGATEWAY_URL", "MYELIN_NAMESPACE", "PUSHGATEWAY_NAMESPACE"):
        env.pop(name, None)
    code = (
        "import myelin.metric\n"  # the original died here with KeyError: 'MYELIN_NAMESPACE'
        "try:\n"
        "    myelin.metric.MetricClient().post_update('x', 1.0)\n"
        "except myelin.metric.MetricsNotConfigured as exc:\n"
        "    print(exc.variable)\n"
    )
    assert _python(code, env).strip() == "PUSHGATEWAY_URL"
    assert (
        _python("import myelin.metric; print(myelin.metric.get_loss_metric())", {**env, "LOSS_METRIC": "acc"})
        == "acc\n"
    )


def test_post_increment_refuses_a_negative_amount() -> None:
    from myelin_sdk.runtime import MetricClient

    client = MetricClient(pushgateway_url="http://127.0.0.1:9", axon=AXON, task_id="job")
    with pytest.raises(ValueError, match=r"post_increment\('n', -1\): the amount must be a number >= 0"):
        client.post_increment("n", -1)


def test_admin_task_answers_the_latest_execution(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "data").mkdir(parents=True)
    (store / "models" / "data-prep-orig").mkdir(parents=True)
    first = store / "models" / "train-orig" / "20261203T100000.000000Z-aaaaaa"
    second = store / "models" / "train-orig" / "20261203T110000.000000Z-bbbbbb"
    first.mkdir(parents=True)
    (first / "metrics.json").write_text('{"metrics": {}}')
    second.mkdir()
    (store / "models" / "train-orig" / ".tmp-20261203T120000.000000Z-cccccc").mkdir()  # never an execution
    env = _original_env(tmp_path, DATA_PATH=f"{store}/data/")
    code = (
        "import json, myelin.admin\n"
        "tasks = [myelin.admin.task(task_name=n) for n in ('TrainOrig', 'DataPrepOrig')]\n"
        "print(json.dumps([t._asdict() for t in tasks]))\n"
        "other = myelin.admin.task('TrainOrig', axon='other', default_value=7)\n"
        "print(myelin.admin.task('NeverRan'), other)\n"
    )
    answers, rest = _python(code, env).splitlines()
    train, prep = json.loads(answers)
    assert train["model_path"] == f"{second}/" and train["status"] == "Running"  # not registered (yet)
    assert train["data_path"] == f"{store}/data/" and train["name"] == "TrainOrig"
    assert prep["model_path"] == f"{store}/models/data-prep-orig/" and prep["status"] == "Succeeded"
    assert rest == "None 7"
    (second / "metrics.json").write_text('{"metrics": {}}')
    assert json.loads(_python(code, env).splitlines()[0])[0]["status"] == "Succeeded"
    outside = {k: v for k, v in env.items() if k != "DATA_PATH"}
    assert (
        _python("import myelin.admin; print(myelin.admin.task('TrainOrig', default_value='d'))", outside)
        == "d\n"
    )


# ------------------------------------------------------------------ conventions, under the engine


def test_shell_form_cmds_and_the_copy_layout_run_under_the_engine(tmp_path: Path) -> None:
    """``CMD python prep.py`` and ``COPY src/ /app/`` + ``WORKDIR /app`` + ``CMD python3 -m trainer.train``
    run with the runner's Python in the right folders, and their original-client calls reach the run's
    metric store; ``myelin.admin.task`` answers the latest executions."""
    code = tmp_path / "code"
    shutil.copytree(ORIGINAL, code, ignore=shutil.ignore_patterns("axon.yaml", "__pycache__"))
    text = (ORIGINAL / "axon.yaml").read_text()
    axon = Axon.from_yaml(text.split("    - name: DeployOrig")[0])  # no serving: see the next test
    options = RunOptions(workdir=tmp_path, port=0, alert_interval=0.2, artifacts={"code": code})
    run = run_local(axon, options)
    try:
        assert run.wait("idle", timeout=120)
        assert not run.failures, "\n".join(run.lines[-40:])
        tasks = [(t["task"], t["status"]) for t in run.status()["tasks"]]
        assert tasks == [("DataPrepOrig", "succeeded"), ("TrainOrig", "succeeded")]
        metrics = run.status()["metrics"]
        assert metrics.get("orig_train_accuracy_orig__conv") == 0.96, metrics
        counted = _gateway_samples(run.engine.metrics.pushgateway_url, f"{AXON}-data-prep-orig")
        assert [v for (name, _), v in counted.items() if name == "orig_prep_runs_orig__conv_total"] == [1.0]
        train_log = Path(run.status()["tasks"][1]["log"]).read_text()
        assert f"python {sys.executable}" in train_log  # python3 -m … ran with the runner's Python
        store = Path(run.engine.run_dir.store)  # type: ignore[union-attr]
        assert (store / "data" / "x.pkl").is_file()  # data_path + "x.pkl"
        versions = [p for p in (store / "models" / "train-orig").iterdir() if not p.name.startswith(".")]
        assert len(versions) == 1 and (versions[0] / "lr.pkl").is_file()  # model_path + "lr.pkl"

        # the environments: the original client's variables, the compat package first, the shims first
        task_env = run.engine.task_env("TrainOrig")
        assert task_env["MYELIN_NAMESPACE"] == task_env["PUSHGATEWAY_NAMESPACE"] == task_env["NAMESPACE"]
        assert task_env["LOSS_METRIC"] == "orig_train_accuracy"
        assert task_env["PYTHONPATH"].split(os.pathsep)[0] == str(compat_path())
        assert task_env["PATH"].split(os.pathsep)[0] == str(run.engine.run_dir.root / "bin")  # type: ignore[union-attr]
        served_env = run.engine.task_env("ServeOrig")
        assert served_env["PYTHONPATH"] == str(compat_path()) and "VIRTUAL_ENV" not in served_env
        assert served_env["PUSHGATEWAY_URL"] == task_env["PUSHGATEWAY_URL"]
    finally:
        run.stop()


# ------------------------------------------------------------------ end to end, with the model server


def _git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "orig-repo"
    shutil.copytree(ORIGINAL, repo, ignore=shutil.ignore_patterns("axon.yaml", "__pycache__"))
    for args in (
        ["init", "--quiet", "--initial-branch", "main"],
        ["add", "."],
        ["-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "--quiet", "-m", "orig"],
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    return repo


def _wait(predicate: Any, timeout: float, what: str, run: Any) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; log:\n" + "\n".join(run.lines[-60:]))


@pytest.mark.slow
def test_an_axon_in_the_original_conventions_runs_end_to_end(tmp_path: Path, serving_env_cache: Path) -> None:
    text = (ORIGINAL / "axon.yaml").read_text().replace("REPLACED-BY-THE-TEST", str(_git_repo(tmp_path)))
    axon = Axon.from_yaml(text)
    run = run_local(
        axon, RunOptions(workdir=tmp_path, port=0, alert_interval=0.5, env_cache=serving_env_cache)
    )
    try:
        assert run.wait("deployed", timeout=400), "\n".join(run.lines[-60:])
        assert any("names `myelin`" in line for line in run.lines), "the build did not say it left myelin out"
        response = run.predict([1, 2])
        assert response["data"]["ndarray"] == [
            2,
            4,
        ]  # factor 2: the first training, from model_path + "lr.pkl"
        tags = response["meta"]["tags"]
        store = Path(run.engine.run_dir.store)  # type: ignore[union-attr]
        first_version = Path(tags["model_path"])
        assert (
            first_version.parent == store / "models" / "train-orig" and (first_version / "lr.pkl").is_file()
        )
        # the model server's environment: the compat client first, none of the runner's own paths
        assert tags["pythonpath"] == str(compat_path()) and tags["myelin"] == str(compat_path() / "myelin")
        assert str(Path(sys.prefix) / "bin") not in tags["path"].split(os.pathsep)
        assert tags["virtual_env"] and tags["virtual_env"] != sys.prefix

        # admin.model_backend answers what is served, from a task's environment
        env = run.engine.task_env("TrainOrig")
        backend = json.loads(
            _python(
                "import json, myelin.admin\n"
                "print(json.dumps(myelin.admin.model_backend('orig', 'OrigModel', 'OrigBackend')._asdict()))",
                env,
            )
        )
        assert backend["model_path"] == f"{first_version}/" and backend["url"] == run.endpoint()

        # the 4-argument send_feedback posts the reward (MetricClient().post_update): low ones fire the Alert
        first = run.status()["deployments"]["orig"]
        request = {"data": {"ndarray": [1]}}
        for _ in range(3):
            run.feedback(request, run.predict([1]), reward=0.0)
        metrics = run.status()["metrics"]
        assert [v for k, v in metrics.items() if k.startswith("orig_accuracy_orig__conv")] == [0.0], metrics

        _wait(lambda: len(run.status()["deployments"]["orig"]) == 2, 180, "the retrained canary", run)
        served = run.status()["deployments"]["orig"]
        assert [v["traffic"] for v in served] == [50, 50]
        assert served[1]["label"] == first[0]["label"]
        versions = sorted(
            p.name for p in (store / "models" / "train-orig").iterdir() if not p.name.startswith(".")
        )
        assert len(versions) == 2 and all(
            (store / "models" / "train-orig" / v / "lr.pkl").is_file() for v in versions
        )
        answers = [run.predict([1])["data"]["ndarray"][0] for _ in range(200)]
        assert set(answers) == {2, 3}
        assert 60 <= answers.count(3) <= 140
        sensors = {s["name"]: s for s in run.status()["sensors"]}
        assert sensors["RetrainOrig"]["runs"] == 1
    finally:
        run.stop()


def test_hpo_params_are_read_inside_a_trial_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    from myelin_sdk.compat.myelin import hpo

    monkeypatch.delenv("HPO_PARAMS", raising=False)
    assert not hpo.hpo_enabled() and hpo.get_hpo_params() == {}
    config = {"config-id": "0_0_1", "budget": 3, "hpo-conf": json.dumps({"C": 0.5, "kernel": "rbf"})}
    monkeypatch.setenv("HPO_PARAMS", base64.b64encode(json.dumps(config).encode()).decode())
    assert hpo.hpo_enabled() and hpo.get_hpo_params() == {"C": 0.5, "kernel": "rbf"}
    monkeypatch.setenv("HPO_PARAMS", json.dumps(config))  # plain JSON too
    assert hpo.get_hpo_config()["budget"] == 3
