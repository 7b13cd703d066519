"""``Cluster.apply`` and ``myelin submit``: server-side apply in bundle order, pruning, create-once Workflows.

No Kubernetes API server can run here; these tests check the client against a local server playing the
documented API contract (tests/support/fake_apiserver.py, server-side apply included), asserting the exact
requests sent and what the server holds afterwards.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from myelin_sdk.cli import main
from myelin_sdk.cluster import APPLY_PATCH, Cluster, connect
from myelin_sdk.compiler import Bundle, CompileOptions, compile_axon
from myelin_sdk.loader import load_path

from support.fake_apiserver import DEMO, FakeAPIServer, collection_path

SELECTOR = "app.kubernetes.io/part-of=myelin,myelin.io/axon=ml-rec"
APPLY_QUERY = {"fieldManager": ["myelin"]}


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


def object_path(manifest: dict) -> str:
    return f"{collection_path(manifest)}/{manifest['metadata']['name']}"


def test_first_submit_applies_everything_in_bundle_order(api: FakeAPIServer, cluster: Cluster) -> None:
    bundle = demo()
    report = cluster.apply(bundle, namespace="ml")

    assert [(c.kind, c.name, c.action) for c in report] == [
        (m["kind"], m["metadata"]["name"], "created") for m in bundle
    ]
    writes = api.writes()
    *applies, start = writes
    # one server-side apply per object, of exactly the compiled manifest, as field manager myelin
    assert [(r.method, r.path, r.content_type) for r in applies] == [
        ("PATCH", object_path(m), APPLY_PATCH) for m in bundle if m["kind"] != "Workflow"
    ]
    assert all(r.query == APPLY_QUERY for r in applies)
    assert [r.body for r in applies] == [m for m in bundle if m["kind"] != "Workflow"]
    # the create-once start Workflow is created (POST), never applied
    (workflow,) = bundle.find("Workflow")
    assert (start.method, start.path, start.body) == ("POST", collection_path(workflow), workflow)
    # each write is preceded by its GET (404)
    for write in writes:
        i = api.requests.index(write)
        assert api.requests[i - 1].method == "GET"
    # discovery first, then only pruning LISTs with the axon's selector after the last write
    assert api.requests[0].path == "/api/v1"
    last_write = max(i for i, r in enumerate(api.requests) if r.write)
    tail = api.requests[last_write + 1 :]
    assert tail and all(r.method == "GET" and r.query == {"labelSelector": [SELECTOR]} for r in tail)
    assert not any(r.path.endswith(("/workflows", "/persistentvolumeclaims")) for r in tail)
    assert len(api.objects) == len(bundle)
    # the server records myelin as the manager of what it applied
    sensor = bundle.find("Sensor")[0]["metadata"]["name"]
    owned = api.managers("sensors", sensor)
    assert set(owned) == {"myelin/Apply"}
    assert {".metadata.labels.myelin.io/axon", ".spec.triggers"} <= owned["myelin/Apply"]


def test_second_apply_of_an_unchanged_bundle_changes_nothing(api: FakeAPIServer, cluster: Cluster) -> None:
    cluster.apply(demo(), namespace="ml")
    before = copy.deepcopy(api.objects)
    version = api.resource_version
    api.requests.clear()

    report = connect().apply(demo(), namespace="ml")

    assert {c.action for c in report if c.kind != "Workflow"} == {"unchanged"}
    assert [c.action for c in report if c.kind == "Workflow"] == ["skipped"]
    assert "skipped (create-once, exists)" in report.format()
    assert report.format().rstrip().endswith("axon ml-rec: 18 unchanged, 1 skipped")
    # the applies were sent, and the server changed nothing: same objects, no new resourceVersion
    assert {r.method for r in api.writes()} == {"PATCH"}
    assert api.objects == before
    assert api.resource_version == version


def test_changed_axon_configures_only_what_changed(api: FakeAPIServer, cluster: Cluster) -> None:
    cluster.apply(demo(), namespace="ml")
    versions = {key: obj["metadata"]["resourceVersion"] for key, obj in api.objects.items()}

    report = cluster.apply(demo(tag="v2"), namespace="ml")

    configured = {c.name for c in report if c.action == "configured"}
    assert configured and {c.kind for c in report if c.action == "configured"} == {"WorkflowTemplate"}
    for key, obj in api.objects.items():
        bumped = obj["metadata"]["resourceVersion"] != versions[key]
        assert bumped == (key[1] == "workflowtemplates" and key[3] in configured), key
    images = str(api.stored("workflowtemplates", "ml-rec-train-myelin-recommender"))
    assert ":v2" in images and ":latest" not in images
    assert connect().apply(demo(tag="v2"), namespace="ml").counts()["configured"] == 0


def test_a_field_removed_from_the_axon_is_removed_from_the_object(
    api: FakeAPIServer, cluster: Cluster
) -> None:
    bundle = demo()
    cluster.apply(bundle, namespace="ml")
    sensor = bundle.find("Sensor")[0]
    name = sensor["metadata"]["name"]
    assert "template" in api.stored("sensors", name)["spec"]  # type: ignore[index]
    sensor["metadata"]["labels"].pop("myelin.io/sensor")
    sensor["spec"].pop("template")

    report = cluster.apply(bundle, namespace="ml")

    assert report.actions()[f"Sensor/{name}"] == "configured"
    stored = api.stored("sensors", name)
    assert stored is not None
    assert "template" not in stored["spec"] and "myelin.io/sensor" not in stored["metadata"]["labels"]
    assert ".spec.template.serviceAccountName" not in api.managers("sensors", name)["myelin/Apply"]


def test_a_field_set_by_another_manager_survives_an_apply(api: FakeAPIServer, cluster: Cluster) -> None:
    """An operator's annotation and a field myelin does not set are kept, by an unchanged apply and by a
    changing one; a field set to the same value is shared, not a conflict."""
    cluster.apply(demo(), namespace="ml")
    template = "ml-rec-train-myelin-recommender"

    def edit(obj: dict) -> None:
        obj["metadata"].setdefault("annotations", {})["example.com/owner"] = "team-a"
        obj["spec"]["ttlStrategy"] = {"secondsAfterCompletion": 3600}

    api.edit("workflowtemplates", template, edit, manager="an-operator")
    live = api.stored("workflowtemplates", template)
    assert live is not None
    same = {
        "apiVersion": live["apiVersion"],
        "kind": live["kind"],
        "metadata": {"name": template, "labels": dict(live["metadata"]["labels"])},
    }
    assert api.apply_as("gitops", same)[0] == 200  # the same labels: shared, no conflict

    unchanged = cluster.apply(demo(), namespace="ml")
    changed = cluster.apply(demo(tag="v2"), namespace="ml")

    assert unchanged.actions()[f"WorkflowTemplate/{template}"] == "unchanged"
    assert changed.actions()[f"WorkflowTemplate/{template}"] == "configured"
    stored = api.stored("workflowtemplates", template)
    assert stored is not None
    assert stored["metadata"]["annotations"]["example.com/owner"] == "team-a"
    assert stored["spec"]["ttlStrategy"] == {"secondsAfterCompletion": 3600}
    owners = api.managers("workflowtemplates", template)
    assert owners["an-operator/Update"] == {
        ".metadata.annotations.example.com/owner",
        ".spec.ttlStrategy.secondsAfterCompletion",
    }
    assert ".metadata.labels.myelin.io/axon" in owners["gitops/Apply"] & owners["myelin/Apply"]


def hand_edit(api: FakeAPIServer, bundle: Bundle) -> str:
    """``kubectl edit`` of a field myelin set: the Sensor's service account."""
    name = bundle.find("Sensor")[0]["metadata"]["name"]

    def edit(obj: dict) -> None:
        obj["spec"]["template"]["serviceAccountName"] = "by-hand"

    api.edit("sensors", name, edit)
    return name


