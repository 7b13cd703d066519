"""Lint refuses what compile, hera or the cluster would choke on, and warns about host access (issue #17)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from myelin_sdk import MyelinError
from myelin_sdk.compiler import compile_axon
from myelin_sdk.lint import lint_axon
from myelin_sdk.lint_inputs import INT32_MAX, MAX_VERSIONS
from myelin_sdk.spec import Axon, ContainerTask, Volume

DEMO = Path(__file__).resolve().parents[1] / "examples" / "recommender_demo" / "recommender-demo.yaml"


def demo() -> Axon:
    return Axon.from_file(DEMO)


def found(axon: Axon, severity: str = "error") -> dict[str, str]:
    return {d.path: d.message for d in lint_axon(axon) if d.severity == severity}


def test_an_empty_image_is_refused_by_lint_and_compile_with_the_path() -> None:
    with Axon("a") as axon:
        ContainerTask("Prep", image="", command=["true"])
    errors = found(axon)
    assert "must not be empty" in errors["spec.tasks[0].container.image"]
    with pytest.raises(MyelinError, match=r"spec\.tasks\[0\]\.container\.image"):
        compile_axon(axon)  # hera would fail with an AssertionError


def test_a_flex_volume_written_as_a_list_is_refused() -> None:
    text = DEMO.read_text().replace(
        "  volumeClaimTemplate:\n",
        "  volume: {name: store, flexVolume: [a, b]}\n  xvolumeClaimTemplate:\n",
        1,
    )
    with pytest.raises(MyelinError):  # xvolumeClaimTemplate is unknown: drop it through the model instead
        Axon.from_yaml(text)
    axon = demo().model_copy(update={"volume_claim_template": None})
    axon.volume = Volume("store", flexVolume=["a", "b"])
    errors = found(axon)
    assert "expected a mapping" in errors["spec.volume.flexVolume"]
    with pytest.raises(MyelinError, match=r"spec\.volume\.flexVolume"):
        compile_axon(axon)


def test_an_options_map_with_an_int_key_or_value_is_refused() -> None:
    axon = demo().model_copy(update={"volume_claim_template": None})
    axon.volume = Volume("store", flexVolume={"driver": "x", "options": {1: "a", "size": 3}})
    errors = found(axon)
    assert "mapping keys must be strings" in errors["spec.volume.flexVolume.options"]
    assert "expected a string" in errors["spec.volume.flexVolume.options.size"]
    with pytest.raises(MyelinError):
        compile_axon(axon)


def test_host_path_is_a_warning_not_an_error() -> None:
    axon = demo().model_copy(update={"volume_claim_template": None})
    axon.volume = Volume("store", hostPath={"path": "/"})
    warnings = found(axon, "warning")
    assert "node's own files" in warnings["spec.volume.hostPath"]
    assert "spec.volume.hostPath" not in found(axon)
    compile_axon(axon)  # still compiles


def test_privileged_settings_anywhere_are_warnings() -> None:
    axon = demo()
    axon.tasks[1].train.tf_job_spec = {  # type: ignore[union-attr]
        "spec": {
            "hostNetwork": True,
            "containers": [
                {
                    "securityContext": {
                        "privileged": True,
                        "runAsUser": 0,
                        "capabilities": {"add": ["SYS_ADMIN", "CHOWN"]},
                    }
                }
            ],
        }
    }
    warnings = found(axon, "warning")
    base = "spec.tasks[1].train.tfJobSpec.spec"
    assert "powers over its node" in warnings[f"{base}.hostNetwork"]
    context = f"{base}.containers[0].securityContext"
    assert "privileged: true" in warnings[f"{context}.privileged"]
    assert f"{context}.runAsUser" in warnings
    assert "SYS_ADMIN" in warnings[f"{context}.capabilities.add"]
    assert "CHOWN" not in warnings[f"{context}.capabilities.add"]


def test_a_huge_destination_index_is_refused_and_compile_does_not_loop_to_it() -> None:
    axon = demo()
    deployer = axon.sensors[1].tasks[0].deployer
    assert deployer is not None
    deployer.rollout_spec[0].destinations[0].destination_index = 10**20
    start = time.perf_counter()
    errors = found(axon)
    path = "spec.sensors[1].tasks[0].deployer.rolloutSpec[0].destinations[0].destinationIndex"
    assert f"expected at most {MAX_VERSIONS - 1}" in errors[path]
    with pytest.raises(MyelinError, match="destinationIndex"):
        compile_axon(axon)
    assert time.perf_counter() - start < 10


def test_a_destination_index_of_ten_to_the_twenty_in_yaml_is_refused_on_load() -> None:
    text = DEMO.read_text().replace("destinationIndex: 1\n", "destinationIndex: 100000000000000000000\n", 1)
    with pytest.raises(MyelinError, match=r"destinationIndex: expected an integer of at most 64 bits"):
        Axon.from_yaml(text)


def test_replicas_beyond_int32_are_refused() -> None:
    axon = demo()
    deployer = axon.sensors[1].tasks[0].deployer
    assert deployer is not None
    deployer.replicas = INT32_MAX + 1
    assert "expected at most 2147483647" in found(axon)["spec.sensors[1].tasks[0].deployer.replicas"]


def test_a_two_megabyte_name_in_yaml_is_not_echoed_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from myelin_sdk.cli import main

    huge = "x" * 2_000_000  # two of them stay under the 5 MB file bound
    text = DEMO.read_text().replace("task: DataPrepMyelinRecommender", f"task: {huge}", 1)
    text = text.replace("- name: TrainMyelinRecommender", f"- name: T{huge}", 1)
    path = tmp_path / "huge.yaml"
    path.write_text(text)
    start = time.perf_counter()
    assert main(["lint", str(path)]) == 2
    err = capsys.readouterr().err
    assert time.perf_counter() - start < 20
    assert "2000000 characters" in err
    assert len(err) < 20_000


def test_a_five_megabyte_name_from_python_is_not_echoed_whole() -> None:
    huge = "N" * 5_000_000 + "!"  # an invalid name: lint quotes it
    with Axon("a") as axon:
        ContainerTask(huge, image="busybox", command=["true"])
        ContainerTask("Other", image="busybox", command=["true"])
    start = time.perf_counter()
    diagnostics = lint_axon(axon)
    assert time.perf_counter() - start < 20
    assert diagnostics
    assert all(len(d.message) <= 2000 and len(d.path) <= 500 for d in diagnostics)
    with pytest.raises(MyelinError) as info:
        compile_axon(axon)
    assert len(str(info.value)) < 20_000


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (float("inf"), "finite"),
        (float("nan"), "finite"),
        (-5, "at least 0"),
        (10**30, "too large"),
        ("", "empty"),
    ],
)
def test_resource_quantities_a_cluster_cannot_hold_are_refused(value: object, words: str) -> None:
    from myelin_sdk.spec import Resources, Sensor

    with Axon("a") as axon:
        prep = ContainerTask(
            "Prep", image="busybox", command=["true"], resources=Resources(limits={"cpu": value})
        )
        Sensor("S", tasks=[prep])
    assert words in found(axon)["spec.tasks[0].container.resources.limits.cpu"]
    with pytest.raises(MyelinError, match=r"resources\.limits\.cpu"):
        compile_axon(axon)
