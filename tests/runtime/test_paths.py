"""myelin_sdk.runtime.paths: the task's folders and identity from the environment (DESIGN §4)."""

from __future__ import annotations

import dataclasses
import doctest
from pathlib import Path

import pytest

from myelin_sdk import contract
from myelin_sdk.runtime import NotConfigured, TaskInfo, data_path, model_path, model_root, task
from myelin_sdk.runtime import metrics as metrics_module
from myelin_sdk.runtime import paths as paths_module
from myelin_sdk.runtime import register as register_module
from myelin_sdk.runtime import registry as registry_module

CONTRACT_VARIABLES = (
    contract.AXON_NAME,
    contract.TASK_NAME,
    contract.TASK_ID,
    contract.NAMESPACE,
    contract.DATA_PATH,
    contract.MODEL_PATH,
    contract.MODEL_ROOT,
    contract.PUSHGATEWAY_URL,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CONTRACT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_paths_come_from_the_contract_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    variables = contract.task_paths("/axon-store", "TrainMyelinRecommender")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert variables[contract.DATA_PATH] == "/axon-store/data/"  # ends in `/`: original code joins with +
    assert data_path() == Path("/axon-store/data")
    assert model_path() == model_root() == Path("/axon-store/models/train-myelin-recommender")
    execution = contract.version_path("/axon-store", "TrainMyelinRecommender", "v1")
    assert execution == "/axon-store/models/train-myelin-recommender/v1/"
    monkeypatch.setenv(contract.MODEL_PATH, execution)  # a train execution: its own folder, the root beside
    assert model_path() == Path(execution)
    assert model_root() == Path("/axon-store/models/train-myelin-recommender")
    monkeypatch.delenv(contract.MODEL_ROOT)
    assert model_root() == Path(execution)  # without the SDK's variable the registry is MODEL_PATH


@pytest.mark.parametrize(
    ("function", "variable"),
    [(data_path, contract.DATA_PATH), (model_path, contract.MODEL_PATH)],
)
@pytest.mark.parametrize("value", [None, ""])
def test_unset_or_empty_path_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, function: object, variable: str, value: str | None
) -> None:
    if value is not None:
        monkeypatch.setenv(variable, value)
    assert callable(function)
    with pytest.raises(NotConfigured) as caught:
        function()
    assert caught.value.variable == variable
    message = str(caught.value)
    assert message.startswith(f"{variable} is not set")
    assert f"{variable}=/tmp/" in message  # tells how to run the code by hand
    assert isinstance(caught.value, RuntimeError)


def test_task_reads_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.AXON_NAME, "ml-rec")
    monkeypatch.setenv(contract.TASK_NAME, "TrainMyelinRecommender")
    monkeypatch.setenv(contract.TASK_ID, "custom-id")
    monkeypatch.setenv(contract.NAMESPACE, "ml")
    monkeypatch.setenv(contract.PUSHGATEWAY_URL, "http://pgw:9091")
    assert task() == TaskInfo(
        axon="ml-rec",
        name="TrainMyelinRecommender",
        id="custom-id",
        namespace="ml",
        pushgateway_url="http://pgw:9091",
    )


def test_task_defaults_are_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.NAMESPACE, "")  # empty counts as unset
    assert task() == TaskInfo(axon=None, name=None, id=None, namespace=None, pushgateway_url=None)


def test_task_id_is_derived_like_the_compiler_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.AXON_NAME, "ml-rec")
    monkeypatch.setenv(contract.TASK_NAME, "TrainMyelinRecommender")
    assert (
        task().id == contract.task_id("ml-rec", "TrainMyelinRecommender") == "ml-rec-train-myelin-recommender"
    )


def test_task_info_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        task().axon = "x"  # type: ignore[misc]


@pytest.mark.parametrize("module", [paths_module, metrics_module, registry_module, register_module])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0
