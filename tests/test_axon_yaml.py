"""The Axon YAML front end: every original file loads, round trips, legacy forms, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from myelin_sdk import Axon, Lifecycle, MyelinError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "axons"
AXON_FILES = sorted(
    p for p in [*SHARED.glob("*.yaml"), *SHARED.glob("examples/*.yaml")] if "myelin-sa" not in p.name
)


def test_shared_axons_are_there() -> None:
    assert len(AXON_FILES) == 18, f"expected the 18 original Axon files under {SHARED}"


@pytest.mark.parametrize("path", AXON_FILES, ids=lambda p: p.name)
def test_every_original_axon_loads_and_round_trips(path: Path) -> None:
    axon = Axon.from_file(path)
    assert axon.tasks and axon.sensors
    again = Axon.from_yaml(axon.to_yaml())
    assert again == axon
    assert again.to_yaml() == axon.to_yaml()


def test_rbac_file_is_not_an_axon() -> None:
    with pytest.raises(MyelinError) as info:
        Axon.from_file(SHARED / "recommender-demo.myelin-sa.yaml")
    message = str(info.value)
    assert "recommender-demo.myelin-sa.yaml: not an Axon" in message
    assert "Role (rbac.authorization.k8s.io/v1)" in message


def test_legacy_2019_03_form() -> None:
    axon = Axon.from_file(SHARED / "recommender-demo.2019-03.yaml")
    deploy = axon.task("DeployMyelinRecommender")
    assert deploy.deploy is not None
    assert (deploy.deploy.deployment_type, deploy.deploy.replicas) == ("canary", 2)
    build = deploy.body.image_build
    assert build is not None and build.s2i is not None
    assert (
        build.s2i.builder_image == "docker.io/myelinio/myelin-deployer-s2i-python:v0.1.2"
    )  # from buiderImage
    deployer = axon.sensors[1].tasks[0].deployer
    assert deployer is not None
    model = deployer.models[0]
    assert [(b.trainer, b.deployer) for b in model.backend_models] == [
        ("TrainMyelinRecommender", "DeployMyelinRecommender")
    ]
    assert {n.model for r in deployer.routes for n in r.dag} == {"MyelinKerasRecommender"}
    assert "buiderImage" not in axon.to_yaml()


def test_api_versions_are_kept() -> None:
    old = Axon.from_file(SHARED / "recommender-demo.2019-07.yaml")
    new = Axon.from_file(SHARED / "examples" / "gpt2-demo_axon.yaml")
    assert old.api_version == "myelinproj.io/v1alpha1"
    assert new.api_version == "myelin.io/v1alpha1"
    assert old.to_yaml().startswith(
        "apiVersion: myelinproj.io/v1alpha1\nkind: Axon\nmetadata:\n  name: ml-rec\n"
    )


def test_unsupported_parts_are_kept_in_the_model() -> None:
    axon = Axon.from_file(SHARED / "examples" / "dist-mnist_tf-dist-mnist-hpo.yaml")
    train = axon.task("TfJobTrain").train
    assert train is not None and train.tf_job_spec and train.hp_tuning
    assert Axon.from_yaml(axon.to_yaml()) == axon


DEMO = (SHARED / "recommender-demo.2019-07.yaml").read_text()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "task: TrainMyelinRecommender\n\n      tasks",
            "task: TrainMyelinRecommender\n          conditon: Succeeded\n\n      tasks",
            "spec.sensors[1].triggers[0].conditon: unknown field — did you mean 'condition'?",
        ),
        (
            "type: Lifecycle",
            "type: Lifecycel",
            "spec.sensors[1].triggers[0]: unknown type 'Lifecycel': expected one of Lifecycle, Alert, Rest, "
            "Calendar",
        ),
        (
            "condition: Succeeded",
            "condition: Succeded",
            "spec.sensors[1].triggers[0].condition: expected 'Succeeded' or 'Failed', got 'Succeded'",
        ),
        (
            "weight: 50\n",
            "weight: fifty\n",
            "spec.sensors[1].tasks[0].deployer.rolloutSpec[0].destinations[0].weight",
        ),
        (
            "          repositoryName: train-myelin-recommender\n",
            "",
            "spec.tasks[1].train.imageBuild.repositoryName: required",
        ),
        (
            '"{{recommender_deploy_accuracy}} < 0.90"',
            '"{{recommender_deploy_accuracy}} <"',
            "spec.sensors[2].triggers[0].condition:",
        ),
        (
            "apiVersion: myelinproj.io/v1alpha1",
            "apiVersion: myelin.io/v2",
            "apiVersion: expected myelin.io/v1alpha1",
        ),
        ("  name: ml-rec\n", "  name: ml-rec\n  owner: me\n", "metadata.owner: not supported"),
    ],
)
def test_errors_name_file_line_path_and_expectation(old: str, new: str, expected: str) -> None:
    assert old in DEMO
    with pytest.raises(MyelinError) as info:
        Axon.from_yaml(DEMO.replace(old, new, 1), source="demo.yaml")
    message = str(info.value)
    assert expected in message
    assert message.startswith("demo.yaml:")
    assert all(line.split(":")[1].strip().isdigit() for line in message.splitlines()), message


def test_all_errors_are_reported_at_once() -> None:
    bad = DEMO.replace("condition: Succeeded", "condition: Succeded").replace(
        "weight: 50\n", "weight: x\n", 1
    )
    with pytest.raises(MyelinError) as info:
        Axon.from_yaml(bad)
    assert len(info.value.diagnostics) == 2


def test_missing_spec_and_metadata() -> None:
    with pytest.raises(MyelinError) as info:
        Axon.from_yaml("apiVersion: myelin.io/v1alpha1\nkind: Axon\n")
    paths = {d.path for d in info.value.diagnostics}
    assert {"metadata", "spec"} <= paths


def test_minimal_axon_and_trigger_defaults() -> None:
    axon = Axon.from_yaml(
        """
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata: {name: tiny}
spec:
  tasks:
    - name: Train
      train: {image: busybox}
  sensors:
    - name: Go
      triggers: [{type: Lifecycle, task: Train}]
      tasks: [{trainer: {task: Train}}]
