"""Errors that help: hints drawn only from the names valid at the path, never the key itself; where a key
belongs elsewhere, say where; the Python DSL words its mistakes like the CLI (spec/_errors.py)."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from myelin_sdk.errors import MyelinError, format_path
from myelin_sdk.loader import load_path
from myelin_sdk.spec import Axon, Lifecycle, Sensor, TrainTask
from myelin_sdk.spec._errors import _models_in, field_names, unknown_field_hint
from myelin_sdk.yamlio import dump

BASE: dict[str, Any] = {
    "apiVersion": "myelin.io/v1alpha1",
    "kind": "Axon",
    "metadata": {"name": "a"},
    "spec": {
        "artifacts": [{"name": "src", "git": {"repo": "https://example.com/r.git"}}],
        "tasks": [
            {
                "name": "Train",
                "train": {
                    "env": [{"name": "A", "value": "1"}],
                    "imageBuild": {"repositoryName": "t", "artifact": "src", "dockerfile": {"path": "D"}},
                },
            },
            {"name": "Serve", "deploy": {"image": "d:1"}},
        ],
        "sensors": [
            {
                "name": "S",
                "triggers": [{"name": "t", "type": "Lifecycle", "task": "Train"}],
                "conditions": [{"name": "c", "type": "Metric", "condition": "{{m}} > 1"}],
                "tasks": [
                    {
                        "deployer": {
                            "rolloutSpec": [{"destinations": [{"destinationIndex": 0, "weight": 100}]}],
                            "models": [
                                {
                                    "name": "M",
                                    "backendModels": [{"name": "B", "trainer": "Train", "deployer": "Serve"}],
                                }
                            ],
                            "routes": [{"path": "/predict", "dag": [{"model": "M", "path": "/predict"}]}],
                        }
                    }
                ],
            }
        ],
    },
}

#: Where an unknown key is inserted: the path of a mapping in BASE.
POINTS: list[tuple[str | int, ...]] = [
    ("spec",),
    ("spec", "artifacts", 0),
    ("spec", "artifacts", 0, "git"),
    ("spec", "tasks", 0),
    ("spec", "tasks", 0, "train"),
    ("spec", "tasks", 0, "train", "env", 0),
    ("spec", "tasks", 0, "train", "imageBuild"),
    ("spec", "tasks", 0, "train", "imageBuild", "dockerfile"),
    ("spec", "sensors", 0),
    ("spec", "sensors", 0, "triggers", 0),
    ("spec", "sensors", 0, "conditions", 0),
    ("spec", "sensors", 0, "tasks", 0),
    ("spec", "sensors", 0, "tasks", 0, "deployer"),
    ("spec", "sensors", 0, "tasks", 0, "deployer", "rolloutSpec", 0),
    ("spec", "sensors", 0, "tasks", 0, "deployer", "rolloutSpec", 0, "destinations", 0),
    ("spec", "sensors", 0, "tasks", 0, "deployer", "models", 0),
    ("spec", "sensors", 0, "tasks", 0, "deployer", "models", 0, "backendModels", 0),
    ("spec", "sensors", 0, "tasks", 0, "deployer", "routes", 0),
    ("spec", "sensors", 0, "tasks", 0, "deployer", "routes", 0, "dag", 0),
]

#: Keys a legacy form reads at that point (normalised, so not unknown there).
LEGACY_KEYS = {"name", "destination", "tfJob", "buiderImage"}


def reachable_models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [Axon]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.append(cls)
        for info in cls.model_fields.values():
            todo += _models_in(info.annotation)
    return seen


VOCABULARY = sorted({n for cls in reachable_models() for n in field_names(cls)} | {"properties", "jars"})


def at(doc: dict[str, Any], point: tuple[str | int, ...]) -> Any:
    node: Any = doc
    for part in point:
        node = node[part]
    return node


def test_the_property_test_covers_the_whole_vocabulary() -> None:
    assert len(reachable_models()) >= 25
    assert {"env", "imageBuild", "destinationIndex", "backendModels", "triggers", "lossMetric"} <= set(
        VOCABULARY
    )


@pytest.mark.parametrize("point", POINTS, ids=format_path)
def test_no_unknown_key_is_ever_its_own_suggestion(point: tuple[str | int, ...]) -> None:
    """Every field name of the format, put where it is unknown, never suggests itself; a did-you-mean
    names a field valid at that path."""
    checked = 0
    for key in VOCABULARY:
        doc = copy.deepcopy(BASE)
        target = at(doc, point)
        if key in target or key in LEGACY_KEYS:
            continue
        target[key] = "x"
        try:
            Axon.from_yaml(dump(doc))
        except MyelinError as exc:
            path = format_path([*point, key])
            mine = [d for d in exc.diagnostics if d.path == path]
            if not mine or not mine[0].message.startswith("unknown field"):
                continue  # a field valid here (with a wrong value): not this rule
            message = mine[0].message
            assert f"did you mean '{key}'" not in message, f"{path}: {message}"
            checked += 1
    assert checked > 10


def test_hint_helper_never_offers_the_key_itself() -> None:
    for cls in reachable_models():
        own = set(field_names(cls))
        for key in VOCABULARY:
            if key in own:
                continue
            hint = unknown_field_hint(cls, key)
            assert f"'{key}'" not in hint, (cls.__name__, key, hint)
            if hint.startswith("did you mean"):
                assert hint.split("'")[1] in own


def error(text: str) -> str:
    with pytest.raises(MyelinError) as info:
        Axon.from_yaml(textwrap.dedent(text))
    return str(info.value)


def test_a_key_one_level_too_high_says_where_it_belongs() -> None:
    doc = copy.deepcopy(BASE)
    doc["spec"]["tasks"][0]["env"] = [{"name": "B", "value": "2"}]
    with pytest.raises(MyelinError) as info:
        Axon.from_yaml(dump(doc))
    assert "spec.tasks[0].env: unknown field — env belongs under train:" in str(info.value)


def test_a_key_one_level_too_low_says_where_it_belongs() -> None:
    doc = copy.deepcopy(BASE)
    doc["spec"]["tasks"][0]["train"]["name"] = "Train"
    with pytest.raises(MyelinError) as info:
        Axon.from_yaml(dump(doc))
    assert "spec.tasks[0].train.name: unknown field — name belongs at spec.tasks[0], not here" in str(
        info.value
    )


def test_unrelated_names_are_not_suggested() -> None:
    doc = copy.deepcopy(BASE)
    doc["spec"]["sensors"][0]["tasks"][0]["deployer"]["properties"] = "x"
    with pytest.raises(MyelinError) as info:
        Axon.from_yaml(dump(doc))
    assert str(info.value).endswith("spec.sensors[0].tasks[0].deployer.properties: unknown field")


def test_a_typo_suggests_a_name_of_that_object_only() -> None:
    doc = copy.deepcopy(BASE)
    doc["spec"]["tasks"][0]["train"]["lossMetrik"] = "rmse"
    with pytest.raises(MyelinError) as info:
        Axon.from_yaml(dump(doc))
    assert "spec.tasks[0].train.lossMetrik: unknown field — did you mean 'lossMetric'?" in str(info.value)


# --- the Python DSL: the same wording, never pydantic's --------------------------------------------------


def test_a_bad_literal_in_a_constructor_reads_like_the_cli() -> None:
    train = TrainTask("Train", image="t:1")
    with pytest.raises(MyelinError) as info:
        Sensor("Deploy", triggers=[Lifecycle(task=train, condition="Suceeded")])
    text = str(info.value)
    assert (
        text
        == "Lifecycle.condition: expected 'Succeeded' or 'Failed', got 'Suceeded' — did you mean 'Succeeded'?"
    )
    assert "pydantic" not in text


def test_an_unknown_keyword_names_the_class_and_suggests_the_python_name() -> None:
    with pytest.raises(MyelinError) as info:
        Sensor("Deploy", trigers=[])
    assert str(info.value) == "Sensor.trigers: unknown field — did you mean 'triggers'?"


def test_a_misplaced_keyword_says_where_it_belongs() -> None:
    from myelin_sdk.spec import Task

    with pytest.raises(MyelinError) as info:
        Task("T", env=[], train={"image": "t:1"})
    assert str(info.value) == "Task.env: unknown field — env belongs under train:"


def test_a_nested_mistake_keeps_its_path_under_the_outer_object() -> None:
    with pytest.raises(MyelinError) as info:
        Sensor("S", triggers=[{"type": "Lifecycle", "task": "T", "condition": "Done"}])
    assert str(info.value).startswith(
        "Sensor.triggers[0].condition: expected 'Succeeded' or 'Failed', got 'Done'"
    )


def test_a_pipeline_file_with_a_typo_gives_file_line_and_the_cli_message(tmp_path: Path) -> None:
    source = tmp_path / "pipeline.py"
    source.write_text(
        textwrap.dedent(
            """\
            from myelin_sdk.spec import Axon, Lifecycle, Sensor, TrainTask

            with Axon("a") as axon:
                train = TrainTask("Train", image="t:1")
                Sensor("Deploy", triggers=[Lifecycle(task=train, condition="Suceeded")])
            """
        )
    )
    with pytest.raises(MyelinError) as info:
        load_path(source)
    assert str(info.value) == (
        f"{source}:5: Lifecycle.condition: expected 'Succeeded' or 'Failed', got 'Suceeded'"
        " — did you mean 'Succeeded'?"
    )
