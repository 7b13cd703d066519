"""What every suite of ``make bench`` hands back: figures, each measured beside its baseline in the same run.

A suite is a script ``benchmarks/suite_<name>.py`` with a function ``run(ctx) -> list[Figure]`` and, at the
bottom, ``sys.exit(suite_main(run))``; ``benchmarks/bench.py`` runs each suite in a fresh process
(``python benchmarks/suite_<name>.py --json FILE [--quick]``) so one suite's imports and threads cannot
slow another's, then prints one table and writes ``benchmarks/results.json``::

    def run(ctx: Context) -> list[Figure]:
        ours = repeat(lambda: compile_n(100), ctx.runs(21, 5))
        hera = repeat(lambda: hera_n(100), ctx.runs(21, 5))
        return [Figure.timed("compile", "compile, N=100", ours, "hera WorkflowTemplate, N=100", hera)]

Only the standard library: every suite imports this, including the one run by the recommender's own
environment (numpy < 2 and Surprise, without the SDK).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent


def progress(message: str) -> None:
    """One line of progress on stderr (stdout is the suite's result)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def repeat(action: Callable[[], object], runs: int, warmup: int = 1) -> list[float]:
    """Wall seconds of ``runs`` calls of ``action`` after ``warmup`` unmeasured ones."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return samples


@dataclass
class Figure:
    """One measured figure and the baseline it is read against, both taken in the same run.

    ``value`` and ``baseline_value`` are medians in ``unit`` (seconds are stored as seconds: the table
    chooses ms or s); ``better`` says which way is good, so the table can say "1.8x slower" or "5x faster".
    A figure with no natural baseline (a count, a throughput of its own) leaves ``baseline`` empty.
    """

    suite: str
    what: str
    value: float
    unit: str = "s"
    baseline: str | None = None
    baseline_value: float | None = None
    better: Literal["lower", "higher"] = "lower"
    samples: int = 1
    p95: float | None = None
    baseline_p95: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """``value / baseline_value`` (None without a baseline or with a zero baseline)."""
        if not self.baseline_value:
            return None
        return self.value / self.baseline_value

    @classmethod
    def timed(
        cls,
        suite: str,
        what: str,
        samples: list[float],
        baseline: str | None = None,
        baseline_samples: list[float] | None = None,
        note: str = "",
        **extra: Any,
    ) -> Figure:
        """A figure of wall-clock samples (seconds): medians, p95s and the sample count."""
        return cls(
            suite=suite,
            what=what,
            value=statistics.median(samples),
            unit="s",
            baseline=baseline,
            baseline_value=statistics.median(baseline_samples) if baseline_samples else None,
            samples=len(samples),
            p95=p95(samples),
            baseline_p95=p95(baseline_samples) if baseline_samples else None,
            note=note,
            extra=extra,
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        data = {k: v for k, v in data.items() if k != "ratio"}
        return cls(**data)


@dataclass
class Context:
    """What a suite is given: ``quick`` (CI's budget: fewer runs, smaller N), a scratch folder, the data."""

    quick: bool
    scratch: Path
    data_dir: Path | None = None

    def runs(self, full: int, quick: int) -> int:
        """``full`` repetitions, or ``quick`` ones under ``--quick``."""
        return quick if self.quick else full


def suite_main(run: Callable[[Context], list[Figure]], argv: list[str] | None = None) -> int:
    """The command line of one suite: ``--quick``, ``--json FILE``, ``--data-dir DIR``; prints its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller N (CI's time budget)")
    parser.add_argument("--json", type=Path, help="write the figures here as a JSON list")
    parser.add_argument(
        "--data-dir", type=Path, help="an extracted MovieLens release (the recommender suite)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="myelin-bench-") as scratch:
        figures = run(Context(quick=args.quick, scratch=Path(scratch), data_dir=args.data_dir))
    payload = [f.to_json() for f in figures]
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    for figure in figures:
        ratio = f" ({figure.ratio:.2f}x {figure.baseline})" if figure.ratio is not None else ""
        print(f"{figure.suite}: {figure.what}: {figure.value:.6g} {figure.unit}{ratio}")
    return 0
