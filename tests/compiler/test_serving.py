"""Deployers -> Seldon Core v1 ``SeldonDeployment`` (``myelin_sdk.compiler.serving``).

No Seldon operator (and no Kubernetes API server) can run here, so every produced document is checked three
ways instead:

* against the upstream CRD ``machinelearning.seldon.io_seldondeployments.yaml`` (v1), strict
  (``additionalProperties: false`` injected); the CRD leaves ``graph.children`` unchecked (``items: {}``), so
  every nested graph node is validated too, as a graph of its own;
* against the operator's admission rules, replayed from ``operator/apis/machinelearning.seldon.io/v1/
  seldondeployment_webhook.go`` (a container for every node without an implementation, traffic summing to 100
  over non-shadow predictors, at most one shadow and never alone, unique predictor names, one endpoint type);
* against the executor's routing rules (``executor/predictor/predictor_process.go``): a ``RANDOM_ABTEST`` node
  has no ``type`` (``type: ROUTER`` would call a router container), exactly two children and one ``ratioA``;
  a request goes to child 0 with probability ``ratioA``; a combiner's children all get it. From these the
  tests compute the share of traffic every backend container gets and compare it with the Axon's weights.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from myelin_sdk import Axon, CompileOptions, MyelinError
from myelin_sdk.compiler.security import container_security
from myelin_sdk.compiler.serving import (
    API_VERSION,
    KIND,
    REVIEW_LABEL,
    REVIEW_VERSION,
    ROUTE_ANNOTATION,
    VERSIONS_ANNOTATION,
    GraphVersion,
    first_deploy_review,
    first_deploy_reviews,
    seldon_deployment,
    seldon_deployments,
    served_versions,
)
from myelin_sdk.errors import UnsupportedError
from myelin_sdk.names import is_dns_label
from myelin_sdk.spec import Deployer
from myelin_sdk.spec.expressions import placeholders
from myelin_sdk.yamlio import dump

from support.manifests import strings
from support.schemas import SchemaValidator, assert_valid

PROJECT = Path(__file__).resolve().parents[2]
SHARED_AXONS = PROJECT.parent / "shared" / "axons"
EXAMPLES = SHARED_AXONS / "examples"
DEMO_2019_03 = SHARED_AXONS / "recommender-demo.2019-03.yaml"
DEMO_2019_07 = SHARED_AXONS / "recommender-demo.2019-07.yaml"
IMAGE_CLASSIFICATION = EXAMPLES / "image-classification_axon.yaml"
TEST_DEMO = EXAMPLES / "tests_test-demo_axon.yaml"
TEST_DEMO_HP = EXAMPLES / "tests_test-demo-hp_axon.yaml"
MODEL_GRAPH = EXAMPLES / "multi-model-dag_axon-model-graph.yaml"
EXTERNAL = EXAMPLES / "multi-model-dag_axon-external.yaml"
GPT2_GPU = EXAMPLES / "gpt2-demo_axon_gpu.yaml"

#: Files whose deployers use every graph form: several routes, includeInput, external and custom servers.
GRAPHS = {MODEL_GRAPH.name, EXTERNAL.name}

OPTIONS = CompileOptions(namespace="ml", registry="registry.example.com/ml", tag="v1")


# --------------------------------------------------------------------------- helpers


def shared_deployers() -> list[tuple[Path, int]]:
    """(file, n-th deployer) of every deployer in the shared Axon files."""
    out = []
    for path in sorted([*SHARED_AXONS.glob("recommender-demo.2019-*.yaml"), *EXAMPLES.glob("*.yaml")]):
        text = path.read_text()
        if "deployer:" in text and "kind: Axon" in text:
            axon = Axon.from_file(path)
            out += [(path, n) for n in range(len(list(deployers(axon))))]
    return out


def deployers(axon: Axon) -> Iterator[Deployer]:
    for sensor in axon.sensors:
        for step in sensor.tasks:
            if step.deployer is not None:
                yield step.deployer


def load(path: Path, n: int = 0) -> tuple[Axon, Deployer]:
    axon = Axon.from_file(path)
    return axon, list(deployers(axon))[n]


def versions(deployer: Deployer, count: int) -> list[GraphVersion]:
    """``count`` versions, newest first: ``v<count>`` ... ``v1``."""
    return [GraphVersion.uniform(deployer, f"v{k}") for k in range(count, 0, -1)]


def nodes(graph: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield graph
    for child in graph.get("children", []):
        yield from nodes(child)


def containers(predictor: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for spec in predictor["componentSpecs"] for c in spec["spec"]["containers"]}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def webhook_errors(doc: dict[str, Any]) -> list[str]:
    """The operator's admission checks (seldondeployment_webhook.go), the executor's RANDOM_ABTEST rules."""
    errors: list[str] = []
    spec = doc["spec"]
    predictors = spec["predictors"]
    if spec.get("protocol") not in (None, "", "seldon", "tensorflow", "kfserving", "v2"):
        errors.append("Invalid protocol")
    if not predictors:
        errors.append("Graph contains no predictors")
    if len(predictors) == 1 and predictors[0].get("shadow"):
        errors.append("Shadow can not exist as only predictor")
    names = [p["name"] for p in predictors]
    if len(set(names)) != len(names):
        errors.append("Duplicate predictor name")
    transports: set[str] = set()
    for p in predictors:
        have = containers(p)
        used = set()
        for node in nodes(p["graph"]):
            if node.get("implementation") in (None, "UNKNOWN_IMPLEMENTATION"):
                if node["name"] not in have:
                    errors.append(f"Can't find container for Predictive Unit {node['name']}")
                used.add(node["name"])
                if node.get("type") in (None, "UNKNOWN_TYPE") and not node.get("methods"):
                    errors.append(f"{node['name']}: Predictive Unit has no implementation methods defined")
            elif node["implementation"] == "RANDOM_ABTEST":
                if "type" in node:
                    errors.append(f"{node['name']}: a typed RANDOM_ABTEST node is routed by a container")
                if len(node.get("children", [])) != 2:
                    errors.append(f"{node['name']}: RANDOM_ABTEST needs exactly two children")
                params = node.get("parameters", [])
                if [(q["name"], q["type"]) for q in params] != [("ratioA", "FLOAT")]:
                    errors.append(f"{node['name']}: RANDOM_ABTEST reads exactly one FLOAT ratioA")
                elif not 0.0 <= float(params[0]["value"]) <= 1.0:
                    errors.append(f"{node['name']}: ratioA outside [0, 1]")
            else:
                errors.append(f"unexpected implementation {node['implementation']}")
            if node.get("endpoint", {}).get("type"):
                transports.add(node["endpoint"]["type"])
        sidecars = {f"{name}-server" for name in used}  # a graph node's model server, in its pod
        if set(have) - sidecars != used:
            errors.append(f"containers without a graph node: {sorted(set(have) - used - sidecars)}")
    shadows = sum(bool(p.get("shadow")) for p in predictors)
    if shadows > 1:
        errors.append("Multiple shadows are not allowed")
    traffic = sum(p.get("traffic", 0) for p in predictors if not p.get("shadow"))
    if traffic != 100 and len(predictors) - shadows > 1:
        errors.append("Traffic must sum to 100 for multiple predictors")
    if 0 < traffic < 100 and len(predictors) == 1:
        errors.append("Traffic must sum be 100 for a single predictor when set")
    if len(transports) > 1:
        errors.append("Multiple endpoint.types found")
    return errors


def nested_graph_docs(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One document per nested graph node (the CRD does not check ``children``), that node as the graph."""
    for p in doc["spec"]["predictors"]:
        for node in nodes(p["graph"]):
            if node is p["graph"]:
                continue
            single = copy.deepcopy(doc)
            alone = {k: v for k, v in node.items() if k != "children"}
            single["spec"]["predictors"] = [{"name": p["name"], "graph": alone}]
            yield single


