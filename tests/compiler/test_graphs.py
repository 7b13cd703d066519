"""Model graphs on the cluster (issue #14): whole Axons with several routes, combiners, custom servers and
external models compile with no deployer step left out; every document validates strictly (the v1.17.1
SeldonDeployment CRD, the Argo schemas); the deploy step's own script, run here for real, renders one
SeldonDeployment per route for the served versions, and promote and rollback re-render all of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from myelin_sdk import CompileOptions
from myelin_sdk.compiler import Bundle, compile_axon, refusals
from myelin_sdk.compiler.seldon.node_image import DOCKERFILE, build_context
from myelin_sdk.lint import lint_axon
from myelin_sdk.loader import load_path
from myelin_sdk.runtime.registry import save_version

from support.schemas import SchemaValidator, assert_valid

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT.parent / "shared" / "axons" / "examples"
EVERY = PROJECT / "tests" / "fixtures" / "graphs" / "every-graph-feature.yaml"
GRAPH_AXONS = [
    EXAMPLES / "multi-model-dag_axon-model-graph.yaml",
    EXAMPLES / "multi-model-dag_axon-external.yaml",
    EXAMPLES / "recommender-rnn-demo_axon.yaml",
    EVERY,
]
OPTIONS = CompileOptions(namespace="ml", registry="registry.example.com/ml", tag="v1")


def templates(bundle: Bundle, name: str) -> dict[str, dict[str, Any]]:
    (wt,) = bundle.find("WorkflowTemplate", name)
    return {t["name"]: t for t in wt["spec"]["templates"]}


def steps(bundle: Bundle, name: str) -> list[str]:
    main = templates(bundle, name)["main"]
    return [step["name"] for group in main["steps"] for step in group]


@pytest.mark.parametrize("path", GRAPH_AXONS, ids=lambda p: p.stem)
def test_graph_axons_compile_with_every_deployer_step(path: Path, schema_validator: SchemaValidator) -> None:
    axon = load_path(path)
    bundle = compile_axon(axon, OPTIONS)
    assert not [w for w in bundle.warnings if "left out" in w.message], bundle.warnings
    assert refusals(axon, OPTIONS) == [] and [d for d in lint_axon(axon) if d.severity == "error"] == []
    deployers = [s.deployer for sensor in axon.sensors for s in sensor.tasks if s.deployer is not None]
    # every deployer has its promote and rollback templates, and every predict route a reviewed SDep
    for deployer in deployers:
        assert bundle.find("WorkflowTemplate", f"{axon.name}-{deployer.name}-promote".lower())
    routes = sum(
        len([r for r in d.routes if r.path not in ("/send-feedback", "/api/v1.0/feedback")])
        for d in deployers
    )
    assert len(bundle.reviews) == routes
    assert_valid(bundle.manifests, schema_validator)
    assert_valid(bundle.reviews, schema_validator)


@pytest.fixture(scope="module")
def every() -> Bundle:
    return compile_axon(load_path(EVERY), OPTIONS)


def test_every_route_has_its_apply_step_after_the_graph_node_build(every: Bundle) -> None:
    assert steps(every, "graph-demo-sensor-deploy-graph") == [
        "graph-graph-node-src",
        "graph-graph-node-build",
        "graph-select",
        "graph-apply",
        "graph-apply-rank",
        "graph-apply-scale",
        "graph-commit",
    ]
    # promote and rollback reuse the image: no build, every route applied
    for mode in ("promote", "rollback"):
        assert steps(every, f"graph-demo-graph-{mode}") == [
            "graph-select",
            "graph-apply",
            "graph-apply-rank",
            "graph-apply-scale",
            "graph-commit",
        ]
    by_name = templates(every, "graph-demo-sensor-deploy-graph")
    outputs = by_name["graph-select"]["outputs"]["parameters"]
    assert outputs == [
        {"name": "sdep-rank", "valueFrom": {"path": "/tmp/myelin-sdep-rank.json"}},
        {"name": "sdep-scale", "valueFrom": {"path": "/tmp/myelin-sdep-scale.json"}},
    ]
    main = by_name["main"]["steps"]
    apply_rank = next(s for group in main for s in group if s["name"] == "graph-apply-rank")
    assert apply_rank["arguments"]["parameters"] == [
        {"name": "manifest", "value": "{{steps.graph-select.outputs.parameters.sdep-rank}}"}
    ]
    build = by_name["graph-graph-node-build"]["container"]
    assert "--destination=registry.example.com/ml/myelin-graph-node:v1" in build["args"]


def test_the_graph_node_build_context_is_the_sdk_files(every: Bundle, tmp_path: Path) -> None:
    """The src step, run for real, writes graph.py, graph_node.py and the Dockerfile; the node module
    imports its contract from the graph.py beside it (as in the image)."""
    source = templates(every, "graph-demo-sensor-deploy-graph")["graph-graph-node-src"]["script"]["source"]
    root = "/axon-store/.build/{{workflow.uid}}/myelin-graph-node"
    assert root in source
    runnable = source.replace(root, str(tmp_path / "ctx"))
    result = subprocess.run(
        [sys.executable, "-I", "-"], input=runnable, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    written = {p.name: p.read_text() for p in (tmp_path / "ctx").iterdir()}
    assert written == build_context()
    assert written["Dockerfile"] == DOCKERFILE and "seldon-core==1.17.1" in DOCKERFILE
    check = (
        "import graph_node; n = graph_node.GraphNode(mode='identity'); "
        "print(n.predict_raw({'data': {'ndarray': [1]}}))"
    )
    probe = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path / 'ctx')!r}); {check}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "{'data': {'ndarray': [1]}}"


def run(source: str, store: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-"], input=source, capture_output=True, text=True,
        env={"MYELIN_STORE": str(store), "MYELIN_OUTPUT_DIR": str(out)}, timeout=60,
    )  # fmt: skip


def deploy(bundle: Bundle, template: str, store: Path, out: Path) -> list[dict[str, Any]]:
    """Run select (and commit) of ``template``: the main SDep, then the routes' files."""
    by_name = templates(bundle, template)
    selected = run(by_name["graph-select"]["script"]["source"], store, out)
    assert selected.returncode == 0, selected.stderr
    committed = run(by_name["graph-commit"]["script"]["source"], store, out)
    assert committed.returncode == 0, committed.stderr
    extra = [json.loads((out / f"myelin-sdep-{r}.json").read_text()) for r in ("rank", "scale")]
    return [json.loads(selected.stdout), *extra]


