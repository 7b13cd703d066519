"""``myelin list``, ``get``, ``status`` and ``endpoint``: reading an axon back from the cluster; their
``-o json|yaml`` and ``-A``; and ``myelin logs -f`` streaming a pod's log.

No Kubernetes API server can run here; these tests check the client against a local server playing the
documented API contract (tests/support/fake_apiserver.py), asserting the exact requests sent and the output.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from myelin_sdk.cluster import connect
from myelin_sdk.cluster import inspect as inspect_module
from myelin_sdk.compiler import CompileOptions, compile_axon
from myelin_sdk.loader import load_path

from support.fake_apiserver import (
    DEMO,
    FakeAPIServer,
    pod,
    run_cli,
    seldon_deployment,
    sensor,
    serve_demo,
    serve_in,
    workflow,
)

SELECTOR = "app.kubernetes.io/part-of=myelin,myelin.io/axon=ml-rec"
VERSIONS = [
    {"label": "v2", "models": {"BackendRecommender": "20240102-1200"}},
    {"label": "v1", "models": {"BackendRecommender": "20240101-0900"}},
]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("MYELIN_INGRESS_URL", raising=False)
    monkeypatch.setattr(inspect_module, "now", lambda: datetime(2024, 1, 3, tzinfo=UTC))


def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **config: object) -> FakeAPIServer:
    return serve_in("ml", tmp_path, monkeypatch, **config)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAPIServer]:
    """The demo submitted to ``ml``, with two runs, sensor status and a deployment."""
    server = serve_demo("ml", tmp_path, monkeypatch)
    populate(server)
    server.requests.clear()
    yield server
    server.stop()


def populate(server: FakeAPIServer) -> None:
    if "argo-events" in server.installed:
        for name in ("ml-rec-deployment-decision-maker", "ml-rec-post-deployment-decision-maker"):
            server.objects.pop(("argoproj.io", "sensors", "ml", name), None)
        server.add(
            sensor(
                "ml-rec-deployment-decision-maker",
                [("Deployed", "True", ""), ("TriggersProvided", "True", "")],
            )
        )
        server.add(
            sensor(
                "ml-rec-post-deployment-decision-maker",
                [("Deployed", "False", "eventbus default not found"), ("TriggersProvided", "True", "")],
            )
        )
    server.objects.pop(("argoproj.io", "workflows", "ml", "ml-rec-train-on-start-start"), None)
    server.add(
        workflow(
            "ml-rec-train-on-start-start",
            "Succeeded",
            template="ml-rec-sensor-train-on-start",
            startedAt="2024-01-01T10:00:00Z",
            finishedAt="2024-01-01T10:30:00Z",
        )
    )
    server.add(
        workflow(
            "ml-rec-deployment-decision-maker-x7k2p",
            "Failed",
            template="ml-rec-sensor-deployment-decision-maker",
            sensor="ml-rec-deployment-decision-maker",
            startedAt="2024-01-02T08:00:00Z",
            finishedAt="2024-01-02T08:05:00Z",
            message="child 'deploy' failed",
        ),
        created="2024-01-02T08:00:00Z",
    )
    if "seldon-core" in server.installed:
        server.add(
            seldon_deployment("ml-rec-recommenderdeployer", "Available", [("v2", 80), ("v1", 20)], VERSIONS),
            created="2024-01-02T12:00:00Z",
        )
    # another axon, and an object of no axon: never shown for ml-rec
    server.add(workflow("other-run", "Running", axon="other", template="other-t"))
    server.add({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})


run = run_cli


def lists(api: FakeAPIServer) -> list[tuple[str, str]]:
    """(path, labelSelector) of the LISTs sent."""
    return [(r.path, r.query["labelSelector"][0]) for r in api.requests if "labelSelector" in r.query]


# --- list ---------------------------------------------------------------------------------------------


def test_list_counts_the_axons_of_the_namespace(
    api: FakeAPIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "list", "-n", "ml")
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "AXON    TEMPLATES  SENSORS  DEPLOYMENTS  RUNS",
        "ml-rec  8          2        1            2",
        "other   0          0        0            1",
    ]
    assert lists(api) == [
        ("/apis/argoproj.io/v1alpha1/namespaces/ml/workflowtemplates", "app.kubernetes.io/part-of=myelin"),
        ("/apis/argoproj.io/v1alpha1/namespaces/ml/sensors", "app.kubernetes.io/part-of=myelin"),
        (
            "/apis/machinelearning.seldon.io/v1/namespaces/ml/seldondeployments",
            "app.kubernetes.io/part-of=myelin",
        ),
        ("/apis/argoproj.io/v1alpha1/namespaces/ml/workflows", "app.kubernetes.io/part-of=myelin"),
    ]
    assert not api.writes()


def test_list_json_and_the_context_namespace(api: FakeAPIServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "-o", "json")  # no -n: the context's namespace (ml)
    assert code == 0
    assert json.loads(out) == {
        "namespace": "ml",
        "axons": [
            {"name": "ml-rec", "namespace": "ml", "templates": 8, "sensors": 2, "deployments": 1, "runs": 2},
            {"name": "other", "namespace": "ml", "templates": 0, "sensors": 0, "deployments": 0, "runs": 1},
        ],
        "missing": [],
    }


def test_list_without_seldon_shows_a_dash_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = serve(tmp_path, monkeypatch, installed=("argo-workflows", "argo-events", "prometheus-operator"))
    try:
        populate(api)
        code, out, err = run(capsys, "list", "-n", "ml")
        assert code == 0
        assert out.splitlines()[1] == "ml-rec  0          2        -            2"
        assert err == (
            "note: Seldon Core v1 is not installed in this cluster: the `seldondeployments.machinelearning."
            "seldon.io` CRD was not found — see docs/install.md\n"
        )
        code, out, _ = run(capsys, "list", "-n", "default")
        assert out == "no axons in namespace default\n"
    finally:
        api.stop()


# --- get ----------------------------------------------------------------------------------------------


def test_get_lists_every_object_of_the_axon_in_bundle_order(
    api: FakeAPIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "get", "ml-rec", "-n", "ml")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["KIND", "NAME", "AGE"]
    rows = [line.split() for line in lines[1:]]
    assert [r[0] for r in rows] == (
        ["ServiceAccount", "Role", "RoleBinding", "PersistentVolumeClaim"]
        + ["WorkflowTemplate"] * 8
        + ["EventSource", "NetworkPolicy", "Sensor", "Sensor", "PrometheusRule", "AlertmanagerConfig"]
        + ["Workflow", "Workflow", "SeldonDeployment"]
    )
    assert ["Workflow", "ml-rec-deployment-decision-maker-x7k2p", "16h"] in rows
    assert ["SeldonDeployment", "ml-rec-recommenderdeployer", "12h"] in rows
    assert ["ServiceAccount", "ml-rec-myelin", "2d"] in rows
    assert "other-run" not in out and "default" not in out
    assert {s for _, s in lists(api)} == {SELECTOR}
    assert len(lists(api)) == 12  # one LIST per kind the compiler (or a deploy step, or a sensor) makes


def test_get_wide_and_json(api: FakeAPIServer, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "get", "ml-rec", "-n", "ml", "-o", "wide")
    assert out.splitlines()[0].split() == ["KIND", "NAME", "AGE", "STATUS", "CREATED"]
    assert ["SeldonDeployment", "ml-rec-recommenderdeployer", "12h", "Available", "2024-01-02T12:00:00Z"] in [
        line.split() for line in out.splitlines()
    ]
    assert ["Sensor", "ml-rec-post-deployment-decision-maker", "2d", "False", "2024-01-01T00:00:00Z"] in [
        line.split() for line in out.splitlines()
    ]
    _, out, _ = run(capsys, "get", "ml-rec", "-n", "ml", "-o", "json")
    listing = json.loads(out)
    assert listing["kind"] == "List" and len(listing["items"]) == 21
    sdep = listing["items"][-1]
    assert sdep["apiVersion"] == "machinelearning.seldon.io/v1" and sdep["status"] == {"state": "Available"}
    _, out, _ = run(capsys, "get", "ml-rec", "-n", "ml", "-o", "yaml")
    assert out.startswith("apiVersion: v1\n") and "kind: SeldonDeployment" in out


def test_get_an_unknown_axon(api: FakeAPIServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "get", "nope", "-n", "ml")
    assert code == 1 and out == ""
    assert err == (
        "axon 'nope' has no objects in namespace ml (none labelled myelin.io/axon=nope) — see "
        "`myelin list -n ml`\n"
    )


def test_get_forbidden_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = serve(tmp_path, monkeypatch, forbidden={("list", "roles")})
    try:
        code, _, err = run(capsys, "get", "ml-rec", "-n", "ml")
        assert code == 2
        assert err.startswith(
            "forbidden: cannot list roles.rbac.authorization.k8s.io in namespace ml (403): "
            "roles.rbac.authorization.k8s.io is forbidden"
        )
        assert len(err.splitlines()) == 1
    finally:
        api.stop()


def test_unreachable_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = serve(tmp_path, monkeypatch)
    api.stop()
    code, _, err = run(capsys, "status", "ml-rec")
    assert code == 2
    assert err.startswith(f"cannot reach the cluster at {api.url}:") and len(err.splitlines()) == 1


# --- status -------------------------------------------------------------------------------------------


def test_status_table(api: FakeAPIServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "status", "ml-rec", "-n", "ml")
    assert code == 0 and err == ""
    assert out == (
        "axon ml-rec in namespace ml\n"
        "\n"
        "Sensors:\n"
        "  NAME                                   READY  MESSAGE\n"
        "  ml-rec-deployment-decision-maker       True\n"
        "  ml-rec-post-deployment-decision-maker  False  Deployed: eventbus default not found\n"
        "\n"
        "Runs (newest first, at most 10):\n"
        "  NAME                                    SENSOR                            "
        "TEMPLATE                                 PHASE      STARTED               FINISHED              "
        "MESSAGE\n"
        "  ml-rec-deployment-decision-maker-x7k2p  ml-rec-deployment-decision-maker  "
        "ml-rec-sensor-deployment-decision-maker  Failed     2024-01-02T08:00:00Z  2024-01-02T08:05:00Z  "
        "child 'deploy' failed\n"
        "  ml-rec-train-on-start-start                                               "
        "ml-rec-sensor-train-on-start             Succeeded  2024-01-01T10:00:00Z  2024-01-01T10:30:00Z\n"
        "\n"
        "Deployments:\n"
        "  NAME                        STATE      PREDICTOR  TRAFFIC  VERSION  MODELS\n"
        "  ml-rec-recommenderdeployer  Available  v2         80       v2       "
        "BackendRecommender=20240102-1200\n"
        "                                         v1         20       v1       "
        "BackendRecommender=20240101-0900\n"
    )
    assert lists(api) == [
        ("/apis/argoproj.io/v1alpha1/namespaces/ml/sensors", SELECTOR),
        ("/apis/argoproj.io/v1alpha1/namespaces/ml/workflows", SELECTOR),
        ("/apis/machinelearning.seldon.io/v1/namespaces/ml/seldondeployments", SELECTOR),
    ]
    assert not api.writes()


def test_status_json(api: FakeAPIServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "ml-rec", "-n", "ml", "-o", "json")
    assert code == 0
    status = json.loads(out)
    assert status["sensors"][1] == {
        "name": "ml-rec-post-deployment-decision-maker",
        "ready": "False",
        "conditions": [
            {
                "type": "Deployed",
                "status": "False",
                "message": "eventbus default not found",
                "lastTransitionTime": "2024-01-01T00:00:00Z",
            },
            {"type": "TriggersProvided", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"},
        ],
    }
    assert [r["name"] for r in status["runs"]] == [
        "ml-rec-deployment-decision-maker-x7k2p",
        "ml-rec-train-on-start-start",
    ]
    assert status["runs"][1] == {
        "name": "ml-rec-train-on-start-start",
        "sensor": None,
        "workflowTemplate": "ml-rec-sensor-train-on-start",
        "phase": "Succeeded",
        "startedAt": "2024-01-01T10:00:00Z",
        "finishedAt": "2024-01-01T10:30:00Z",
        "message": None,
    }
    assert status["deployments"] == [
        {
            "name": "ml-rec-recommenderdeployer",
            "state": "Available",
            "description": None,
            "predictors": [
                {
                    "name": "v2",
                    "traffic": 80,
                    "shadow": False,
                    "version": "v2",
                    "models": {"BackendRecommender": "20240102-1200"},
                },
                {
                    "name": "v1",
                    "traffic": 20,
                    "shadow": False,
                    "version": "v1",
                    "models": {"BackendRecommender": "20240101-0900"},
                },
            ],
        }
    ]
    assert status["missing"] == []


def test_status_shows_the_last_ten_runs_newest_first(
    api: FakeAPIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(12):
        api.add(workflow(f"ml-rec-run-{i:02}", "Succeeded", startedAt=f"2024-01-02T1{i // 10}:{i % 10}0:00Z"))
    _, out, _ = run(capsys, "status", "ml-rec", "-n", "ml", "-o", "json")
    assert [r["name"] for r in json.loads(out)["runs"]] == [f"ml-rec-run-{i:02}" for i in range(11, 1, -1)]


def test_status_without_argo_events_says_so_and_shows_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = serve(tmp_path, monkeypatch, installed=("argo-workflows", "seldon-core"))
    try:
        populate(api)
        code, out, err = run(capsys, "status", "ml-rec", "-n", "ml")
        assert code == 0 and err == ""
        assert out.startswith(
            "axon ml-rec in namespace ml\n\nSensors:\n  Argo Events is not installed in this cluster: the "
            "`sensors.argoproj.io` CRD was not found — see docs/install.md\n\n"
            "Runs (newest first, at most 10):\n"
        )
        assert "ml-rec-train-on-start-start" in out and "Available" in out
        _, out, _ = run(capsys, "status", "ml-rec", "-n", "ml", "-o", "json")
        status = json.loads(out)
        assert status["sensors"] is None and len(status["runs"]) == 2 and len(status["deployments"]) == 1
        assert status["missing"] == [
            "Argo Events is not installed in this cluster: the `sensors.argoproj.io` CRD was not found — "
            "see docs/install.md"
        ]
        assert not any("/sensors" in r.path for r in api.requests)
    finally:
        api.stop()


def test_status_before_any_run_or_deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = serve(tmp_path, monkeypatch)
    try:
        bundle = compile_axon(load_path(DEMO), CompileOptions(namespace="ml"))
        connect().apply(bundle, namespace="ml")
        api.objects = {k: v for k, v in api.objects.items() if k[1] != "workflows"}
        _, out, _ = run(capsys, "status", "ml-rec")
        assert out.endswith("Runs (newest first, at most 10):\n  none\n\nDeployments:\n  none\n")
        assert "  ml-rec-deployment-decision-maker       Unknown\n" in out  # no status yet
        code, _, err = run(capsys, "status", "nope")
        assert code == 1 and err.startswith("axon 'nope' has no objects in namespace ml")
    finally:
        api.stop()


# --- endpoint -----------------------------------------------------------------------------------------


def test_endpoint_json_keeps_fixed_url(api: FakeAPIServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "endpoint", "-n", "ml", "ml-rec", "-o", "json", "--ingress", "http://gw:8003/")
    assert code == 0
    result = json.loads(out)
    base = "http://gw:8003/seldon/ml/ml-rec-recommenderdeployer/api/v1.0/"
    assert result["fixedUrl"] == base
    assert result["predictUrl"] == base + "predictions"
    assert result["feedbackUrl"] == base + "feedback"
    assert result["deployments"][0]["predictors"] == [
        {
            "name": "v2",
            "traffic": 80,
            "shadow": False,
            "version": "v2",
            "models": {"BackendRecommender": "20240102-1200"},
            "url": "http://ml-rec-recommenderdeployer-v2.ml.svc.cluster.local:8000/api/v1.0/",
        },
        {
            "name": "v1",
            "traffic": 20,
            "shadow": False,
            "version": "v1",
            "models": {"BackendRecommender": "20240101-0900"},
            "url": "http://ml-rec-recommenderdeployer-v1.ml.svc.cluster.local:8000/api/v1.0/",
        },
    ]
    assert lists(api) == [("/apis/machinelearning.seldon.io/v1/namespaces/ml/seldondeployments", SELECTOR)]


def test_endpoint_without_ingress_is_the_main_predictor_service(
    api: FakeAPIServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out, _ = run(capsys, "endpoint", "-n", "ml", "ml-rec", "-o", "json")
    result = json.loads(out)
    assert result["ingress"] is None
    assert result["fixedUrl"] == "http://ml-rec-recommenderdeployer-v2.ml.svc.cluster.local:8000/api/v1.0/"
    code, out, _ = run(capsys, "endpoint", "-n", "ml", "ml-rec")
    assert code == 0
    assert out == (
        "ml-rec-recommenderdeployer (Available)\n"
        "  predict:  http://ml-rec-recommenderdeployer-v2.ml.svc.cluster.local:8000/api/v1.0/predictions\n"
        "  feedback: http://ml-rec-recommenderdeployer-v2.ml.svc.cluster.local:8000/api/v1.0/feedback\n"
        "\n"
        "DEPLOYMENT                  STATE      PREDICTOR  TRAFFIC  VERSION  URL\n"
        "ml-rec-recommenderdeployer  Available  v2         80       v2       "
        "http://ml-rec-recommenderdeployer-v2.ml.svc.cluster.local:8000/api/v1.0/\n"
        "ml-rec-recommenderdeployer  Available  v1         20       v1       "
        "http://ml-rec-recommenderdeployer-v1.ml.svc.cluster.local:8000/api/v1.0/\n"
        "\n"
        "no --ingress: these are in-cluster URLs; only an ingress splits traffic between predictors\n"
    )
    monkeypatch.setenv("MYELIN_INGRESS_URL", "https://models.example.com")
    _, out, _ = run(capsys, "endpoint", "-n", "ml", "ml-rec", "-o", "json")
    assert (
        json.loads(out)["fixedUrl"]
        == "https://models.example.com/seldon/ml/ml-rec-recommenderdeployer/api/v1.0/"
    )


def test_endpoint_shadow_predictor_never_fixed(
    api: FakeAPIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add(
        seldon_deployment("ml-rec-recommenderdeployer", "Creating", [("v2", None), ("v1", 100)], VERSIONS)
    )
    _, out, _ = run(capsys, "endpoint", "-n", "ml", "ml-rec", "-o", "json")
    result = json.loads(out)
    assert result["fixedUrl"].startswith("http://ml-rec-recommenderdeployer-v1.")
    assert result["deployments"][0]["predictors"][0]["traffic"] is None
    assert result["deployments"][0]["state"] == "Creating"


def test_endpoint_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = serve(tmp_path, monkeypatch, installed=("argo-workflows",))
    try:
        code, out, err = run(capsys, "endpoint", "ml-rec")
        assert code == 2 and out == ""
        assert err == (
            "Seldon Core v1 is not installed in this cluster: the "
            "`seldondeployments.machinelearning.seldon.io` CRD was not found — see docs/install.md\n"
        )
    finally:
        api.stop()
    api = serve(tmp_path, monkeypatch)
    try:
        code, _, err = run(capsys, "endpoint", "ml-rec")
        assert code == 1
        assert err == (
            "axon 'ml-rec' has no SeldonDeployment in namespace ml yet: its deploy step has not run — see "
            "`myelin status -n ml ml-rec`\n"
        )
    finally:
        api.stop()


# --- -o json|yaml: the same object both ways -----------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["list", "-A"],
        ["get", "ml-rec"],
        ["status", "ml-rec"],
        ["status", "ml-rec", "-A"],
        ["endpoint", "ml-rec", "--ingress", "http://localhost:8003"],
    ],
    ids=" ".join,
)
def test_yaml_output_is_the_json_object(
    argv: list[str], api: FakeAPIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    code, as_json, _ = run(capsys, *argv, "-o", "json")
    assert code == 0
    code, as_yaml, _ = run(capsys, *argv, "-o", "yaml")
    assert code == 0
    assert not as_yaml.lstrip().startswith("{")  # block YAML, not JSON
    assert yaml.safe_load(as_yaml) == json.loads(as_json)
    assert json.loads(as_json)  # an object with content


# --- -A / --all-namespaces ------------------------------------------------------------------------------


def add_staging(api: FakeAPIServer) -> None:
    """ml-rec also in namespace staging (a sensor and a run), and an axon only there."""
    api.add(sensor("ml-rec-deployment-decision-maker", [("Deployed", "True", "")]), namespace="staging")
    api.add(workflow("ml-rec-staging-run", "Running", template="ml-rec-t"), namespace="staging")
    api.add(workflow("canary-run", "Succeeded", axon="canary", template="canary-t"), namespace="staging")
    api.requests.clear()


def test_list_all_namespaces(api: FakeAPIServer, capsys: pytest.CaptureFixture[str]) -> None:
    add_staging(api)
    code, out, _ = run(capsys, "list", "-A")
    assert code == 0
    assert out.splitlines() == [
        "NAMESPACE  AXON    TEMPLATES  SENSORS  DEPLOYMENTS  RUNS",
        "ml         ml-rec  8          2        1            2",
        "ml         other   0          0        0            1",
        "staging    canary  0          0        0            1",
        "staging    ml-rec  0          1        0            1",
    ]
    # one cluster-wide LIST per kind, never a namespaced one
    assert [path for path, _ in lists(api)] == [
        "/apis/argoproj.io/v1alpha1/workflowtemplates",
        "/apis/argoproj.io/v1alpha1/sensors",
        "/apis/machinelearning.seldon.io/v1/seldondeployments",
        "/apis/argoproj.io/v1alpha1/workflows",
    ]
    code, out, _ = run(capsys, "list", "--all-namespaces", "-o", "json")
    listing = json.loads(out)
    assert listing["namespace"] is None
    assert [(a["namespace"], a["name"], a["runs"]) for a in listing["axons"]] == [
        ("ml", "ml-rec", 2),
        ("ml", "other", 1),
        ("staging", "canary", 1),
        ("staging", "ml-rec", 1),
    ]


def test_all_namespaces_with_a_namespace_is_one_clear_error(
    api: FakeAPIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "list", "-A", "-n", "ml")
    assert (code, out) == (2, "")
    assert err == "myelin list: give -n/--namespace or -A/--all-namespaces, not both\n"


def test_all_namespaces_forbidden_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = serve(tmp_path, monkeypatch, forbidden={("list", "workflowtemplates")})
    try:
        code, _, err = run(capsys, "list", "-A")
        assert code == 2
        assert err.startswith(
            "forbidden: cannot list workflowtemplates.argoproj.io in all namespaces (403): "
        ), err
    finally:
        api.stop()


def test_status_all_namespaces(api: FakeAPIServer, capsys: pytest.CaptureFixture[str]) -> None:
    add_staging(api)
    code, out, _ = run(capsys, "status", "ml-rec", "-A", "-o", "json")
    assert code == 0
    items = json.loads(out)["items"]
    assert [s["namespace"] for s in items] == ["ml", "staging"]
    assert [r["name"] for r in items[1]["runs"]] == ["ml-rec-staging-run"]
    assert items[1]["deployments"] == []
    assert len(items[0]["deployments"]) == 1
    code, out, _ = run(capsys, "status", "ml-rec", "-A")
    assert code == 0
    assert "axon ml-rec in namespace ml\n" in out and "axon ml-rec in namespace staging\n" in out
    assert out.index("namespace ml\n") < out.index("namespace staging\n")


def test_status_all_namespaces_of_an_unknown_axon(
    api: FakeAPIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "status", "nope", "-A")
    assert (code, out) == (1, "")
    assert err == (
        "axon 'nope' has no objects in any namespace (none labelled myelin.io/axon=nope) — see "
        "`myelin list -A`\n"
    )


# --- logs -f --------------------------------------------------------------------------------------------


def add_pods(api: FakeAPIServer) -> None:
    api.add(pod("ml-rec-train-1", "train-myelin-recommender", "2024-01-02T00:00:00Z", phase="Running"))
    api.add(pod("ml-rec-prep-1", "data-prep-myelin-recommender", "2024-01-03T00:00:00Z"))
    api.logs[("ml", "ml-rec-train-1", "main")] = "epoch 1\n"
    api.logs[("ml", "ml-rec-prep-1", "main")] = "downloaded\n"


class Lines:
    """The stdout lines of a process, read by a thread: ``next_line()`` fails after a timeout, not hangs."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=lambda: [self.lines.put(line) for line in stdout], daemon=True).start()

    def next_line(self, timeout: float = 60) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line from the command within {timeout} s") from None