def test_a_conflict_names_the_field_and_the_manager_and_changes_nothing_of_it(
    api: FakeAPIServer, cluster: Cluster
) -> None:
    from myelin_sdk.cluster import ApplyConflictError

    full = demo()
    cluster.apply(full, namespace="ml")
    name = hand_edit(api, full)
    smaller = Bundle(
        full.axon, [m for m in demo(tag="v2").manifests if m["metadata"]["name"] != "ml-rec-alerts"]
    )

    with pytest.raises(ApplyConflictError) as caught:
        cluster.apply(smaller, namespace="ml")

    (conflict,) = caught.value.conflicts
    assert (conflict.kind, conflict.name) == ("Sensor", name)
    assert conflict.fields == (
        (".spec.template.serviceAccountName", '"kubectl-edit" using argoproj.io/v1alpha1'),
    )
    assert str(caught.value) == (
        f"conflict: Sensor {name} in namespace ml: .spec.template.serviceAccountName set to another value "
        'by "kubectl-edit" using argoproj.io/v1alpha1 — pass --force-conflicts to take it over'
    )
    assert api.stored("sensors", name)["spec"]["template"]["serviceAccountName"] == "by-hand"  # type: ignore[index]
    # the other objects were applied; nothing was pruned
    assert caught.value.report is not None and caught.value.report.counts()["configured"] > 0
    assert api.stored("prometheusrules", "ml-rec-alerts") is not None
    assert not [r for r in api.requests if r.method == "DELETE"]


