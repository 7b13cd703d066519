"""Golden file: the recommender demo compiled with default options, byte for byte.

A change to the compiler's output shows up here as a diff to review. Refresh the file with ``make golden``
(``pytest tests/compiler/test_golden.py --update-golden``) and review ``git diff tests/golden``.
"""

from __future__ import annotations

import difflib

import pytest

from myelin_sdk import CompileOptions
from myelin_sdk.compiler import compile_axon
from myelin_sdk.loader import load_path

from support.golden import CASES, GOLDEN_DIR


@pytest.mark.parametrize("golden_name", sorted(CASES))
def test_compiled_output_matches_the_golden_file(golden_name: str, request: pytest.FixtureRequest) -> None:
    actual = compile_axon(load_path(CASES[golden_name]), CompileOptions()).to_yaml()
    golden = GOLDEN_DIR / golden_name
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
        return
    assert golden.is_file(), f"{golden} is missing: create it with `make golden`"
    expected = golden.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"golden/{golden_name}",
                tofile="compiled",
            )
        )
        pytest.fail(
            f"the compiled output differs from tests/golden/{golden_name}.\n"
            f"If the change is intended, refresh it with `make golden` and review `git diff tests/golden`.\n"
            f"{diff}",
            pytrace=False,
        )
