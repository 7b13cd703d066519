"""The whole loop of a local run, with real components only: tasks as subprocesses from a real git clone,
the embedded Pushgateway-protocol metric store, the real seldon-core 1.17.1 microservice in its own virtual
environment, and the router over real HTTP.

train -> Lifecycle -> Metric gate -> deploy v1 (100 %) -> predict -> feedback lowers the accuracy -> the Alert
fires -> retrain -> deploy v2 as the 50 % canary next to v1.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from myelin_sdk import Axon
from myelin_sdk.local import PredictionError, RunOptions, run_local

from support.fake_apiserver import run_cli

TOY = Path(__file__).parent / "toy"

pytestmark = pytest.mark.slow


def _git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "toy-repo"
    shutil.copytree(TOY, repo, ignore=shutil.ignore_patterns("axon.yaml", "__pycache__"))
    for args in (
        ["init", "--quiet", "--initial-branch", "main"],
        ["add", "."],
        ["-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "--quiet", "-m", "toy"],
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    return repo


def _wait(predicate, timeout: float, what: str, run) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; log:\n" + "\n".join(run.lines[-40:]))


def test_train_gate_deploy_feedback_alert_retrain_canary(
    tmp_path: Path, serving_env_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (TOY / "axon.yaml").read_text().replace("REPLACED-BY-THE-TEST", str(_git_repo(tmp_path)))
    axon = Axon.from_yaml(text)
    options = RunOptions(workdir=tmp_path, port=0, alert_interval=0.5, env_cache=serving_env_cache)
    run = run_local(axon, options)
    try:
        assert run.wait("deployed", timeout=300), "\n".join(run.lines[-40:])
        assert run.predict([1, 2])["data"]["ndarray"] == [2, 4]  # factor 2: the first training
        with pytest.raises(PredictionError) as refused:  # the model's own message, through the router
            run.predict([-1])
        assert refused.value.status == 400
        assert str(refused.value) == "/predict: HTTP 400: negative input -1: the toy counts"
        first = run.status()["deployments"]["toy"]
        assert [v["traffic"] for v in first] == [100]
        code, out, _ = run_cli(capsys, "endpoint", "--local", "--workdir", str(tmp_path))
        assert code == 0 and out == f"toy: {run.endpoint()}/predict  {run.endpoint()}/send-feedback\n"

        request = {"data": {"ndarray": [1]}}
        for _ in range(3):
            response = run.predict([1])
            run.feedback(request, response, reward=0.0)
        metrics = run.status()["metrics"]
        accuracy = [v for k, v in metrics.items() if k.startswith("toy_accuracy_toy")]
        assert accuracy and min(accuracy) < 0.9, metrics

        _wait(lambda: len(run.status()["deployments"]["toy"]) == 2, 120, "the retrained canary", run)
        served = run.status()["deployments"]["toy"]
        assert [v["traffic"] for v in served] == [50, 50]
        assert served[1]["label"] == first[0]["label"]  # the old version is now the stable one

        answers = [run.predict([1])["data"]["ndarray"][0] for _ in range(200)]
        assert set(answers) == {2, 3}
        assert 60 <= answers.count(3) <= 140  # the canary's 50 %, far from any other split
        sensors = {s["name"]: s for s in run.status()["sensors"]}
        assert sensors["Retrain"]["runs"] == 1
        assert sensors["TrainOnStart"]["runs"] == 1
        assert (tmp_path / ".myelin").is_dir()
    finally:
        run.stop()
