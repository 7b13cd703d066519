"""tfJobSpec under the real runner (issue 15): one process per replica with TF_CONFIG — the TFJob contract on
loopback ports the runner picks — for a 1-PS/2-worker job of a small program without TensorFlow. The task
succeeds when worker 0 (no chief) and the other worker succeeded, the parameter server is stopped then; a
replica that fails fails the task with its last lines."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

from myelin_sdk import Axon
from myelin_sdk.local import RunOptions, run_local

TFJOB = Path(__file__).parent / "fixtures" / "tfjob"

pytestmark = pytest.mark.slow


TUNED = """        lossMetric: loss
        hpTuning:
          optimiser: RandomSearch
          minBudget: 1
          maxBudget: 1
          numIteration: 2
          concurrency: 2
          params:
            - {type: UniformFloat, name: x, numerical: {lower: "0", upper: "1"}}
        tfJobSpec:"""


def _run(tmp_path: Path, tuned: bool = False) -> tuple[list[str], dict[str, dict], list[str]]:
    text = (TFJOB / "axon.yaml").read_text()
    axon = Axon.from_yaml(text.replace("        tfJobSpec:", TUNED) if tuned else text)
    run = run_local(axon, RunOptions(workdir=tmp_path, artifacts={"code": TFJOB}))
    try:
        assert run.wait("idle", timeout=120), "\n".join(run.lines[-40:])
        status = [t["status"] for t in run.status()["tasks"] if t["task"] == "DistTrain"]
    finally:
        run.stop()
    [data] = (tmp_path / ".myelin" / "runs").glob("*/store/data")
    seen = {p.stem: json.loads(p.read_text()) for p in data.glob("*.json")}
    return status, seen, run.lines


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_every_replica_sees_the_cluster_spec_and_the_parameter_server_is_stopped(tmp_path: Path) -> None:
    status, seen, lines = _run(tmp_path)
    assert status == ["succeeded"], "\n".join(lines[-30:])
    assert set(seen) == {"ps-0", "worker-0", "worker-1"}
    cluster = seen["ps-0"]["cluster"]
    assert set(cluster) == {"ps", "worker"} and len(cluster["ps"]) == 1 and len(cluster["worker"]) == 2
    addresses = [*cluster["ps"], *cluster["worker"]]
    assert all(a.startswith("127.0.0.1:") for a in addresses) and len(set(addresses)) == 3
    for name, record in seen.items():
        assert record["cluster"] == cluster, name  # one cluster spec, the same for every replica
        assert f"{record['type']}-{record['index']}" == name
    assert _gone(seen["ps-0"]["pid"])
    [log] = (tmp_path / ".myelin" / "runs").glob("*/logs/*-dist-train.log")
    assert "worker-0 done" in log.read_text() and "stopping ps-0" in log.read_text()
    assert "worker-1 done" in next(log.parent.glob("*.worker-1.log")).read_text()


def test_a_failing_replica_fails_the_task_with_its_last_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAIL_REPLICA", "worker-1")  # tasks get the runner's environment
    status, seen, lines = _run(tmp_path)
    assert status == ["failed"]
    failed = "\n".join(line for line in lines if "failed with exit status 3" in line)
    assert "replica worker-1 failed with exit status 3" in failed and "worker-1: failing on purpose" in failed
    assert _gone(seen["ps-0"]["pid"])


def test_each_tuning_trial_is_a_whole_tfjob(tmp_path: Path) -> None:
    status, seen, lines = _run(tmp_path, tuned=True)
    assert status == ["succeeded"], "\n".join(lines[-30:])
    trials = {n: [r for r in seen.values() if r["hpo"]["config-id"] == f"0_0_{n}"] for n in (0, 1)}
    for n, replicas in trials.items():  # RandomSearch, S = 1: numIteration 2 -> 2 configurations
        assert sorted(f"{r['type']}-{r['index']}" for r in replicas) == ["ps-0", "worker-0", "worker-1"], n
        assert len({r["hpo"]["x"] for r in replicas}) == 1  # one configuration for the whole job
    best = min((0, 1), key=lambda n: (trials[n][0]["hpo"]["x"] - 0.3) ** 2)
    assert any(f"best: trial {best} " in line for line in lines), lines
