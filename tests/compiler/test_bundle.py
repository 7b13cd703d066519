"""Bundle: the compiled manifests as one YAML stream, or as a directory written atomically.

``kubectl kustomize`` is not used here; the kustomization is checked by reading it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from myelin_sdk import MyelinError
from myelin_sdk.compiler import Bundle
from myelin_sdk.compiler import bundle as bundle_module

KUSTOMIZATION = "kustomization.yaml"


def config_map(name: str, **data: str) -> dict[str, Any]:
    # deliberately written with ``data`` first: the bundle puts apiVersion, kind, metadata first
    return {"data": data, "metadata": {"name": name}, "kind": "ConfigMap", "apiVersion": "v1"}


def make_bundle(*names: str) -> Bundle:
    bundle = Bundle("demo")
    for name in names:
        bundle.add(config_map(name, greeting=f"hello from {name}"))
    return bundle


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (relative name -> content)."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


# --- to_yaml -----------------------------------------------------------------------------------------------


def test_to_yaml_is_a_multi_document_stream_with_the_envelope_first() -> None:
    bundle = make_bundle("a", "b", "c")
    text = bundle.to_yaml()
    documents = list(yaml.safe_load_all(text))
    assert [d["metadata"]["name"] for d in documents] == ["a", "b", "c"]
    for document in documents:
        assert list(document)[:3] == ["apiVersion", "kind", "metadata"]
    chunks = text.split("---\n")
    assert len(chunks) == 3
    assert all(chunk.startswith("apiVersion: ") for chunk in chunks)


def test_empty_bundle_is_an_empty_stream() -> None:
    assert list(yaml.safe_load_all(Bundle("demo").to_yaml())) == []


def test_find_by_kind_and_name() -> None:
    bundle = make_bundle("a", "b")
    assert [m["metadata"]["name"] for m in bundle.find("ConfigMap")] == ["a", "b"]
    assert bundle.find("ConfigMap", "b") == [bundle.manifests[1]]
    assert bundle.find("Secret") == []


# --- write -------------------------------------------------------------------------------------------------


def test_write_one_file_per_object_and_a_kustomization(tmp_path: Path) -> None:
    bundle = make_bundle("a", "b")
    target = tmp_path / "manifests"
    written = bundle.write(target)
    files = ["configmap-a.yaml", "configmap-b.yaml"]
    assert written == [target / f for f in [*files, KUSTOMIZATION]]
    assert sorted(p.name for p in target.iterdir()) == sorted([*files, KUSTOMIZATION])
    for name, manifest in zip(files, bundle.manifests, strict=True):
        assert yaml.safe_load((target / name).read_text()) == manifest
    assert yaml.safe_load((target / KUSTOMIZATION).read_text()) == {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "sortOptions": {"order": "fifo"},  # kubectl apply -k keeps the bundle's apply order
        "resources": files,
    }


def test_write_creates_missing_parents(tmp_path: Path) -> None:
    target = tmp_path / "build" / "deep" / "manifests"
    make_bundle("a").write(target)
    assert (target / KUSTOMIZATION).is_file()


def test_rewriting_replaces_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "manifests"
    make_bundle("old", "kept").write(target)
    (target / "stray.txt").write_text("left over by hand")
    make_bundle("kept", "new").write(target)
    assert sorted(p.name for p in target.iterdir()) == [
        "configmap-kept.yaml",
        "configmap-new.yaml",
        KUSTOMIZATION,
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifests"]


def test_writing_onto_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "manifests"
    target.write_text("not a directory")
    with pytest.raises(MyelinError, match="not a directory"):
        make_bundle("a").write(target)
    assert target.read_text() == "not a directory"


def test_two_objects_with_the_same_file_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MyelinError, match=r"configmap-a\.yaml"):
        make_bundle("a", "a").write(tmp_path / "manifests")
    assert list(tmp_path.iterdir()) == []


# --- atomicity ---------------------------------------------------------------------------------------------


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """A manifests directory from an earlier, successful write."""
    target = tmp_path / "manifests"
    make_bundle("earlier").write(target)
    return target


def _assert_untouched(target: Path, before: dict[str, bytes]) -> None:
    assert snapshot(target) == before
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name], "temporary directory left behind"


def test_unserialisable_manifest_leaves_the_target_untouched(previous: Path) -> None:
    before = snapshot(previous)
    bundle = make_bundle("first", "second")
    bundle.manifests[1]["data"]["broken"] = object()  # the dumper cannot represent it
    with pytest.raises(yaml.YAMLError):
        bundle.write(previous)
    _assert_untouched(previous, before)


def test_failure_while_dumping_leaves_the_target_untouched(
    previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(previous)
    real_dump = bundle_module.dump
    calls = []

    def dump_then_fail(data: Any) -> str:
        calls.append(data)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_dump(data)

    monkeypatch.setattr(bundle_module, "dump", dump_then_fail)
    with pytest.raises(OSError, match="disk full"):
        make_bundle("first", "second", "third").write(previous)
    assert len(calls) == 2  # it failed midway, after one file was written
    _assert_untouched(previous, before)


def test_failure_on_a_first_write_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(data: Any) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(bundle_module, "dump", fail)
    with pytest.raises(OSError):
        make_bundle("a").write(tmp_path / "manifests")
    assert list(tmp_path.iterdir()) == []


def test_writing_to_the_current_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``-o .`` would move the working directory aside: refused with a MyelinError, nothing touched."""
    (tmp_path / "keep.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MyelinError, match="holds the current directory"):
        make_bundle("a").write(".")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_a_foreign_non_empty_directory_is_refused(tmp_path: Path) -> None:
    """A directory that myelin did not write (no kustomization.yaml) is never replaced."""
    target = tmp_path / "project"
    target.mkdir()
    (target / "notes.md").write_text("mine")
    with pytest.raises(MyelinError, match="not empty"):
        make_bundle("a").write(target)
    assert [p.name for p in target.iterdir()] == ["notes.md"]


# --- how a bundle shows itself (notebook table, text table, one manifest's YAML) --------------------------


DEMO = Path(__file__).resolve().parents[2] / "examples/recommender_demo/pipeline.py"


@pytest.fixture(scope="module")
def demo() -> Bundle:
    from myelin_sdk.loader import load_path

    return load_path(DEMO).compile()


def test_the_demo_bundle_shows_every_manifest_with_what_it_does(demo: Bundle) -> None:
    text, page = repr(demo), demo._repr_html_()
    assert text.startswith("bundle of axon ml-rec: 19 manifests (+1 for review, not applied)")
    for manifest in [*demo.manifests, *demo.reviews]:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        assert any(line.startswith(kind) and f" {name} " in line for line in text.splitlines()), (kind, name)
        assert f"<code>{kind}" in page and f"<code>{name}</code>" in page, (kind, name)
    lines = {name: line for line in text.splitlines()[2:] for name in line.split()[1:3]}  # by name
    assert (
        "runs task TrainMyelinRecommender (build image, run, register; sends its Lifecycle event)"
        in (lines["ml-rec-train-myelin-recommender"])
    )
    assert lines["ml-rec-deployment-decision-maker"].endswith(
        "on TrainMyelinRecommender Succeeded → runs DeploymentDecisionMaker"
    )
    assert lines["ml-rec-post-deployment-decision-maker"].endswith(
        "on alert recommender_deploy_accuracy_ml__rec < 0.90 → runs PostDeploymentDecisionMaker"
    )
    assert lines["ml-rec-sensor-deployment-decision-maker"].endswith(
        "Metric gate (recommender_train_rmse_ml__rec < 0.95) → deploy recommenderdeployer"
    )
    assert lines["ml-rec-train-on-start-start"].endswith("runs sensor TrainOnStart once, when applied")
    assert "first 100% (backend-recommender)" in lines["ml-rec-recommenderdeployer"]
    assert "no namespace" in text  # the compiler's warnings are shown too
    assert "recommender_deploy_accuracy_ml__rec &lt; 0.90" in page  # cells are escaped
    assert "<0.90" not in page and "< 0.90" not in page


def test_rest_and_calendar_triggers_are_named_from_their_event_sources() -> None:
    from myelin_sdk import Axon, Calendar, ContainerTask, Rest, Sensor

    with Axon("ml-rec") as axon:
        prep = ContainerTask("DataPrep", image="busybox", command=["true"])
        Sensor("Nightly", triggers=[Calendar(name="At3", schedule="0 3 * * *")], tasks=[prep])
        Sensor("Hourly", triggers=[Calendar(name="Each", interval="1h"), Rest()], tasks=[prep])
    text = repr(axon.compile())
    assert "on calendar 0 3 * * * → runs Nightly" in text
    assert "on calendar every 1h or POST /rest-hourly → runs Hourly" in text


def test_show_gives_a_manifests_yaml_coloured_for_notebooks_and_plain_in_yaml(demo: Bundle) -> None:
    (sensor,) = demo.find("Sensor", "ml-rec-deployment-decision-maker")
    for key in (
        "Sensor/ml-rec-deployment-decision-maker",  # full name
        "sensor/deployment-decision-maker",  # without the axon prefix; kind in any case
        "Sensor/DeploymentDecisionMaker",  # the Myelin name
        "Sensor/ml-rec-dep",  # a prefix that only one Sensor has
    ):
        view = demo.show(key)
        assert view.manifest is sensor, key
    assert yaml.safe_load(view.yaml) == sensor
    assert str(view) == view.yaml.rstrip("\n")  # not a terminal here: no colour codes
    page = view._repr_html_()
    assert page.startswith("<pre") and "eventSourceName" in page and "^TrainMyelinRecommender$" in page
    assert 'style="color:' in page  # highlighted
    assert demo.show("PrometheusRule/ml-rec-alerts").manifest["kind"] == "PrometheusRule"
    assert demo.show("SeldonDeployment/ml-rec").manifest is demo.reviews[0]  # review documents too


def test_show_of_an_unknown_or_ambiguous_key_says_what_exists(demo: Bundle) -> None:
    with pytest.raises(MyelinError) as error:
        demo.show("Sensor/deploymnt-decision-maker")
    message = str(error.value)
    assert message.startswith("bundle.show('Sensor/deploymnt-decision-maker'): no manifest of the bundle")
    assert "did you mean 'Sensor/ml-rec-deployment-decision-maker'" in message
    assert "kinds here: AlertmanagerConfig, EventSource," in message
    with pytest.raises(MyelinError, match=r"bundle.show\('Gadget/x'\): no manifest .*\(keys are Kind/name"):
        demo.show("Gadget/x")
    with pytest.raises(MyelinError, match=r"3 manifests match: ServiceAccount/ml-rec-myelin, Role/"):
        demo.show("ml-rec-myelin")
