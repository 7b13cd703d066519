"""``myelin list``, ``get``, ``status`` and ``endpoint``: reading an axon back from the cluster.

No Kubernetes API server can run here; these tests check the client against a local server playing the
documented API contract (tests/support/fake_apiserver.py), asserting the exact requests sent and the output.
"""

from __future__ import annotations

import json
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
            {"name": "ml-rec", "templates": 8, "sensors": 2, "deployments": 1, "runs": 2},
            {"name": "other", "templates": 0, "sensors": 0, "deployments": 0, "runs": 1},
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
        + ["EventSource", "Sensor", "Sensor", "PrometheusRule", "AlertmanagerConfig"]
        + ["Workflow", "Workflow", "SeldonDeployment"]
    )
    assert ["Workflow", "ml-rec-deployment-decision-maker-x7k2p", "16h"] in rows
    assert ["SeldonDeployment", "ml-rec-recommenderdeployer", "12h"] in rows
    assert ["ServiceAccount", "ml-rec-myelin", "2d"] in rows
    assert "other-run" not in out and "default" not in out
    assert {s for _, s in lists(api)} == {SELECTOR}
    assert len(lists(api)) == 11  # one LIST per kind the compiler (or a deploy step, or a sensor) makes


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
    assert listing["kind"] == "List" and len(listing["items"]) == 20
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
