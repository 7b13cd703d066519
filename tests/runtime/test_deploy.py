"""The deploy step: version selection, served history, and the SeldonDeployment the step applies.

The script the compiler inlines is run here for real (a bare interpreter, a real shared-volume folder, real
model versions written by the registry). No Seldon operator can run here, so its output is checked against
the upstream SeldonDeployment CRD.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from myelin_sdk.compiler import compile_axon
from myelin_sdk.loader import load_path
from myelin_sdk.names import is_dns_label
from myelin_sdk.runtime.deploy import DeployError, label_of, select_version
from myelin_sdk.runtime.registry import save_version

from support.schemas import SchemaValidator, assert_valid

DEMO = Path(__file__).resolve().parents[2] / "examples" / "recommender_demo" / "recommender-demo.yaml"
MODELS = "models/train-myelin-recommender"


def save(root: Path, **metrics: float) -> str:
    return save_version(metrics, lambda folder: (folder / "model.bin").write_bytes(b"m"), root=root).name


def test_best_by_lower_and_greater_metric_newest_on_ties_and_without_metric(tmp_path: Path) -> None:
    a = save(tmp_path, rmse=0.9, acc=0.7)
    b = save(tmp_path, rmse=0.95, acc=0.8)
    c = save(tmp_path, rmse=0.9)
    assert select_version(tmp_path, "rmse", greater=False) == c  # tie with a: the newest
    assert select_version(tmp_path, "acc", greater=True) == b  # c has no acc: skipped
    assert select_version(tmp_path, None, greater=False) == c
    assert a != c


def test_no_version_or_no_metric_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="the trainer produced none yet"):
        select_version(tmp_path / "empty", "rmse", greater=False)
    save(tmp_path, acc=0.7)
    with pytest.raises(DeployError, match="has the metric 'rmse'"):
        select_version(tmp_path, "rmse", greater=False)


def test_incomplete_versions_are_ignored(tmp_path: Path) -> None:
    good = save(tmp_path, rmse=0.95)
    (tmp_path / ".tmp-half").mkdir()
    (tmp_path / "no-metrics").mkdir()
    assert select_version(tmp_path, "rmse", greater=False) == good


def test_labels_are_dns_safe_and_stable() -> None:
    label = label_of({"B": "20261127T012345.123456Z-3fa9c1"})
    assert is_dns_label(label) and label == label_of({"B": "20261127T012345.123456Z-3fa9c1"})
    assert label != label_of({"B": "other"})


def scripts(bundle: Any, template: str) -> dict[str, str]:
    (wt,) = bundle.find("WorkflowTemplate", template)
    templates = {t["name"]: t for t in wt["spec"]["templates"]}
    return {
        "select": templates["recommenderdeployer-select"]["script"]["source"],
        "commit": templates["recommenderdeployer-commit"]["script"]["source"],
    }


@pytest.fixture(scope="module")
def demo_bundle() -> Any:
    return compile_axon(load_path(DEMO))


@pytest.fixture(scope="module")
def demo_step(demo_bundle: Any) -> dict[str, str]:
    """The select and commit scripts of the demo's deployer step, as compiled."""
    return scripts(demo_bundle, "ml-rec-sensor-deployment-decision-maker")


def run(source: str, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-"], input=source, capture_output=True, text=True,
        env={"MYELIN_STORE": str(store)}, timeout=60,
    )  # fmt: skip


def deploy(step: dict[str, str], store: Path, commit: bool = True) -> dict[str, Any]:
    selected = run(step["select"], store)
    assert selected.returncode == 0, selected.stderr
    if commit:
        committed = run(step["commit"], store)
        assert committed.returncode == 0, committed.stderr
    manifest: dict[str, Any] = json.loads(selected.stdout)
    return manifest


def model_paths(manifest: dict[str, Any]) -> dict[str, str]:
    out = {}
    for predictor in manifest["spec"]["predictors"]:
        (container,) = predictor["componentSpecs"][0]["spec"]["containers"]
        out[predictor["name"]] = next(e["value"] for e in container["env"] if e["name"] == "MODEL_PATH")
    return out


def test_first_deploy_then_canary_then_unchanged(
    demo_step: dict[str, str], tmp_path: Path, schema_validator: SchemaValidator
) -> None:
    first = save(tmp_path / MODELS, recommender_train_rmse=0.93)
    one = deploy(demo_step, tmp_path)
    assert_valid([one], schema_validator)
    assert [p["traffic"] for p in one["spec"]["predictors"]] == [100]
    assert list(model_paths(one).values()) == [f"/axon-store/{MODELS}/{first}/"]

    worse = save(tmp_path / MODELS, recommender_train_rmse=0.99)
    better = save(tmp_path / MODELS, recommender_train_rmse=0.91)
    two = deploy(demo_step, tmp_path)
    assert_valid([two], schema_validator)
    predictors = two["spec"]["predictors"]
    assert [p["traffic"] for p in predictors] == [50, 50]  # rolloutSpec 0:50, 1:50
    paths = model_paths(two)
    assert list(paths.values()) == [f"/axon-store/{MODELS}/{better}/", f"/axon-store/{MODELS}/{first}/"]
    assert predictors[1]["name"] == one["spec"]["predictors"][0]["name"]  # the stable keeps its name
    assert worse not in json.dumps(two)

    assert deploy(demo_step, tmp_path) == two  # nothing better: the same manifest, nothing moves


