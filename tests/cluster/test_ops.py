"""``myelin delete``, ``myelin logs`` and ``myelin submit --watch``.

No Kubernetes API server can run here; these tests check the client against a local server playing the
documented API contract (tests/support/fake_apiserver.py), asserting the exact requests sent and the output.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from myelin_sdk.cluster import ops

from support.fake_apiserver import (
    DEMO,
    FakeAPIServer,
    Request,
    pod,
    run_cli,
    seldon_deployment,
    serve_demo,
    serve_in,
    workflow,
)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(ops, "POLL_SECONDS", 0.01)


def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **config: object) -> FakeAPIServer:
    return serve_in("ml", tmp_path, monkeypatch, **config)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAPIServer]:
    server = serve_demo("ml", tmp_path, monkeypatch)
    server.add(workflow("ml-rec-deployment-decision-maker-x7k2p", "Succeeded"))
    server.add(seldon_deployment("ml-rec-recommenderdeployer", "Available", [("v1", 100)]))
    server.add(workflow("other-run", "Running", axon="other"))
    server.requests.clear()
    yield server
    server.stop()


run = run_cli


class Stdin(io.StringIO):
    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


# --- delete -------------------------------------------------------------------------------------------


def test_delete_with_yes_removes_everything_of_the_axon(
    api: FakeAPIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "delete", "ml-rec", "-n", "ml", "--yes")
    assert code == 0
    deletes = [r for r in api.requests if r.method == "DELETE"]
    assert all(r.query == {"propagationPolicy": ["Background"]} for r in deletes)
    kinds = [line.split("/")[0] for line in out.splitlines()]
    assert kinds == (
        ["Sensor", "Sensor", "EventSource", "NetworkPolicy", "Workflow", "Workflow", "SeldonDeployment"]
        + ["WorkflowTemplate"] * 8
        + ["PrometheusRule", "AlertmanagerConfig", "RoleBinding", "Role", "ServiceAccount"]
        + ["PersistentVolumeClaim"]
    )
    assert out.splitlines()[0] == "Sensor/ml-rec-deployment-decision-maker deleted"
    assert (
        deletes[0].path == "/apis/argoproj.io/v1alpha1/namespaces/ml/sensors/ml-rec-deployment-decision-maker"
    )
    assert deletes[-1].path == "/api/v1/namespaces/ml/persistentvolumeclaims/ml-rec-axon-store"
    assert err == "axon ml-rec: 21 deleted\n"
    assert [key[3] for key in api.objects] == ["other-run"]  # only the other axon's run is left


def test_delete_keep_data_keeps_the_claim(api: FakeAPIServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "delete", "ml-rec", "-n", "ml", "--yes", "--keep-data")
    assert code == 0 and "PersistentVolumeClaim" not in out
    assert not any("persistentvolumeclaims" in r.path for r in api.requests)
    assert api.stored("persistentvolumeclaims", "ml-rec-axon-store") is not None


def test_delete_without_a_terminal_requires_yes(
    api: FakeAPIServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", Stdin("", tty=False))
    code, out, err = run(capsys, "delete", "ml-rec", "-n", "ml")
    assert code == 2 and out == ""
    assert err == (
        "refusing to delete 21 object(s) of axon ml-rec in namespace ml without confirmation: pass --yes "
        "(stdin is not a terminal)\n"
    )
    assert api.writes() == []


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("\n", False)])
def test_delete_asks_on_a_terminal(
    api: FakeAPIServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    deleted: bool,
) -> None:
    monkeypatch.setattr("sys.stdin", Stdin(answer, tty=True))
    code, out, err = run(capsys, "delete", "ml-rec", "-n", "ml", "--keep-data")
    assert "  Sensor/ml-rec-deployment-decision-maker\n" in err
    assert (
        "delete 20 object(s) of axon ml-rec in namespace ml (keeping the PersistentVolumeClaim)? [y/N]" in out
    )
    if deleted:
        assert code == 0 and len(api.writes()) == 20
    else:
        assert code == 1 and api.writes() == [] and err.endswith("nothing deleted\n")


def test_delete_an_unknown_axon_and_a_forbidden_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = serve(tmp_path, monkeypatch, forbidden={("delete", "workflows")})
    try:
        code, _, err = run(capsys, "delete", "ml-rec", "--yes")
        assert code == 1 and err.startswith("axon 'ml-rec' has no objects in namespace ml")
        api.add(workflow("ml-rec-run", "Failed"))
        code, _, err = run(capsys, "delete", "ml-rec", "--yes")
        assert code == 2
        assert err.startswith(
            "forbidden: cannot delete workflows.argoproj.io in namespace ml (403): workflows.argoproj.io "
            "'ml-rec-run' is forbidden"
        )
    finally:
        api.stop()


# --- logs ---------------------------------------------------------------------------------------------


def pods(api: FakeAPIServer) -> None:
    api.add(pod("ml-rec-train-1", "train-myelin-recommender", "2024-01-02T00:00:00Z"))
    api.add(pod("ml-rec-prep-1", "data-prep-myelin-recommender", "2024-01-01T00:00:00Z"))
    api.add(pod("ml-rec-train-2", "train-myelin-recommender", "2024-01-03T00:00:00Z", phase="Pending"))
    api.logs[("ml", "ml-rec-train-1", "main")] = "epoch 1\nepoch 2\nloss 0.1\n"
    api.logs[("ml", "ml-rec-prep-1", "main")] = "downloaded\n"


def log_requests(api: FakeAPIServer) -> list[Request]:
    return [r for r in api.requests if r.path.endswith("/log")]


def test_logs_of_every_pod_newest_first(api: FakeAPIServer, capsys: pytest.CaptureFixture[str]) -> None:
    pods(api)
    code, out, err = run(capsys, "logs", "ml-rec", "-n", "ml")
    assert code == 0
    assert out == (
        "==> pod ml-rec-train-2 (task train-myelin-recommender, Pending) <==\n"
        "==> pod ml-rec-train-1 (task train-myelin-recommender, Succeeded) <==\n"
        "epoch 1\nepoch 2\nloss 0.1\n"
        "==> pod ml-rec-prep-1 (task data-prep-myelin-recommender, Succeeded) <==\n"
        "downloaded\n"
    )
    assert (
        err
        == "cannot read the log of pod ml-rec-train-2: container main is not valid for pod ml-rec-train-2\n"
    )
    listing = next(r for r in api.requests if r.path == "/api/v1/namespaces/ml/pods")
    assert listing.query == {"labelSelector": ["app.kubernetes.io/part-of=myelin,myelin.io/axon=ml-rec"]}
    assert [(r.path, r.query) for r in log_requests(api)] == [
        (f"/api/v1/namespaces/ml/pods/{name}/log", {"container": ["main"]})
        for name in ("ml-rec-train-2", "ml-rec-train-1", "ml-rec-prep-1")
    ]


def test_logs_of_one_task_tail(api: FakeAPIServer, capsys: pytest.CaptureFixture[str]) -> None:
    pods(api)
    code, out, _ = run(
        capsys, "logs", "ml-rec", "-n", "ml", "--task", "Train_MyelinRecommender", "--tail", "1"
    )
    assert code == 0
    listing = next(r for r in api.requests if r.path == "/api/v1/namespaces/ml/pods")
    assert listing.query["labelSelector"] == [
        "app.kubernetes.io/part-of=myelin,myelin.io/axon=ml-rec,myelin.io/task=train-myelin-recommender"
    ]
    assert [r.query for r in log_requests(api)] == [{"container": ["main"], "tailLines": ["1"]}] * 2
    assert "loss 0.1\n" in out and "epoch" not in out and "prep" not in out
    code, _, err = run(capsys, "logs", "ml-rec", "-n", "ml", "--task", "nope")
    assert code == 1 and err == "axon 'ml-rec' has no pods of task 'nope' in namespace ml\n"


# --- submit --watch -----------------------------------------------------------------------------------


def changes_after(polls: dict[int, list[dict]]) -> object:
    """A ``before`` hook: at the Nth LIST of SeldonDeployments, store the given objects."""
    count = {"n": 0}

    def hook(server: FakeAPIServer, request: Request) -> None:
        if request.method == "GET" and request.path.endswith("/seldondeployments") and request.query:
            count["n"] += 1
            for obj in polls.get(count["n"], []):
                server.lock.release()  # add() takes the lock; the hook runs under it
                try:
                    server.add(obj)
                finally:
                    server.lock.acquire()

    return hook


def test_watch_until_the_deployment_is_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = serve(tmp_path, monkeypatch)
    api.before = changes_after(  # type: ignore[assignment]
        {
            2: [workflow("ml-rec-train-on-start-start", "Running")],
            3: [
                workflow("ml-rec-train-on-start-start", "Succeeded"),
                seldon_deployment("ml-rec-recommenderdeployer", "Creating", [("v1", 100)]),
            ],
            5: [seldon_deployment("ml-rec-recommenderdeployer", "Available", [("v1", 100)])],
        }
    )
    try:
        code, out, err = run(capsys, "submit", str(DEMO), "-n", "ml", "--watch")
        assert code == 0, err
        tail = out.split("axon ml-rec: ")[1].splitlines()[1:]
        assert tail == [
            "Workflow ml-rec-train-on-start-start: Pending",  # created by the submit, no status yet
            "Workflow ml-rec-train-on-start-start: Running",
            "SeldonDeployment ml-rec-recommenderdeployer: Creating",  # this poll had listed the runs already
            "Workflow ml-rec-train-on-start-start: Succeeded",
            "SeldonDeployment ml-rec-recommenderdeployer: Available",
            "SeldonDeployment ml-rec-recommenderdeployer is Available",
        ]
        sdep_lists = [r for r in api.requests if r.path.endswith("/seldondeployments") and r.query]
        assert len(sdep_lists) == 5
        assert sdep_lists[0].query == {
            "labelSelector": ["app.kubernetes.io/part-of=myelin,myelin.io/axon=ml-rec"]
        }
    finally:
        api.stop()


def test_watch_stops_at_a_failed_workflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = serve(tmp_path, monkeypatch)
    # a run that had failed before this submit is history, not a failure of it
    api.add(workflow("ml-rec-old-run", "Failed", message="old"), created="2023-12-01T00:00:00Z")
    api.before = changes_after(  # type: ignore[assignment]
        {2: [workflow("ml-rec-train-on-start-start", "Failed", message="child 'train' failed")]}
    )
    try:
        code, out, err = run(capsys, "submit", str(DEMO), "-n", "ml", "--watch")
        assert code == 1
        assert "Workflow ml-rec-old-run: Failed" in out
        assert out.endswith("Workflow ml-rec-train-on-start-start: Failed\n")
        assert err == "Workflow ml-rec-train-on-start-start failed: child 'train' failed\n"
    finally:
        api.stop()


def test_watch_times_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = serve(tmp_path, monkeypatch)
    try:
        code, _, err = run(capsys, "submit", str(DEMO), "-n", "ml", "--watch", "--timeout", "0.05")
        assert code == 1
        assert err == "timed out after 0.05 s waiting for a SeldonDeployment\n"
    finally:
        api.stop()


def test_watch_needs_seldon_and_no_dry_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = serve(tmp_path, monkeypatch, installed=("argo-workflows", "argo-events", "prometheus-operator"))
    try:
        code, _, err = run(capsys, "submit", str(DEMO), "-n", "ml", "--watch")
        assert code == 2
        assert err.endswith(
            "--watch waits for the axon's SeldonDeployment: Seldon Core v1 is not installed in this cluster: "
            "the `seldondeployments.machinelearning.seldon.io` CRD was not found — see docs/install.md\n"
        )
        code, _, err = run(capsys, "submit", str(DEMO), "-n", "ml", "--watch", "--dry-run=server")
        assert code == 2 and "--watch follows what a submit started: it does not go with --dry-run" in err
    finally:
        api.stop()


def test_watch_function_refuses_without_seldon() -> None:
    """``watch`` itself, with a transport that serves nothing: the CRD check comes before any poll."""

    class Transport:
        def resource(self, api_version: str, kind: str) -> None:
            return None

    with pytest.raises(Exception, match="Seldon Core v1 is not installed"):
        ops.watch(Transport(), "ml", "ml-rec", 1.0, print)  # type: ignore[arg-type]