def model_paths(doc: dict[str, Any]) -> set[str]:
    return {
        e["value"]
        for p in doc["spec"]["predictors"]
        for spec in p["componentSpecs"]
        for c in spec["spec"]["containers"]
        for e in c.get("env", [])
        if e["name"] == "MODEL_PATH"
    }


def test_deploy_canary_promote_and_rollback_cover_every_route(
    every: Bundle, tmp_path: Path, schema_validator: SchemaValidator
) -> None:
    store, out = tmp_path / "store", tmp_path / "out"
    out.mkdir()

    def train(task: str, rmse: float) -> str:
        folder = store / "models" / task
        return save_version({"rmse": rmse}, lambda f: (f / "m").write_text("m"), root=folder).name

    first = {t: train(t, 0.9) for t in ("train-scaler", "train-ranker", "train-blender")}
    one = deploy(every, "graph-demo-sensor-deploy-graph", store, out)
    assert [d["metadata"]["name"] for d in one] == [
        "graph-demo-graph",
        "graph-demo-graph-rank",
        "graph-demo-graph-scale",
    ]
    assert_valid(one, schema_validator)
    assert all([p["traffic"] for p in d["spec"]["predictors"]] == [100] for d in one)

    newer = train("train-blender", 0.8)
    two = deploy(every, "graph-demo-sensor-deploy-graph", store, out)
    assert_valid(two, schema_validator)
    for doc in two:  # the canary, in every route's SeldonDeployment
        assert [p["traffic"] for p in doc["spec"]["predictors"]] == [50, 50]
        assert (
            doc["metadata"]["annotations"]["myelin.io/versions"]
            == two[0]["metadata"]["annotations"]["myelin.io/versions"]
        )
    assert f"/axon-store/models/train-blender/{newer}/" in model_paths(two[0])
    assert f"/axon-store/models/train-scaler/{first['train-scaler']}/" in model_paths(two[2])

    rolled = deploy(every, "graph-demo-graph-rollback", store, out)
    assert_valid(rolled, schema_validator)
    assert all([p["traffic"] for p in d["spec"]["predictors"]] == [100] for d in rolled)
    assert f"/axon-store/models/train-blender/{newer}/" not in model_paths(rolled[0])

    deploy(every, "graph-demo-sensor-deploy-graph", store, out)  # the canary again
    promoted = deploy(every, "graph-demo-graph-promote", store, out)
    assert all([p["traffic"] for p in d["spec"]["predictors"]] == [100] for d in promoted)
    assert f"/axon-store/models/train-blender/{newer}/" in model_paths(promoted[0])
    assert f"/axon-store/models/train-blender/{first['train-blender']}/" not in model_paths(promoted[0])


def test_a_registry_secret_mounts_the_push_credentials_in_the_graph_node_build(
    schema_validator: SchemaValidator,
) -> None:
    options = CompileOptions(namespace="ml", registry_secret="push-creds")
    bundle = compile_axon(load_path(EVERY), options)
    (wt,) = bundle.find("WorkflowTemplate", "graph-demo-sensor-deploy-graph")
    assert {
        "name": "docker-config",
        "secret": {
            "secretName": "push-creds",
            "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
        },
    } in wt["spec"]["volumes"]
    build = templates(bundle, "graph-demo-sensor-deploy-graph")["graph-graph-node-build"]["container"]
    assert {"name": "docker-config", "mountPath": "/kaniko/.docker"} in build["volumeMounts"]
    assert_valid([wt], schema_validator)
