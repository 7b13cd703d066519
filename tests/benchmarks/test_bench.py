"""``make bench``: its results file covers what issue #16 asks, and the docs show exactly that file's table.

The suites themselves are measurements, not tests; CI runs ``make bench BENCH=--quick`` end to end. These
tests check the bookkeeping around them: the committed ``benchmarks/results.json`` (written by a full
``make bench``) has every suite, every figure beside a baseline measured in the same run, a cold start row
for every command the CLI has, compile at N = 10, 100 and 1000; and ``docs/performance.md`` quotes it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench  # noqa: E402
from figures import Figure, p95  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results.json"


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return dict(json.loads(RESULTS.read_text()))


def figures_of(results: dict[str, Any], suite: str) -> list[Figure]:
    return [Figure.from_json(f) for f in results["figures"] if f["suite"] == suite]


def test_the_committed_results_are_a_full_run_of_every_suite_without_errors(results: dict[str, Any]) -> None:
    assert results["quick"] is False
    assert results["errors"] == {}
    assert results["suites"] == list(bench.SUITES)
    assert {f["suite"] for f in results["figures"]} == set(bench.SUITES)
    assert results["seconds"] < 600, "make bench must stay under 10 minutes on 2 cores"


def test_every_figure_but_the_references_has_a_baseline_measured_in_the_same_run(
    results: dict[str, Any],
) -> None:
    references = {
        "python -c pass (bare interpreter)",  # the baselines of the cli rows, as rows of their own
        'python -c "import hera.workflows"',
        "serving env found in the cache",  # the second deploy: nothing to compare with
    }
    for figure in (Figure.from_json(f) for f in results["figures"]):
        if figure.what in references:
            continue
        assert figure.baseline and figure.baseline_value, f"{figure.suite}: {figure.what} has no baseline"
        assert figure.value > 0 and figure.baseline_value > 0


def test_compile_is_measured_at_10_100_and_1000_tasks_against_hera(results: dict[str, Any]) -> None:
    compile_figures = [f for f in figures_of(results, "compile") if f.baseline and "hera" in f.baseline]
    text = " ".join(f.what for f in compile_figures)
    for n in (10, 100, 1000):
        assert f"N={n}" in text.replace(" ", "").replace(",", ""), f"no compile figure for N={n}"


def test_there_is_a_cold_start_row_for_every_command_of_the_cli(results: dict[str, Any]) -> None:
    import argparse

    from myelin_sdk.cli.main import build_parser

    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    measured = {f.what for f in figures_of(results, "cli")}
    for command in commands.choices:
        assert f"myelin {command} --help" in measured, f"myelin {command}: no cold start in results.json"


def test_router_and_sensor_figures_cover_what_the_issue_names(results: dict[str, Any]) -> None:
    router = " ".join(f.what for f in figures_of(results, "router"))
    assert "c=1" in router and "c=16" in router
    sensor = " ".join(f"{f.what} {f.baseline}" for f in figures_of(results, "sensor"))
    assert "embedded" in sensor.lower() and "prometheus" in sensor.lower()


def test_docs_quote_the_committed_results_table(results: dict[str, Any]) -> None:
    assert bench.documented_table() == bench.markdown(results), (
        "docs/performance.md's bench table is not benchmarks/results.json's: run `make bench` "
        "(or `python benchmarks/bench.py --render benchmarks/results.json` to see it) and commit both"
    )


def test_update_docs_replaces_only_the_text_between_the_markers(
    tmp_path: Path, results: dict[str, Any]
) -> None:
    docs = tmp_path / "performance.md"
    docs.write_text(f"# title\n\nbefore\n{bench.BEGIN}\nold table\n{bench.END}\nafter\n")
    bench.update_docs(results, docs)
    text = docs.read_text()
    assert text.startswith("# title\n\nbefore\n") and text.endswith(f"{bench.END}\nafter\n")
    assert "old table" not in text
    assert bench.documented_table(docs) == bench.markdown(results)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.000_012, "s", "12 µs"),
        (0.0042, "s", "4.2 ms"),
        (0.250, "s", "250 ms"),
        (12.345, "s", "12.35 s"),
        (0.89312, "RMSE", "0.8931"),
        (1578.4, "req/s", "1,578 req/s"),
        (None, "s", ""),
    ],
)
def test_amounts_read_as_a_person_writes_them(value: float | None, unit: str, text: str) -> None:
    assert bench.amount(value, unit) == text


def test_a_timed_figure_keeps_medians_p95_and_its_ratio() -> None:
    figure = Figure.timed("compile", "x", [3.0, 1.0, 2.0], "hera", [1.0, 1.0, 1.0, 1.0])
    assert (figure.value, figure.baseline_value, figure.samples) == (2.0, 1.0, 3)
    assert figure.p95 == p95([3.0, 1.0, 2.0]) == 3.0
    assert figure.ratio == 2.0 and bench.ratio_text(figure) == "2.00x"
    assert Figure.from_json(json.loads(json.dumps(figure.to_json()))) == figure
    assert Figure("cli", "no baseline", 1.0).ratio is None


def test_an_unknown_suite_is_refused_with_the_names_there_are() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--only", "compil"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no suite named compil" in done.stderr and "compile" in done.stderr
    assert "Traceback" not in done.stderr