def test_force_conflicts_takes_the_field_over(api: FakeAPIServer, cluster: Cluster) -> None:
    bundle = demo()
    cluster.apply(bundle, namespace="ml")
    name = hand_edit(api, bundle)
    api.requests.clear()

    report = cluster.apply(bundle, namespace="ml", force_conflicts=True)

    assert report.actions()[f"Sensor/{name}"] == "configured"
    assert all(r.query == {**APPLY_QUERY, "force": ["true"]} for r in api.writes() if r.method == "PATCH")
    compiled = bundle.find("Sensor")[0]["spec"]["template"]["serviceAccountName"]
    assert api.stored("sensors", name)["spec"]["template"]["serviceAccountName"] == compiled  # type: ignore[index]
    owners = api.managers("sensors", name)
    assert "kubectl-edit/Update" not in owners  # it owned nothing else: its entry is gone
    assert ".spec.template.serviceAccountName" in owners["myelin/Apply"]


def test_cli_conflict_is_one_line_and_exit_2_then_force_conflicts(
    api: FakeAPIServer, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", str(DEMO), "-n", "ml"]) == 0
    name = hand_edit(api, demo())
    capsys.readouterr()

    code = main(["submit", str(DEMO), "-n", "ml"])

    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in err
    assert err.splitlines() == [
        f"{DEMO}: conflict: Sensor {name} in namespace ml: .spec.template.serviceAccountName set to another "
        'value by "kubectl-edit" using argoproj.io/v1alpha1 — pass --force-conflicts to take it over'
    ]
    assert out.rstrip().endswith("axon ml-rec: 17 unchanged, 1 skipped")  # what was applied meanwhile
    assert main(["submit", str(DEMO), "-n", "ml", "--force-conflicts"]) == 0
    assert f"configured                     Sensor                 {name}" in capsys.readouterr().out
    assert main(["submit", str(DEMO), "-n", "ml"]) == 0


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
    assert [(r.method, r.path) for r in api.writes() if r.method != "PATCH"] == [
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
    assert not [r for r in api.writes() if r.path.startswith(collection_path(start))]


def test_server_dry_run_sends_dry_run_on_every_write_and_persists_nothing(
    api: FakeAPIServer, cluster: Cluster
) -> None:
    bundle = demo()
    report = cluster.apply(bundle, namespace="ml", dry_run="server")
    writes = api.writes()
    assert len(writes) == len(bundle)
    assert all(r.query == {**APPLY_QUERY, "dryRun": ["All"]} for r in writes if r.method == "PATCH")
    assert [r.query for r in writes if r.method == "POST"] == [{"dryRun": ["All"]}]
    assert api.objects == {}
    assert report.counts()["created"] == len(bundle)
    assert "server dry run" in report.format()

    # with real objects: the applies are dry too, and pruning only reports
    cluster.apply(bundle, namespace="ml")
    before = copy.deepcopy(api.objects)
    version = api.resource_version
    api.requests.clear()
    smaller = Bundle(bundle.axon, [m for m in demo(tag="v2").manifests if m["kind"] != "Sensor"])
    report = cluster.apply(smaller, namespace="ml", dry_run="server")
    assert api.writes() and all(r.query.get("dryRun") == ["All"] for r in api.writes())
    assert {r.method for r in api.writes()} == {"PATCH"}
    assert report.counts()["configured"] > 0 and report.counts()["pruned"] == 2
    assert api.objects == before and api.resource_version == version


def test_namespace_argument_overrides_the_manifests(api: FakeAPIServer, cluster: Cluster) -> None:
    api.namespaces.add("prod")
    cluster.apply(demo(), namespace="prod")
    assert all("/namespaces/prod/" in r.path for r in api.writes())
    assert all(r.body["metadata"]["namespace"] == "prod" for r in api.writes())


def test_axon_submit_passes_force_conflicts(api: FakeAPIServer, cluster: Cluster) -> None:
    axon = load_path(DEMO)
    axon.submit("ml")
    name = hand_edit(api, demo())
    from myelin_sdk.errors import MyelinError

    with pytest.raises(MyelinError, match="conflict: Sensor"):
        axon.submit("ml")
    assert axon.submit("ml", force_conflicts=True).actions()[f"Sensor/{name}"] == "configured"


def test_cli_submit_prints_the_report(
    api: FakeAPIServer, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", str(DEMO), "-n", "ml"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["ACTION", "KIND", "NAME", "NAMESPACE"]
    assert "created  ServiceAccount" in out
    assert out.rstrip().endswith("axon ml-rec: 19 created")
    assert main(["submit", str(DEMO), "-n", "ml"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("axon ml-rec: 18 unchanged, 1 skipped")


def test_pipeline_main_submit(
    api: FakeAPIServer, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    from myelin_sdk.cli import pipeline_main

    axon = load_path(DEMO)
    assert pipeline_main(axon, ["--submit", "-n", "ml", "--dry-run=server"]) == 0
    assert "19 created (server dry run" in capsys.readouterr().out
    assert api.objects == {}


def test_axon_submit_dry_run_client_needs_no_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``axon.submit(dry_run="client")`` from a notebook plans without connecting."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    report = load_path(DEMO).submit("ml", dry_run="client")
    assert {c.action for c in report} == {"planned"}


def test_objects_written_before_server_side_apply_are_migrated_once(
    api: FakeAPIServer, cluster: Cluster
) -> None:
    """myelin before server-side apply created objects with a POST through the Python client (manager
    "OpenAPI-Generator", from its User-Agent) and an applied-hash annotation. The first apply makes those
    fields myelin's (one PUT of managedFields), so that changing them is no conflict with that old manager."""
    from myelin_sdk.cluster import APPLIED_HASH

    for manifest in demo():
        old = copy.deepcopy(manifest)
        old["metadata"].setdefault("annotations", {})[APPLIED_HASH] = "0123456789abcdef"
        cluster.transport.request("POST", collection_path(manifest), body=old)
    template = "ml-rec-train-myelin-recommender"
    assert set(api.managers("workflowtemplates", template)) == {"OpenAPI-Generator/Update"}
    before = copy.deepcopy(api.objects)

    dry = cluster.apply(demo(tag="v2"), namespace="ml", dry_run="server")  # no conflict, nothing written
    assert dry.counts()["configured"] > 0 and api.objects == before

    report = cluster.apply(demo(tag="v2"), namespace="ml")

    puts = [r for r in api.requests if r.method == "PUT"]
    assert len(puts) == len(demo()) - 1  # every object but the create-once Workflow, once
    assert report.actions()[f"WorkflowTemplate/{template}"] == "configured"
    for (_, plural, _, name), obj in api.objects.items():
        if plural != "workflows":
            assert set(api.managers(plural, name)) == {"myelin/Apply"}, (plural, name)
            assert APPLIED_HASH not in (obj["metadata"].get("annotations") or {})
    assert ":v2" in str(api.stored("workflowtemplates", template))
    api.requests.clear()
    assert cluster.apply(demo(tag="v3"), namespace="ml").counts()["configured"] > 0
    assert not [r for r in api.requests if r.method == "PUT"]


def test_pipeline_main_submit_force_conflicts(
    api: FakeAPIServer, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    from myelin_sdk.cli import pipeline_main

    axon = load_path(DEMO)
    assert pipeline_main(axon, ["--submit", "-n", "ml"]) == 0
    name = hand_edit(api, demo())
    capsys.readouterr()
    assert pipeline_main(axon, ["--submit", "-n", "ml"]) == 2
    assert "conflict: Sensor" in capsys.readouterr().err
    assert pipeline_main(axon, ["--submit", "-n", "ml", "--force-conflicts"]) == 0
    assert api.stored("sensors", name)["spec"]["template"]["serviceAccountName"] != "by-hand"  # type: ignore[index]
