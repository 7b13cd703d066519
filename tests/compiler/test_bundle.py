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