def check(doc: dict[str, Any], validator: SchemaValidator) -> None:
    """Everything a produced document must satisfy."""
    assert doc["apiVersion"] == API_VERSION and doc["kind"] == KIND
    assert_valid(doc, validator)
    assert_valid(list(nested_graph_docs(doc)), validator, allow_empty=True)
    assert webhook_errors(doc) == []
    live = [p for p in doc["spec"]["predictors"] if not p.get("shadow")]
    assert sum(p["traffic"] for p in live) == 100
    assert all("traffic" not in p for p in doc["spec"]["predictors"] if p.get("shadow"))
    assert is_dns_label(doc["metadata"]["name"])
    for p in doc["spec"]["predictors"]:
        assert is_dns_label(p["name"])
        assert all(is_dns_label(n["name"]) for n in nodes(p["graph"]))
    assert not [s for s in strings(doc) if placeholders(s)], "an Axon {{placeholder}} reached the manifest"


def unit_shares(node: dict[str, Any]) -> dict[str, float]:
    """How often each container is called per request through ``node`` (the executor's routing)."""
    out: dict[str, float] = defaultdict(float)
    if node.get("implementation") == "RANDOM_ABTEST":
        ratio = float(node["parameters"][0]["value"])
        first, second = node["children"]
        for name, share in unit_shares(first).items():
            out[name] += ratio * share
        for name, share in unit_shares(second).items():
            out[name] += (1 - ratio) * share
        return dict(out)
    out[node["name"]] += 1.0
    for child in node.get("children", []):  # no router: every child is called
        for name, share in unit_shares(child).items():
            out[name] += share
    return dict(out)