def test_a_failed_apply_does_not_change_the_served_history(demo_step: dict[str, str], tmp_path: Path) -> None:
    first = save(tmp_path / MODELS, recommender_train_rmse=0.93)
    deploy(demo_step, tmp_path)
    save(tmp_path / MODELS, recommender_train_rmse=0.92)
    deploy(demo_step, tmp_path, commit=False)  # select ran, the apply failed: no commit
    best = save(tmp_path / MODELS, recommender_train_rmse=0.90)
    paths = list(model_paths(deploy(demo_step, tmp_path)).values())
    assert paths == [f"/axon-store/{MODELS}/{best}/", f"/axon-store/{MODELS}/{first}/"]


def test_no_trained_version_fails_the_step_clearly(demo_step: dict[str, str], tmp_path: Path) -> None:
    result = run(demo_step["select"], tmp_path)
    assert result.returncode == 4
    assert result.stdout == ""
    assert (
        "deploy error: no model version in" in result.stderr and "train-myelin-recommender" in result.stderr
    )


def test_promote_gives_the_newest_all_traffic_and_rollback_restores_the_one_before(
    demo_bundle: Any, demo_step: dict[str, str], tmp_path: Path, schema_validator: SchemaValidator
) -> None:
    promote = scripts(demo_bundle, "ml-rec-recommenderdeployer-promote")
    rollback = scripts(demo_bundle, "ml-rec-recommenderdeployer-rollback")
    first = save(tmp_path / MODELS, recommender_train_rmse=0.93)
    deploy(demo_step, tmp_path)
    newer = save(tmp_path / MODELS, recommender_train_rmse=0.91)
    canary = deploy(demo_step, tmp_path)
    assert [p["traffic"] for p in canary["spec"]["predictors"]] == [50, 50]

    rolled_back = deploy(rollback, tmp_path)
    assert_valid([rolled_back], schema_validator)
    assert list(model_paths(rolled_back).values()) == [f"/axon-store/{MODELS}/{first}/"]
    assert [p["traffic"] for p in rolled_back["spec"]["predictors"]] == [100]

    deploy(demo_step, tmp_path)  # the canary again
    promoted = deploy(promote, tmp_path)
    assert list(model_paths(promoted).values()) == [f"/axon-store/{MODELS}/{newer}/"]
    assert [p["traffic"] for p in promoted["spec"]["predictors"]] == [100]
    assert promoted["spec"]["predictors"][0]["name"] == canary["spec"]["predictors"][0]["name"]


def test_nothing_to_promote_or_roll_back_is_a_clear_error(demo_bundle: Any, tmp_path: Path) -> None:
    promote = scripts(demo_bundle, "ml-rec-recommenderdeployer-promote")
    rollback = scripts(demo_bundle, "ml-rec-recommenderdeployer-rollback")
    assert "nothing to promote" in run(promote["select"], tmp_path).stderr
    assert "nothing to roll back to" in run(rollback["select"], tmp_path).stderr


def test_a_version_served_before_comes_back_to_the_front_not_twice(tmp_path: Path) -> None:
    """With three served versions, re-picking an older one moves it to the front (no duplicate predictor)."""
    from myelin_sdk.runtime.deploy import deploy as render_deploy

    config = {
        "store": str(tmp_path),
        "state": "deployments/d.json",
        "backends": [{"name": "B", "models": "models/t", "metric": "rmse", "greater": False}],
        "templates": {str(n): {"n": n, "v": [f"@{i}" for i in range(n)]} for n in (1, 2, 3)},
        "version_sentinel": "@{i}",
        "label_sentinel": "#{i}",
    }
    root = tmp_path / "models" / "t"
    a = save(root, rmse=0.9)
    render_deploy(config)
    (tmp_path / "deployments" / "d.json.pending").replace(tmp_path / "deployments" / "d.json")
    b = save(root, rmse=0.8)
    render_deploy(config)
    (tmp_path / "deployments" / "d.json.pending").replace(tmp_path / "deployments" / "d.json")
    state = json.loads((tmp_path / "deployments" / "d.json").read_text())
    assert [v["models"]["B"] for v in state] == [b, a]
    worse = json.loads((root / b / "metrics.json").read_text())  # b re-evaluated: a is the best again
    worse["metrics"]["rmse"] = 1.0
    (root / b / "metrics.json").write_text(json.dumps(worse))
    assert render_deploy(config)["v"] == [a, b]


def test_commit_without_a_pending_selection_is_a_clear_error(
    demo_step: dict[str, str], tmp_path: Path
) -> None:
    result = run(demo_step["commit"], tmp_path)
    assert result.returncode == 4
    assert "nothing to commit" in result.stderr and "Traceback" not in result.stderr
