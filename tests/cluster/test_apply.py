"""``Cluster.apply`` and ``myelin submit``: create-or-replace in bundle order, unchanged detection, pruning.

No Kubernetes API server can run here; these tests check the client against a local server playing the
documented API contract (tests/support/fake_apiserver.py), asserting the exact requests sent.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from myelin_sdk.cli import main
from myelin_sdk.cluster import APPLIED_HASH, Cluster, connect
from myelin_sdk.compiler import Bundle, CompileOptions, compile_axon
from myelin_sdk.loader import load_path

from support.fake_apiserver import DEMO, FakeAPIServer, collection_path

SELECTOR = "app.kubernetes.io/part-of=myelin,myelin.io/axon=ml-rec"


@pytest.fixture
def api() -> Iterator[FakeAPIServer]:
    server = FakeAPIServer().start()
    yield server
    server.stop()


@pytest.fixture
def cluster(api: FakeAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    path = api.kubeconfig(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(path))
    return connect()


@functools.cache
def _demo(tag: str) -> Bundle:
    return compile_axon(load_path(DEMO), CompileOptions(namespace="ml", tag=tag))


def demo(tag: str = "latest") -> Bundle:
    """The demo compiled with ``-n ml`` (a fresh copy: tests edit it)."""
    return copy.deepcopy(_demo(tag))


def without_hash(body: dict) -> dict:
    body = copy.deepcopy(body)
    del body["metadata"]["annotations"][APPLIED_HASH]
    if not body["metadata"]["annotations"]:
        del body["metadata"]["annotations"]
    return body


def test_first_submit_creates_everything_in_bundle_order(api: FakeAPIServer, cluster: Cluster) -> None:
    bundle = demo()
    report = cluster.apply(bundle, namespace="ml")

    assert [(c.kind, c.name, c.action) for c in report] == [
        (m["kind"], m["metadata"]["name"], "created") for m in bundle
    ]
    writes = api.writes()
    assert [(r.method, r.path) for r in writes] == [("POST", collection_path(m)) for m in bundle]
    assert [without_hash(r.body) for r in writes] == bundle.manifests
    assert all(not r.query for r in writes)
    # each create is preceded by its GET (404)
    gets = [r.path for r in api.requests if r.method == "GET" and not r.query]
    for m in bundle:
        assert f"{collection_path(m)}/{m['metadata']['name']}" in gets
    # discovery first, then only pruning LISTs with the axon's selector after the last write
    assert api.requests[0].path == "/api/v1"
    last_write = max(i for i, r in enumerate(api.requests) if r.write)
    tail = api.requests[last_write + 1 :]
    assert tail and all(r.method == "GET" and r.query == {"labelSelector": [SELECTOR]} for r in tail)
    assert not any(r.path.endswith(("/workflows", "/persistentvolumeclaims")) for r in tail)
    assert len(api.objects) == len(bundle)


def test_unchanged_axon_resubmitted_makes_no_writes(api: FakeAPIServer, cluster: Cluster) -> None:
    cluster.apply(demo(), namespace="ml")
    api.requests.clear()

    report = connect().apply(demo(), namespace="ml")

    assert api.writes() == []
    assert {r.method for r in api.requests} == {"GET"}
    assert {c.action for c in report if c.kind != "Workflow"} == {"unchanged"}
    assert [c.action for c in report if c.kind == "Workflow"] == ["skipped"]
    assert "skipped (create-once, exists)" in report.format()


def test_changed_axon_replaces_with_the_fetched_resource_version(
    api: FakeAPIServer, cluster: Cluster
) -> None:
    cluster.apply(demo(), namespace="ml")
    api.requests.clear()

    report = cluster.apply(demo(tag="v2"), namespace="ml")

    replaced = {c.name for c in report if c.action == "replaced"}
    assert replaced and all(c.kind == "WorkflowTemplate" for c in report if c.action == "replaced")
    puts = [r for r in api.requests if r.method == "PUT"]
    assert [r.method for r in api.writes()] == ["PUT"] * len(puts)
    assert {r.path.rsplit("/", 1)[1] for r in puts} == replaced
    for put in puts:
        i = api.requests.index(put)
        fetched = api.requests[i - 1]
        assert (fetched.method, fetched.path) == ("GET", put.path)
        # the version the GET answered is the one sent back
        assert put.body["metadata"]["resourceVersion"] != ""
    assert all(api.stored("workflowtemplates", n)["metadata"]["labels"] for n in replaced)  # type: ignore[index]
    api.requests.clear()
    assert connect().apply(demo(tag="v2"), namespace="ml").counts()["replaced"] == 0


def test_replace_sends_back_exactly_the_live_resource_version(api: FakeAPIServer, cluster: Cluster) -> None:
    cluster.apply(demo(), namespace="ml")
    live = {key[3]: obj["metadata"]["resourceVersion"] for key, obj in api.objects.items()}
    cluster.apply(demo(tag="v2"), namespace="ml")
    puts = [r for r in api.requests if r.method == "PUT"]
    assert puts
    for put in puts:
        assert put.body["metadata"]["resourceVersion"] == live[put.body["metadata"]["name"]]


def test_a_removed_field_is_a_change(api: FakeAPIServer, cluster: Cluster) -> None:
    bundle = demo()
    cluster.apply(bundle, namespace="ml")
    sensor = bundle.find("Sensor")[0]
    sensor["metadata"]["labels"].pop("myelin.io/sensor", None)
    sensor["spec"].pop("template", None)
    api.requests.clear()
    report = cluster.apply(bundle, namespace="ml")
    assert report.actions()[f"Sensor/{sensor['metadata']['name']}"] == "replaced"
    assert [r.method for r in api.writes()] == ["PUT"]


def test_objects_removed_from_the_axon_are_pruned_by_label(api: FakeAPIServer, cluster: Cluster) -> None:
    full = demo()
    cluster.apply(full, namespace="ml")
    smaller = Bundle(full.axon, [m for m in full.manifests if m["kind"] not in ("Sensor", "Workflow")])
    smaller.manifests = [m for m in smaller.manifests if m["kind"] != "PersistentVolumeClaim"]
    # an object of another axon, same kind: never touched
    other = copy.deepcopy(full.find("Sensor")[0])
    other["metadata"]["name"] = "other"
    other["metadata"]["labels"]["myelin.io/axon"] = "other"
    api.objects[("argoproj.io", "sensors", "ml", "other")] = other
    api.requests.clear()

    report = cluster.apply(smaller, namespace="ml")

    sensors = [m["metadata"]["name"] for m in full.find("Sensor")]
    assert [(c.kind, c.name) for c in report if c.action == "pruned"] == [("Sensor", n) for n in sensors]
    assert [(r.method, r.path) for r in api.writes()] == [
        ("DELETE", f"/apis/argoproj.io/v1alpha1/namespaces/ml/sensors/{n}") for n in sensors
    ]
    lists = [r.path for r in api.requests if r.query.get("labelSelector") == [SELECTOR]]
    assert "/apis/argoproj.io/v1alpha1/namespaces/ml/sensors" in lists
    assert not [p for p in lists if p.endswith(("/workflows", "/persistentvolumeclaims"))]
    assert api.stored("sensors", "other") is not None
    assert api.stored("workflows", full.find("Workflow")[0]["metadata"]["name"]) is not None
    assert api.stored("persistentvolumeclaims", "ml-rec-axon-store") is not None


def test_create_once_workflow_is_created_once_and_never_replaced(
    api: FakeAPIServer, cluster: Cluster
) -> None:
    bundle = demo()
    (start,) = bundle.find("Workflow")
    path = f"{collection_path(start)}/{start['metadata']['name']}"
    cluster.apply(bundle, namespace="ml")
    assert [r.method for r in api.requests if r.path.startswith(collection_path(start)) and r.write] == [
        "POST"
    ]

    start["spec"]["arguments"] = {"parameters": [{"name": "x", "value": "changed"}]}
    api.requests.clear()
    report = cluster.apply(bundle, namespace="ml")
    assert report.actions()[f"Workflow/{start['metadata']['name']}"] == "skipped"
    assert [(r.method, r.path) for r in api.requests if r.path == path] == [("GET", path)]
    assert api.writes() == []


def test_server_dry_run_sends_dry_run_on_every_write_and_persists_nothing(
    api: FakeAPIServer, cluster: Cluster
) -> None:
    bundle = demo()
    report = cluster.apply(bundle, namespace="ml", dry_run="server")
    writes = api.writes()
    assert len(writes) == len(bundle)
    assert all(r.query == {"dryRun": ["All"]} for r in writes)
    assert api.objects == {}
    assert report.counts()["created"] == len(bundle)
    assert "server dry run" in report.format()

    # with real objects: replaces are dry too, and pruning only reports
    cluster.apply(bundle, namespace="ml")
    before = copy.deepcopy(api.objects)
    api.requests.clear()
    smaller = Bundle(bundle.axon, [m for m in demo(tag="v2").manifests if m["kind"] != "Sensor"])
    report = cluster.apply(smaller, namespace="ml", dry_run="server")
    assert api.writes() and all(r.query == {"dryRun": ["All"]} for r in api.writes())
    assert {r.method for r in api.writes()} == {"PUT"}
    assert report.counts()["pruned"] == 2
    assert api.objects == before


def test_namespace_argument_overrides_the_manifests(api: FakeAPIServer, cluster: Cluster) -> None:
    api.namespaces.add("prod")
    cluster.apply(demo(), namespace="prod")
    assert all("/namespaces/prod/" in r.path for r in api.writes())
    assert all(r.body["metadata"]["namespace"] == "prod" for r in api.writes())


def test_create_race_409_then_get_and_replace(api: FakeAPIServer, cluster: Cluster) -> None:
    bundle = demo()
    sa = bundle.manifests[0]
    original = api.handle

    def racing(method, path, query, body):  # type: ignore[no-untyped-def]
        if method == "POST" and path.endswith("/serviceaccounts") and not api.objects:
            stale = copy.deepcopy(body)
            stale["metadata"]["labels"] = {}
            original("POST", path, {}, stale)  # someone else created it first
        return original(method, path, query, body)

    api.handle = racing  # type: ignore[method-assign]
    report = cluster.apply(bundle, namespace="ml")
    assert report.actions()[f"ServiceAccount/{sa['metadata']['name']}"] == "replaced"
    sa_requests = [(r.method, r.path.rsplit("/", 1)[-1]) for r in api.requests if "serviceaccounts" in r.path]
    name = sa["metadata"]["name"]
    assert sa_requests[:5] == [("GET", name), ("POST", "serviceaccounts"), ("POST", "serviceaccounts"),
                               ("GET", name), ("PUT", name)]  # fmt: skip


def test_cli_submit_prints_the_report(
    api: FakeAPIServer, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", str(DEMO), "-n", "ml"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["ACTION", "KIND", "NAME", "NAMESPACE"]
    assert "created  ServiceAccount" in out
    assert out.rstrip().endswith("axon ml-rec: 18 created")
    assert main(["submit", str(DEMO), "-n", "ml"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("axon ml-rec: 17 unchanged, 1 skipped")


def test_pipeline_main_submit(
    api: FakeAPIServer, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    from myelin_sdk.cli import pipeline_main

    axon = load_path(DEMO)
    assert pipeline_main(axon, ["--submit", "-n", "ml", "--dry-run=server"]) == 0
    assert "18 created (server dry run" in capsys.readouterr().out
    assert api.objects == {}


def test_axon_submit_dry_run_client_needs_no_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``axon.submit(dry_run="client")`` from a notebook plans without connecting."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    report = load_path(DEMO).submit("ml", dry_run="client")
    assert {c.action for c in report} == {"planned"}
