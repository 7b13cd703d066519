"""A train task's hpTuning as the local runner reads it (:mod:`myelin_sdk.local.hpo_plan`): the original's
budgets and trial counts, the HPO_PARAMS contract, and every refusal with its field path."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from myelin_sdk.errors import MyelinError
from myelin_sdk.local.checks import check_axon
from myelin_sdk.local.hpo_plan import budget_ladder, hpo_args, hpo_params, hpo_plan
from myelin_sdk.spec import Axon

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "axons" / "examples"


def test_the_examples_plans_are_the_originals() -> None:
    axon = Axon.from_file(EXAMPLES / "xgboost-hpo-mnist_axon.yaml")
    train = axon.task("TrainGBT").train
    assert train is not None
    plan = hpo_plan(train.hp_tuning, "x")
    assert plan.optimiser == "HyperBand" and plan.concurrency == 2
    assert plan.budgets == pytest.approx((10 / 3, 10))  # minBudget 3, maxBudget 10, eta 3
    assert plan.trials == 3 + 2  # numIteration 2: a bracket of 3 configurations, then one of 2
    assert plan.max_trials == 3 + 1 + 2  # runs: the first bracket's best third goes on to maxBudget
    assert [p.name for p in plan.params][:2] == ["criterion", "learning_rate"]
    rate = plan.params[1]
    assert (rate.low, rate.high, rate.log, rate.default) == (0.01, 10.0, True, 1.0)
    assert plan.params[2].default == 100 and isinstance(plan.params[2].default, int)
    random = Axon.from_file(EXAMPLES / "tests_test-demo-hp_axon.yaml").task("TrainMyelinTestHP").train
    assert random is not None
    plan = hpo_plan(random.hp_tuning, "x")
    assert plan.rungs == (10.0,) and plan.trials == 4  # RandomSearch: maxBudget only, S per iteration
    assert plan.defaults() == {"kernel": "linear", "C": 1.0, "epsilon": 0.1}


def test_budgets_follow_the_original_ladder() -> None:
    assert budget_ladder(1, 4) == pytest.approx((4 / 3, 4))
    assert budget_ladder(1, 27) == (1.0, 3.0, 9.0, 27.0)
    assert budget_ladder(5, 5) == (5.0,)
    assert budget_ladder(1000, 20000) == pytest.approx((20000 / 9, 20000 / 3, 20000))


def test_the_local_plan_is_the_compilers_reading() -> None:
    """One reading of hpTuning: lint and the compiler report what ``myelin run`` refuses, and the plan is the
    compiler's (the same budgets and counts as the Katib Experiment)."""
    from myelin_sdk.compiler.hpo import HpTuning, read_hp_tuning

    raw = {
        "minBudget": 1,
        "maxBudget": 9,
        "numIteration": 3,
        "params": [
            {"type": "Categorical", "name": "k", "categorical": {"values": [1, 2, 3], "default_value": 2}}
        ],
    }
    plan = hpo_plan(raw, "x")
    assert isinstance(plan, HpTuning) and plan == read_hp_tuning(raw, "x")[0]
    assert plan.params[0].values == (1, 2, 3) and plan.defaults() == {"k": 2}  # typed as written
    assert plan.trials == 9 + 3 + 3 and plan.rungs == plan.budgets == (1.0, 3.0, 9.0)
    bad = {
        **raw,
        "params": [{"type": "UniformFloat", "name": "budget", "numerical": {"lower": 0, "upper": 1}}],
    }
    with pytest.raises(MyelinError) as err:
        hpo_plan(bad, "x")
    assert [d.path for d in err.value.diagnostics] == ["x.params[0].name"]  # a key of HPO_PARAMS


