"""Server-side apply as the stand-in API server plays it, and ``myelin diff``.

The first tests pin the contract server (tests/support/fake_apiserver.py) to the documented behaviour of
server-side apply (https://kubernetes.io/docs/reference/using-api/server-side-apply/): managed fields per
manager, conflicts and their Status, force, removal of omitted fields, no write for an unchanged apply. The
client tests in test_apply.py rely on it. The rest test ``myelin diff`` against it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from myelin_sdk.cli import main
from myelin_sdk.cluster import Cluster, connect
from myelin_sdk.compiler import Bundle, CompileOptions, compile_axon
from myelin_sdk.loader import load_path

from support.fake_apiserver import APPLY_PATCH, DEMO, FakeAPIServer

SENSORS = "/apis/argoproj.io/v1alpha1/namespaces/ml/sensors"


@pytest.fixture
def api() -> Iterator[FakeAPIServer]:
    server = FakeAPIServer().start()
    yield server
    server.stop()


def sensor(**spec: object) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "s", "labels": {"team": "a"}},
        "spec": dict(spec),
    }


def apply(api: FakeAPIServer, manager: str, obj: dict, force: bool = False) -> tuple[int, dict]:
    return api.apply_as(manager, obj, force=force)  # type: ignore[no-any-return]


# --- the contract server ----------------------------------------------------------------------------------


def test_apply_creates_and_records_the_managers_fields(api: FakeAPIServer) -> None:
    code, obj = apply(api, "me", sensor(eventBusName="default", triggers=[{"a": 1}]))
    assert code == 201
    (entry,) = obj["metadata"]["managedFields"]
    assert {k: v for k, v in entry.items() if k != "time"} == {
        "manager": "me",
        "operation": "Apply",
        "apiVersion": "argoproj.io/v1alpha1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:team": {}}},
            "f:spec": {"f:eventBusName": {}, "f:triggers": {}},  # a list is atomic: one field
        },
    }
    assert api.stored("sensors", "s") == obj


def test_an_unchanged_apply_writes_nothing(api: FakeAPIServer) -> None:
    _, first = apply(api, "me", sensor(eventBusName="default"))
    version = api.resource_version
    code, second = apply(api, "me", sensor(eventBusName="default"))
    assert code == 200
    assert second == first  # same resourceVersion, same managed fields time
    assert api.resource_version == version


def test_apply_request_errors(api: FakeAPIServer) -> None:
    body = sensor()
    assert api.handle("PATCH", f"{SENSORS}/s", {}, body, content_type=APPLY_PATCH)[1]["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )
    merge = api.handle(
        "PATCH", f"{SENSORS}/s", {"fieldManager": ["me"]}, body, "application/merge-patch+json"
    )
    assert merge[0] == 415
    body["metadata"]["managedFields"] = []
    code, status = api.handle("PATCH", f"{SENSORS}/s", {"fieldManager": ["me"]}, body, APPLY_PATCH)
    assert (code, status["message"]) == (400, "metadata.managedFields must be nil")


def test_a_conflict_is_a_409_naming_field_and_manager(api: FakeAPIServer) -> None:
    apply(api, "operator", sensor(eventBusName="default", replicas=2))
    code, status = apply(api, "me", sensor(eventBusName="default", replicas=3))
    assert code == 409
    assert status == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "operator": .spec.replicas',
        "reason": "Conflict",
        "code": 409,
        "details": {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "operator"',
                    "field": ".spec.replicas",
                }
            ]
        },
    }
    assert api.stored("sensors", "s")["spec"]["replicas"] == 2  # type: ignore[index]
    # an Update manager (a PUT) is named with the apiVersion it used; several conflicts grouped by manager
    api.edit("sensors", "s", lambda o: o["spec"].update(x=1, y=2), manager="kubectl-edit")
    code, status = apply(api, "me", sensor(eventBusName="default", replicas=3, x=0, y=0))
    assert code == 409
    assert status["message"] == (
        'Apply failed with 3 conflicts: conflicts with "kubectl-edit" using argoproj.io/v1alpha1:\n'
        '- .spec.x\n- .spec.y\nconflicts with "operator":\n- .spec.replicas'
    )


def test_force_takes_the_field_and_the_same_value_is_shared(api: FakeAPIServer) -> None:
    apply(api, "operator", sensor(eventBusName="default", replicas=2))
    code, obj = apply(api, "me", sensor(eventBusName="default", replicas=3), force=True)
    assert code == 200 and obj["spec"]["replicas"] == 3
    assert api.managers("sensors", "s") == {
        "operator/Apply": {".metadata.labels.team", ".spec.eventBusName"},  # shared: same values
        "me/Apply": {".metadata.labels.team", ".spec.eventBusName", ".spec.replicas"},
    }


def test_an_omitted_field_is_removed_unless_another_manager_owns_it(api: FakeAPIServer) -> None:
    apply(api, "me", sensor(eventBusName="default", a=1, b=2))
    apply(api, "other", {**sensor(b=2), "metadata": {"name": "s"}})  # b: shared
    _, obj = apply(
        api, "me", {"apiVersion": "argoproj.io/v1alpha1", "kind": "Sensor", "metadata": {"name": "s"}}
    )
    assert obj["spec"] == {"b": 2}  # a and eventBusName gone, b kept for "other"
    assert "labels" not in obj["metadata"]
    assert "me/Apply" not in api.managers("sensors", "s")  # it owns nothing now


# --- myelin diff -------------------------------------------------------------------------------------------


@pytest.fixture
def cluster(api: FakeAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path)))
    return connect()


def diff(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["diff", str(DEMO), "-n", "ml", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_diff_before_the_first_submit_shows_every_object_new_and_writes_nothing(
    api: FakeAPIServer, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = diff(capsys)
    assert code == 1
    headers = [line for line in out.splitlines() if line.startswith("diff -u -N ")]
    assert len(headers) == 19
    assert (
        headers[0]
        == "diff -u -N live/v1.ServiceAccount.ml.ml-rec-myelin merged/v1.ServiceAccount.ml.ml-rec-myelin"
    )
    assert "+kind: Sensor\n" in out and not [line for line in out.splitlines() if line.startswith("-kind")]
    assert api.objects == {}
    assert all(r.query.get("dryRun") == ["All"] for r in api.writes())


def test_diff_prints_what_a_submit_would_change(
    api: FakeAPIServer, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", str(DEMO), "-n", "ml"]) == 0
    capsys.readouterr()
    assert diff(capsys) == (0, "", "")  # nothing to change

    before = copy.deepcopy(api.objects)
    code, out, _ = diff(capsys, "--tag", "v2")

    assert code == 1
    wt = "argoproj.io.v1alpha1.WorkflowTemplate.ml.ml-rec-train-myelin-recommender"
    assert f"diff -u -N live/{wt} merged/{wt}\n--- live/{wt}\n+++ merged/{wt}\n@@ " in out
    changed = [line for line in out.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed and all(":latest" in line for line in changed if line.startswith("-"))
    assert all(":v2" in line for line in changed if line.startswith("+"))
    assert "managedFields" not in out
    assert api.objects == before  # a diff writes nothing


def test_diff_shows_objects_to_prune_as_removed_and_keeps_other_managers_fields(
    api: FakeAPIServer, cluster: Cluster
) -> None:
    full = compile_axon(load_path(DEMO), CompileOptions(namespace="ml"))
    cluster.apply(full, namespace="ml")
    name = full.find("Sensor")[0]["metadata"]["name"]
    api.edit("sensors", name, lambda o: o["metadata"]["labels"].update(team="a"), manager="someone")
    assert not cluster.diff(full, namespace="ml").changed  # the label someone added stays

    smaller = Bundle(full.axon, [m for m in full.manifests if m["metadata"]["name"] != name])
    result = cluster.diff(smaller, namespace="ml")
    (removed,) = [o for o in result.objects if o.text()]
    assert (removed.kind, removed.name, removed.merged) == ("Sensor", name, None)
    lines = removed.text().splitlines()
    assert lines[3].startswith("@@ -1,") and lines[3].endswith(" +0,0 @@")
    assert all(line.startswith("-") for line in lines[4:])
    assert "-  name: " + name in lines


def test_diff_reports_a_conflict_and_force_conflicts_shows_the_takeover(
    api: FakeAPIServer, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", str(DEMO), "-n", "ml"]) == 0
    bundle = compile_axon(load_path(DEMO), CompileOptions(namespace="ml"))
    name = bundle.find("Sensor")[0]["metadata"]["name"]
    api.edit("sensors", name, lambda o: o["spec"]["template"].update(serviceAccountName="by-hand"))
    capsys.readouterr()

    code, out, err = diff(capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"{DEMO}: conflict: Sensor {name} in namespace ml: .spec.template.serviceAccountName set to another "
        'value by "kubectl-edit" using argoproj.io/v1alpha1 — pass --force-conflicts to take it over\n'
    )

    code, out, _ = diff(capsys, "--force-conflicts")
    assert code == 1
    assert "-    serviceAccountName: by-hand\n+    serviceAccountName: ml-rec-myelin\n" in out
    assert api.stored("sensors", name)["spec"]["template"]["serviceAccountName"] == "by-hand"  # type: ignore[index]


def test_conflict_causes_are_read_in_either_spelling() -> None:
    """The API server serialises a cause's type as ``reason``; a ``type`` key and a message that repeats
    the field read the same. Without causes, the server's message is the line."""
    from myelin_sdk.cluster import HttpError
    from myelin_sdk.cluster.apply import conflict_of

    def answer(*causes: dict) -> HttpError:
        body = {"message": "Apply failed", "reason": "Conflict", "details": {"causes": list(causes)}}
        return HttpError(409, body, "")

    real = {
        "reason": "FieldManagerConflict",
        "message": 'conflict with "hpa" using apps/v1',
        "field": ".spec.x",
    }
    other = {
        "type": "FieldManagerConflict",
        "message": 'conflict with "hpa" using apps/v1: .spec.x',
        "field": ".spec.x",
    }
    for cause in (real, other):
        conflict = conflict_of(answer(cause), "Deployment", "d", "ml")
        assert conflict.fields == ((".spec.x", '"hpa" using apps/v1'),)
        assert conflict.format() == (
            'conflict: Deployment d in namespace ml: .spec.x set to another value by "hpa" using apps/v1 — '
            "pass --force-conflicts to take it over"
        )
    two = conflict_of(
        answer(real, {**real, "field": ".spec.y"}, {**real, "message": 'conflict with "op"'}), "D", "d", None
    )
    assert two.format() == (
        'conflict: D d: .spec.x, .spec.y set to other values by "hpa" using apps/v1; .spec.x by "op" — '
        "pass --force-conflicts to take them over"
    )
    assert conflict_of(answer(), "D", "d", None).format() == "conflict: D d: Apply failed"
