"""Compile at scale (issue #16 item 5): linear growth, and the fast YAML path writing the golden bytes.

``benchmarks/suite_compile.py`` measures the figures; these tests only guard the shape: compiling twice the
tasks takes about twice the time (bounded generously, so a busy machine does not fail it), and every golden
bundle dumps to the same bytes with the SDK's dumper (LibYAML's emitter, events made directly) as with
PyYAML's pure-Python emitter and its own representers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from myelin_sdk import Axon, CompileOptions, ContainerTask, Sensor
from myelin_sdk.compiler import _axon_placeholders, compile_axon
from myelin_sdk.loader import load_path
from myelin_sdk.yamlio import SDKDumper, dump_all

from support.golden import CASES, GOLDEN_DIR

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from suite_compile import build_axon


class _PureDumper(yaml.SafeDumper):
    """PyYAML's pure-Python emitter and generic representer, with the SDK's representers."""


_PureDumper.yaml_representers = dict(SDKDumper.yaml_representers)
_PureDumper.yaml_multi_representers = dict(SDKDumper.yaml_multi_representers)
_PureDumper.yaml_implicit_resolvers = SDKDumper.yaml_implicit_resolvers


def _pure_dump_all(documents: list[Any]) -> str:
    return "---\n".join(
        yaml.dump(
            d, Dumper=_PureDumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True
        )
        for d in documents
    )


@pytest.mark.parametrize("golden_name", sorted(CASES))
def test_every_golden_bundle_dumps_the_same_with_the_pure_python_emitter(golden_name: str) -> None:
    bundle = compile_axon(load_path(CASES[golden_name]), CompileOptions())
    fast = bundle.to_yaml()
    assert fast == dump_all(bundle.manifests)
    assert fast == _pure_dump_all(bundle.manifests)
    assert fast == (GOLDEN_DIR / golden_name).read_text(encoding="utf-8")
    # the reviews too (written by Bundle.write)
    assert dump_all(bundle.reviews) == _pure_dump_all(bundle.reviews)


def _best_seconds(axon: Axon, runs: int = 2) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        axon.compile().to_yaml()
        best = min(best, time.perf_counter() - began)
    return best


@pytest.mark.slow
def test_compile_grows_linearly_with_the_number_of_tasks() -> None:
    small, large = build_axon(500), build_axon(1000)
    _best_seconds(build_axon(20), runs=1)  # warm up: imports and caches
    ratio = _best_seconds(large) / _best_seconds(small)
    # linear is 2x; a quadratic step anywhere would show as ~4x. Generous for a busy machine.
    assert ratio < 3.0, f"compiling 1000 tasks took {ratio:.2f}x the time of 500 (linear: 2x)"


def test_the_placeholder_walk_finds_axon_placeholders_with_their_paths_and_only_those() -> None:
    leaking = {
        "kind": "WorkflowTemplate",
        "metadata": {"name": "x"},
        "spec": {"templates": [{"env": [{"value": "{{ rmse }}"}]}], "args": ["{{workflow.name}}"]},
    }
    assert [d.path for d in _axon_placeholders(leaking, "WorkflowTemplate/x:")] == [
        "WorkflowTemplate/x: spec.templates[0].env[0].value"
    ]
    argo_only = {"spec": {"a": ["{{workflow.name}}", "{{steps.gate.outputs.result}} == passed", 1, None]}}
    assert list(_axon_placeholders(argo_only)) == []
    bundle = compile_axon(load_path(CASES["recommender-demo.yaml"]), CompileOptions())
    for manifest in bundle.manifests:
        assert _axon_placeholders(manifest) == []


def test_sensor_step_names_stay_unique_when_a_suffix_is_taken() -> None:
    with Axon("names", api_version="myelinproj.io/v1alpha1") as axon:
        a2 = ContainerTask("a-2", image="python:3.11")
        a = ContainerTask("A", image="python:3.11")
        Sensor("Start", tasks=[a2, a, a, a])
    template = next(m for m in axon.compile().manifests if m["metadata"]["name"] == "names-sensor-start")
    names = [step["name"] for group in template["spec"]["templates"][0]["steps"] for step in group]
    assert names == ["a-2", "a", "a-3", "a-4"]
