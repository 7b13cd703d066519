"""Golden file: the recommender demo compiled with default options, byte for byte.

A change to the compiler's output shows up here as a diff to review. Refresh the file with ``make golden``
(``pytest tests/compiler/test_golden.py --update-golden``) and review ``git diff tests/golden``.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from myelin_sdk import CompileOptions
from myelin_sdk.compiler import compile_axon
from myelin_sdk.loader import load_path

PROJECT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = PROJECT / "tests" / "golden"
EXAMPLES = PROJECT.parent / "shared" / "axons" / "examples"

CASES = {
    "recommender-demo.yaml": PROJECT / "examples" / "recommender_demo" / "recommender-demo.yaml",
    # the seed blog post's Axon, in the original 2019 forms (tests/fixtures/legacy/)
    "blog-movie-recommender.yaml": PROJECT / "tests" / "fixtures" / "legacy" / "blog-movie-recommender.yaml",
    # a multi-route model graph: one SeldonDeployment per route, combiners, custom and external servers
    "every-graph-feature.yaml": PROJECT / "tests" / "fixtures" / "graphs" / "every-graph-feature.yaml",
    # one Axon of each operator kind (issue 15): a SparkApplication, a TFJob, a Katib Experiment + trials
    "pi-spark.yaml": EXAMPLES / "pi-spark_axon.yaml",
    "dist-mnist-tfjob.yaml": EXAMPLES / "dist-mnist_tf-dist-mnist.yaml",
    "test-demo-hp-katib.yaml": EXAMPLES / "tests_test-demo-hp_axon.yaml",
}


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
