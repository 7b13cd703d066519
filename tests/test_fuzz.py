"""Fuzzing load → lint → compile with mutations of real Axons: only the SDK's own errors may come out.

Hypothesis mutates the parsed YAML tree of every Axon under /work/shared/axons and of the demo (delete a key,
change a value's type, huge strings and numbers, deep nesting, odd keys, hostile conditions), and the YAML
text (tags PyYAML cannot build, such as ``!!bool maybe``). Each mutant goes through ``load_axon``,
``lint_axon`` and ``compile_axon`` in-process; anything but a :class:`MyelinError` fails the test (issue #17
measured 3.6 % of 10,000 such inputs ending in a traceback).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myelin_sdk import MyelinError
from myelin_sdk.axon_yaml import load_axon
from myelin_sdk.compiler import compile_axon
from myelin_sdk.lint import errors_only, lint_axon
from myelin_sdk.yamlio import dump

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path("/work/shared/axons")
SOURCES = sorted(
    [ROOT / "examples" / "recommender_demo" / "recommender-demo.yaml"]
    + (sorted(SHARED.glob("*.yaml")) + sorted(SHARED.glob("examples/*.yaml")) if SHARED.is_dir() else [])
)


def _axon_document(path: Path) -> dict[str, Any] | None:
    for doc in yaml.safe_load_all(path.read_text()):
        if isinstance(doc, dict) and doc.get("kind") == "Axon":
            return doc
    return None


DOCUMENTS = [d for d in (_axon_document(p) for p in SOURCES) if d is not None]

HUGE = [
    "x" * 100_000,
    10**30,
    -(10**19),
    2**31,
    10**20,
    1e308,
    float("inf"),
    float("nan"),
    "(" * 2000 + "{{a}} < 1" + ")" * 2000,
    "not " * 1000 + "{{a}} < 1",
    "{{" * 500,
    "",
    " ",
    "\u202e\x7f\n\t",
]
ODD = [None, True, 0, -1, 1.5, "", "y", [], {}, [[]], {"": None}, ["a", 1, None], {"a": {"b": {"c": []}}}]
KEYS = [
    "",
    "name",
    "task",
    "image",
    "condition",
    "hostPath",
    "flexVolume",
    "options",
    "destinationIndex",
    "x",
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path of containers and values in the tree (the root excluded)."""
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        out.append((*prefix, key))
        out += _paths(value, (*prefix, key))
    return out


def _nest(depth: int, leaf: Any) -> Any:
    for i in range(depth):
        leaf = [leaf] if i % 2 else {"k": leaf}
    return leaf


@st.composite
def mutants(draw: Any) -> dict[str, Any]:
    doc = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = draw(st.sampled_from(["delete", "type", "huge", "nest", "key", "dup"]))
        if action == "delete":
            del parent[last]
        elif action == "type":
            parent[last] = copy.deepcopy(draw(st.sampled_from(ODD)))
        elif action == "huge":
            parent[last] = draw(st.sampled_from(HUGE))
        elif action == "nest":
            parent[last] = _nest(draw(st.sampled_from([5, 40, 70, 300])), parent[last])
        elif action == "key" and isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS))] = copy.deepcopy(draw(st.sampled_from(ODD + HUGE[:3])))
        elif action == "dup" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return doc


def _text(doc: dict[str, Any]) -> str:
    try:
        return dump(doc)
    except (yaml.YAMLError, RecursionError, ValueError):  # a mutant PyYAML cannot even write
        return "apiVersion: myelin.io/v1alpha1\nkind: Axon\nmetadata: {name: a}\nspec: {}\n"


def load_lint_compile(text: str) -> None:
    """The pipeline under test: anything but MyelinError propagates and fails the test."""
    try:
        axon = load_axon(text, source="fuzz.yaml")
        diagnostics = lint_axon(axon)
        for d in diagnostics:
            assert len(d.message) <= 2000, d.message[:200]
        if not errors_only(diagnostics):
            compile_axon(axon)
        else:
            with pytest.raises(MyelinError):
                compile_axon(axon)
    except MyelinError:
        pass


@settings(max_examples=2400, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutants())
def test_mutated_axons_end_in_the_sdks_own_errors(doc: dict[str, Any]) -> None:
    load_lint_compile(_text(doc))


TAGS = [
    "!!int xyz",
    "!!bool maybe",
    "!!timestamp 2001-13-45",
    "!!float nope",
    "!!binary a",
    "!!python/object:os.system x",
    "!!set {a, b}",
    "!!omap [a]",
    "9" * 5000,
    "0x" + "f" * 30,
    "&a [*a]",
    "*nothere",
    "{1: 2}",
    "{~: 1}",
    "{? [a]: 1}",
    "'" + "x" * 1000,
]


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(DOCUMENTS), st.sampled_from(TAGS), st.integers(0, 10_000))
def test_hostile_scalars_in_the_yaml_text_end_in_the_sdks_own_errors(
    doc: dict[str, Any], tag: str, where: int
) -> None:
    lines = dump(doc).splitlines()
    values = [i for i, line in enumerate(lines) if ": " in line and not line.rstrip().endswith(":")]
    i = values[where % len(values)]
    key = lines[i].split(": ", 1)[0]
    lines[i] = f"{key}: {tag}"
    load_lint_compile("\n".join(lines) + "\n")


def test_the_sources_are_found() -> None:
    assert len(DOCUMENTS) >= 1
    for doc in DOCUMENTS:  # the unmutated documents load (lint errors are fine: some use unsupported parts)
        load_lint_compile(_text(doc))