def effective_shares(doc: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(predictor, container) -> share of all live traffic."""
    out: dict[tuple[str, str], float] = {}
    for p in doc["spec"]["predictors"]:
        if p.get("shadow"):
            continue
        for name, share in unit_shares(p["graph"]).items():
            out[(p["name"], name)] = p["traffic"] / 100 * share
    return out


def axon_with_deployer(deployer: dict[str, Any]) -> Axon:
    """The 2019-07 demo with its deployer replaced by ``deployer`` (YAML form)."""
    doc = yaml.safe_load(DEMO_2019_07.read_text())
    for sensor in doc["spec"]["sensors"]:
        for step in sensor.get("tasks", []):
            if "deployer" in step:
                step["deployer"] = deployer
    return Axon.from_yaml(yaml.safe_dump(doc))


def backends_deployer(weights: list[int], rollout: list[tuple[int, int]] | None = None) -> dict[str, Any]:
    """One model routing between ``len(weights)`` backends of the demo's trainer and deploy task."""
    names = [f"backend{i + 1}" for i in range(len(weights))]
    out: dict[str, Any] = {
        "name": "multi",
        "replicas": 1,
        "models": [
            {
                "name": "Recommender",
                "routingStrategy": [
                    {
                        "destinations": [
                            {"destinationName": n, "weight": w} for n, w in zip(names, weights, strict=True)
                        ]
                    }
                ],
                "backendModels": [
                    {"name": n, "trainer": "TrainMyelinRecommender", "deployer": "DeployMyelinRecommender"}
                    for n in names
                ],
            }
        ],
    }
    if rollout is not None:
        out["rolloutSpec"] = [
            {"destinations": [{"destinationIndex": i, "weight": w} for i, w in rollout]},
        ]
    return out


@pytest.fixture(scope="module")
def validator() -> SchemaValidator:
    return SchemaValidator()


# --------------------------------------------------------------------------- every shared deployer


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize(
    ("path", "n"), shared_deployers(), ids=lambda x: x.stem if isinstance(x, Path) else x
)
def test_every_shared_deployer_maps_or_fails_clearly(
    path: Path, n: int, count: int, validator: SchemaValidator
) -> None:
    axon, deployer = load(path, n)
    docs = seldon_deployments(axon, deployer, versions(deployer, count), OPTIONS)
    assert docs[0] == seldon_deployment(axon, deployer, versions(deployer, count), OPTIONS)
    for doc in docs:
        check(doc, validator)
        assert doc["metadata"]["namespace"] == "ml"
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "myelin" and labels["myelin.io/axon"] == axon.name
    # the review documents of the first deploy are valid too
    for doc in first_deploy_reviews(axon, deployer, OPTIONS):
        check(doc, validator)


def test_the_shared_examples_cover_the_cases() -> None:
    """The parametrized test above really sees deployers of every kind."""
    found = {path.name for path, _ in shared_deployers()}
    assert {DEMO_2019_03.name, DEMO_2019_07.name, IMAGE_CLASSIFICATION.name, TEST_DEMO.name} <= found
    assert found >= GRAPHS


# --------------------------------------------------------------------------- rollout: predictors and traffic


def test_first_deploy_is_one_predictor_at_100(validator: SchemaValidator) -> None:
    axon, deployer = load(DEMO_2019_07)
    doc = seldon_deployment(axon, deployer, versions(deployer, 1), OPTIONS)
    check(doc, validator)
    (predictor,) = doc["spec"]["predictors"]
    assert predictor["name"] == "v1" and predictor["traffic"] == 100
    assert predictor["graph"] == {
        "name": "backend-recommender",
        "type": "MODEL",
        "endpoint": {"type": "REST"},
    }
    assert doc["metadata"]["name"] == "ml-rec-recommenderdeployer"
    assert doc["spec"]["protocol"] == "seldon"


def test_canary_is_newest_and_previous_at_50_50(validator: SchemaValidator) -> None:
    axon, deployer = load(DEMO_2019_07)
    new = GraphVersion({"BackendRecommender": "20190706-1200"}, label="v7")
    old = GraphVersion({"BackendRecommender": "20190705-0900"}, label="v6")
    doc = seldon_deployment(axon, deployer, [new, old], OPTIONS)
    check(doc, validator)
    assert [(p["name"], p["traffic"]) for p in doc["spec"]["predictors"]] == [("v7", 50), ("v6", 50)]
    paths = [env_of(containers(p)["backend-recommender"])["MODEL_PATH"] for p in doc["spec"]["predictors"]]
    assert paths == [
        "/axon-store/models/train-myelin-recommender/20190706-1200/",
        "/axon-store/models/train-myelin-recommender/20190705-0900/",
    ]
    # a third version exists but rolloutSpec names only 0 and 1: it is not deployed
    older = GraphVersion({"BackendRecommender": "20190701-0000"}, label="v5")
    doc3 = seldon_deployment(axon, deployer, [new, old, older], OPTIONS)
    assert [p["name"] for p in doc3["spec"]["predictors"]] == ["v7", "v6"]


def test_the_serving_predictor_keeps_its_name_when_a_new_version_arrives() -> None:
    axon, deployer = load(DEMO_2019_07)
    v1, v2, v3 = (GraphVersion.uniform(deployer, f"r{k}") for k in (1, 2, 3))
    before = seldon_deployment(axon, deployer, [v2, v1], OPTIONS)["spec"]["predictors"]
    after = seldon_deployment(axon, deployer, [v3, v2], OPTIONS)["spec"]["predictors"]
    assert before[0] == {**after[1], "traffic": before[0]["traffic"]}


def test_legacy_2019_03_canary_and_replicas(validator: SchemaValidator) -> None:
    axon, deployer = load(DEMO_2019_03)
    assert deployer.rollout_spec == [] and deployer.deployment_type == "canary"
    first = seldon_deployment(axon, deployer, versions(deployer, 1), OPTIONS)
    check(first, validator)
    assert [(p["name"], p["traffic"]) for p in first["spec"]["predictors"]] == [("v1", 100)]
    doc = seldon_deployment(axon, deployer, versions(deployer, 2), OPTIONS)
    check(doc, validator)
    assert doc["metadata"]["name"] == "ml-rec-deployer"  # the deployer has no name
    assert [(p["name"], p["traffic"], p["replicas"]) for p in doc["spec"]["predictors"]] == [
        ("v2", 50, 2),
        ("v1", 50, 2),
    ]
    # legacy models[].{trainer,deployer}: one backend model named like the model
    predictor = doc["spec"]["predictors"][0]
    container = containers(predictor)["myelin-keras-recommender"]
    assert container["image"] == "registry.example.com/ml/deploy-myelin-recommender:v1"
    assert env_of(container)["MODEL_PATH"] == "/axon-store/models/train-myelin-recommender/v2/"
    # the 2019-03 volume is the raw ceph flexVolume, mounted at /axon-store
    (spec,) = predictor["componentSpecs"]
    assert spec["spec"]["volumes"][0]["name"] == "axon-store" and "flexVolume" in spec["spec"]["volumes"][0]
    assert container["volumeMounts"] == [{"name": "axon-store", "mountPath": "/axon-store"}]


def test_legacy_deploy_task_replicas_without_deployer_replicas(validator: SchemaValidator) -> None:
    doc = yaml.safe_load(DEMO_2019_03.read_text())
    del doc["spec"]["sensors"][1]["tasks"][0]["deployer"]["replicas"]
    axon = Axon.from_yaml(yaml.safe_dump(doc))
    deployer = next(deployers(axon))
    out = seldon_deployment(axon, deployer, versions(deployer, 2), OPTIONS)
    check(out, validator)
    for p in out["spec"]["predictors"]:
        assert "replicas" not in p
        assert [s["replicas"] for s in p["componentSpecs"]] == [2]


def test_no_rollout_spec_without_canary_is_0_100(validator: SchemaValidator) -> None:
    deployer = backends_deployer([100])
    del deployer["replicas"]
    axon = axon_with_deployer(deployer)
    d = next(deployers(axon))
    doc = seldon_deployment(axon, d, versions(d, 3), OPTIONS)
    check(doc, validator)
    assert [(p["name"], p["traffic"]) for p in doc["spec"]["predictors"]] == [("v3", 100)]


@pytest.mark.parametrize(
    ("rollout", "count", "expected"),
    [
        ([(0, 50), (1, 50)], 1, [("v1", 100)]),
        ([(0, 80), (1, 20)], 2, [("v2", 80), ("v1", 20)]),
        ([(0, 30), (1, 30), (2, 40)], 2, [("v2", 50), ("v1", 50)]),
        ([(0, 10), (1, 20), (2, 70)], 2, [("v2", 33), ("v1", 67)]),
        ([(0, 33), (1, 33), (2, 34)], 3, [("v3", 33), ("v2", 33), ("v1", 34)]),
        ([(0, 0), (1, 100)], 2, [("v2", 0), ("v1", 100)]),
        ([(0, 0), (1, 100)], 1, [("v1", 100)]),
        ([(1, 100)], 1, [("v1", 100)]),
        ([(2, 60), (0, 40)], 3, [("v1", 60), ("v3", 40)]),
    ],
)
def test_traffic_of_missing_versions_goes_to_the_existing_ones(
    rollout: list[tuple[int, int]], count: int, expected: list[tuple[str, int]], validator: SchemaValidator
) -> None:
    axon = axon_with_deployer(backends_deployer([100], rollout))
    d = next(deployers(axon))
    doc = seldon_deployment(axon, d, versions(d, count), OPTIONS)
    check(doc, validator)
    assert [(p["name"], p["traffic"]) for p in doc["spec"]["predictors"]] == expected


def test_traffic_always_sums_to_100() -> None:
    for weights in itertools.product([0, 1, 7, 33, 50], repeat=3):
        rollout = [(i, w) for i, w in enumerate(weights)]
        axon = axon_with_deployer(backends_deployer([100], rollout))
        d = next(deployers(axon))
        for count in (1, 2, 3):
            doc = seldon_deployment(axon, d, versions(d, count), OPTIONS)
            assert webhook_errors(doc) == []
            assert sum(p["traffic"] for p in doc["spec"]["predictors"]) == 100


@pytest.mark.parametrize("count", [1, 2, 3])
def test_shadow(count: int, validator: SchemaValidator) -> None:
    """tests_test-demo-hp: destinations 1:80, 2:20, shadow 0 (the newest gets a copy of the traffic)."""
    axon, deployer = load(TEST_DEMO_HP)
    doc = seldon_deployment(axon, deployer, versions(deployer, count), OPTIONS)
    check(doc, validator)
    summary = [(p["name"], p.get("traffic"), p.get("shadow", False)) for p in doc["spec"]["predictors"]]
    expected = {
        # only the newest exists: it serves (a shadow of itself, or as the only predictor, is not allowed)
        1: [("v1", 100, False)],
        # index 1 takes all the traffic, the newest is the shadow
        2: [("v1", 100, False), ("v2", None, True)],
        3: [("v2", 80, False), ("v1", 20, False), ("v3", None, True)],
    }
    assert summary == expected[count]


def test_shadow_that_also_gets_traffic_is_an_error() -> None:
    deployer = backends_deployer([100], [(0, 50), (1, 50)])
    deployer["rolloutSpec"][0]["shadow"] = {"destinationIndex": 1}
    axon = axon_with_deployer(deployer)
    d = next(deployers(axon))
    with pytest.raises(MyelinError, match=r"rolloutSpec\[0\]\.shadow\.destinationIndex.*cannot also be"):
        seldon_deployment(axon, d, versions(d, 2), OPTIONS)


def test_rollout_match_and_stages_cannot_map() -> None:
    deployer = backends_deployer([100], [(0, 100)])
    deployer["rolloutSpec"][0]["match"] = {"headers": {"x-canary": "1"}}
    deployer["rolloutSpec"].append({"destinations": [{"destinationIndex": 0, "weight": 100}]})
    axon = axon_with_deployer(deployer)
    d = next(deployers(axon))
    with pytest.raises(UnsupportedError) as err:
        seldon_deployment(axon, d, versions(d, 1), OPTIONS)
    paths = [diag.path for diag in err.value.diagnostics]
    assert paths == [
        "spec.sensors[1].tasks[0].deployer.rolloutSpec[1]",
        "spec.sensors[1].tasks[0].deployer.rolloutSpec[0].match",
    ]


# --------------------------------------------------------------------------- backends: routers


def test_image_classification_80_20_backends_80_20_rollout(validator: SchemaValidator) -> None:
    axon, deployer = load(IMAGE_CLASSIFICATION)
    new = GraphVersion({"model1": "m1-b", "model2": "m2-b"}, label="b")
    old = GraphVersion({"model1": "m1-a", "model2": "m2-a"}, label="a")
    doc = seldon_deployment(axon, deployer, [new, old], OPTIONS)
    check(doc, validator)
    predictor = doc["spec"]["predictors"][0]
    assert predictor["replicas"] == 2
    graph = predictor["graph"]
    assert graph["implementation"] == "RANDOM_ABTEST" and "type" not in graph
    assert graph["parameters"] == [{"name": "ratioA", "type": "FLOAT", "value": "0.8"}]
    assert [c["name"] for c in graph["children"]] == ["model1", "model2"]
    assert effective_shares(doc) == pytest.approx(
        {("b", "model1"): 0.64, ("b", "model2"): 0.16, ("a", "model1"): 0.16, ("a", "model2"): 0.04},
        abs=1e-12,
    )
    by_name = containers(predictor)
    assert by_name["model1"]["image"] == "registry.example.com/ml/deploy-img1-class:v1"
    assert by_name["model2"]["image"] == "registry.example.com/ml/deploy-img2-class:v1"
    assert env_of(by_name["model1"])["MODEL_PATH"] == "/axon-store/models/train-model1/m1-b/"
    assert env_of(by_name["model2"])["MODEL_PATH"] == "/axon-store/models/train-model2/m2-b/"
    assert env_of(by_name["model2"])["TASK_NAME"] == "DeployModel2"
    old_paths = [env_of(c)["MODEL_PATH"] for c in containers(doc["spec"]["predictors"][1]).values()]
    assert old_paths == ["/axon-store/models/train-model1/m1-a/", "/axon-store/models/train-model2/m2-a/"]


def test_test_demo_two_backends_of_one_trainer_serve_their_own_versions(validator: SchemaValidator) -> None:
    axon, deployer = load(TEST_DEMO)
    version = GraphVersion({"myelin-test1": "run-7", "myelin-test2": "run-9"}, label="7-9")
    doc = seldon_deployment(axon, deployer, [version], OPTIONS)
    check(doc, validator)
    by_name = containers(doc["spec"]["predictors"][0])
    assert env_of(by_name["myelin-test1"])["MODEL_PATH"] == "/axon-store/models/train-myelin-test/run-7/"
    assert env_of(by_name["myelin-test2"])["MODEL_PATH"] == "/axon-store/models/train-myelin-test/run-9/"
    # the deploy task's own env follows the runtime contract; Argo's parameters pass through to the
    # resource step that applies the manifest
    assert env_of(by_name["myelin-test1"])["PARAM1"] == "{{workflow.parameters.param1}}"
    assert [e["name"] for e in by_name["myelin-test1"]["env"]][:10] == [
        "AXON_NAME",
        "TASK_NAME",
        "TASK_ID",
        "NAMESPACE",
        "MYELIN_NAMESPACE",  # read by the original myelin client at import
        "PUSHGATEWAY_NAMESPACE",
        "DATA_PATH",
        "MODEL_PATH",
        "MYELIN_MODEL_ROOT",
        "PUSHGATEWAY_URL",
    ]
    # the model server's registry is its trainer's (the deploy task's own folder holds no versions)
    assert env_of(by_name["myelin-test1"])["MYELIN_MODEL_ROOT"] == "/axon-store/models/train-myelin-test/"
    assert env_of(by_name["myelin-test1"])["DATA_PATH"] == "/axon-store/data/"
    assert effective_shares(doc) == pytest.approx(
        {("7-9", "myelin-test1"): 0.8, ("7-9", "myelin-test2"): 0.2}, abs=1e-12
    )


@pytest.mark.parametrize(
    "weights",
    [[100], [50, 50], [80, 20], [1, 99], [50, 30, 20], [34, 33, 33], [1, 1, 98], [10, 20, 30, 40], [5] * 20],
)
def test_nested_routers_give_every_backend_its_weight(weights: list[int], validator: SchemaValidator) -> None:
    axon = axon_with_deployer(backends_deployer(weights, [(0, 100)]))
    d = next(deployers(axon))
    doc = seldon_deployment(axon, d, versions(d, 1), OPTIONS)
    check(doc, validator)
    shares = effective_shares(doc)
    assert set(shares) == {("v1", f"backend{i + 1}") for i in range(len(weights))}
    for i, weight in enumerate(weights):
        assert shares[("v1", f"backend{i + 1}")] == pytest.approx(weight / 100, abs=1e-9)
    routers = [n for n in nodes(doc["spec"]["predictors"][0]["graph"]) if "implementation" in n]
    assert len(routers) == len(weights) - 1
    assert len({n["name"] for n in routers}) == len(routers)


def test_backends_without_traffic_are_not_deployed(validator: SchemaValidator) -> None:
    axon = axon_with_deployer(backends_deployer([70, 0, 30], [(0, 100)]))
    d = next(deployers(axon))
    doc = seldon_deployment(axon, d, versions(d, 1), OPTIONS)
    check(doc, validator)
    assert set(containers(doc["spec"]["predictors"][0])) == {"backend1", "backend3"}
    assert effective_shares(doc) == pytest.approx({("v1", "backend1"): 0.7, ("v1", "backend3"): 0.3})


def test_backends_without_routing_strategy_share_equally(validator: SchemaValidator) -> None:
    deployer = backends_deployer([1, 1, 1], [(0, 100)])
    del deployer["models"][0]["routingStrategy"]
    axon = axon_with_deployer(deployer)
    d = next(deployers(axon))
    doc = seldon_deployment(axon, d, versions(d, 1), OPTIONS)
    check(doc, validator)
    assert all(share == pytest.approx(1 / 3, abs=1e-9) for share in effective_shares(doc).values())


# --------------------------------------------------------------------------- DAG routes


def model_graph_doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(MODEL_GRAPH.read_text())
    return doc


def graph_deployer(doc: dict[str, Any]) -> dict[str, Any]:
    deployer: dict[str, Any] = doc["spec"]["sensors"][3]["tasks"][0]["deployer"]
    return deployer


def params(node: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in node.get("parameters", [])}


def test_model_graph_example_maps_every_route(validator: SchemaValidator) -> None:
    """/predict1, /predict2 and /predict: one SeldonDeployment each, named and annotated after the route;
    DeployModel3 (a Dockerfile-built custom server, with includeInput) is a graph-node COMBINER."""
    axon, deployer = load(MODEL_GRAPH)
    version = GraphVersion({"model1": "a", "model2": "b", "model3": "c"}, label="g1")
    docs = seldon_deployments(axon, deployer, [version], OPTIONS)
    for doc in docs:
        check(doc, validator)
    assert [d["metadata"]["name"] for d in docs] == [
        "multi-model-graph-graph-deployer",
        "multi-model-graph-graph-deployer-predict1",
        "multi-model-graph-graph-deployer-predict2",
    ]
    assert [d["metadata"]["annotations"][ROUTE_ANNOTATION] for d in docs] == [
        "/predict",
        "/predict1",
        "/predict2",
    ]
    assert [d["metadata"]["labels"]["myelin.io/route"] for d in docs] == ["predict", "predict1", "predict2"]
    # every SeldonDeployment serves the same versions
    assert {d["metadata"]["annotations"][VERSIONS_ANNOTATION] for d in docs} == {
        '[{"label":"g1","models":{"model1":"a","model2":"b","model3":"c"}}]'
    }
    main, one, two = (d["spec"]["predictors"][0] for d in docs)
    assert one["graph"] == {"name": "model1", "type": "MODEL", "endpoint": {"type": "REST"}}
    assert two["graph"] == {"name": "model2", "type": "MODEL", "endpoint": {"type": "REST"}}
    graph = main["graph"]
    assert (graph["name"], graph["type"]) == ("deploy-model3", "COMBINER")
    assert params(graph) == {
        "mode": "combine",
        "target": "http://localhost:5000/predict",
        "protocol": "custom",
        "names": '["DeployModel1", "DeployModel2", "INPUT"]',
    }
    children = graph["children"]
    assert [c["name"] for c in children] == ["model1", "model2", "deploy-model3-input"]
    # the feedback route names DeployModel1 only: model2 is behind a graph node that keeps the feedback
    assert "parameters" not in children[0]
    assert params(children[1]) == {
        "mode": "forward",
        "target": "http://localhost:9001/api/v1.0/predictions",
        "protocol": "seldon",
    }
    assert params(children[2]) == {"mode": "identity"}
    by_name = containers(main)
    image = "registry.example.com/ml/myelin-graph-node:v1"
    assert by_name["deploy-model3"] == {
        "name": "deploy-model3",
        "image": image,
        "securityContext": container_security("image"),  # restricted (compiler.security)
    }
    sidecar = by_name["deploy-model3-server"]
    assert sidecar["image"] == "registry.example.com/ml/model-graph-model3-deploy:v1"
    assert env_of(sidecar)["PORT"] == "5000"
    assert env_of(sidecar)["MODEL_PATH"] == "/axon-store/models/train-model3/c/"
    model2 = env_of(by_name["model2-server"])
    assert model2["PREDICTIVE_UNIT_HTTP_SERVICE_PORT"] == "9001"
    assert model2["MODEL_PATH"] == "/axon-store/models/train-model2/b/"
    assert unit_shares(graph) == {
        "deploy-model3": 1.0,
        "model1": 1.0,
        "model2": 1.0,
        "deploy-model3-input": 1.0,
    }


def test_model_graph_feedback_to_every_model_keeps_them_plain(validator: SchemaValidator) -> None:
    """Without includeInput and with feedback to both leaves, the s2i (Seldon class) leaves are plain MODEL
    nodes, which get Seldon's feedback themselves."""
    doc = model_graph_doc()
    deployer = graph_deployer(doc)
    deployer["routes"] = [r for r in deployer["routes"] if r["path"] in ("/predict", "/send-feedback")]
    del deployer["routes"][0]["dag"][0]["includeInput"]
    deployer["routes"][1]["dag"].append({"model": "DeployModel2", "path": "/send-feedback"})
    axon = Axon.from_yaml(yaml.safe_dump(doc))
    d = next(deployers(axon))
    version = GraphVersion({"model1": "a", "model2": "b", "model3": "c"}, label="g1")
    (out,) = seldon_deployments(axon, d, [version], OPTIONS)
    check(out, validator)
    assert ROUTE_ANNOTATION not in out["metadata"]["annotations"]  # one route: served at /predict
    graph = out["spec"]["predictors"][0]["graph"]
    assert (graph["name"], graph["type"]) == ("deploy-model3", "COMBINER")
    assert params(graph)["names"] == '["DeployModel1", "DeployModel2"]'
    assert [(c["name"], c["type"], "parameters" in c) for c in graph["children"]] == [
        ("model1", "MODEL", False),
        ("model2", "MODEL", False),
    ]


@pytest.mark.parametrize(
    ("feedback", "message"),
    [
        (
            [{"model": "DeployModel3"}],
            r"routes\[1\]\.dag\[0\]\.model: model 'DeployModel3' has dependencies .*"
            r"no feedback to a COMBINER",
        ),
        (
            [{"model": "DeployModel1", "dependencies": ["DeployModel2"]}],
            r"routes\[1\]\.dag\[0\]\.dependencies: a feedback route cannot have dependencies",
        ),
        (
            [{"model": "DeployModel1", "path": "/feedback1"}],
            r"routes\[1\]\.dag\[0\]\.path: calling model 'DeployModel1' at '/feedback1'",
        ),
    ],
)
def test_feedback_that_seldon_cannot_deliver_is_refused(feedback: list[dict[str, Any]], message: str) -> None:
    doc = model_graph_doc()
    deployer = graph_deployer(doc)
    deployer["routes"] = [r for r in deployer["routes"] if r["path"] in ("/predict", "/send-feedback")]
    deployer["routes"][1]["dag"] = feedback
    axon = Axon.from_yaml(yaml.safe_dump(doc))
    d = next(deployers(axon))
    with pytest.raises(UnsupportedError, match=message):
        seldon_deployment(axon, d, [GraphVersion.uniform(d, "x")], OPTIONS)


def test_feedback_to_a_model_outside_the_predict_graph_is_refused() -> None:
    doc = model_graph_doc()
    deployer = graph_deployer(doc)
    deployer["routes"] = [
        r for r in deployer["routes"] if r["path"] in ("/predict1", "/predict2", "/send-feedback")
    ]
    deployer["routes"][0]["path"] = "/predict"
    deployer["routes"][2]["dag"] = [{"model": "DeployModel2"}]
    axon = Axon.from_yaml(yaml.safe_dump(doc))
    d = next(deployers(axon))
    with pytest.raises(
        UnsupportedError, match=r"routes\[2\]\.dag\[0\]\.model: model 'DeployModel2' is not in the graph"
    ):
        seldon_deployment(axon, d, [GraphVersion.uniform(d, "x")], OPTIONS)


def test_feedback_without_a_predict_route_among_several_is_refused() -> None:
    doc = model_graph_doc()
    deployer = graph_deployer(doc)
    deployer["routes"] = [r for r in deployer["routes"] if r["path"] != "/predict"]
    axon = Axon.from_yaml(yaml.safe_dump(doc))
    d = next(deployers(axon))
    with pytest.raises(
        UnsupportedError, match=r"routes\[2\]: Seldon sends feedback through the graph of /predict"
    ):
        seldon_deployment(axon, d, [GraphVersion.uniform(d, "x")], OPTIONS)


def dag_deployer(dag: list[dict[str, Any]], models: list[str], backends: int = 1) -> dict[str, Any]:
    return {
        "name": "dag",
        "models": [
            {
                "name": m,
                "backendModels": [
                    {
                        "name": f"{m}-b{k}",
                        "trainer": "TrainMyelinRecommender",
                        "deployer": "DeployMyelinRecommender",
                    }
                    for k in range(backends if m == models[0] else 1)
                ],
                **(
                    {
                        "routingStrategy": [
                            {
                                "destinations": [
                                    {"destinationName": f"{m}-b{k}", "weight": 100 // backends}
                                    for k in range(backends)
                                ]
                            }
                        ]
                    }
                    if m == models[0] and backends > 1
                    else {}
                ),
            }
            for m in models
        ],
        "routes": [{"path": "/predict", "dag": dag}],
    }


@pytest.mark.parametrize(
    ("dag", "message"),
    [
        ([{"model": "A"}, {"model": "B"}], r"routes\[0\]\.dag: the DAG has 2 final models \('A', 'B'\)"),
        (
            [{"model": "A", "dependencies": ["B"]}, {"model": "B", "dependencies": ["A"]}],
            r"the DAG has 0 final models",
        ),
        (
            [
                {"model": "A", "dependencies": ["B"]},
                {"model": "B"},
                {"model": "C", "dependencies": ["D"]},
                {"model": "D", "dependencies": ["C"]},
            ],
            r"cycle",
        ),
        ([{"model": "A", "dependencies": ["Z"]}], r"dependencies\[0\]: dependency 'Z' is not an entry"),
        ([{"model": "A", "path": "/predict1"}], r"dag\[0\]\.path: calling model 'A' at '/predict1'"),
    ],
)
def test_dags_without_one_final_model_fail_clearly(dag: list[dict[str, Any]], message: str) -> None:
    axon = axon_with_deployer(dag_deployer(dag, ["A", "B", "C", "D"]))
    d = next(deployers(axon))
    with pytest.raises(MyelinError, match=message):
        seldon_deployment(axon, d, [GraphVersion.uniform(d, "x")], OPTIONS)


def test_a_model_feeding_two_others_is_repeated_under_unique_names(validator: SchemaValidator) -> None:
    """A DAG, not only a tree: C feeds A and B, B feeds A; C's node appears twice."""
    dag: list[dict[str, Any]] = [
        {"model": "A", "dependencies": ["C", "B"]},
        {"model": "B", "dependencies": ["C"]},
        {"model": "C"},
    ]
    axon = axon_with_deployer(dag_deployer(dag, ["A", "B", "C"]))
    d = next(deployers(axon))
    doc = seldon_deployment(axon, d, [GraphVersion.uniform(d, "x")], OPTIONS)
    check(doc, validator)
    graph = doc["spec"]["predictors"][0]["graph"]
    assert [n["name"] for n in nodes(graph)] == ["a", "c-b0", "b", "c-b0-2"]
    assert params(graph)["names"] == '["C", "B"]'
    assert params(graph["children"][1])["names"] == '["C"]'
    # both copies of C run its container; A and B are graph nodes with the model's server beside them
    predictor = doc["spec"]["predictors"][0]
    assert sorted(containers(predictor)) == ["a", "a-server", "b", "b-server", "c-b0", "c-b0-2"]
    assert unit_shares(graph) == {"a": 1.0, "c-b0": 1.0, "b": 1.0, "c-b0-2": 1.0}


def test_a_combiner_with_two_backends_is_a_router_over_two_combiners(validator: SchemaValidator) -> None:
    """Each backend of a model with dependencies combines its own copy of the dependencies."""
    dag: list[dict[str, Any]] = [{"model": "A", "dependencies": ["B"]}, {"model": "B"}]
    axon = axon_with_deployer(dag_deployer(dag, ["A", "B"], backends=2))
    d = next(deployers(axon))
    doc = seldon_deployment(axon, d, [GraphVersion.uniform(d, "x")], OPTIONS)
    check(doc, validator)
    graph = doc["spec"]["predictors"][0]["graph"]
    assert graph["implementation"] == "RANDOM_ABTEST" and graph["name"] == "a-router"
    assert [(c["name"], c["type"]) for c in graph["children"]] == [("a-b0", "COMBINER"), ("a-b1", "COMBINER")]
    assert unit_shares(graph) == pytest.approx({"a-b0": 0.5, "a-b1": 0.5, "b-b0": 0.5, "b-b0-2": 0.5})
    by_name = containers(doc["spec"]["predictors"][0])
    assert {"a-b0-server", "a-b1-server", "b-b0", "b-b0-2"} <= set(by_name)


def test_a_dependency_with_two_backends_is_a_router_under_the_combiner(validator: SchemaValidator) -> None:
    dag: list[dict[str, Any]] = [{"model": "B", "dependencies": ["A", "C"]}, {"model": "A"}, {"model": "C"}]
    axon = axon_with_deployer(dag_deployer(dag, ["A", "B", "C"], backends=2))
    d = next(deployers(axon))
    doc = seldon_deployment(axon, d, [GraphVersion.uniform(d, "x")], OPTIONS)
    check(doc, validator)
    graph = doc["spec"]["predictors"][0]["graph"]
    assert graph["type"] == "COMBINER" and graph["name"] == "b"
    assert graph["children"][0]["implementation"] == "RANDOM_ABTEST"
    assert unit_shares(graph) == pytest.approx({"b": 1.0, "a-b0": 0.5, "a-b1": 0.5, "c-b0": 1.0})
    assert env_of(containers(doc["spec"]["predictors"][0])["b-server"])["MODEL_PATH"].endswith("/x/")


def test_external_models_are_graph_nodes_calling_their_url(validator: SchemaValidator) -> None:
    """DeployModel1 feeds DeployModel3 and DeployModel4: repeated; DeployModel3 is an external combiner."""
    axon, deployer = load(EXTERNAL, 1)
    (doc,) = seldon_deployments(axon, deployer, versions(deployer, 1), OPTIONS)
    check(doc, validator)
    graph = doc["spec"]["predictors"][0]["graph"]
    assert [n["name"] for n in nodes(graph)] == [
        "deploy-model4",
        "deploy-model1",
        "deploy-model3",
        "deploy-model1-2",
        "deploy-model2",
        "deploy-model3-input",
        "deploy-model4-input",
    ]
    model1 = "http://model-graph-deploymodel1-3172009960-model1:5000/predict"
    assert params(graph["children"][0]) == {"mode": "forward", "target": model1, "protocol": "custom"}
    external = graph["children"][1]
    assert external["type"] == "COMBINER"
    assert params(external) == {
        "mode": "combine",
        "target": "http://model-graph-deploymodel3-3172009960-model3:5000/predict",
        "protocol": "custom",
        "names": '["DeployModel1", "DeployModel2", "INPUT"]',
    }
    # only DeployModel4 is deployed: its own server beside its combiner; external models have no container
    by_name = containers(doc["spec"]["predictors"][0])
    assert "deploy-model4-server" in by_name and "deploy-model3-server" not in by_name
    assert {c["image"] for n, c in by_name.items() if n != "deploy-model4-server"} == {
        "registry.example.com/ml/myelin-graph-node:v1"
    }


def test_an_external_model_with_another_rest_type_is_refused() -> None:
    axon, deployer = load(EXTERNAL, 1)
    deployer.routes[0].dag[1].endpoint_rest_type = "Json"
    with pytest.raises(UnsupportedError, match=r"routes\[0\]\.dag\[1\]\.endpointRestType: external model"):
        seldon_deployment(axon, deployer, versions(deployer, 1), OPTIONS)


def test_path_argument_names_the_field() -> None:
    axon, deployer = load(EXTERNAL, 1)
    deployer.routes[0].dag[1].endpoint_rest_type = "Json"
    with pytest.raises(UnsupportedError) as err:
        seldon_deployment(axon, deployer, versions(deployer, 1), OPTIONS, path="deployers[4]")
    assert [d.path for d in err.value.diagnostics] == ["deployers[4].routes[0].dag[1].endpointRestType"]


def test_any_other_route_gets_a_seldon_deployment_of_its_own(validator: SchemaValidator) -> None:
    deployer = backends_deployer([100])
    deployer["routes"] = [
        {"path": "/explain", "dag": [{"model": "Recommender"}]},
        {"path": "/predict", "dag": [{"model": "Recommender"}]},
    ]
    axon = axon_with_deployer(deployer)
    d = next(deployers(axon))
    docs = seldon_deployments(axon, d, versions(d, 1), OPTIONS)
    for doc in docs:
        check(doc, validator)
    assert [(x["metadata"]["name"], x["metadata"]["annotations"][ROUTE_ANNOTATION]) for x in docs] == [
        ("ml-rec-multi", "/predict"),
        ("ml-rec-multi-explain", "/explain"),
    ]


def test_routes_whose_names_collide_are_an_error() -> None:
    deployer = backends_deployer([100])
    deployer["routes"] = [
        {"path": "/predict", "dag": [{"model": "Recommender"}]},
        {"path": "/api/v1.0/predictions", "dag": [{"model": "Recommender"}]},
        {"path": "/v1/score", "dag": [{"model": "Recommender"}]},
        {"path": "/v1-score", "dag": [{"model": "Recommender"}]},
    ]
    axon = axon_with_deployer(deployer)
    d = next(deployers(axon))
    with pytest.raises(MyelinError) as err:
        seldon_deployment(axon, d, versions(d, 1), OPTIONS)
    assert [x.path for x in err.value.diagnostics] == [
        "spec.sensors[1].tasks[0].deployer.routes[1].path",
        "spec.sensors[1].tasks[0].deployer.routes[3].path",
    ]
    assert "their names collide" in str(err.value)


def test_a_grpc_server_behind_a_graph_node_is_refused() -> None:
    dag: list[dict[str, Any]] = [{"model": "A", "dependencies": ["B"]}, {"model": "B"}]
    axon = axon_with_deployer(dag_deployer(dag, ["A", "B"]))
    axon.task("DeployMyelinRecommender").deploy.endpoint_type = "GRPC"  # type: ignore[union-attr]
    d = next(deployers(axon))
    with pytest.raises(
        UnsupportedError, match=r"spec\.tasks\[\d+\]\.deploy\.endpointType: .*calls it over REST"
    ):
        seldon_deployment(axon, d, [GraphVersion.uniform(d, "x")], OPTIONS)


def test_no_predict_route_is_an_error() -> None:
    deployer = backends_deployer([100])
    deployer["routes"] = [{"path": "/send-feedback", "dag": [{"model": "Recommender"}]}]
    axon = axon_with_deployer(deployer)
    d = next(deployers(axon))
    with pytest.raises(MyelinError, match=r"deployer\.routes: no predict route"):
        seldon_deployment(axon, d, versions(d, 1), OPTIONS)


# --------------------------------------------------------------------------- containers


def test_gpu_resources_and_node_selector(validator: SchemaValidator) -> None:
    axon, deployer = load(GPT2_GPU)
    doc = seldon_deployment(axon, deployer, versions(deployer, 1), OPTIONS)
    check(doc, validator)
    (spec,) = doc["spec"]["predictors"][0]["componentSpecs"]
    assert spec["spec"]["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-p4"}
    (container,) = spec["spec"]["containers"]
    assert container["resources"] == {"limits": {"nvidia.com/gpu": "1"}}
    assert env_of(container)["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib64:/usr/local/nvidia/bin"


def test_an_axon_without_a_shared_volume_cannot_serve() -> None:
    doc = yaml.safe_load(DEMO_2019_07.read_text())
    del doc["spec"]["volumeClaimTemplate"]
    for task in doc["spec"]["tasks"]:  # s2i builds need the volume too: use prebuilt images
        body = next(iter(v for k, v in task.items() if k != "name"))
        body.pop("imageBuild", None)
        body["image"] = f"example/{task['name'].lower()}:1"
    axon = Axon.from_yaml(yaml.safe_dump(doc))
    d = next(deployers(axon))
    with pytest.raises(MyelinError, match=r"needs the axon's shared volume"):
        seldon_deployment(axon, d, versions(d, 1), OPTIONS)


def test_prebuilt_image_and_command() -> None:
    doc = yaml.safe_load(DEMO_2019_07.read_text())
    deploy = next(t for t in doc["spec"]["tasks"] if t["name"] == "DeployMyelinRecommender")
    deploy["deploy"] = {"image": "example/recommender:1.0", "command": ["seldon-core-microservice"]}
    axon = Axon.from_yaml(yaml.safe_dump(doc))
    d = next(deployers(axon))
    container = containers(seldon_deployment(axon, d, versions(d, 1), OPTIONS)["spec"]["predictors"][0])
    assert container["backend-recommender"]["image"] == "example/recommender:1.0"
    assert container["backend-recommender"]["command"] == ["seldon-core-microservice"]


def test_pod_labels_name_the_version_and_backend() -> None:
    axon, deployer = load(IMAGE_CLASSIFICATION)
    doc = seldon_deployment(axon, deployer, versions(deployer, 1), OPTIONS)
    labels = [s["metadata"]["labels"] for s in doc["spec"]["predictors"][0]["componentSpecs"]]
    assert [(x["myelin.io/version"], x["myelin.io/backend"], x["myelin.io/deployer"]) for x in labels] == [
        ("v1", "model1", "deployer"),
        ("v1", "model2", "deployer"),
    ]
    assert all(x["myelin.io/axon"] == axon.name for x in labels)


# --------------------------------------------------------------------------- versions


def test_first_deploy_review(validator: SchemaValidator) -> None:
    axon, deployer = load(IMAGE_CLASSIFICATION)
    doc = first_deploy_review(axon, deployer, OPTIONS)
    check(doc, validator)
    (predictor,) = doc["spec"]["predictors"]
    assert predictor["name"] == REVIEW_LABEL == "first" and predictor["traffic"] == 100
    paths = {name: env_of(c)["MODEL_PATH"] for name, c in containers(predictor).items()}
    assert paths == {
        "model1": f"/axon-store/models/train-model1/{REVIEW_VERSION}/",
        "model2": f"/axon-store/models/train-model2/{REVIEW_VERSION}/",
    }
    assert REVIEW_VERSION == "latest"


def test_served_versions_round_trip() -> None:
    axon, deployer = load(IMAGE_CLASSIFICATION)
    new = GraphVersion({"model1": "m1-b", "model2": "m2-b"}, label="b")
    old = GraphVersion({"model1": "m1-a", "model2": "m2-a"}, label="a")
    doc = seldon_deployment(axon, deployer, [new, old], OPTIONS)
    assert served_versions(doc) == [new, old]
    assert json.loads(doc["metadata"]["annotations"][VERSIONS_ANNOTATION])[0]["label"] == "b"
    assert served_versions({"metadata": {}}) == []
    # the next deploy puts its new version in front
    newer = GraphVersion({"model1": "m1-c", "model2": "m2-c"}, label="c")
    nxt = seldon_deployment(axon, deployer, [newer, *served_versions(doc)], OPTIONS)
    assert [p["name"] for p in nxt["spec"]["predictors"]] == ["c", "b"]
    assert served_versions(nxt) == [newer, new]


def test_graph_version_value_semantics() -> None:
    a = GraphVersion({"y": "2", "x": "1"}, label="v1")
    b = GraphVersion({"x": "1", "y": "2"}, label="v1")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert list(a.models) == ["x", "y"]
    source = {"x": "1"}
    c = GraphVersion(source, label="v")
    source["x"] = "changed"
    assert c.models == {"x": "1"}
    assert GraphVersion({}, label="Release_2019.07").predictor_name == "release-2019-07"


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "x\0"])
def test_graph_version_rejects_names_that_are_not_folders(bad: str) -> None:
    with pytest.raises(ValueError, match="not a folder name"):
        GraphVersion({"backend": bad}, label="v1")


@pytest.mark.parametrize("bad", ["", "___"])
def test_graph_version_needs_a_dns_safe_label(bad: str) -> None:
    with pytest.raises(ValueError):
        GraphVersion({"backend": "1"}, label=bad)


def test_missing_backend_version_and_equal_labels_are_errors() -> None:
    axon, deployer = load(IMAGE_CLASSIFICATION)
    with pytest.raises(MyelinError, match=r"versions\[0\] \(label 'v'\) has no model version for .*'model2'"):
        seldon_deployment(axon, deployer, [GraphVersion({"model1": "1"}, label="v")], OPTIONS)
    same = GraphVersion.uniform(deployer, "x")
    with pytest.raises(MyelinError, match=r"both give the predictor name 'x'"):
        seldon_deployment(axon, deployer, [same, same], OPTIONS)
    with pytest.raises(ValueError, match="at least one version"):
        seldon_deployment(axon, deployer, [], OPTIONS)


# --------------------------------------------------------------------------- determinism


def test_deterministic() -> None:
    """Same input, same bytes: also from an axon loaded again, and with the versions in a tuple."""
    cases = shared_deployers()

    def render(path: Path, n: int, as_tuple: bool) -> str:
        axon, deployer = load(path, n)
        vs = versions(deployer, 2)
        return "".join(
            dump(d) for d in seldon_deployments(axon, deployer, tuple(vs) if as_tuple else vs, OPTIONS)
        )

    first = [render(path, n, False) for path, n in cases]
    assert first == [render(path, n, True) for path, n in cases]
    assert "&id" not in "".join(first), "shared objects would become YAML aliases"


def test_independent_of_version_mapping_order() -> None:
    axon, deployer = load(IMAGE_CLASSIFICATION)
    one = seldon_deployment(
        axon, deployer, [GraphVersion({"model1": "a", "model2": "b"}, label="v")], OPTIONS
    )
    two = seldon_deployment(
        axon, deployer, [GraphVersion({"model2": "b", "model1": "a"}, label="v")], OPTIONS
    )
    assert dump(one) == dump(two)


def test_a_node_named_like_a_sidecar_container_is_an_error() -> None:
    """Model A (with dependencies) runs its server as container ``a-server``: a backend of that name
    would give a second container of the same name in the predictor."""
    dag: list[dict[str, Any]] = [{"model": "A", "dependencies": ["B"]}, {"model": "B"}]
    deployer = dag_deployer(dag, ["A", "B"])
    deployer["models"][1]["backendModels"][0]["name"] = "a-server"
    axon = axon_with_deployer(deployer)
    d = next(deployers(axon))
    with pytest.raises(MyelinError, match="graph node and container names collide: a-server"):
        seldon_deployment(axon, d, [GraphVersion.uniform(d, "x")], OPTIONS)


def test_a_backend_name_with_no_letter_or_digit_is_an_error_at_its_path() -> None:
    """Found by tests/test_fuzz.py: ``{{{{`` gives no Kubernetes name; lint must say so, not raise."""
    from myelin_sdk.lint import lint_axon

    dag: list[dict[str, Any]] = [{"model": "A"}]
    deployer = dag_deployer(dag, ["A"])
    deployer["models"][0]["backendModels"][0]["name"] = "{{{{"
    axon = axon_with_deployer(deployer)
    d = next(deployers(axon))
    with pytest.raises(MyelinError, match=r"backendModels\[0\]\.name: backend model '\{\{\{\{' cannot name"):
        seldon_deployment(axon, d, [GraphVersion.uniform(d, "x")], OPTIONS)
    assert any("cannot name a container" in d.message for d in lint_axon(axon))
