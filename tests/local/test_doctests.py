"""The examples in the local runner's docstrings (and the traffic rule's) are run, so they stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name",
    [
        "myelin_sdk.traffic",
        "myelin_sdk.local.triggers",
        "myelin_sdk.local.outcome",
        "myelin_sdk.local.routes",
        "myelin_sdk.local.envs",
        "myelin_sdk.local.view",
        "myelin_sdk.local.hpo_plan",
        "myelin_sdk.local.tfjob",
        "myelin_sdk.spec.expressions",
    ],
)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