def start_follow(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "myelin_sdk.cli", "logs", "ml-rec", "-f", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_logs_follow_streams_until_the_pod_ends(api: FakeAPIServer) -> None:
    """Each line reaches the user's terminal while the pod still runs: the server sends the next chunk only
    after the test has read the previous one from the command's stdout."""
    add_pods(api)
    more: queue.Queue[str | None] = queue.Queue()
    api.follow[("ml", "ml-rec-train-1", "main")] = more
    proc = start_follow("-n", "ml")
    try:
        out = Lines(proc)
        # the running pod, not the newer finished one
        assert out.next_line() == "==> pod ml-rec-train-1 (task train-myelin-recommender, Running) <==\n"
        assert out.next_line() == "epoch 1\n"
        more.put("epoch 2\n")
        assert out.next_line() == "epoch 2\n"
        more.put("loss 0.1\n")
        assert out.next_line() == "loss 0.1\n"
        more.put(None)  # the container ends: so does the stream, and the command
        assert proc.wait(timeout=30) == 0
        time.sleep(0.2)
        assert out.lines.empty()
        assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    follows = [r for r in api.requests if r.path.endswith("/log")]
    assert [(r.path, r.query) for r in follows] == [
        ("/api/v1/namespaces/ml/pods/ml-rec-train-1/log", {"container": ["main"], "follow": ["true"]})
    ]


def test_logs_follow_interrupted_exits_130(api: FakeAPIServer) -> None:
    add_pods(api)
    api.follow[("ml", "ml-rec-train-1", "main")] = queue.Queue()  # never ends
    proc = start_follow("-n", "ml", "--tail", "5")
    try:
        out = Lines(proc)
        out.next_line()
        assert out.next_line() == "epoch 1\n"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    (request,) = [r for r in api.requests if r.path.endswith("/log")]
    assert request.query["tailLines"] == ["5"]


def test_logs_follow_a_finished_pod_and_errors(
    api: FakeAPIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add(pod("ml-rec-prep-1", "data-prep-myelin-recommender", "2024-01-03T00:00:00Z"))
    api.logs[("ml", "ml-rec-prep-1", "main")] = "downloaded\nsplit"
    code, out, _ = run(capsys, "logs", "ml-rec", "-n", "ml", "--follow")
    assert code == 0
    assert (
        out == "==> pod ml-rec-prep-1 (task data-prep-myelin-recommender, Succeeded) <==\ndownloaded\nsplit"
    )
    del api.logs[("ml", "ml-rec-prep-1", "main")]  # the kubelet's 400 for a container the pod lacks
    code, _, err = run(capsys, "logs", "ml-rec", "-n", "ml", "-f")
    assert code == 2
    assert err.endswith(
        "cannot follow the log of pod ml-rec-prep-1 in namespace ml (400): container main is not valid for "
        "pod ml-rec-prep-1\n"
    ), err


# --- delete -o json|yaml, and -A where it does not belong -----------------------------------------------


def test_delete_json_and_yaml(api: FakeAPIServer, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    code, out, err = run(capsys, "delete", "ml-rec", "-n", "ml", "--yes", "-o", "json")
    assert code == 0
    report = json.loads(out)
    assert (report["axon"], report["namespace"]) == ("ml-rec", "ml")
    deleted = [(o["kind"], o["name"]) for o in report["objects"] if o["outcome"] == "deleted"]
    assert len(deleted) == len(report["objects"]) == 21
    assert deleted[0] == ("Sensor", "ml-rec-deployment-decision-maker")
    assert deleted[-1] == ("PersistentVolumeClaim", "ml-rec-axon-store")
    assert err == "axon ml-rec: 21 deleted\n"
    code, out, _ = run(capsys, "delete", "other", "-n", "ml", "--yes", "-o", "yaml")
    assert code == 0
    assert yaml.safe_load(out) == {
        "axon": "other",
        "namespace": "ml",
        "objects": [{"kind": "Workflow", "name": "other-run", "outcome": "deleted"}],
    }
    assert [key[3] for key in api.objects] == ["default"]  # the ServiceAccount of no axon stays


@pytest.mark.parametrize("argv", [["get", "ml-rec", "-A"], ["logs", "ml-rec", "-A"], ["delete", "x", "-A"]])
def test_all_namespaces_only_where_it_is_taken(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run(capsys, *argv)
    assert info.value.code == 2
    assert "unrecognized arguments: -A" in capsys.readouterr().err


def test_status_local_with_all_namespaces(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "status", "--local", "-A")
    assert (code, out) == (2, "")
    assert err == "myelin status: -A/--all-namespaces reads the cluster; it does not go with --local\n"


def test_endpoint_lists_every_route_of_a_multi_route_deployer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The SeldonDeployments the compiler makes for a deployer with routes /predict, /rank and /scale (the
    compiled review documents, as the deploy step applies them): one URL per route, feedback on /predict."""
    every = Path(__file__).resolve().parents[1] / "fixtures" / "graphs" / "every-graph-feature.yaml"
    bundle = compile_axon(load_path(every), CompileOptions(namespace="ml"))
    server = serve(tmp_path, monkeypatch)
    try:
        for doc in reversed(bundle.reviews):  # the API server's order must not matter
            server.add({**doc, "status": {"state": "Available"}})
        code, out, _ = run(
            capsys, "endpoint", "-n", "ml", "graph-demo", "-o", "json", "--ingress", "http://gw"
        )
        assert code == 0
        result = json.loads(out)
        base = "http://gw/seldon/ml/graph-demo-graph"
        assert result["routes"] == [
            {"deployer": "graph", "route": "/predict", "deployment": "graph-demo-graph",
             "url": f"{base}/api/v1.0/predictions"},
            {"deployer": "graph", "route": "/rank", "deployment": "graph-demo-graph-rank",
             "url": f"{base}-rank/api/v1.0/predictions"},
            {"deployer": "graph", "route": "/scale", "deployment": "graph-demo-graph-scale",
             "url": f"{base}-scale/api/v1.0/predictions"},
        ]  # fmt: skip
        assert result["predictUrl"] == f"{base}/api/v1.0/predictions"
        assert result["feedbackUrl"] == f"{base}/api/v1.0/feedback"
        assert [d["feedbackUrl"] for d in result["deployments"]] == [f"{base}/api/v1.0/feedback", None, None]
        code, out, _ = run(capsys, "endpoint", "-n", "ml", "graph-demo", "--ingress", "http://gw")
        assert code == 0
        assert out.startswith(
            "graph-demo-graph (Available)\n"
            f"  predict:  {base}/api/v1.0/predictions\n"
            f"  feedback: {base}/api/v1.0/feedback\n"
            "graph-demo-graph-rank (Available), route /rank\n"
            f"  predict:  {base}-rank/api/v1.0/predictions\n"
            "graph-demo-graph-scale (Available), route /scale\n"
            f"  predict:  {base}-scale/api/v1.0/predictions\n"
        )
    finally:
        server.stop()
