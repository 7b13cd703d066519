"""The golden files of tests/golden and the Axon each one is compiled from (default options).

Refresh them with ``make golden``; tests/compiler/test_golden.py compares the bytes, and
tests/compiler/test_compile_scale.py checks that every emitter path writes the same bytes.
"""

from __future__ import annotations

from pathlib import Path

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