"""
    )
    trigger = axon.sensors[0].triggers[0]
    assert isinstance(trigger, Lifecycle)
    assert (trigger.name, trigger.condition) == ("Train-Succeeded", "Succeeded")


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


LEGACY_KEYS = {
    "buiderImage",
    "task",
    "trainer",
    "deployer",
    "match",
}  # normalised away, or null in the source


@pytest.mark.parametrize("path", AXON_FILES, ids=lambda p: p.name)
def test_written_yaml_uses_the_original_keys(path: Path) -> None:
    """Every key of the source is written back under the same spelling (catches alias mistakes like 's2I')."""
    from myelin_sdk.yamlio import load_documents

    source = _keys(load_documents(path.read_text())[0].data)
    written = _keys(Axon.from_file(path).to_document())
    assert source - LEGACY_KEYS <= written, sorted(source - LEGACY_KEYS - written)


def test_an_axon_read_back_from_the_api_server_loads() -> None:
    """``kubectl get axon -o yaml`` adds uid, resourceVersion, managedFields, annotations...: read past them;
    a field of the user's own that is not an Axon's still fails."""
    text = """\
apiVersion: myelinproj.io/v1alpha1
kind: Axon
metadata:
  name: served
  namespace: ml
  uid: 7c0a0c36-1b8f-4f7e-9d0c-2f0c3b1f6a11
  resourceVersion: "123456"
  generation: 3
  creationTimestamp: "2019-07-06T10:00:00Z"
  annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}"}
  labels: {team: recsys}
  managedFields: [{manager: kubectl, operation: Apply}]
spec:
  tasks:
    - {name: Prep, container: {image: busybox, command: [sh, -c, "true"]}}
  sensors:
    - {name: Start, tasks: [{resourceExecutor: {task: Prep}}]}
status: {phase: Running}
"""
    axon = Axon.from_yaml(text)
    assert (axon.name, axon.namespace) == ("served", "ml")
    with pytest.raises(MyelinError, match=r"metadata\.owner: not supported"):
        Axon.from_yaml(text.replace("  uid:", "  owner: me\n  uid:"))
