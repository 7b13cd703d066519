"""hpTuning under the real runner (issue 15): a train task tuned with Optuna — every trial a subprocess of
the task with the original HPO_PARAMS/LOSS_METRIC contract, two at a time — and the best configuration's
version deployed by a "best" deployer, answering /predict from the real seldon-core 1.17.1 server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from myelin_sdk import Axon
from myelin_sdk.local import RunOptions, run_local
from myelin_sdk.local.view import _Table
from myelin_sdk.runtime.graph import answer_value

HPO = Path(__file__).parent / "fixtures" / "hpo"

pytestmark = pytest.mark.slow


def test_trials_run_with_hpo_params_and_the_best_configuration_is_deployed(
    tmp_path: Path, serving_env_cache: Path
) -> None:
    axon = Axon.from_yaml((HPO / "axon.yaml").read_text())
    options = RunOptions(workdir=tmp_path, port=0, env_cache=serving_env_cache, artifacts={"code": HPO})
    run = run_local(axon, options)
    try:
        assert run.wait("deployed", timeout=300), "\n".join(run.lines[-40:])
        [store] = (tmp_path / ".myelin" / "runs").glob("*/store")
        records = [json.loads(line) for line in (store / "data" / "trials.jsonl").read_text().splitlines()]

        # numIteration 2 of HyperBand over budgets 1..4 (eta 3: 4/3 and 4) samples 3 + 2 configurations
        configs = {r["config"]["config-id"] for r in records}
        assert configs == {f"0_0_{n}" for n in range(5)}, configs
        budgets = {r["config"]["budget"] for r in records}
        assert budgets <= {4 / 3, 4} and 4 in budgets, budgets
        for r in records:  # the original contract: HPO_PARAMS, its hpo-conf, the arguments, LOSS_METRIC
            conf = json.loads(r["config"]["hpo-conf"])
            assert conf["config-id"] == r["config"]["config-id"] and conf["budget"] == r["config"]["budget"]
            assert set(conf) == {"x", "rate", "depth", "kind", "config-id", "budget"}
            assert r["argv"]["x"] == conf["x"] and r["argv"]["budget"] == r["config"]["budget"]
            assert 0.001 <= conf["rate"] <= 1 and 1 <= conf["depth"] <= 8
            assert conf["kind"] in ("plain", "fancy")
            assert r["loss_metric"] == "loss"
            trial = r["config"]["config-id"].split("_")[-1]
            assert r["task_id"] == f"hpo-toy-train-toy-trial-{trial}"
        first = [r for r in records if r["config"]["config-id"] == "0_0_0"]
        assert first[0]["argv"]["x"] == 0.9 and first[0]["argv"]["depth"] == 2  # the defaults come first
        assert len({r["model_path"] for r in records}) == len(records)  # a version folder per trial run

        # the best configuration: the lowest loss of a trial that ran to the maximum budget
        finished = [r for r in records if r["config"]["budget"] == 4]
        best = min(finished, key=lambda r: r["loss"])
        [version] = [p.parent for p in (store / "models").glob("*/*/metrics.json")]  # the only one registered
        assert f"{version}/" == best["model_path"]
        registered = json.loads((version / "metrics.json").read_text())["metrics"]
        assert registered["loss"] == pytest.approx(best["loss"])
        answer = run.predict([[0]])
        assert answer_value(answer) == [[best["argv"]["x"], 4]]
        leftovers = [p for p in (store / "models").glob("*/*") if p.is_dir() and p != version]
        assert not leftovers  # the other trials' folders are not model versions

        lines = [line for line in run.lines if " trial " in line and " — " in line]
        assert len(lines) == 5, lines  # one line per configuration when it ended
        assert any(re.search(r"trial \d \(x=.*budget 4: loss [\d.]+ — complete", line) for line in lines)
        status = run.status()
        assert len(status["trials"]) == 5 and {t["state"] for t in status["trials"]} <= {"complete", "pruned"}
        view = Console(record=True, width=200)
        view.print(_Table(run.engine))
        shown = view.export_text()
        assert len(re.findall(r"trial\s+│\s+TrainToy #\d", shown)) == 5, shown
    finally:
        run.stop()
    # concurrency 2: trials ran two at a time, never three
    spans = [(r["started"], r["ended"]) for r in records]
    assert max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans) == 2
