"""Train tasks with ``hpTuning`` -> a Katib Experiment whose trials are Argo Workflows of the task.

No Katib runs here. The Experiment is validated strictly against Katib's OpenAPI schema, the trial Workflow
and WorkflowTemplate against Argo's; the rules of Katib's validating webhook that the schema cannot express
are re-checked (trial parameters and substitutions, hyperband settings); and a trial is played through with
real processes: Katib's ``${trialParameters.x}`` substitution, Argo's ``{{workflow.parameters.x}}``, the
``hpo-params`` step building ``HPO_PARAMS`` (read back by the original client's ``myelin.hpo``), and the
``report`` step printing the line Katib's StdOut collector parses.
"""

from __future__ import annotations

import base64
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from myelin_sdk import Axon, MyelinError
from myelin_sdk.compiler import compile_axon, refusals
from myelin_sdk.compiler.hpo import read_hp_tuning
from myelin_sdk.compiler.katib import PRIMARY_LABEL
from myelin_sdk.lint import lint_axon

from support.axons import compiled_file, one_task_axon
from support.resources import created_objects, resource_template, trial_workflow
from support.schemas import SchemaValidator, assert_valid

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT.parent / "shared" / "axons" / "examples"
TEST_DEMO_HP = EXAMPLES / "tests_test-demo-hp_axon.yaml"
XGBOOST = EXAMPLES / "xgboost-hpo-mnist_axon.yaml"
MNIST = EXAMPLES / "mnist-with-summaries_axon.yaml"
TF_HPO = EXAMPLES / "dist-mnist_tf-dist-mnist-hpo.yaml"
VAE = PROJECT / "tests" / "fixtures" / "legacy" / "two-stage-vae-hptuning.yaml"
HPO_AXONS = [TEST_DEMO_HP, XGBOOST, MNIST, TF_HPO, VAE]
#: Katib's default StdOut metrics filters (metricscollector/v1beta1/common DefaultFilter), older and newer.
KATIB_FILTERS = [
    re.compile(r"([\w|-]+)\s*=\s*((-?\d+)(\.\d+)?)"),
    re.compile(r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"),
]
#: consts.TrialTemplateParamReplaceFormatRegex
SUBSTITUTION = re.compile(r"\$\{trialParameters\..+?\}")


def hpo_axon(hp_tuning: dict[str, Any], **train: Any) -> Axon:
    body = {"image": "train:1", "lossMetric": "rmse", "hpTuning": hp_tuning, **train}
    return one_task_axon("hp", {"name": "Train", "train": body})


GOOD = {
    "optimiser": "HyperBand",
    "minBudget": 1,
    "maxBudget": 9,
    "numIteration": 1,
    "concurrency": 9,
    "params": [
        {"type": "UniformFloat", "name": "C", "numerical": {"lower": "0.01", "upper": "10", "log": True}}
    ],
}


def compiled(path: Path) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The bundle, its Experiment and the trial WorkflowTemplate."""
    bundle, created = compiled_file(path)
    (experiment,) = [d for d in created if d["kind"] == "Experiment"]
    name = experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["workflowTemplateRef"]["name"]
    (trial,) = bundle.find("WorkflowTemplate", name)
    return bundle, experiment, trial


@pytest.mark.parametrize("path", HPO_AXONS, ids=lambda p: p.name)
def test_hpo_axons_compile_to_valid_documents(path: Path, schema_validator: SchemaValidator) -> None:
    bundle, experiment, _ = compiled(path)
    created = list(created_objects(bundle.manifests))
    assert_valid([*bundle.manifests, *created, trial_workflow(experiment)], schema_validator)
    assert "not supported" not in bundle.to_yaml()


@pytest.mark.parametrize("path", HPO_AXONS, ids=lambda p: p.name)
def test_the_experiment_passes_katibs_webhook_rules(path: Path) -> None:
    """pkg/webhook/v1beta1/experiment/validator: what the schema cannot say."""
    _, experiment, _ = compiled(path)
    spec = experiment["spec"]
    assert "name" not in experiment["metadata"] and re.match(
        r"^[a-z]", experiment["metadata"]["generateName"]
    )
    assert 0 < spec["parallelTrialCount"] <= spec["maxTrialCount"]
    assert 0 <= spec["maxFailedTrialCount"] <= spec["maxTrialCount"]
    assert spec["objective"]["type"] in ("minimize", "maximize") and spec["objective"]["objectiveMetricName"]
    template = spec["trialTemplate"]
    assert template["primaryContainerName"] and template["successCondition"] and template["failureCondition"]
    text = json.dumps(template["trialSpec"])
    names = {p["name"] for p in spec["parameters"]}
    for parameter in template["trialParameters"]:
        assert "{" not in parameter["name"] and "}" not in parameter["name"]
        assert parameter["reference"] in names or parameter["reference"] == "${trialSpec.Name}"
        assert f"${{trialParameters.{parameter['name']}}}" in text
        text = text.replace(f"${{trialParameters.{parameter['name']}}}", "test-value")
    assert SUBSTITUTION.findall(text) == []  # every substitution is declared
    assert "name" not in template["trialSpec"].get("metadata", {})
    for parameter in spec["parameters"]:
        space = parameter["feasibleSpace"]
        if parameter["parameterType"] in ("int", "double"):
            assert float(space["min"]) < float(space["max"]) and "list" not in space
        else:
            assert parameter["parameterType"] == "categorical" and space["list"] and "min" not in space
    if spec["algorithm"]["algorithmName"] == "hyperband":  # pkg/suggestion/v1beta1/hyperband/service.py
        settings = {s["name"]: s["value"] for s in spec["algorithm"]["algorithmSettings"]}
        assert settings["resource_name"] in names
        eta = int(float(settings["eta"]))
        s_max = int(math.log(float(settings["r_l"])) / math.log(eta))
        assert spec["parallelTrialCount"] >= math.ceil(eta**s_max)


def test_the_mapping_of_objective_algorithm_and_parameters() -> None:
    _, experiment, _ = compiled(XGBOOST)
    spec = experiment["spec"]
    assert spec["objective"] == {"type": "minimize", "objectiveMetricName": "accuracy"}
    assert spec["algorithm"] == {
        "algorithmName": "hyperband",
        "algorithmSettings": [
            {"name": "eta", "value": "3"},
            {"name": "r_l", "value": "3.0"},  # eta**s_max: Katib's resources 1 and 3 are the rungs
            {"name": "resource_name", "value": "hpo_budget"},
        ],
    }
    params = {p["name"]: p for p in spec["parameters"]}
    assert params["criterion"] == {
        "name": "criterion",
        "parameterType": "categorical",
        "feasibleSpace": {"list": ["friedman_mse", "mse", "mae"]},
    }
    assert params["learning_rate"]["feasibleSpace"] == {
        "min": "0.01",
        "max": "10.0",
        "distribution": "logUniform",
    }
    assert params["n_estimators"] == {
        "name": "n_estimators",
        "parameterType": "int",
        "feasibleSpace": {"min": "10", "max": "1000"},
    }
    assert params["hpo_budget"] == {
        "name": "hpo_budget",
        "parameterType": "int",
        "feasibleSpace": {"min": "1", "max": "3"},
    }
    assert spec["metricsCollectorSpec"] == {"collector": {"kind": "StdOut"}}
    assert spec["trialTemplate"]["primaryPodLabels"] == {PRIMARY_LABEL: "true"}
    # s_max = floor(log3(10/3)) = 1: HpBandSter's iterations 0 and 1 run brackets of 3+1 and 2 runs
    assert (spec["parallelTrialCount"], spec["maxTrialCount"], spec["maxFailedTrialCount"]) == (3, 6, 0)
    _, greater, _ = compiled(MNIST)
    assert greater["spec"]["objective"]["type"] == "maximize"  # lossMetricSelector: greater
    _, random, _ = compiled(TEST_DEMO_HP)
    assert random["spec"]["algorithm"] == {"algorithmName": "random"}
    assert "hpo_budget" not in {p["name"] for p in random["spec"]["parameters"]}
    _, bohb, _ = compiled(VAE)
    assert bohb["spec"]["algorithm"]["algorithmName"] == "hyperband"  # Katib has no BOHB


def test_the_task_template_builds_then_awaits_the_experiment_and_registers_nothing_itself() -> None:
    bundle, _, _ = compiled(TEST_DEMO_HP)
    (template,) = bundle.find("WorkflowTemplate", "ml-test-hp-train-myelin-test-hp")
    run = resource_template(template)["resource"]
    assert run["action"] == "create"
    assert run["successCondition"] == "status.completionTime,status.trialsSucceeded > 0"
    assert run["failureCondition"] == "status.trialsFailed > 0"
    (steps,) = [t["steps"] for t in template["spec"]["templates"] if t["name"] == "task"]
    assert [s[0]["name"] for s in steps] == ["check-image", "build", "run"]
    assert not [t for t in template["spec"]["templates"] if t["name"] == "register"]  # each trial registers


def test_a_trial_builds_hpo_params_runs_registers_and_reports() -> None:
    _, _, trial = compiled(TEST_DEMO_HP)
    templates = {t["name"]: t for t in trial["spec"]["templates"]}
    assert [s[0]["name"] for s in templates["main"]["steps"]] == ["hpo-params", "run", "register", "report"]
    env = {e["name"]: e.get("value") for e in templates["run"]["container"]["env"]}
    assert env["HPO_PARAMS"] == "{{inputs.parameters.hpo-params}}"
    assert env["LOSS_METRIC"] == "rmse"
    assert env["TASK_ID"] == "ml-test-hp-train-myelin-test-hp-{{workflow.parameters.trial}}"
    assert env["MODEL_PATH"].endswith("Z-{{workflow.uid}}/")  # the trial Workflow's own version folder
    register = templates["register"]["script"]["source"]
    assert "'--job', 'ml-test-hp-train-myelin-test-hp-{{workflow.parameters.trial}}'" in register
    assert templates["report"]["metadata"]["labels"] == {PRIMARY_LABEL: "true"}
    # the original controller's arguments, built by hpo-params, appended to the task's (none here)
    names = [f"arg-{i}" for i in range(4 + 2 * 3)]
    assert templates["run"]["container"]["args"] == [f"{{{{inputs.parameters.{n}}}}}" for n in names]
    assert [p["name"] for p in templates["run"]["inputs"]["parameters"]] == ["hpo-params", *names]
    (run_step,) = templates["main"]["steps"][1]
    assert {a["name"]: a["value"] for a in run_step["arguments"]["parameters"]}["arg-3"] == (
        "{{steps.hpo-params.outputs.parameters.arg-3}}"
    )
    outputs = templates["hpo-params"]["outputs"]["parameters"]
    assert [(o["name"], o["valueFrom"]["path"]) for o in outputs] == [(n, f"/tmp/hpo/{n}") for n in names]
    assert [p["name"] for p in trial["spec"]["arguments"]["parameters"]] == [
        "trial",
        "budget",
        "hp-0",
        "hp-1",
        "hp-2",
    ]


def _substitute(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace(name, value)
    return text


def play_trial(path: Path, values: dict[str, str], out: Path) -> dict[str, Any]:
    """Katib's substitution, Argo's, then the real ``hpo-params`` step: the decoded HPO_PARAMS (``raw``: as
    printed) and the trial's arguments (``args``: the step's output parameters, in order)."""
    _, experiment, trial = compiled(path)
    katib = {f"${{trialParameters.{k}}}": v for k, v in values.items()}
    workflow = json.loads(_substitute(json.dumps(experiment["spec"]["trialTemplate"]["trialSpec"]), katib))
    arguments = {
        f"{{{{workflow.parameters.{p['name']}}}}}": p["value"]
        for p in workflow["spec"]["arguments"]["parameters"]
    }
    (step,) = [t for t in trial["spec"]["templates"] if t["name"] == "hpo-params"]
    args = [_substitute(a, arguments) for a in step["container"]["args"]]
    args[args.index("/tmp/hpo")] = str(out)  # the step's emptyDir
    argv = [sys.executable, *step["container"]["command"][1:], *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    encoded = done.stdout.strip()
    names = [o["name"] for o in step["outputs"]["parameters"]]
    written = [(out / n).read_text(encoding="utf-8") for n in names]
    return {"raw": encoded, "args": written, **json.loads(base64.b64decode(encoded))}


def test_hpo_params_keep_the_original_contract(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = {"hpo_trial": "ml-test-hp-x7k2", "kernel": "rbf", "C": "0.5", "epsilon": "2.25"}
    params = play_trial(TEST_DEMO_HP, values, tmp_path)
    assert params["config-id"] == "ml-test-hp-x7k2"
    assert params["budget"] == 10  # RandomSearch: every trial at maxBudget
    assert isinstance(params["hpo-conf"], str)  # a JSON string, as the original controller sent it
    typed = {"kernel": "rbf", "C": 0.5, "epsilon": 2.25}
    assert json.loads(params["hpo-conf"]) == {**typed, "config-id": "ml-test-hp-x7k2", "budget": 10}
    assert {k: params[k] for k in typed} == typed  # the parameters at the top level too
    from myelin_sdk.compat.myelin import hpo

    monkeypatch.setenv("HPO_PARAMS", params["raw"])
    assert hpo.get_hpo_params() == {**typed, "config-id": "ml-test-hp-x7k2", "budget": 10}
    assert hpo.get_hpo_config()["budget"] == 10
    assert params["args"] == [
        "--config_id",
        "ml-test-hp-x7k2",
        "--budget",
        "10",
        "--kernel",
        "rbf",
        "--C",
        "0.5",
        "--epsilon",
        "2.25",
    ]


def test_a_cluster_trial_and_a_local_one_get_the_same_contract(tmp_path: Path) -> None:
    """The same configuration and budget: the cluster's hpo-params step and ``myelin run`` give the same
    HPO_PARAMS document and the same arguments (one implementation, :mod:`myelin_sdk.runtime.hpo`)."""
    from myelin_sdk.local.hpo_plan import hpo_args, hpo_params, hpo_plan

    values = {"hpo_trial": "t1", "batch_size": "100", "hidden_units": "42", "learning_rate": "0.01"}
    cluster = play_trial(TF_HPO, {**values, "hpo_budget": "3"}, tmp_path)
    train = Axon.from_file(TF_HPO).tasks[0].train
    assert train is not None
    plan = hpo_plan(train.hp_tuning, "x")
    typed = {"batch_size": 100, "hidden_units": 42, "learning_rate": 0.01}
    assert list(typed) == [p.name for p in plan.params]
    budget = plan.budgets[1]  # Katib's resource 3 = eta**1: the middle rung of 20000/9, 20000/3, 20000
    local = hpo_params(typed, budget=budget, config_id="t1")
    assert cluster["raw"] == local  # byte for byte
    assert json.loads(base64.b64decode(local))["budget"] == pytest.approx(20000 / 3)
    assert cluster["args"] == hpo_args(typed, budget=budget, config_id="t1")
    categorical = play_trial(XGBOOST, _xgboost_values(), tmp_path / "x")
    assert json.loads(categorical["hpo-conf"])["criterion"] == "mse"


def _xgboost_values() -> dict[str, str]:
    _, experiment, _ = compiled(XGBOOST)
    out = {"hpo_trial": "t2", "hpo_budget": "1"}
    for p in experiment["spec"]["parameters"]:
        space = p["feasibleSpace"]
        out.setdefault(p["name"], space["list"][1] if "list" in space else space["min"])
    return out


def test_hyperband_budgets_are_the_original_ladder(tmp_path: Path) -> None:
    values = {"hpo_trial": "t1", "batch_size": "100", "hidden_units": "42", "learning_rate": "0.01"}
    budgets = {}
    for resource in ("1", "2", "3", "9", "21"):
        doc = play_trial(TF_HPO, {**values, "hpo_budget": resource}, tmp_path / resource)
        budgets[resource] = doc["budget"]
        assert json.loads(doc["hpo-conf"])["budget"] == doc["budget"]
    # minBudget 1000, maxBudget 20000, eta 3: Katib's resources 1, 3, 9 are the rungs 20000/9, 20000/3, 20000
    assert budgets["1"] == pytest.approx(20000 / 9) and budgets["3"] == pytest.approx(20000 / 3)
    assert budgets["9"] == 20000 and budgets["21"] == 20000  # never above maxBudget
    assert budgets["2"] == pytest.approx(20000 / 3)  # a resource between rungs: the nearest rung
    doc = play_trial(TF_HPO, {**values, "hpo_budget": "1"}, tmp_path / "typed")
    assert json.loads(doc["hpo-conf"]) == {
        "batch_size": 100,
        "hidden_units": 42,
        "learning_rate": 0.01,
        "config-id": "t1",
        "budget": pytest.approx(20000 / 9),
    }


def run_report(trial: dict[str, Any], metrics: Path, metric: str) -> subprocess.CompletedProcess[str]:
    (step,) = [t for t in trial["spec"]["templates"] if t["name"] == "report"]
    command = step["container"]["command"]
    return subprocess.run(
        [sys.executable, *command[1:], str(metrics), metric], capture_output=True, text=True, timeout=30
    )


def test_the_report_step_prints_what_katibs_stdout_collector_reads(tmp_path: Path) -> None:
    _, _, trial = compiled(TEST_DEMO_HP)
    (step,) = [t for t in trial["spec"]["templates"] if t["name"] == "report"]
    assert step["container"]["args"] == [step["container"]["args"][0], "rmse"]
    assert step["container"]["args"][0].endswith("Z-{{workflow.uid}}/metrics.json")
    record = tmp_path / "metrics.json"
    record.write_text(json.dumps({"version": "v", "created": "now", "metrics": {"rmse": 1.25e-05}}))
    done = run_report(trial, record, "rmse")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "rmse=0.0000125\n"
    for katib_filter in KATIB_FILTERS:
        (match,) = katib_filter.findall(done.stdout)
        assert (match[0], float(match[1])) == ("rmse", 1.25e-05)
    missing = run_report(trial, record, "accuracy")
    assert missing.returncode != 0 and "no accuracy registered" in missing.stderr


def test_a_tfjob_trial_passes_hpo_params_to_every_replica(schema_validator: SchemaValidator) -> None:
    _, _, trial = compiled(TF_HPO)
    run = resource_template(trial)
    names = [f"arg-{i}" for i in range(4 + 2 * 3)]
    assert run["inputs"] == {"parameters": [{"name": n} for n in ("hpo-params", *names)]}
    job = yaml.safe_load(run["resource"]["manifest"])
    assert_valid(job, schema_validator)
    for replica in job["spec"]["tfReplicaSpecs"].values():
        (container,) = replica["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["HPO_PARAMS"] == "{{inputs.parameters.hpo-params}}"
        assert env["TASK_ID"].endswith("-{{workflow.parameters.trial}}")
        assert container["args"][-len(names) :] == [f"{{{{inputs.parameters.{n}}}}}" for n in names]


def test_katibs_hyperband_parallelism_is_raised_with_a_warning() -> None:
    bundle, experiment, _ = compiled(TF_HPO)
    assert experiment["spec"]["parallelTrialCount"] == 9  # eta**s_max = 3**2 for maxBudget/minBudget = 20
    (warning,) = [w for w in bundle.warnings if w.path.endswith("hpTuning.concurrency")]
    assert warning.severity == "warning" and "9" in warning.message
    assert [d for d in lint_axon(Axon.from_file(TF_HPO)) if d.severity == "warning"] == [warning]  # lint too


def test_rbac_grows_by_experiments_and_tfjobs_when_trials_are_tfjobs() -> None:
    (role,) = compile_axon(hpo_axon(GOOD)).find("Role")
    resources = [r["resources"] for r in role["rules"] if r["apiGroups"] == ["kubeflow.org"]]
    assert resources == [["experiments"]]
    tf = hpo_axon(GOOD, tfJobSpec={"tfReplicaSpecs": {"Worker": {"replicas": 2}}})
    (role,) = compile_axon(tf).find("Role")
    assert [r["resources"] for r in role["rules"] if r["apiGroups"] == ["kubeflow.org"]] == [
        ["tfjobs"],
        ["experiments"],
    ]


def test_a_clean_axon_lints_clean() -> None:
    assert [d for d in lint_axon(hpo_axon(GOOD)) if d.severity == "error"] == []


def _param(**numerical: Any) -> dict[str, Any]:
    return {"type": "UniformFloat", "name": "C", "numerical": {"lower": "0.1", "upper": "1", **numerical}}


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"optimiser": "Hyperband"}, "optimiser", "did you mean 'HyperBand'"),
        ({"minBudget": 10, "maxBudget": 3}, "maxBudget", "minBudget <= maxBudget"),
        ({"minBudget": 0}, "minBudget", "> 0"),
        ({"concurrency": 0}, "concurrency", ">= 1"),
        ({"numIteration": 1.5}, "numIteration", "integer"),
        ({"params": []}, "params", "at least one"),
        ({"params": [_param(lower="2", upper="1")]}, "params[0].numerical.upper", "lower < upper"),
        ({"params": [_param(lower="0", log=True)]}, "params[0].numerical.lower", "lower > 0"),
        ({"params": [_param(lower="abc")]}, "params[0].numerical.lower", "expected a number"),
        ({"params": [{"type": "UniformInt", "name": "n"}]}, "params[0].type", "UniformInteger"),
        (
            {
                "params": [
                    {"type": "UniformInteger", "name": "n", "numerical": {"lower": "1.5", "upper": "3"}}
                ]
            },
            "params[0].numerical.lower",
            "integer",
        ),
        (
            {"params": [{"type": "Categorical", "name": "k", "categorical": {"values": ['a"b']}}]},
            "params[0].categorical.values[0]",
            "quotes",
        ),
        ({"params": [_param(), _param()]}, "params[1].name", "duplicate"),
        ({"params": [{**_param(), "name": "hpo_budget"}]}, "params[0].name", "rename"),
    ],
)
def test_what_katib_rejects_is_refused_by_lint_and_compile(
    change: dict[str, Any], path: str, words: str
) -> None:
    axon = hpo_axon({**GOOD, **change})
    (problem,) = refusals(axon)
    assert (problem.path, words in problem.message) == (f"spec.tasks[0].train.hpTuning.{path}", True), problem
    assert [d for d in lint_axon(axon) if d.severity == "error"] == [problem]
    with pytest.raises(MyelinError) as info:
        compile_axon(axon)
    assert info.value.diagnostics == [problem]


def test_hp_tuning_needs_a_loss_metric() -> None:
    axon = hpo_axon(GOOD, lossMetric=None)
    (problem,) = refusals(axon)
    assert problem.path == "spec.tasks[0].train.lossMetric" and "lossMetric" in problem.message


def test_the_loss_metric_must_be_a_name_katib_parses() -> None:
    (problem,) = refusals(hpo_axon(GOOD, lossMetric="test.accuracy"))
    assert problem.path == "spec.tasks[0].train.lossMetric" and "letters, digits" in problem.message


def test_hp_tuning_needs_the_shared_volume() -> None:
    axon = hpo_axon(GOOD)
    axon = axon.model_copy(update={"volume_claim_template": None})
    (problem,) = refusals(axon)
    assert problem.path == "spec.tasks[0].train.hpTuning" and "shared volume" in problem.message


def test_trial_counts_follow_hpbandster() -> None:
    spec, problems = read_hp_tuning({**GOOD, "maxBudget": 27, "numIteration": 4}, "hpTuning")
    assert problems == [] and spec is not None
    assert spec.s_max == 3
    # HpBandSter's get_next_iteration: brackets s=3..0 of n0 = floor(4/(s+1)) * 3**s configurations, a
    # third kept each round
    assert [spec.bracket(i) for i in range(4)] == [[27, 9, 3, 1], [9, 3, 1], [6, 2], [4]]
    assert spec.trials == 27 + 9 + 6 + 4  # configurations sampled (what myelin run tunes)
    assert spec.max_trials == 40 + 13 + 8 + 4  # runs: each round of a bracket is a Katib trial
    assert spec.budgets == (1.0, 3.0, 9.0, 27.0) and spec.katib_r_l == 27.0
    random, _ = read_hp_tuning({**GOOD, "optimiser": "RandomSearch", "maxBudget": 27, "numIteration": 2}, "h")
    assert random is not None and random.max_trials == random.trials == 8 and random.rungs == (27.0,)
    # Katib's int(log(r_l) / log(eta)) must give s_max: 3**5 is nudged (log(243) / log(3) = 4.99...)
    wide, _ = read_hp_tuning({**GOOD, "maxBudget": 243}, "h")
    assert wide is not None and wide.s_max == 5
    assert int(math.log(wide.katib_r_l) / math.log(3)) == 5 and int(wide.katib_r_l) == 243