def test_hpo_params_is_what_the_original_controller_gave_a_trial() -> None:
    encoded = hpo_params({"C": 0.5, "kernel": "rbf"}, budget=10.0, config_id="0_0_1")
    value = json.loads(base64.b64decode(encoded))
    assert value == {
        "C": 0.5,
        "kernel": "rbf",
        "config-id": "0_0_1",
        "budget": 10,
        "hpo-conf": json.dumps(
            {"C": 0.5, "budget": 10, "config-id": "0_0_1", "kernel": "rbf"}
        ),  # keys sorted
    }
    assert encoded == hpo_params({"kernel": "rbf", "C": 0.5}, budget=10, config_id="0_0_1")  # any order
    args = hpo_args({"C": 0.5}, budget=3.5, config_id="0_0_2")
    assert args == ["--config_id", "0_0_2", "--budget", "3.5", "--C", "0.5"]


def test_every_mistake_is_named_with_its_field_path() -> None:
    raw = {
        "optimiser": "Grid",
        "minBudget": 10,
        "maxBudget": 3,
        "concurrency": 0,
        "params": [
            {"type": "UniformFloat", "name": "lr", "numerical": {"lower": "0", "upper": "1", "log": True}},
            {"type": "UniformInteger", "name": "n", "numerical": {"lower": "5", "upper": "2"}},
            {"type": "Categorical", "name": "k", "categorical": {"values": ["a"], "default_value": "b"}},
            {"type": "Normal", "name": "z"},
            {"type": "UniformFloat", "name": "lr", "numerical": {"lower": "x", "upper": "1"}},
        ],
    }
    with pytest.raises(MyelinError) as err:
        hpo_plan(raw, "spec.tasks[0].train.hpTuning")
    paths = {d.path: d.message for d in err.value.diagnostics}
    where = "spec.tasks[0].train.hpTuning"
    assert "HyperBand, BOHB, RandomSearch" in paths[f"{where}.optimiser"]
    assert "at least minBudget" in paths[f"{where}.maxBudget"]
    assert "at least 1" in paths[f"{where}.concurrency"]
    assert "log scale needs lower > 0" in paths[f"{where}.params[0].numerical.lower"]
    assert "more than lower" in paths[f"{where}.params[1].numerical.upper"]
    assert "not one of the values" in paths[f"{where}.params[2].categorical.default_value"]
    assert "Categorical, UniformFloat, UniformInteger" in paths[f"{where}.params[3].type"]
    assert "expected a number" in paths[f"{where}.params[4].numerical.lower"]


HPO_AXON = """
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata: {name: tuned}
spec:
  tasks:
    - name: Train
      train:
        command: ["python", "train.py"]
        hpTuning:
          minBudget: 1
          maxBudget: 4
          params:
            - {type: UniformFloat, name: x, numerical: {lower: "0", upper: "1"}}
  sensors:
    - name: Start
      tasks:
        - trainer: {task: Train}
"""


def test_a_local_run_takes_hptuning_and_needs_its_loss_metric() -> None:
    with pytest.raises(MyelinError) as err:
        check_axon(Axon.from_yaml(HPO_AXON), {})
    [problem] = err.value.diagnostics  # not "not supported yet"
    assert problem.path == "spec.tasks[0].train.lossMetric"
    assert "lossMetric each trial publishes" in problem.message
    check_axon(Axon.from_yaml(HPO_AXON.replace("hpTuning:", "lossMetric: loss\n        hpTuning:")), {})


def test_without_optuna_the_run_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "optuna", None)  # import optuna -> ImportError
    axon = Axon.from_yaml(HPO_AXON.replace("hpTuning:", "lossMetric: loss\n        hpTuning:"))
    with pytest.raises(MyelinError) as err:
        check_axon(axon, {})
    assert "pip install 'myelin-sdk[hpo]'" in str(err.value)
    assert err.value.diagnostics[0].path == "spec.tasks[0].train.hpTuning"


@pytest.mark.parametrize("name", ["myelin_sdk.runtime.hpo", "myelin_sdk.compiler.hpo"])
def test_the_shared_modules_examples_hold(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
